# lib.sh -- what every integration suite shares: a real lighttpd started
# with the shipped lighttpd.conf on a free loopback port, stopped at the
# end, and small assertions over real HTTP answers.
#
# A suite sources this file, calls srv_start, runs its checks with the
# assert helpers, and ends with `finish`. Nothing here is mocked: requests
# go through lighttpd to build/nori workers spawned by lighttpd itself.
#
# Servers that run as another user (Apache's and nginx's www-data or
# nobody, `runuser -u nobody`, mod_fcgid's nori) may not be able to enter
# the checkout: a clone under /root (0700) is where a root newcomer puts
# it. Such a suite never points them at $ROOT; it calls stage_for_others,
# which copies what they read into one 0755 directory of /tmp made for
# this suite and removed at cleanup, laid out as the checkout is, and
# prints it:
#     S=$(stage_for_others)      # $S/build/nori, $S/static, $S/deploy, ...
#     NORI_HOME=$S ...           # every shipped config reads it so
#     env "${STAGED_DATA[@]}" runuser -u nobody -- "$S/build/nori" ...
# The binary's compiled-in catalog and users paths point into the
# checkout, so a nori run as another user gets STAGED_DATA (NORI_CATALOG
# and NORI_USERS naming the staged copies). Configs root reads (apache2
# -f, nginx -c) and run directories under $TMP (which a suite opens with
# chmod 755: it is in /tmp) need no staging.

set -euo pipefail

# nori refuses a run directory its group may write: a suite's own
# directories must not be made so by a caller's umask of 002.
umask 022

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
    rm -rf "$STAGE"
    rm -rf "$TMP"
}

# stage_for_others [PATH...]: prints STAGE (see the top of this file),
# having copied into it, once, build/nori, static/, deploy/, shop/data/,
# lighttpd.conf and each PATH of the checkout, readable and enterable by
# everyone. The directory is made (empty) when lib.sh is sourced, so that
# a call in $(...) is the same directory and is cleaned up too.
STAGE=$(mktemp -d /tmp/nori-stage.XXXXXX)
STAGED_DATA=(NORI_CATALOG="$STAGE/shop/data/catalog.tsv" NORI_USERS="$STAGE/shop/data/users")
stage_for_others() {
    local p
    [ -e "$STAGE/build/nori" ] || set -- build/nori static deploy shop/data lighttpd.conf "$@"
    for p in "$@"; do
        [ -e "$STAGE/$p" ] && continue
        mkdir -p "$STAGE/$(dirname "$p")"
        cp -a "$ROOT/$p" "$STAGE/$p"
    done
    chmod -R a+rX "$STAGE"
    chmod 755 "$STAGE"
    echo "$STAGE"
}
trap cleanup EXIT
trap 'exit 1' TERM INT HUP      # so that a timeout still runs cleanup

fail() { echo "  FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
pass() { PASSES=$((PASSES + 1)); }

source "$ROOT/tests/integration/port.sh"

source "$ROOT/tests/integration/wait.sh"

# fcgi_add SOCKET: a POST that puts one item in a new cart, straight to one
# worker's socket: a new session there; prints the status (303).
fcgi_add() {
    local body='act=add&id=26&qty=1'
    printf '%s' "$body" | env -i REQUEST_METHOD=POST CONTENT_LENGTH=${#body} \
        CONTENT_TYPE=application/x-www-form-urlencoded SCRIPT_NAME=/shop QUERY_STRING= \
        REMOTE_ADDR=127.0.0.1 timeout 20 cgi-fcgi -bind -connect "$1" 2>/dev/null \
        | sed -n 's/^Status: \([0-9]*\).*/\1/p'
}
code_of() { curl -s -o /dev/null --max-time 10 -w '%{http_code}' "$1" || true; }
is_200() { [ "$(code_of "$1")" = 200 ]; }

# wait_up PID URL: 0 once URL answers 200 while PID runs; 1 as soon as
# PID is gone (it could not bind, say: the caller retries on a fresh
# port); 2 when the deadline passes.
wait_up() {
    local pid=$1 url=$2 end=$((SECONDS + DEADLINE))
    while [ "$SECONDS" -lt "$end" ]; do
        alive "$pid" || return 1
        is_200 "$url" && alive "$pid" && return 0
        sleep 0.05
    done
    return 2
}

# on_fresh_port NAME START: a free port can be taken between the probe
# and the bind, so START (which sets PORT, BASE and starts a server that
# must serve BASE$UP_PATH, /shop unless set, leaving its PID in UPID) is
# tried on fresh ports until one serves. Exits the suite when none does.
UPID=
on_fresh_port() {
    local name=$1 start=$2 try rc
    for try in 1 2 3 4 5 6; do
        PORT=$(free_port)
        BASE=http://127.0.0.1:$PORT
        "$start"
        rc=0
        wait_up "$UPID" "$BASE${UP_PATH:-/shop}" || rc=$?
        [ "$rc" = 0 ] && return 0
        kill -TERM "$UPID" 2>/dev/null || true
        wait "$UPID" 2>/dev/null || true
        [ "$rc" = 1 ] || break      # up but not serving: not a port race
        echo "  ($name lost port $PORT, retrying on another)" >&2
    done
    fail "$name did not serve $BASE${UP_PATH:-/shop}"
    tail -n 20 "$TMP"/*.log "$TMP"/*.out >&2 2>/dev/null || true
    exit 1
}

# serve_tcp [VAR=value...]: `nori serve` with one worker on a fresh
# loopback TCP port, retried when the port is lost to a race; sets TPORT
# and TPID.
TPORT=
TPID=
tcp_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$TPORT") 2>/dev/null; }
tcp_up() { ! alive "$TPID" || tcp_listening; }
serve_tcp() {
    local try
    for try in 1 2 3 4 5 6; do
        TPORT=$(free_port)
        env "$@" NORI_RUNDIR="$TMP" "$NORI" serve --listen "127.0.0.1:$TPORT" \
            --workers 1 2>>"$TMP/serve.log" &
        TPID=$!
        track "$TPID"
        poll -- tcp_up || true
        alive "$TPID" && tcp_listening && return 0
        kill -TERM "$TPID" 2>/dev/null || true
        wait "$TPID" 2>/dev/null || true
    done
    fail "nori serve could not listen on TCP"
    tail -n 20 "$TMP/serve.log" >&2
    exit 1
}

# srv_start [VAR=value...]: lighttpd with the shipped config and a fresh
# run directory; extra NORI_* settings are passed through its environment
# exactly as `make run` does.
srv_start() {
    RUNDIR=$TMP/run.$RANDOM
    mkdir -p "$RUNDIR"
    lighttpd_up lighttpd.conf "$@" NORI_RUNDIR="$RUNDIR"
}

# lighttpd_with CONF [VAR=value...]: lighttpd with a deploy/ config in
# front of an external nori (NORI_SOCKET=$SOCK); sets LPID.
lighttpd_with() {
    local conf=$1; shift
    lighttpd_up "$conf" "$@" NORI_SOCKET="$SOCK"
}

# lighttpd_up CONF VAR=value...: lighttpd -D with CONF (relative to the
# tree) and that environment, on a fresh port; sets LPID.
LT_CONF=
LT_ENV=()
lighttpd_up() {
    LT_CONF=$1; shift
    LT_ENV=("$@")
    on_fresh_port lighttpd lighttpd_run
    LPID=$UPID
}
# nginx_shipped_run PAGES: nginx on deploy/nginx/nginx.conf, on $PORT,
# in front of nori serve's $SOCK, with PAGES as its page cache (a path
# that names nothing turns it off); for on_fresh_port.
nginx_shipped_run() {
    local home
    home=$(stage_for_others)     # nginx's worker reads static/ as nobody
    sed -e "s|@PORT@|$PORT|g; s|@SOCKET@|$SOCK|g; s|@HOME@|$home|g; s|@RUNDIR@|$TMP/nginx|g" \
        -e "s|@PAGES@|$1|g" \
        "$ROOT/deploy/nginx/nginx.conf" > "$TMP/nginx/nginx.conf"
    nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' 2>>"$TMP/nginx.out" &
    UPID=$!
    track "$UPID"
}
lighttpd_run() {
    env "${LT_ENV[@]}" NORI_HOME="$ROOT" PORT="$PORT" \
        lighttpd -D -f "$ROOT/$LT_CONF" 2>>"$TMP/error.log" &
    UPID=$!
}

# workers: lighttpd's live nori children.
workers() { live $(pgrep -P "$LPID" -f "$NORI" || true); }
nworkers() { workers | wc -l; }
# wait_workers N: until lighttpd has N live workers.
has_workers() { [ "$(nworkers)" = "$1" ]; }
wait_workers() { poll -- has_workers "$1"; }

# serve_start [VAR=value...] [flags...]: `nori serve` on $SOCK, 4 workers
# unless a flag says otherwise, its run directory $TMP; sets SPID.
SOCK=$TMP/nori.sock
SPID=
serve_start() {
    local envs=() flags=() a
    for a in "$@"; do
        case $a in --*) flags+=("$a") ;; [A-Z]*=*) envs+=("$a") ;; *) flags+=("$a") ;; esac
    done
    env ${envs[@]+"${envs[@]}"} NORI_RUNDIR="$TMP" "$NORI" serve --listen "unix:$SOCK" \
        --workers 4 ${flags[@]+"${flags[@]}"} 2>>"$TMP/serve.log" &
    SPID=$!
    track "$SPID"
    poll -- test -S "$SOCK" || { cat "$TMP/serve.log" >&2; fail "nori serve did not start"; exit 1; }
}

# wait_200 URL: until URL answers 200; 1 if it never does.
wait_200() { poll -- is_200 "$1"; }

# Stops lighttpd the way an init system does and checks that it took
# every worker with it.
srv_stop() {
    [ -n "${LPID:-}" ] || return 0
    local pids p
    pids=$(workers)
    kill -TERM "$LPID" 2>/dev/null || true
    wait "$LPID" 2>/dev/null || true
    LPID=
    wait_gone $pids && return 0
    for p in $(live $pids); do
        fail "worker $p outlived lighttpd"
        kill -KILL "$p" 2>/dev/null || true
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

# post DATA [curl args...]: a form POST to the app with the cookie jar
# $JAR (the suite's own).
post() {
    local data=$1; shift
    req -b "$JAR" -c "$JAR" "$@" --data "$data" /shop
}
# The _s of the last answer's Location, the _k of the last page, and the
# cart count the last page shows.
loc_key() { header Location | sed -n 's/.*[?&]_s=\([A-Za-z0-9_-]*\)$/\1/p' || true; }
page_k() { grep -o 'name="_k" value="[^"]*"' "$TMP/b" | head -1 | sed 's/.*value="//; s/"$//' || true; }
cart_count() { grep -o 'id="cart-count">[0-9]*' "$TMP/b" | grep -o '[0-9]*$' || true; }

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
    favicon_check "$1"
}

finish() {
    srv_stop
    echo "  $PASSES checks passed, $FAILS failed"
    [ "$FAILS" -eq 0 ]
}

# favicon_check NAME: the icon every page links, and /favicon.ico that
# browsers ask for unbidden, are served as images, byte for byte.
favicon_check() {
    local path
    for path in /favicon.ico /static/favicon.ico; do
        req "$path"
        expect_status 200 "$1: $path"
        expect_header Content-Type '^image/' "$1: $path is an image"
        if cmp -s "$TMP/b" "$ROOT/static/favicon.ico"; then pass
        else fail "$1: $path is not static/favicon.ico"; fi
    done
}

# monitor_urls NAME: the status URLs every shipped front end publishes to
# loopback, at the top and below the app: the health check (pong) and the
# counters as JSON and, with ?openmetrics, in Prometheus's text format.
monitor_urls() {
    local at
    for at in "" /shop; do
        get 200 "$at/nori-ping" "$1: $at/nori-ping"
        expect_eq "$(cat "$TMP/b")" pong "$1: $at/nori-ping says pong"
        get 200 "$at/nori-status" "$1: $at/nori-status"
        expect_body '"requests": [0-9]+' "$1: $at/nori-status is the JSON counters"
        get 200 "$at/nori-status?openmetrics" "$1: $at/nori-status?openmetrics"
        expect_body '^nori_requests_total [0-9]+$' "$1: $at/nori-status?openmetrics is Prometheus text"
    done
}
