#!/usr/bin/env bash
# peers.sh -- who may speak FastCGI to nori serve over TCP. Every
# interface is refused without FCGI_WEB_SERVER_ADDRS, however it is
# spelled (::ffff:0.0.0.0 too); and the list holds for every peer, IPv6
# and v4-mapped ones included (libfcgi checks IPv4 peers only): a peer
# not on it is closed without an answer, and logged, a few lines at most.
# Real loopback connections, IPv4 and IPv6 (::1).
source "$(dirname "$0")/lib.sh"

CLIENT=$ROOT/tests/integration/fcgi_client.py
fcgi() { timeout 120 python3 "$CLIENT" "$@" 2>/dev/null || echo FAILED; }

echo "every interface is refused without FCGI_WEB_SERVER_ADDRS"
for host in 0.0.0.0 :: ::ffff:0.0.0.0; do
    rc=0
    env -u FCGI_WEB_SERVER_ADDRS NORI_RUNDIR="$TMP" timeout 60 "$NORI" serve \
        --listen "$host:$(free_port)" --workers 1 2>"$TMP/wild.log" || rc=$?
    expect_eq "$rc" 1 "--listen $host: exit status"
    grep -q 'refusing every interface' "$TMP/wild.log" && pass ||
        fail "--listen $host: $(head -1 "$TMP/wild.log")"
done

# serve_on HOST [VAR=value...]: nori serve with one worker on HOST and a
# fresh port, retried when the port is lost; sets TPORT and TPID.
up_on() { ! alive "$TPID" || grep -q "listening on $1:$TPORT " "$TMP/serve.log"; }
serve_on() {
    local host=$1 try; shift
    for try in 1 2 3 4 5 6; do
        TPORT=$(free_port)
        env "$@" NORI_RUNDIR="$TMP" "$NORI" serve --listen "$host:$TPORT" \
            --workers 1 2>>"$TMP/serve.log" &
        TPID=$!
        track "$TPID"
        poll -- up_on "$host" || true
        alive "$TPID" && return 0
        wait "$TPID" 2>/dev/null || true
    done
    fail "nori serve could not listen on $host"
    tail -n 20 "$TMP/serve.log" >&2
    exit 1
}
serve_stop() { kill -TERM "$TPID"; wait "$TPID" || true; }

# check HOST LIST CLIENT-HOST WANT WHAT: nori serve on HOST with
# FCGI_WEB_SERVER_ADDRS=LIST; a GET from CLIENT-HOST gets WANT.
check() {
    serve_on "$1" FCGI_WEB_SERVER_ADDRS="$2"
    expect_eq "$(fcgi get "$3:$TPORT")" "$4" "$5"
    serve_stop
}

echo "an IPv6 listener: the list holds for IPv6 peers"
check ::1 ::1 ::1 "Status: 200 OK" "::1 listed, from ::1"
: > "$TMP/serve.log"
check ::1 127.0.0.1 ::1 CLOSED "::1 not listed, from ::1: closed without an answer"
grep -q 'refused a connection from ::1: not in FCGI_WEB_SERVER_ADDRS' "$TMP/serve.log" &&
    pass || fail "the refused IPv6 peer was not logged"

echo "v4-mapped peers count as their IPv4 address"
check ::ffff:127.0.0.1 127.0.0.1 127.0.0.1 "Status: 200 OK" "127.0.0.1 listed, through a v4-mapped listener"
check ::ffff:127.0.0.1 192.0.2.1 127.0.0.1 CLOSED "127.0.0.1 not listed, through a v4-mapped listener"
check 127.0.0.1 ::ffff:127.0.0.1 127.0.0.1 "Status: 200 OK" "a v4-mapped entry admits its IPv4 peer"
check 127.0.0.1 ::1 127.0.0.1 CLOSED "an IPv4 peer against an IPv6-only list"
check 127.0.0.1 " 192.0.2.1, 127.0.0.1 " 127.0.0.1 "Status: 200 OK" "a list with spaces"

echo "refusals are logged a few lines at most, and the worker keeps serving"
: > "$TMP/serve.log"
serve_on ::1 FCGI_WEB_SERVER_ADDRS=192.0.2.1,127.0.0.1
worker=$(pgrep -P "$TPID" | head -1)
t0=$SECONDS
for i in $(seq 1 30); do fcgi get "::1:$TPORT" > /dev/null; done
# 5 lines per 10 s interval: on a slow machine the 30 may span a few.
most=$(( 5 * ((SECONDS - t0) / 10 + 2) ))
n=$(grep -c 'refused a connection' "$TMP/serve.log" || true)
[ "$n" -ge 1 ] && [ "$n" -le "$most" ] && [ "$n" -lt 30 ] && pass ||
    fail "30 refusals logged $n lines (at most $most)"
expect_eq "$(pgrep -P "$TPID" | head -1)" "$worker" "the same worker took them all"
serve_stop
serve_on ::ffff:127.0.0.1 FCGI_WEB_SERVER_ADDRS=127.0.0.1
expect_eq "$(fcgi get "127.0.0.1:$TPORT")" "Status: 200 OK" "served again"
serve_stop

finish
