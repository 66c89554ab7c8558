#!/usr/bin/env bash
# redis-guide.sh -- deploy/redis/README.md's "One Redis", as written: the
# redis.conf lines of the guide (the shop's ACL user, the shipped
# nori-sessions.conf included) and the web host's NORI_STORE, with only
# the address, the port and the include's path changed. Then what the
# guide claims of those settings: the ACL user can do all nori does
# (sessions, the status page), a full Redis refuses new sessions (503)
# and evicts none, raising maxmemory brings commits back with no restart,
# a restarted Redis keeps every session (the append-only file), and a
# Redis gone shows in /nori-ping and /nori-status.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/redis-lib.sh"

GUIDE=$ROOT/deploy/redis/README.md
block() {   # block NAME: the ``` block after <!-- test: NAME -->
    awk -v mark="<!-- test: $1 -->" '
        $0 == mark { want = 1; next }
        want && /^```/ && !inside { inside = 1; next }
        inside && /^```$/ { exit }
        inside { print }' "$GUIDE"
}
PW=LONG-RANDOM-PASSWORD
block "redis.conf one" | sed -e 's/^bind 10\.0\.0\.5 /bind /' \
    -e "s|^include /usr/local/share/nori/examples/redis/|include $ROOT/deploy/redis/|" \
    > "$TMP/redis.conf"
# The test's own user, to read and change the settings (the shop's may not).
echo "user admin on >admin-pw ~* +@all" >> "$TMP/redis.conf"
grep -q "^include $ROOT/deploy/redis/nori-sessions.conf$" "$TMP/redis.conf" && pass \
    || fail "the guide's redis.conf includes no nori-sessions.conf"
SPEC=$(block "env one" | sed -n 's/^NORI_STORE=//p')
[ -n "$SPEC" ] && pass || fail "no NORI_STORE in the guide"

gcli() { redis-cli -p "$RPORT" --user shop --pass "$PW" --no-auth-warning "$@" | tr -d '\r'; }
acli() { redis-cli -p "$RPORT" --user admin --pass admin-pw --no-auth-warning "$@" | tr -d '\r'; }
gpongs() { ! alive "$RPID" || [ "$(gcli ping 2>/dev/null)" = PONG ]; }
gredis_up() {
    redis-server "$TMP/redis.conf" --port "$RPORT" --dir "$TMP" --daemonize no \
        --logfile "$TMP/redis.$RPORT.log" &
    RPID=$!
    track "$RPID"
    poll -- gpongs && alive "$RPID"
}
for try in 1 2 3 4 5; do
    RPORT=$(free_port)
    gredis_up && break
    redis_kill "$RPID"
done
alive "$RPID" || { cat "$TMP"/redis.*.log >&2; fail "Redis did not start on the guide's config"; finish; exit 1; }
SPEC=${SPEC/10.0.0.5:6379/127.0.0.1:$RPORT}

echo "the settings nori-sessions.conf promises"
expect_eq "$(acli config get maxmemory-policy | tail -1)" noeviction "maxmemory-policy"
expect_eq "$(acli config get appendonly | tail -1)" yes "appendonly"
expect_eq "$(acli config get appendfsync | tail -1)" everysec "appendfsync"
expect_eq "$(acli config get maxmemory | tail -1)" $((256 << 20)) "maxmemory"
expect_eq "$(redis-cli -p "$RPORT" ping 2>&1 | tr -d '\r')" \
    "NOAUTH Authentication required." "the default user is off"

echo "the shop's ACL user does what nori does"
srv_start NORI_STORE="$SPEC"
JAR=$TMP/jar
post 'act=add&id=26&qty=1'
expect_status 303 "an add as the ACL user"
KEY=$(loc_key)
req -b "$JAR" "/shop?pg=Cart&_s=$KEY"
expect_eq "$(cart_count)" 1 "the cart on the next request"
req /shop/nori-status
expect_body '"store_reachable": true' "the status page (SCAN, INFO) as the ACL user"
expect_body '"store_records": 1' "the status page counts the session"
expect_eq "$(gcli --scan --pattern 'nori:*' | wc -l)" 1 "the session is under nori:"

echo "a full Redis refuses new sessions and evicts none"
used=$(acli info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
acli config set maxmemory $((used / 2)) > /dev/null    # past the bound at once
other=$TMP/jar2
req -c "$other" -b "$other" --data 'act=add&id=26&qty=1' /shop
expect_status 503 "a new session on a full Redis"
expect_header Retry-After '^[0-9]+' "with Retry-After"
poll -- grep -q "OOM command not allowed" "$TMP/error.log" && pass || fail "no OOM line in the log"
req -b "$JAR" "/shop?pg=Cart&_s=$KEY"
expect_eq "$(cart_count)" 1 "the stored session is still read"
acli config set maxmemory 512mb > /dev/null
req -c "$other" -b "$other" --data 'act=add&id=26&qty=1' /shop
expect_status 303 "maxmemory raised: commits work again, nothing restarted"
srv_stop

echo "a restarted Redis keeps every session"
redis_kill "$RPID"
gredis_up || fail "Redis did not come back on its port"
srv_start NORI_STORE="$SPEC"
req -b "$JAR" "/shop?pg=Cart&_s=$KEY"
expect_eq "$(cart_count)" 1 "the first session after the restart"
expect_eq "$(gcli --scan --pattern 'nori:*' | wc -l)" 2 "both sessions after the restart"
req /shop/nori-ping
expect_status 200 "/nori-ping while Redis answers"
redis_kill "$RPID"
req /shop/nori-ping
expect_status 503 "/nori-ping with Redis down"
req /shop/nori-status
expect_body '"store_reachable": false' "/nori-status with Redis down"
if grep -n -e "$PW" "$TMP/error.log"; then fail "the password in the log"; else pass; fi

finish
