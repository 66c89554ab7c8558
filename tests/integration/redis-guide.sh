#!/usr/bin/env bash
# redis-guide.sh -- deploy/redis/README.md run as written: every block
# marked `<!-- test: NAME -->` (redis.conf lines, sentinel.conf lines, a
# web host's NORI_*), with only the placeholders the guide names
# replaced (addresses, ports, files; the include's path).
#   One Redis: the shop's ACL user can do all nori does (sessions, the
#   status page), a full Redis refuses new sessions (503) and evicts
#   none, raising maxmemory brings commits back with no restart, a
#   restarted Redis keeps every session (the append-only file), and a
#   Redis gone shows in /nori-ping and /nori-status.
#   TLS: the guide's tls-* lines with a test CA, its rediss:// spec, and
#   its cert=&key= when Redis asks for client certificates.
#   Sentinel: a master and two replicas on the guide's users, three
#   sentinels on its sentinel.conf lines, nori on its spec; the master
#   killed, every session there after the failover and commits on the
#   new master as the shop user.
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
# placed: the block on stdin with the guide's placeholders replaced: the
# master 10.0.0.5:6379 by 127.0.0.1:$MPORT (each server's bind by
# loopback), the include's PREFIX by the checkout, the TLS files by the
# test's, redis.example by localhost (the test certificate's name), and
# the TLS port 6380 by $RPORT. Nothing else changes.
placed() {
    sed -e 's/^bind 10\.0\.0\.5 /bind /' \
        -e "s|^include /usr/local/share/nori/examples/redis/|include $ROOT/deploy/redis/|" \
        -e "s/10\.0\.0\.5 6379/127.0.0.1 ${MPORT:-6379}/; s/10\.0\.0\.5:6379/127.0.0.1:${MPORT:-6379}/" \
        -e "s|/etc/redis/tls/redis\.|$CERTS/server.|; s|/etc/redis/tls/ca\.crt|$CERTS/ca.crt|" \
        -e "s|/etc/nori/redis-ca\.crt|$CERTS/ca.crt|; s|/etc/nori/redis-client\.|$CERTS/client.|g" \
        -e "s/redis\.example:6380/localhost:${RPORT:-6380}/; s/^tls-port 6380$/tls-port ${RPORT:-6380}/"
}
CERTS=$TMP/certs
block "redis.conf one" | placed > "$TMP/redis.conf"
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
srv_stop

echo "TLS: the guide's tls-* lines, its rediss:// spec"
tls_certs "$CERTS" || { fail "openssl could not make the test certificates"; finish; exit 1; }
# tadmin ARGS...: the test's admin user over TLS (with a client certificate).
tadmin() {
    redis-cli -p "$RPORT" --tls --cacert "$CERTS/ca.crt" --cert "$CERTS/client.crt" \
        --key "$CERTS/client.key" --user admin --pass admin-pw --no-auth-warning "$@" 2>/dev/null \
        | tr -d '\r'
}
tpongs() { ! alive "$RPID" || [ "$(tadmin ping)" = PONG ]; }
tls_up() {
    { cat "$TMP/redis.conf"; block "redis.conf tls" | placed; } > "$TMP/redis-tls.conf"
    mkdir -p "$TMP/tls.$RPORT"
    redis-server "$TMP/redis-tls.conf" --dir "$TMP/tls.$RPORT" --daemonize no \
        --logfile "$TMP/redis-tls.$RPORT.log" &
    RPID=$!
    track "$RPID"
    poll -- tpongs && alive "$RPID"
}
for try in 1 2 3 4 5; do
    RPORT=$(free_port)
    tls_up && break
    redis_kill "$RPID"
done
alive "$RPID" || { cat "$TMP"/redis-tls.*.log >&2; fail "Redis did not start on the guide's TLS lines"; finish; exit 1; }
grep -q "^port 0$" "$TMP/redis-tls.conf" && pass || fail "the guide's TLS lines keep a plain port"
expect_eq "$(redis-cli -p "$RPORT" ping 2>&1 | tr -d '\r' | grep -c PONG)" 0 "no plain Redis on the TLS port"
TSPEC=$(block "env tls" | placed | sed -n 's/^NORI_STORE=//p')
case $TSPEC in rediss://shop:$PW@localhost:$RPORT\?ca=$CERTS/ca.crt) pass ;;
    *) fail "the guide's TLS spec, placed: '$TSPEC'" ;; esac
srv_start NORI_STORE="$TSPEC"
rm -f "$JAR"
post 'act=add&id=26&qty=1'
expect_status 303 "an add over the guide's TLS"
req -b "$JAR" "/shop?pg=Cart&_s=$(loc_key)"
expect_eq "$(cart_count)" 1 "the cart over TLS on the next request"
srv_stop
# Redis asks for client certificates: the guide's cert=&key= added.
tadmin config set tls-auth-clients yes > /dev/null
CERTQ=$(grep -o '`&cert=[^`]*`' "$GUIDE" | head -1 | tr -d '`' | placed)
[ -n "$CERTQ" ] && pass || fail "the guide gives no &cert=&key="
: > "$TMP/error.log"
srv_start NORI_STORE="$TSPEC"
rm -f "$JAR"
post 'act=add&id=26&qty=1'
expect_status 503 "tls-auth-clients yes, no client certificate"
srv_stop
srv_start NORI_STORE="$TSPEC$CERTQ"
rm -f "$JAR"
post 'act=add&id=26&qty=1'
expect_status 303 "tls-auth-clients yes, the guide's cert= and key="
srv_stop
redis_kill "$RPID"

echo "Sentinel: the guide's users, replicas, sentinels and spec"
# aadmin PORT ARGS...: the test's admin user on a Redis of the set.
aadmin() { local p=$1; shift; redis-cli -p "$p" --user admin --pass admin-pw --no-auth-warning "$@" 2>/dev/null | tr -d '\r'; }
apongs() { ! alive "$1" || [ "$(aadmin "$2" ping)" = PONG ]; }
# set_up PORT PIDVAR [replica]: a Redis of the set on the guide's lines.
set_up() {
    local port=$1 var=$2 conf=$TMP/set.$1.conf _pid
    { cat "$TMP/redis.conf"; block "redis.conf sentinel-users" | placed
      [ "${3:-}" = replica ] && block "redis.conf replica" | placed; } > "$conf"
    mkdir -p "$TMP/set.$port"
    redis-server "$conf" --port "$port" --dir "$TMP/set.$port" --daemonize no \
        --logfile "$TMP/set.$port.log" &
    _pid=$!
    track "$_pid"
    printf -v "$var" %s "$_pid"
    poll -- apongs "$_pid" "$port" && alive "$_pid"
}
# sent_up PORT PIDVAR: a sentinel: the test's port, dir and log, then
# the guide's lines.
sent_up() {
    local port=$1 var=$2 conf=$TMP/sentinel.$1.conf _pid
    { printf 'port %s\nbind 127.0.0.1\ndaemonize no\ndir %s\nlogfile %s\n' \
          "$port" "$TMP" "$TMP/sentinel.$port.log"
      block "sentinel.conf" | placed; } > "$conf"
    redis-sentinel "$conf" &
    _pid=$!
    track "$_pid"
    printf -v "$var" %s "$_pid"
    answers "$_pid" "$port"
}
# on_port VAR PIDVAR START [args]: START PORT PIDVAR [args] on fresh
# ports until one takes; VAR gets the port.
on_port() {
    local _var=$1 _pv=$2 _start=$3 _try _port
    shift 3
    for _try in 1 2 3 4 5 6; do
        _port=$(free_port)
        if "$_start" "$_port" "$_pv" "$@"; then printf -v "$_var" %s "$_port"; return 0; fi
        redis_kill "${!_pv}"
    done
    cat "$TMP"/set.*.log "$TMP"/sentinel.*.log >&2 2>/dev/null || true
    fail "$_start did not start"
    finish
    exit 1
}
MPORT=
on_port MPORT MPID set_up
on_port R1 R1PID set_up replica
on_port R2 R2PID set_up replica
linked() { aadmin "$1" info replication | grep -q '^master_link_status:up'; }
for p in "$R1" "$R2"; do
    poll 20 -- linked "$p" && pass || fail "replica $p never linked as the guide's replica user"
done
SENT=()
for i in 1 2 3; do on_port p SPID sent_up; SENT+=("$p"); done
ready() {
    local p
    for p in "${SENT[@]}"; do
        [ "$(sentinel_field "$p" num-slaves)" = 2 ] || return 1
        [ "$(sentinel_field "$p" num-other-sentinels)" = 2 ] || return 1
    done
}
poll 30 -- ready && pass || fail "the sentinels never saw the replicas and each other"
block "env sentinel" > "$TMP/env.sentinel"
SSPEC=$(sed -n 's/^NORI_STORE=//p' "$TMP/env.sentinel")
SSPEC=${SSPEC/10.0.0.11:26379/127.0.0.1:${SENT[0]}}
SSPEC=${SSPEC/10.0.0.12:26379/127.0.0.1:${SENT[1]}}
SSPEC=${SSPEC/10.0.0.13:26379/127.0.0.1:${SENT[2]}}
SWAIT=$(sed -n 's/^NORI_REDIS_WAIT=//p' "$TMP/env.sentinel")
expect_eq "$SWAIT" 1 "the guide's NORI_REDIS_WAIT"
srv_start NORI_STORE="$SSPEC" NORI_REDIS_WAIT="$SWAIT"
rm -f "$JAR"
post 'act=add&id=26&qty=3'
expect_status 303 "an add through the sentinels, waited for on a replica"
SKEY=$(loc_key)
expect_eq "$(aadmin "$R1" --scan --pattern 'nori:*' | wc -l)" 1 "the replica has the session"
kill -KILL "$MPID"
wait "$MPID" 2>/dev/null || true
master_port() { redis-cli -p "${SENT[0]}" sentinel get-master-addr-by-name shop 2>/dev/null | tail -1 | tr -d '\r'; }
moved() { p=$(master_port); [ -n "$p" ] && [ "$p" != "$MPORT" ]; }
poll 60 -- moved && pass || fail "the sentinels did not fail over (as the guide's sentinel user)"
cart_back() { req -b "$JAR" "/shop?pg=Cart&_s=$SKEY"; [ "$STATUS" = 200 ]; }
poll 30 -- cart_back && pass || fail "the cart after the failover: status $STATUS"
expect_eq "$(cart_count)" 3 "the session after the failover"
k=$(page_k)
req -b "$JAR" --data "act=add&id=26&qty=1&_s=$SKEY&_k=$k" /shop
expect_status 303 "a commit on the new master, as the shop user"
req -b "$JAR" "/shop?pg=Cart&_s=$SKEY"
expect_eq "$(cart_count)" 4 "the commit is there"
if grep -n -e "$PW" -e REPLICA-PASSWORD -e SENTINEL-PASSWORD "$TMP/error.log"; then
    fail "a password in nori's log"; else pass; fi

finish
