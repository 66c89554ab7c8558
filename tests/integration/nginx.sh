#!/usr/bin/env bash
# nginx.sh -- nginx with deploy/nginx/nginx.conf in front of `nori serve`,
# kept-alive FastCGI connections on: the smoke flow, many requests over
# few kept connections, concurrent adds through the pool, and a worker
# that is not pinned forever by an idle kept connection.
source "$(dirname "$0")/lib.sh"

# nginx's workers run as www-data (the config's user line): they must reach the
# socket, so the test directory is opened to it (the socket is 0660,
# group www-data, as the guide gives it).
chmod 755 "$TMP"
serve_start NORI_COOKIE_PATH=/ --socket-mode 0660 --socket-group www-data
mkdir -p "$TMP/nginx"
nginx_run() {
    # No page cache (@PAGES@ names nothing): every request is nori's,
    # as the kept connections below need. nginxcache.sh tests the cache.
    nginx_shipped_run "$TMP/no-page-cache"
}
on_fresh_port nginx nginx_run
NPID=$UPID

echo "smoke"
smoke nginx
loc=$LOC
get 404 '/shop/below' "a path below the app"
req /shopping
[ "$STATUS" = 404 ] && pass || fail "/shopping is not the shop: $STATUS"
get 200 /nori-status "the counters, from loopback"
expect_body '"requests"' "the counters are JSON"
monitor_urls nginx

echo "the protected path (auth_request)"
get 403 /members/index.html "no session: refused"
key=${loc##*_s=}
get 403 "/members/index.html?_s=$key" "a session without a login: refused"
req -b "$TMP/jar" "$loc"
k=$(page_k)
req -c "$TMP/jar" -b "$TMP/jar" --data "act=login&user=demo&password=nori-demo&_s=$key&_k=$k" /shop
expect_status 303 "login"
loc=$(header Location)
key=${loc##*_s=}
req -b "$TMP/jar" "/members/index.html?_s=$key"
expect_status 200 "logged in: allowed"
expect_body 'Members only' "the protected file"
expect_header X-Nori-User '^demo$' "the user's name came back from nori"

echo "kept-alive FastCGI connections"
# 300 requests on one client connection: nginx reuses its upstream
# connections; every answer must be whole and right.
for i in $(seq 1 300); do
    printf 'url = "%s/shop?pg=Item&id=%d"\noutput = "%s/ka.%d"\n' "$BASE" $((i % 80 + 1)) "$TMP" "$i"
done > "$TMP/ka.curl"
curl -s -K "$TMP/ka.curl"
bad=0
for i in $(seq 1 300); do grep -q '</html>' "$TMP/ka.$i" || bad=$((bad + 1)); done
expect_eq "$bad" 0 "300 pages over kept connections, all whole"
# Adds from 4 clients at once, within the worker count: none may fail.
key=${loc##*_s=}
req -b "$TMP/jar" "$loc"
k=$(page_k)
pids=()
for c in 1 2 3 4; do
    ( for i in $(seq 1 10); do
          curl -s -o /dev/null -w '%{http_code}\n' -b "$TMP/jar" \
              --data "act=add&id=5&qty=1&_s=$key&_k=$k" "$BASE/shop"
      done > "$TMP/adds.$c" ) &
    pids+=($!)
done
wait "${pids[@]}"
expect_eq "$(cat "$TMP"/adds.* | grep -vc '^303$' || true)" 0 "40 concurrent adds all answered 303"
req -b "$TMP/jar" "$loc"
expect_body 'id="cart-count">42<' "and all 40 are in the cart"
# While nginx holds its idle kept connections, another client of the
# socket (here cgi-fcgi) is still served: idle kept connections are let
# go after a second, and a waiting connection takes a worker.
# A pinned worker would never answer: the bound is generous, since only
# "served at all" is asserted (timing belongs to the bench).
out=$(env -i QUERY_STRING='pg=Item&id=26' SCRIPT_NAME=/shop REQUEST_METHOD=GET \
      timeout 20 cgi-fcgi -bind -connect "$SOCK" 2>/dev/null | head -1 || true)
grep -q '^Status: 200' <<<"$out" && pass || fail "a second client of the socket: '$out'"

kill -TERM "$NPID"; wait "$NPID" || true
kill -TERM "$SPID"
wait "$SPID" && pass || fail "nori serve did not exit 0"
left=$(pgrep -f "nginx -p $TMP" || true)
[ -z "$left" ] && pass || fail "nginx left processes: $left"
finish
