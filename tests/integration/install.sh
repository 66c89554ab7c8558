#!/usr/bin/env bash
# install.sh -- `make install` honours PREFIX and DESTDIR, the installed
# binary knows its installed paths, the man page renders cleanly, and the
# binary, an application linked with the installed libnori.a, nori.pc
# and every installed man page say one version. An upgrade (a second make
# install) keeps the operator's edited data files and the modes they set,
# the new defaults beside them as *.dist; make uninstall removes what
# install wrote and keeps the data.
source "$(dirname "$0")/lib.sh"

DEST=$TMP/root
make -s -C "$ROOT" install DESTDIR="$DEST" PREFIX=/opt/nori STATEDIR=/srv/nori >"$TMP/install.log" 2>&1 \
    && pass || { fail "make install"; cat "$TMP/install.log" >&2; }
for f in bin/nori share/man/man8/nori.8 share/nori/data/catalog.tsv share/nori/data/users \
         share/nori/static/nori.css share/nori/static/favicon.ico share/nori/examples/lighttpd.conf \
         share/nori/examples/lighttpd/lighttpd-external.conf \
         share/nori/examples/systemd/nori.service; do
    [ -f "$DEST/opt/nori/$f" ] && pass || fail "not installed: $f"
done
# nori makes its run directory itself, owned by the user it runs as.
[ -e "$DEST/srv/nori" ] && fail "make install made STATEDIR (root's, which nori refuses)" || pass
grep -q '"bin-path" *=> "/opt/nori/bin/nori"' "$DEST/opt/nori/share/nori/examples/lighttpd.conf" && pass \
    || fail "the installed lighttpd.conf's bin-path"
grep -q '^ExecStart=/opt/nori/bin/nori ' "$DEST/opt/nori/share/nori/examples/systemd/nori.service" && pass \
    || fail "the installed unit's ExecStart"
help=$("$DEST/opt/nori/bin/nori" --help)
grep -q '/opt/nori/share/nori/data/catalog.tsv' <<<"$help" && pass || fail "installed catalog path"
grep -q '/srv/nori' <<<"$help" && pass || fail "installed run directory"
out=$(QUERY_STRING='pg=Item&id=26' NORI_RUNDIR=$TMP \
      NORI_CATALOG="$DEST/opt/nori/share/nori/data/catalog.tsv" \
      NORI_USERS="$DEST/opt/nori/share/nori/data/users" "$DEST/opt/nori/bin/nori")
grep -q '^Status: 200' <<<"$out" && pass || fail "the installed binary serves"
warn=$(man --warnings -l "$DEST/opt/nori/share/man/man8/nori.8" 2>&1 >/dev/null || true)
[ -z "$warn" ] && pass || fail "man page warnings: $warn"
man -l "$DEST/opt/nori/share/man/man8/nori.8" 2>/dev/null | grep -q 'SIGHUP' && pass || fail "man page renders"
# One version: the binary's, pkg-config's and the installed page's.
ver=$("$DEST/opt/nori/bin/nori" --version | awk '{print $2}')
pc=$(PKG_CONFIG_PATH=$DEST/opt/nori/lib/pkgconfig pkg-config --modversion nori)
[ -n "$pc" ] && expect_eq "$ver" "$pc" "nori --version agrees with pkg-config --modversion nori" \
    || fail "pkg-config finds no installed nori.pc"
grep -q "^\.TH NORI 8 [0-9-]* \"nori $pc\"" "$DEST/opt/nori/share/man/man8/nori.8" && pass \
    || fail "the installed nori(8) is not of version $pc: $(grep '^\.TH' "$DEST/opt/nori/share/man/man8/nori.8")"
# Every installed page, the library's section 3 too, not nori(8) alone.
for page in "$DEST"/opt/nori/share/man/man*/*; do
    grep -q '^\.so ' "$page" && continue      # a link: its page is checked
    grep -Eq "^\.TH [^ ]+ [0-9][a-z]* [^ ]+ \"nori $pc\"" "$page" && pass \
        || fail "${page#$DEST/opt/nori/} is not of version $pc: $(grep '^\.TH' "$page")"
done
# An application's --version is the library's it was linked with.
read -ra LIBS < <(make -s --no-print-directory -C "$ROOT" lib-libs)
cc -std=c11 -D_GNU_SOURCE -I"$DEST/opt/nori/include" "$ROOT/examples/counter/counter.c" \
    "$DEST/opt/nori/lib/libnori.a" "${LIBS[@]}" -o "$TMP/counter" 2>"$TMP/cc.log" \
    && expect_eq "$("$TMP/counter" --version | awk '{print $2}')" "$pc" \
        "the counter's --version, linked against the installed libnori.a" \
    || fail "the counter does not build against the installed library: $(head -3 "$TMP/cc.log")"

echo "an upgrade keeps the operator's work"
D=$DEST/opt/nori/share/nori/data
sed -i 's/\tWagyu aburi nigiri\t7.50\t/\tWagyu aburi nigiri\t8.00\t/' "$D/catalog.tsv"  # a new price
cmp -s "$D/catalog.tsv" "$ROOT/shop/data/catalog.tsv" && fail "the test's edit changed nothing" || pass
cp "$D/catalog.tsv" "$TMP/edited.tsv"
chmod 0640 "$D/users"
chmod 0750 "$D"
mkdir -p "$DEST/srv/nori" && chmod 0710 "$DEST/srv/nori" && echo keep > "$DEST/srv/nori/sessions.mdb"
ino=$(stat -c %i "$DEST/opt/nori/bin/nori")
make -s -C "$ROOT" install DESTDIR="$DEST" PREFIX=/opt/nori STATEDIR=/srv/nori >"$TMP/install2.log" 2>&1 \
    && pass || { fail "the second make install"; cat "$TMP/install2.log" >&2; }
cmp -s "$D/catalog.tsv" "$TMP/edited.tsv" && pass || fail "the edited catalog was overwritten"
cmp -s "$D/catalog.tsv.dist" "$ROOT/shop/data/catalog.tsv" && pass || fail "no catalog.tsv.dist beside it"
grep -q 'catalog.tsv kept' "$TMP/install2.log" && pass || fail "install did not say it kept the catalog"
[ -e "$D/users.dist" ] && fail "users.dist for a users file nobody edited" || pass
expect_eq "$(stat -c %a "$D/users")" 640 "the users file's mode"
expect_eq "$(stat -c %a "$D")" 750 "the data directory's mode"
expect_eq "$(stat -c %a "$DEST/srv/nori")" 710 "STATEDIR's mode"
expect_eq "$(cat "$DEST/srv/nori/sessions.mdb")" keep "STATEDIR's files"
[ "$(stat -c %i "$DEST/opt/nori/bin/nori")" != "$ino" ] && pass \
    || fail "the binary was rewritten in place, not replaced by a rename"

echo "make uninstall removes what install wrote and keeps the data"
make -s -C "$ROOT" uninstall DESTDIR="$DEST" PREFIX=/opt/nori >"$TMP/uninstall.log" 2>&1 \
    && pass || { fail "make uninstall"; cat "$TMP/uninstall.log" >&2; }
for f in bin/nori lib/libnori.a include/nori.h lib/pkgconfig/nori.pc share/man/man8/nori.8 \
         share/nori/static share/nori/examples share/nori/data/catalog.tsv.dist; do
    [ -e "$DEST/opt/nori/$f" ] && fail "left after uninstall: $f" || pass
done
cmp -s "$D/catalog.tsv" "$TMP/edited.tsv" && pass || fail "uninstall removed the catalog"
[ -f "$D/users" ] && pass || fail "uninstall removed the users file"
expect_eq "$(cat "$DEST/srv/nori/sessions.mdb" 2>/dev/null)" keep "uninstall kept STATEDIR"
finish
