#!/usr/bin/env bash
# spawn-fcgi.sh -- nori started by spawn-fcgi (4 forked workers on one
# socket), lighttpd in front with deploy/lighttpd/lighttpd-external.conf:
# the smoke flow, and SIGTERM stopping every worker.
source "$(dirname "$0")/lib.sh"

SOCK=$TMP/nori.sock
NORI_RUNDIR=$TMP spawn-fcgi -s "$SOCK" -F 4 -P "$TMP/spawn.pid" -- "$NORI" >/dev/null 2>&1 \
    && pass || fail "spawn-fcgi failed"
# spawn-fcgi returns once it has forked; a child may not have exec'd
# nori yet (a busy machine), so the count is polled.
ours() {
    pgrep -f "^$NORI\$" | while read -r p; do
        tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "NORI_RUNDIR=$TMP" && echo "$p"
    done || true
}
four() { [ "$(ours | wc -w)" -ge 4 ]; }
poll -- four || true
pids=$(ours)
for p in $pids; do track "$p"; done
expect_eq "$(echo "$pids" | wc -w)" 4 "spawn-fcgi forked 4 workers"
lighttpd_with deploy/lighttpd/lighttpd-external.conf

get 200 /shop "Home"
get 200 '/shop?pg=Item&id=26' "Item"
get 400 '/shop?pg=Item&id=0' "a bad query"
req -c "$TMP/jar" -b "$TMP/jar" --data 'act=add&id=26' /shop
expect_status 303 "add to cart"
req -b "$TMP/jar" "$(header Location)"
expect_body 'id="cart-count">1<' "the cart on the next request"

srv_stop
kill -TERM $pids
if wait_gone $pids; then pass; else
    left=$(live $pids); fail "workers ignored SIGTERM: $left"; kill -KILL $left
fi
finish
