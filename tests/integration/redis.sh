#!/usr/bin/env bash
# redis.sh -- the Redis session store against a real redis-server: the
# whole session flow of sessions.sh again, a unix socket with a database
# number and a key prefix, records in LMDB's bytes with Redis's own
# expiry, two worker pools adding to one cart at once, and Redis stopped
# mid-run and started again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/redis-lib.sh"

JAR=$TMP/jar
stat() {
    curl -s "$BASE/nori-status" | grep -o "\"$1\": [\"a-z0-9]*" | sed 's/.*: //' || true
}

# An append-only file, written at every command and flushed by a clean
# shutdown, so that a Redis stopped and started again still has the
# sessions it acknowledged (without an fsync per write, which would only
# slow the suite down).
PERSIST=(--appendonly yes --appendfsync no)
redis_start "${PERSIST[@]}"

echo "the session flow of sessions.sh, on Redis over TCP"
if IT_STORE="redis://127.0.0.1:$RPORT" IT_REDIS_PORT=$RPORT \
       bash "$(dirname "$0")/sessions.sh" > "$TMP/sessions.out" 2>&1; then
    pass
    echo "  (sessions.sh on Redis: $(tail -1 "$TMP/sessions.out" | sed "s/^ *//"))"
else
    cat "$TMP/sessions.out"
    fail "sessions.sh on Redis"
fi
rcli flushall > /dev/null

echo "a unix socket, a database number, a key prefix"
srv_start NORI_STORE="redis+unix://$RSOCK?db=3" NORI_REDIS_PREFIX=shopA: NORI_SESSION_TTL=600
expect_eq "$(stat store_backend)" '"redis"' "status names the backend"
post 'act=add&id=26&qty=2'
expect_status 303 "add over the unix socket"
KEY=$(loc_key)
req -b "$JAR" "/shop?pg=Cart&_s=$KEY"
expect_eq "$(cart_count)" 2 "the cart on the next request"
expect_eq "$(rcli -n 3 exists "shopA:$KEY")" 1 "the record is under the prefix, in db 3"
expect_eq "$(rcli -n 0 dbsize)" 0 "and nothing in db 0"
# The value is LMDB's: version u64 | expires u64 | a NORS record.
expect_eq "$(rcli -n 3 getrange "shopA:$KEY" 16 19)" NORS "the record bytes are nori's"
ttl=$(rcli -n 3 pttl "shopA:$KEY")
[ "$ttl" -gt 500000 ] && [ "$ttl" -le 600000 ] && pass || fail "PX expiry at the idle TTL: $ttl ms"
expect_eq "$(stat store_records)" 1 "status counts the records under the prefix"
expect_eq "$(stat store_reachable)" true "status: reachable"
rcli -n 3 set "shopA:AAAAAAAAAAAAAAAAAAAAAA" "not ours" > /dev/null
req -b "$JAR" "/shop?pg=Cart&_s=AAAAAAAAAAAAAAAAAAAAAA"
expect_status 200 "a value that is not a record renders sessionless"
expect_eq "$(cart_count)" 0 "and is not trusted"
# Longer than any record may be (64 KiB): absent too, never a 503.
head -c 70000 /dev/zero | tr '\0' x | rcli -n 3 -x set "shopA:BBBBBBBBBBBBBBBBBBBBBB" > /dev/null
req -b "$JAR" "/shop?pg=Cart&_s=BBBBBBBBBBBBBBBBBBBBBB"
expect_status 200 "a value too long for a record renders sessionless"
expect_eq "$(cart_count)" 0 "and is not trusted either"
srv_stop
rcli flushall > /dev/null

echo "two worker pools, one Redis: ten concurrent adds"
# lighttpd's workers and a nori serve's, as two web hosts would be.
STORE=redis://127.0.0.1:$RPORT
srv_start NORI_STORE="$STORE"
serve_start NORI_STORE="$STORE"
post 'act=add&id=7&qty=1'
C=$(loc_key)
req -b "$JAR" "/shop?pg=Cart&_s=$C"
CK=$(page_k)
bind=$(awk '$6 == "nori_b" {print $7}' "$JAR")
body="act=add&id=5&qty=1&_s=$C&_k=$CK"
adders=()
for i in 1 2 3 4 5; do
    curl -s -o /dev/null -b "$JAR" --data "$body" "$BASE/shop" &
    adders+=($!)
    printf %s "$body" | env -i SCRIPT_NAME=/shop REQUEST_METHOD=POST QUERY_STRING= \
        REMOTE_ADDR=127.0.0.1 CONTENT_TYPE=application/x-www-form-urlencoded \
        CONTENT_LENGTH=${#body} HTTP_COOKIE="nori_b=$bind" \
        cgi-fcgi -bind -connect "$SOCK" > "$TMP/serve.$i" 2>/dev/null &
    adders+=($!)
done
wait "${adders[@]}"
n=$(grep -l '^Status: 303' "$TMP"/serve.* | wc -l)
expect_eq "$n" 5 "the other pool answered its five adds"
req -b "$JAR" "/shop?pg=Cart&_s=$C"
expect_eq "$(cart_count)" 11 "1 + 10 concurrent adds from two pools"

echo "Redis stopped mid-run"
workers_before=$(workers | sort | tr '\n' ' ')
# One client adds, one at a time, while Redis goes away and comes back;
# every add answered 303 must be in the cart, and none answered 503
# may be (but the one in flight when Redis died, whose answer was lost).
: > "$TMP/adds"
( while [ ! -e "$TMP/stop" ]; do
      curl -s -o /dev/null -w '%{http_code}\n' -b "$JAR" --data "act=add&id=9&qty=1&_s=$C&_k=$CK" \
          "$BASE/shop" >> "$TMP/adds"
  done ) &
loader=$!
track "$loader"
for i in $(seq 1 200); do [ "$(grep -c 303 "$TMP/adds")" -ge 3 ] && break; sleep 0.05; done
redis_kill "$RPID"
get 200 '/shop?pg=Item&id=26' "a sessionless page while Redis is down"
get 200 '/shop?pg=Category&id=1' "another"
req -b "$JAR" "/shop?pg=Cart&_s=$C"
expect_status 503 "a session page while Redis is down"
expect_header Retry-After '^[0-9]+$' "503 says when to come back"
expect_body 'session store' "and why"
rm -f "$TMP/jar.new"
req -c "$TMP/jar.new" --data 'act=inc' /shop
expect_status 503 "a new session while Redis is down"
expect_no_header Set-Cookie "no cookie for a session that was not made"
expect_eq "$(stat store_reachable)" false "status: unreachable"
for i in $(seq 1 200); do [ "$(grep -c 503 "$TMP/adds")" -ge 3 ] && break; sleep 0.05; done
redis_restart "${PERSIST[@]}" || fail "redis-server did not come back"
ok=
for i in $(seq 1 200); do
    req -b "$JAR" "/shop?pg=Cart&_s=$C"
    [ "$STATUS" = 200 ] && { ok=1; break; }
    sleep 0.05
done
[ -n "$ok" ] && pass || fail "no recovery after Redis came back: $STATUS"
for i in $(seq 1 200); do [ "$(grep -c 303 "$TMP/adds")" -ge 6 ] && break; sleep 0.05; done
touch "$TMP/stop"
wait "$loader"
ok303=$(grep -c 303 "$TMP/adds" || true)
n503=$(grep -c 503 "$TMP/adds" || true)
other=$(grep -vc '^30[3]$\|^503$' "$TMP/adds" || true)
req -b "$JAR" "/shop?pg=Cart&_s=$C"
got=$(( $(cart_count) - 11 ))
echo "  adds: $ok303 answered 303, $n503 answered 503, in the cart $got"
expect_eq "$other" 0 "every add answered 303 or 503"
[ "$n503" -gt 0 ] && pass || fail "no add met the outage"
[ "$got" -ge "$ok303" ] && [ "$got" -le $((ok303 + 1)) ] && pass ||
    fail "cart has $got of the $ok303 acknowledged adds"
expect_eq "$(workers | sort | tr '\n' ' ')" "$workers_before" "recovered without a restart"
expect_eq "$(stat store_reachable)" true "status: reachable again"
srv_stop

echo "expiry is Redis's, not nori's sweeper's"
rm -f "$JAR"
srv_start NORI_STORE="$STORE" NORI_SESSION_TTL=2 NORI_SESSION_MAX_AGE=4
post 'act=add&id=3'
KEY=$(loc_key)
expect_eq "$(rcli exists "nori:$KEY")" 1 "the record is there"
gone=
for i in $(seq 1 200); do
    [ "$(rcli exists "nori:$KEY")" = 0 ] && { gone=1; break; }
    sleep 0.05
done
[ -n "$gone" ] && pass || fail "the record outlived its TTL"
req -b "$JAR" "/shop?pg=Cart&_s=$KEY"
expect_status 200 "an expired key renders"
expect_eq "$(cart_count)" 0 "sessionless"
expect_eq "$(stat reclaimed)" 0 "nori's sweeper reclaimed nothing"

finish
