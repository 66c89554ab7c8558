#!/usr/bin/env bash
# sentinel.sh -- failover under Redis Sentinel: a master, two replicas and
# three sentinels, all real; nori finds the master through the sentinels,
# commits with NORI_REDIS_WAIT=1, and the master is killed under a light
# load. Every session committed before the kill is there afterwards, and
# nori finds the new master by itself, without a restart.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/redis-lib.sh"

JAR=$TMP/jar

# How many adds of the load answered CODE.
answered() { grep -c "^$1\$" "$TMP/adds" || true; }


echo "a master, two replicas, three sentinels"
redis_start
MPORT=$RPORT MPID=$RPID
REPL=()
# on_port VAR START...: START PORT (a function) on fresh ports until one
# takes (a port can be lost between the probe and the bind); VAR gets it.
on_port() {
    local _var=$1 _try _port
    shift
    for _try in 1 2 3 4 5 6; do
        _port=$(free_port)
        if "$@" "$_port"; then printf -v "$_var" %s "$_port"; return 0; fi
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        echo "  (lost port $_port, retrying)" >&2
    done
    cat "$TMP"/*.log >&2 || true
    fail "$* did not start"
    exit 1
}
replica_up() { redis_up "$1" pid --replicaof 127.0.0.1 "$MPORT"; }
sentinel_on() { sentinel_up "$1" "$MPORT" pid; }
for i in 1 2; do
    on_port p replica_up
    REPL+=("$p")
done
linked() { redis-cli -p "$1" info replication | tr -d '\r' | grep -q '^master_link_status:up'; }
for p in "${REPL[@]}"; do poll 20 -- linked "$p" || fail "replica $p never linked"; done
SENT=()
for i in 1 2 3; do
    on_port p sentinel_on
    SENT+=("$p")
done
# Each sentinel must know the replicas and the other sentinels before a
# failover can be agreed.
ready() {
    local p
    for p in "${SENT[@]}"; do
        [ "$(sentinel_field "$p" num-slaves)" = 2 ] || return 1
        [ "$(sentinel_field "$p" num-other-sentinels)" = 2 ] || return 1
    done
}
poll 30 -- ready && pass || { fail "the sentinels never saw each other"; exit 1; }

spec="redis-sentinel://127.0.0.1:${SENT[0]},127.0.0.1:${SENT[1]},127.0.0.1:${SENT[2]}/shop"
srv_start NORI_STORE="$spec" NORI_REDIS_WAIT=1 NORI_REDIS_TIMEOUT_MS=1000

echo "sessions committed on the master and one replica"
KEYS=()
for i in $(seq 1 10); do
    rm -f "$JAR.$i"
    req -b "$JAR.$i" -c "$JAR.$i" --data "act=add&id=$i&qty=$i" /shop
    expect_status 303 "add $i"
    KEYS+=("$(loc_key)")
done
expect_eq "$(redis-cli -p "${REPL[0]}" --scan --pattern 'nori:*' | wc -l)" 10 \
    "the replicas have them (WAIT)"

echo "the master killed under a light load"
req -b "$JAR.1" "/shop?pg=Cart&_s=${KEYS[0]}"
K1=$(page_k)
: > "$TMP/adds"
( while [ ! -e "$TMP/stop" ]; do
      curl -s -o /dev/null -w '%{http_code}\n' -b "$JAR.1" \
          --data "act=add&id=26&qty=1&_s=${KEYS[0]}&_k=$K1" "$BASE/shop" >> "$TMP/adds"
      sleep 0.05
  done ) &
loader=$!
track "$loader"
some_acked() { [ "$(answered 303)" -ge 3 ]; }
poll 10 -- some_acked || fail "no add before the kill"
workers_before=$(workers | sort | tr '\n' ' ')
kill -KILL "$MPID"
wait "$MPID" 2>/dev/null || true
# The load goes on until the adds succeed again on the new master.
acked_after() { [ "$(tail -3 "$TMP/adds" | grep -c 303)" = 3 ] && [ "$(answered 503)" -gt 0 ]; }
poll 40 -- acked_after && pass || fail "no recovery after the failover: $(tail -3 "$TMP/adds" | tr '\n' ' ')"
touch "$TMP/stop"
wait "$loader"
master_port() { redis-cli -p "${SENT[0]}" sentinel get-master-addr-by-name shop | tail -1 | tr -d '\r'; }
moved() { [ "$(master_port)" != "$MPORT" ]; }
poll 40 -- moved && pass || fail "the sentinels kept the dead master"
newport=$(master_port)
ok303=$(answered 303)
echo "  new master on port $newport; adds: $ok303 answered 303, $(answered 503) 503"
expect_eq "$(grep -vc '^303$\|^503$' "$TMP/adds" || true)" 0 "every add answered 303 or 503"

echo "every session committed before the kill is there"
n=0
for i in $(seq 1 10); do
    # A 503 is Redis out of reach for a moment, not a lost session.
    cart_read() { req -b "$JAR.$i" "/shop?pg=Cart&_s=${KEYS[$((i - 1))]}"; [ "$STATUS" = 200 ]; }
    poll 30 -- cart_read || { fail "cart $i: status $STATUS"; continue; }
    c=$(cart_count)
    if [ "$i" = 1 ]; then
        # Cart 1 also holds the load's adds: every one answered 303, and
        # at most the one in flight when the master died besides.
        extra=$((c - 1 - ok303))
        [ "$extra" -ge 0 ] && [ "$extra" -le 1 ] && n=$((n + 1))
        echo "  cart 1: $c (1 + $ok303 acknowledged + $extra unanswered)"
    elif [ "$c" = "$i" ]; then
        n=$((n + 1))
    else
        echo "  cart $i: $c, want $i" >&2
    fi
done
expect_eq "$n" 10 "10 sessions of 10 after the failover"
expect_eq "$(workers | sort | tr '\n' ' ')" "$workers_before" "recovered without a restart"

finish
