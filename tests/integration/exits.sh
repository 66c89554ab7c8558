#!/usr/bin/env bash
# exits.sh -- every exit status nori(8) gives is the one nori exits with:
# each case its EXIT STATUS section lists, run for real, and each status
# the page states elsewhere ("with exit status N") read from the page
# itself, so that the page and the code cannot drift apart again. Also
# `nori --version`: the version the Makefile declares, whatever the
# settings (install.sh checks pkg-config and the installed page).
source "$(dirname "$0")/lib.sh"

MAN=$ROOT/man/nori.8
chmod 755 "$TMP"
: > "$TMP/a-file"
cp "$ROOT/shop/data/catalog.tsv" "$TMP/broken.tsv"
printf 'X\tnot a line of a catalog\n' >> "$TMP/broken.tsv"
printf 'demo-without-a-hash\n' > "$TMP/users.bad"
export NORI_RUNDIR=$TMP/run

# status_of CMD...: its exit status, stdin empty, output kept in $TMP/out.
status_of() {
    local rc=0
    timeout 60 "$@" </dev/null >"$TMP/out" 2>&1 || rc=$?
    echo "$rc"
}
TESTED=" "
# exits N WHAT CMD...: CMD exits N.
exits() {
    local want=$1 what=$2
    shift 2
    expect_eq "$(status_of "$@")" "$want" "$what ($(head -1 "$TMP/out"))"
    TESTED="$TESTED$want "
}

echo "the statuses the EXIT STATUS section lists"
listed=$(sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$MAN" | sed -n 's/^\.B \([0-9][0-9]*\)$/\1/p' | sort -u)
expect_eq "$(echo $listed)" "0 1 2" "nori(8) lists 0, 1 and 2"

# 0: a clean stop, a one-shot request, nori check on good settings, and
# --help and --version.
exits 0 "a one-shot request answered" env QUERY_STRING='pg=Item&id=26' "$NORI"
grep -q '^Status: 200' "$TMP/out" && pass || fail "the one-shot request was answered 200"
exits 0 "nori check, good settings" "$NORI" check
exits 0 "--help" "$NORI" --help
exits 0 "--version" "$NORI" --version
exits 0 "--version with a bad setting beside it" env NORI_SESSION_TTL=abc "$NORI" --version
serve_start --workers 1
kill -TERM "$SPID"
rc=0; wait "$SPID" || rc=$?
expect_eq "$rc" 0 "nori serve stopped by SIGTERM"
TESTED="${TESTED}0 "

# 1: a setting is wrong.
exits 1 "a bad value" "$NORI" check --session-ttl=abc
exits 1 "a bad value, by its variable" env NORI_SESSION_POLICY=sometimes "$NORI" check
exits 1 "a run directory that cannot be written" env NORI_RUNDIR="$TMP/a-file" "$NORI" check
exits 1 "a store directory that cannot be made" "$NORI" check --store "lmdb:$TMP/a-file/s"
exits 1 "a store of no known kind" "$NORI" check --store bogus:x
exits 1 "a catalog that cannot be read" "$NORI" check --catalog "$TMP/none.tsv"
exits 1 "a catalog that does not parse" "$NORI" check --catalog "$TMP/broken.tsv"
exits 1 "a users file that does not parse" "$NORI" check --users "$TMP/users.bad"
exits 1 "a socket that cannot be made" "$NORI" serve --workers 1 --listen "unix:$TMP/none/n.sock"
serve_start --workers 1
exits 1 "an address another process serves" "$NORI" serve --workers 1 --listen "unix:$SOCK"
kill -TERM "$SPID"; wait "$SPID" || true
exits 1 "a bad setting, under nori serve" "$NORI" serve --workers 1 --session-ttl=abc \
    --listen "unix:$TMP/never.sock"

# 2: the command line cannot be understood.
exits 2 "an unknown command" "$NORI" frobnicate
exits 2 "an unknown flag" "$NORI" check --no-such-flag
exits 2 "a flag without its value" "$NORI" check --session-ttl
exits 2 "a stray argument" "$NORI" check stray

for n in $listed; do
    case $TESTED in *" $n "*) pass ;; *) fail "exit status $n of nori(8) is never tested" ;; esac
done

echo "the statuses nori(8) states elsewhere, read from the page"
# "a wildcard ADDR ... is refused, with exit status N, unless ..."
wild=$(tr '\n' ' ' < "$MAN" | grep -o 'is refused, with exit status [0-9]*' | grep -o '[0-9]*$')
expect_eq "${wild:-none}" "$(env -u FCGI_WEB_SERVER_ADDRS "$NORI" serve --workers 1 \
    --listen "0.0.0.0:$(free_port)" </dev/null >/dev/null 2>&1; echo $?)" \
    "a wildcard --listen exits as nori(8) says"
# "... and nori exits N (see EXIT STATUS)": a bad setting.
bad=$(tr '\n' ' ' < "$MAN" | grep -o 'and nori exits [0-9]*' | grep -o '[0-9]*$')
expect_eq "${bad:-none}" "$(status_of "$NORI" check --store bogus:x)" "a bad setting exits as nori(8) says"

echo "--version"
want=$(sed -n 's/^VERSION *= *//p' "$ROOT/Makefile")
[ -n "$want" ] && pass || fail "the Makefile declares no VERSION"
"$NORI" --version > "$TMP/out"
grep -Eq "^nori $want \(build [0-9a-f]{16}\)$" "$TMP/out" && pass \
    || fail "nori --version says '$(cat "$TMP/out")', the Makefile $want"
grep -q -- '--version' < <("$NORI" --help) && pass || fail "--help does not name --version"
grep -q '^\.B nori \\-\\-version$' "$MAN" && pass || fail "nori(8)'s synopsis lacks --version"
finish
