#!/usr/bin/env bash
# install-user.sh -- `make install PREFIX=<dir>` run by a user who is not
# root (one made for this suite, in a copy of the tree the user owns, as
# a newcomer's clone would be): it succeeds, and writes nothing outside
# the prefix and the tree (no /var/lib/nori, nothing in /etc or /usr, not
# even in the user's home); `make uninstall` with the same prefix leaves
# only the data files. (That the installed binary, nori.pc and the man
# pages say one version is install.sh's.)
source "$(dirname "$0")/lib.sh"

U=nori-iu-$$
useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$U" \
    && pass || { fail "useradd $U"; finish; exit 1; }
trap 'userdel "$U" 2>/dev/null || true; cleanup' EXIT

# The user's own directory: the tree (copied from the checkout, which
# may sit under a 0700 /root), the prefix and a home.
W=$TMP/user
mkdir -p "$W/tree" "$W/home"
tar -C "$ROOT" --exclude=./build --exclude=./var --exclude=./.git -cf - . | tar -C "$W/tree" -xf -
chown -R "$U:" "$W"
chmod 755 "$TMP"
as_user() {
    runuser -u "$U" -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$W/home" TMPDIR=/tmp "$@"
}
# What the user owns outside its directory: before, and after each step.
OUTSIDE=(/etc /usr /var /opt /srv /home /tmp /var/tmp)
owned_outside() {
    find "${OUTSIDE[@]}" -path "$W" -prune -o -user "$U" -print 2>/dev/null | sort
}
owned_outside > "$TMP/before"
[ -d /var/lib/nori ] && had_statedir=1 || had_statedir=0

echo "make install as $U"
P=$W/prefix
as_user make -s -C "$W/tree" install PREFIX="$P" >"$TMP/install.log" 2>&1 && pass \
    || { fail "make install PREFIX=$P as $U"; tail -20 "$TMP/install.log" >&2; }
for f in bin/nori lib/libnori.a include/nori.h lib/pkgconfig/nori.pc share/man/man8/nori.8 \
         share/nori/data/catalog.tsv share/nori/data/users; do
    [ -f "$P/$f" ] && pass || fail "not installed: $f"
done
owned_outside > "$TMP/after"
expect_eq "$(comm -13 "$TMP/before" "$TMP/after" | head -5)" "" "make install wrote outside the prefix"
[ $had_statedir = 1 ] || { [ ! -e /var/lib/nori ] && pass || fail "make install made /var/lib/nori"; }
expect_eq "$(ls -A "$W/home")" "" "make install wrote in the user's home"
[ -z "$(find "$P" ! -user "$U" | head -1)" ] && pass || fail "files in the prefix the user does not own"

echo "make uninstall leaves only data"
as_user make -s -C "$W/tree" uninstall PREFIX="$P" >"$TMP/uninstall.log" 2>&1 && pass \
    || { fail "make uninstall PREFIX=$P as $U"; tail -20 "$TMP/uninstall.log" >&2; }
left=$(cd "$P" && find . ! -type d | sort | tr '\n' ' ')
expect_eq "$left" "./share/nori/data/catalog.tsv ./share/nori/data/users " "files left by uninstall"
left=$(cd "$P/share/nori" && find . -mindepth 1 -type d | tr '\n' ' ')
expect_eq "$left" "./data " "directories of nori's left by uninstall"
owned_outside > "$TMP/after"
expect_eq "$(comm -13 "$TMP/before" "$TMP/after" | head -5)" "" "make uninstall wrote outside the prefix"
finish
