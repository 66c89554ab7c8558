# lib.sh -- what every integration suite shares: a real lighttpd started
# with the shipped lighttpd.conf on a free loopback port, stopped at the
# end, and small assertions over real HTTP answers.
#
# A suite sources this file, calls srv_start, runs its checks with the
# assert helpers, and ends with `finish`. Nothing here is mocked: requests
# go through lighttpd to build/nori workers spawned by lighttpd itself.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NORI=$ROOT/build/nori
TMP=$(mktemp -d "${TMPDIR:-/tmp}/nori-it.XXXXXX")
FAILS=0
PASSES=0
LPID=

# Other servers a suite starts (nori serve, nginx, Apache) are tracked,
# so that a suite that stops early still leaves no process behind.
TRACKED=()
track() { TRACKED+=("$1"); }

cleanup() {
    srv_stop
    local p
    for p in ${TRACKED[@]+"${TRACKED[@]}"}; do kill -TERM "$p" 2>/dev/null || true; done
    for p in ${TRACKED[@]+"${TRACKED[@]}"}; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' TERM INT HUP      # so that a timeout still runs cleanup

fail() { echo "  FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
pass() { PASSES=$((PASSES + 1)); }

source "$ROOT/tests/integration/port.sh"

# srv_start [VAR=value...]: lighttpd with the shipped config and a fresh
# run directory; extra NORI_* settings are passed through its environment
# exactly as `make run` does.
srv_start() {
    local try
    RUNDIR=$TMP/run.$RANDOM
    mkdir -p "$RUNDIR"
    for try in 1 2 3 4 5; do
        PORT=$(free_port)
        BASE=http://127.0.0.1:$PORT
        env "$@" NORI_HOME="$ROOT" NORI_RUNDIR="$RUNDIR" PORT="$PORT" \
            lighttpd -D -f "$ROOT/lighttpd.conf" 2>>"$TMP/error.log" &
        LPID=$!
        if srv_wait; then
            return 0
        fi
        kill "$LPID" 2>/dev/null || true
        wait "$LPID" 2>/dev/null || true
        LPID=
    done
    echo "cannot start lighttpd; its log:" >&2
    cat "$TMP/error.log" >&2
    exit 1
}

srv_wait() {
    local i
    for i in $(seq 1 100); do
        kill -0 "$LPID" 2>/dev/null || return 1
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/shop")" = 200 ] && return 0
        sleep 0.05
    done
    return 1
}

workers() { pgrep -P "$LPID" -f "$NORI" || true; }

# serve_start [VAR=value...] [flags...]: `nori serve` on $SOCK, 4 workers
# unless a flag says otherwise, its run directory $TMP; sets SPID.
SOCK=$TMP/nori.sock
SPID=
serve_start() {
    local envs=() flags=() a i
    for a in "$@"; do
        case $a in --*) flags+=("$a") ;; [A-Z]*=*) envs+=("$a") ;; *) flags+=("$a") ;; esac
    done
    env ${envs[@]+"${envs[@]}"} NORI_RUNDIR="$TMP" "$NORI" serve --listen "unix:$SOCK" \
        --workers 4 ${flags[@]+"${flags[@]}"} 2>>"$TMP/serve.log" &
    SPID=$!
    track "$SPID"
    for i in $(seq 1 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
    [ -S "$SOCK" ] || { cat "$TMP/serve.log" >&2; fail "nori serve did not start"; exit 1; }
}

# wait_200 URL: until URL answers 200 (5 s at most); 1 if it never does.
wait_200() {
    local i
    for i in $(seq 1 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ] && return 0
        sleep 0.05
    done
    return 1
}

# Stops lighttpd the way an init system does and checks that it took
# every worker with it.
srv_stop() {
    [ -n "${LPID:-}" ] || return 0
    local pids
    pids=$(workers)
    kill -TERM "$LPID" 2>/dev/null || true
    wait "$LPID" 2>/dev/null || true
    LPID=
    local p i
    for p in $pids; do
        for i in $(seq 1 50); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.05
        done
        if kill -0 "$p" 2>/dev/null; then
            fail "worker $p outlived lighttpd"
            kill -KILL "$p" 2>/dev/null || true
        fi
    done
}

# req [curl args...] URL-PATH: fetches BASE/PATH; sets STATUS, and leaves
# headers in $TMP/h and the body in $TMP/b.
req() {
    local path=${*: -1}
    local args=("${@:1:$#-1}")
    : > "$TMP/b"    # curl writes no file at all for an empty body
    STATUS=$(curl -s -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' \
        ${args[@]+"${args[@]}"} "$BASE$path") || STATUS=000
}

# header NAME: the value of a response header of the last req ("" if none).
header() {
    grep -i "^$1:" "$TMP/h" | head -1 | sed 's/^[^:]*: *//; s/\r$//' || true
}

expect_status() {   # expect_status CODE WHAT
    if [ "$STATUS" = "$1" ]; then pass; else fail "$2: status $STATUS, want $1"; fi
}
expect_body() {     # expect_body REGEX WHAT
    if grep -Eq -- "$1" "$TMP/b"; then pass; else fail "$2: body lacks /$1/"; fi
}
expect_no_body() {  # expect_no_body REGEX WHAT
    if grep -Eq -- "$1" "$TMP/b"; then fail "$2: body has /$1/"; else pass; fi
}
expect_header() {   # expect_header NAME REGEX WHAT
    if header "$1" | grep -Eq -- "$2"; then pass
    else fail "$3: header $1 is '$(header "$1")', want /$2/"; fi
}
expect_no_header() {  # expect_no_header NAME WHAT
    if [ -z "$(header "$1")" ]; then pass; else fail "$2: has header $1: $(header "$1")"; fi
}
expect_eq() {       # expect_eq GOT WANT WHAT
    if [ "$1" = "$2" ]; then pass; else fail "$3: got '$1', want '$2'"; fi
}

# get CODE PATH WHAT: a GET that must answer CODE.
get() { req "$2"; expect_status "$1" "$3"; }

# smoke NAME: the flow every deployment must pass, through BASE: pages
# with URLs built from SCRIPT_NAME, a 400, an add, and the cart seen on
# the next request (LOC is left at that cart's URL).
smoke() {
    rm -f "$TMP/jar"
    get 200 /shop "$1: Home"
    expect_body 'href="/shop\?pg=Category&amp;id=1"' "$1: links from SCRIPT_NAME"
    get 200 '/shop?pg=Item&id=26' "$1: Item"
    expect_body '<h1>' "$1: Item has its name"
    get 400 '/shop?pg=Item&id=0' "$1: a bad query"
    req -c "$TMP/jar" -b "$TMP/jar" --data 'act=add&id=26&qty=2' /shop
    expect_status 303 "$1: add to cart"
    LOC=$(header Location)
    req -b "$TMP/jar" "$LOC"
    expect_body 'id="cart-count">2<' "$1: the cart on the next request"
    get 301 / "$1: / redirects"
    get 200 /static/nori.css "$1: the stylesheet"
}

finish() {
    srv_stop
    echo "  $PASSES checks passed, $FAILS failed"
    [ "$FAILS" -eq 0 ]
}
