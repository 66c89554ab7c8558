#!/usr/bin/env bash
# install.sh -- `make install` honours PREFIX and DESTDIR, the installed
# binary knows its installed paths, the man page renders cleanly, and the
# binary, nori.pc and the page say one version.
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
[ -d "$DEST/srv/nori" ] && pass || fail "STATEDIR was not made"
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
finish
