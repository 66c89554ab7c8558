#!/usr/bin/env bash
# spawn-fcgi.sh -- nori started by spawn-fcgi (4 forked workers on one
# socket), lighttpd in front with deploy/lighttpd/lighttpd-external.conf:
# the smoke flow, and SIGTERM stopping every worker.
source "$(dirname "$0")/lib.sh"

SOCK=$TMP/nori.sock
NORI_RUNDIR=$TMP spawn-fcgi -s "$SOCK" -F 4 -P "$TMP/spawn.pid" -- "$NORI" >/dev/null 2>&1 \
    && pass || fail "spawn-fcgi failed"
pids=$(pgrep -f "^$NORI\$" | while read -r p; do
    tr '\0' '\n' < "/proc/$p/environ" | grep -qx "NORI_RUNDIR=$TMP" && echo "$p"
done || true)
for p in $pids; do track "$p"; done
expect_eq "$(echo "$pids" | wc -w)" 4 "spawn-fcgi forked 4 workers"
PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
NORI_HOME=$ROOT NORI_SOCKET=$SOCK PORT=$PORT \
    lighttpd -D -f "$ROOT/deploy/lighttpd/lighttpd-external.conf" 2>>"$TMP/error.log" &
LPID=$!
srv_wait || fail "lighttpd did not start"

get 200 /shop "Home"
get 200 '/shop?pg=Item&id=26' "Item"
get 400 '/shop?pg=Item&id=0' "a bad query"
req -c "$TMP/jar" -b "$TMP/jar" --data 'act=add&id=26' /shop
expect_status 303 "add to cart"
req -b "$TMP/jar" "$(header Location)"
expect_body 'id="cart-count">1<' "the cart on the next request"

srv_stop
kill -TERM $pids
for i in $(seq 1 40); do
    left=$(for p in $pids; do kill -0 "$p" 2>/dev/null && echo "$p"; done || true)
    [ -z "$left" ] && break
    sleep 0.05
done
[ -z "$left" ] && pass || { fail "workers ignored SIGTERM: $left"; kill -KILL $left; }
finish
