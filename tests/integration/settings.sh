#!/usr/bin/env bash
# settings.sh -- a bad setting stops nori before it serves anything, in
# every running mode (one-shot CGI, `nori check`, `nori serve`, and
# lighttpd spawning workers), with exit status 1 and one line on stderr
# that names the setting; under lighttpd the outcome is the same in ten
# tries: lighttpd refuses to start, and nori's line is in its log.
# `nori serve`'s socket errors name the address and exit 1 too.
source "$(dirname "$0")/lib.sh"

chmod 755 "$TMP"
cp "$ROOT/shop/data/catalog.tsv" "$TMP/broken.tsv"
printf 'X\tnot a line of a catalog\n' >> "$TMP/broken.tsv"
printf 'demo-without-a-hash\n' > "$TMP/users.bad"
: > "$TMP/a-file"
mkdir -m 755 "$TMP/root-only"      # nobody may not write here
mkdir -p "$TMP/run.nobody" && chown nobody "$TMP/run.nobody"
# nobody runs the staged binary, with the staged catalog (lib.sh).
AS_NOBODY=("${STAGED_DATA[@]}" runuser -u nobody -- "$(stage_for_others)/build/nori")

# refused WHAT NAME [runuser -u USER --] VAR=value...: each mode exits 1
# with one line on stderr that names NAME.
refused() {
    local what=$1 name=$2 nori=("$NORI") mode out rc
    shift 2
    if [ "$1" = runuser ]; then nori=("${AS_NOBODY[@]}"); shift 4; fi
    for mode in oneshot check serve; do
        local cmd=("${nori[@]}")
        case $mode in
            check) cmd+=(check) ;;
            serve) cmd+=(serve --listen "unix:$TMP/never.sock" --workers 1) ;;
        esac
        rc=0
        out=$(env "$@" QUERY_STRING='pg=Item&id=26' "${cmd[@]}" \
              2>&1 >/dev/null </dev/null) || rc=$?
        expect_eq "$rc" 1 "$what ($mode): exit status"
        expect_eq "$(printf '%s\n' "$out" | wc -l)" 1 "$what ($mode): one line ($out)"
        case $out in *"$name"*) pass ;; *) fail "$what ($mode): '$out' does not name $name" ;; esac
    done
    [ -e "$TMP/never.sock" ] && fail "$what: nori serve made its socket" || true
}

# lighttpd_refuses WHAT NAME VAR=value...: ten starts of the shipped
# lighttpd.conf, each refused (lighttpd exits non-zero without serving),
# each with nori's line in lighttpd's output.
lighttpd_refuses() {
    local what=$1 name=$2 i rc port refused=0 named=0
    shift 2
    for i in $(seq 1 10); do
        port=$(free_port)
        rc=0
        env "$@" NORI_HOME="$ROOT" NORI_RUNDIR="${RUN:-$TMP/run}" PORT="$port" \
            timeout 60 lighttpd -D -f "$ROOT/lighttpd.conf" >"$TMP/lt.out" 2>&1 || rc=$?
        [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && refused=$((refused + 1))
        grep -q "^nori: .*$name" "$TMP/lt.out" && named=$((named + 1))
    done
    expect_eq "$refused" 10 "$what: lighttpd refused to start, of 10"
    expect_eq "$named" 10 "$what: nori's line in lighttpd's log, of 10"
}

echo "bad settings, every mode"
refused "a store of no known kind" NORI_STORE NORI_RUNDIR="$TMP/run" NORI_STORE=bogus:x
refused "a store directory that cannot be made" NORI_STORE NORI_RUNDIR="$TMP/run" \
    NORI_STORE=lmdb:"$TMP/a-file/sessions"
refused "a store directory nori may not write" NORI_STORE runuser -u nobody -- \
    NORI_RUNDIR="$TMP/run.nobody" NORI_STORE=lmdb:"$TMP/root-only"
refused "a run directory that is a file" NORI_RUNDIR NORI_RUNDIR="$TMP/a-file"
refused "a run directory nori may not write" NORI_RUNDIR runuser -u nobody -- \
    NORI_RUNDIR="$TMP/root-only"
refused "a missing catalog" NORI_CATALOG NORI_RUNDIR="$TMP/run" NORI_CATALOG="$TMP/none.tsv"
refused "a broken catalog" NORI_CATALOG NORI_RUNDIR="$TMP/run" NORI_CATALOG="$TMP/broken.tsv"
refused "a missing users file" NORI_USERS NORI_RUNDIR="$TMP/run" NORI_USERS="$TMP/none"
refused "a broken users file" NORI_USERS NORI_RUNDIR="$TMP/run" NORI_USERS="$TMP/users.bad"
refused "a TTL that is not a number" NORI_SESSION_TTL NORI_SESSION_TTL=abc
refused "a policy of no known kind" NORI_SESSION_POLICY NORI_SESSION_POLICY=sometimes
refused "a socket mode that is not octal" NORI_SOCKET_MODE NORI_SOCKET_MODE=0999

echo "flags are named as given, and --help only when asked"
out=$("$NORI" check --session-ttl=abc 2>&1) && rc=0 || rc=$?
expect_eq "$rc" 1 "a bad flag value: exit status"
expect_eq "$out" "nori: --session-ttl=abc: not a number from 2 to 2592000" "a bad flag value: the line"
out=$("$NORI" check --no-such-flag 2>&1) && rc=0 || rc=$?
expect_eq "$rc" 2 "an unknown flag: exit status 2"
expect_eq "$(printf '%s\n' "$out" | wc -l)" 1 "an unknown flag: one line"
"$NORI" --help | grep -q NORI_SOCKET_GROUP && pass || fail "--help lists every setting"
for f in $("$NORI" --help | grep -o -- '--[a-z][a-z-]*' | grep -vx -- --flag | sort -u); do
    grep -qF -- "${f//-/\\-}" "$ROOT/man/nori.8" && pass || fail "nori(8) does not document $f"
done
out=$(NORI_RUNDIR=$TMP/run "$NORI" check 2>&1) && rc=0 || rc=$?
expect_eq "$rc:$out" "0:" "nori check on good settings: silent, 0"

echo "a message names the setting as the user gave it: flag or variable"
# named WHAT WANT CMD...: the one line of stderr begins "nori: WANT" or
# "nori serve: WANT".
named() {
    local what=$1 want=$2 out
    shift 2
    out=$(NORI_RUNDIR=$TMP/run "$@" 2>&1 >/dev/null </dev/null) || true
    case $out in "nori: $want"*|"nori serve: $want"*) pass ;;
        *) fail "$what: '$out' does not begin with '$want'" ;; esac
}
named "--store" "--store=bogus:x: unknown store" "$NORI" check --store bogus:x
named "NORI_STORE" "NORI_STORE=bogus:x: unknown store" env NORI_STORE=bogus:x "$NORI" check
named "--rundir" "--rundir=$TMP/a-file: not a directory" "$NORI" check --rundir "$TMP/a-file"
named "--catalog, missing" "--catalog=$TMP/none.tsv: " "$NORI" check --catalog "$TMP/none.tsv"
named "--cookie-path" "--cookie-path: not a cookie path" "$NORI" check --cookie-path shop
named "NORI_COOKIE_PATH" "NORI_COOKIE_PATH: not a cookie path" env NORI_COOKIE_PATH=shop "$NORI" check
named "--allowed-origins" "--allowed-origins: each entry" "$NORI" check --allowed-origins shop.example
named "--route" "--route: " "$NORI" check --route 'a b'
named "--listen, a wildcard" "--listen=0.0.0.0:1: refusing every interface" \
    env -u FCGI_WEB_SERVER_ADDRS "$NORI" serve --listen 0.0.0.0:1 --workers 1
named "NORI_LISTEN, a wildcard" "NORI_LISTEN=0.0.0.0:1: refusing every interface" \
    env -u FCGI_WEB_SERVER_ADDRS NORI_LISTEN=0.0.0.0:1 "$NORI" serve --workers 1
named "--catalog under nori serve" "--catalog=$TMP/none.tsv: " \
    "$NORI" serve --listen "unix:$TMP/never.sock" --workers 1 --catalog "$TMP/none.tsv"

echo "a data file's fault names the file and the line"
bad_line=$(wc -l < "$TMP/broken.tsv")
named "a broken catalog, by flag" "--catalog: $TMP/broken.tsv:$bad_line: a line starts with C or I" \
    "$NORI" check --catalog "$TMP/broken.tsv"
named "a broken catalog, by variable" "NORI_CATALOG: $TMP/broken.tsv:$bad_line: " \
    env NORI_CATALOG="$TMP/broken.tsv" "$NORI" check
cp "$ROOT/shop/data/catalog.tsv" "$TMP/short.tsv"
printf 'I\t9999\n' >> "$TMP/short.tsv"
named "an item of 2 fields" "--catalog: $TMP/short.tsv:$(wc -l < "$TMP/short.tsv"): an item has 6 fields, not 2" \
    "$NORI" check --catalog "$TMP/short.tsv"
named "a broken users file" "--users: $TMP/users.bad:1: want name:" \
    "$NORI" check --users "$TMP/users.bad"

echo "under lighttpd: the same outcome ten times in a row"
lighttpd_refuses "a store of no known kind" NORI_STORE NORI_STORE=bogus:x
lighttpd_refuses "a missing catalog" NORI_CATALOG NORI_CATALOG="$TMP/none.tsv"
lighttpd_refuses "a TTL that is not a number" NORI_SESSION_TTL NORI_SESSION_TTL=abc
lighttpd_refuses "a broken users file" NORI_USERS NORI_USERS="$TMP/users.bad"
RUN=$TMP/a-file lighttpd_refuses "a run directory that is a file" NORI_RUNDIR

echo "nori serve: socket errors name the address, exit 1"
serve_refused() {   # serve_refused WHAT NEEDLE [runuser -u USER --] ARGS...
    local what=$1 needle=$2 nori=("$NORI") out rc=0
    shift 2
    local run=$TMP/run
    if [ "$1" = runuser ]; then nori=("${AS_NOBODY[@]}"); shift 4; run=$TMP/run.nobody; fi
    out=$(env NORI_RUNDIR=$run "${nori[@]}" serve --workers 1 "$@" \
          2>&1 >/dev/null) || rc=$?
    expect_eq "$rc" 1 "$what: exit status"
    expect_eq "$(printf '%s\n' "$out" | wc -l)" 1 "$what: one line ($out)"
    case $out in *"$needle"*) pass ;; *) fail "$what: '$out' lacks '$needle'" ;; esac
}
serve_refused "a missing socket directory" "unix:$TMP/none/nori.sock: cannot listen: No such file" \
    --listen "unix:$TMP/none/nori.sock"
serve_refused "a socket directory nori may not write" "unix:$TMP/root-only/nori.sock: cannot listen: Permission denied" \
    runuser -u nobody -- --listen "unix:$TMP/root-only/nori.sock"
serve_refused "a path that is not a socket" "is not a socket" --listen "unix:$TMP/a-file"
[ -f "$TMP/a-file" ] && pass || fail "nori serve removed a file that was not its socket"
serve_refused "an address of no known form" "want unix:PATH or HOST:PORT" --listen nonsense
serve_refused "a group that does not exist" "--socket-group=no-such-group: no such group" \
    --listen "unix:$TMP/g.sock" --socket-group no-such-group
[ -e "$TMP/g.sock" ] && fail "a refused socket was left behind" || pass
serve_refused "a group nori is not in" "--socket-group=root: cannot give" \
    runuser -u nobody -- --listen "unix:$TMP/run.nobody/g.sock" --socket-group root
serve_tcp       # a nori serve on TCP: TPORT, TPID
serve_refused "a TCP port already served" "127.0.0.1:$TPORT: already in use" --listen "127.0.0.1:$TPORT"
kill -TERM "$TPID"; wait "$TPID" && pass || fail "the first nori serve did not exit 0"

echo "the group of a unix socket"
serve_start --workers 1 --socket-mode 0660 --socket-group www-data
expect_eq "$(stat -c '%a %G' "$SOCK")" "660 www-data" "the socket's mode and group"
kill -TERM "$SPID"; wait "$SPID" && pass || fail "nori serve did not exit 0"
finish
