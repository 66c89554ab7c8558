#!/usr/bin/env bash
# hosts.sh -- two web hosts sharing sessions through one Redis: two
# lighttpd + nori instances, each in a network namespace of its own made
# here, joined by a veth pair to the root namespace where Redis runs. A
# cart made through one host is seen, and changed, through the other.
# Where namespaces cannot be made, both hosts run on this loopback, on
# two ports with two run directories, and the suite says so
# (IT_NO_NETNS=1 asks for that).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/redis-lib.sh"

NS=()
HPIDS=()
hosts_cleanup() {
    local i p
    for i in 0 1; do
        [ -n "${HPIDS[$i]:-}" ] || continue
        p=${HPIDS[$i]}
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    for n in ${NS[@]+"${NS[@]}"}; do ip netns del "$n" 2>/dev/null || true; done
    cleanup
}
trap hosts_cleanup EXIT

# A subnet of our own for the two links: 10.X.1.0/24 and 10.X.2.0/24.
NET=$((100 + RANDOM % 150))
make_namespaces() {
    local i n
    for i in 1 2; do
        n=nori-hosts-$$-$i
        ip netns add "$n" 2>/dev/null || return 1
        NS+=("$n")
        ip link add "nh$$x$i" type veth peer name "nh$$y$i" || return 1
        ip link set "nh$$y$i" netns "$n" || return 1
        ip addr add "10.$NET.$i.1/24" dev "nh$$x$i" || return 1
        ip link set "nh$$x$i" up || return 1
        ip -n "$n" addr add "10.$NET.$i.2/24" dev "nh$$y$i" || return 1
        ip -n "$n" link set "nh$$y$i" up || return 1
        ip -n "$n" link set lo up || return 1
    done
}

# in_host I CMD...: CMD in host I's namespace (or here, without them).
# nsenter execs CMD itself (ip netns exec forks), so $! is lighttpd.
in_host() {
    local i=$1; shift
    if [ -n "$USE_NS" ]; then nsenter --net="/run/netns/${NS[$i]}" "$@"; else "$@"; fi
}

# host_start I STORE: lighttpd with the shipped config in host I.
host_start() {
    local i=$1 store=$2 rundir=$TMP/host$1 port try k
    mkdir -p "$rundir"
    for try in 1 2 3 4 5; do
        port=$(free_port)
        # Not through in_host: a function run with & is a subshell of its own.
        local pfx=()
        [ -n "$USE_NS" ] && pfx=(nsenter --net="/run/netns/${NS[$i]}")
        ${pfx[@]+"${pfx[@]}"} env NORI_STORE="$store" NORI_HOME="$ROOT" NORI_RUNDIR="$rundir" \
            PORT="$port" lighttpd -D -f "$ROOT/lighttpd.conf" 2>>"$TMP/host$i.log" &
        HPIDS[$i]=$!
        for k in $(seq 1 100); do
            alive "${HPIDS[$i]}" || break
            if [ "$(in_host "$i" curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/shop")" = 200 ]; then
                HPORT[$i]=$port
                return 0
            fi
            sleep 0.05
        done
        kill "${HPIDS[$i]}" 2>/dev/null || true
        wait "${HPIDS[$i]}" 2>/dev/null || true
    done
    cat "$TMP/host$i.log" >&2
    fail "host $i: lighttpd did not start"
    exit 1
}

# hreq I [curl args...] PATH: as req, through host I.
hreq() {
    local i=$1; shift
    local path=${*: -1}
    local args=("${@:1:$#-1}")
    : > "$TMP/b"
    STATUS=$(in_host "$i" curl -s -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' \
        ${args[@]+"${args[@]}"} "http://127.0.0.1:${HPORT[$i]}$path") || STATUS=000
}

USE_NS=
if [ -z "${IT_NO_NETNS:-}" ] && [ "$(id -u)" = 0 ] && make_namespaces; then
    USE_NS=1
    echo "two network namespaces, 10.$NET.1.2 and 10.$NET.2.2, Redis on 10.$NET.1.1 and 10.$NET.2.1"
    redis_start --bind "127.0.0.1 10.$NET.1.1 10.$NET.2.1" --protected-mode no
    STORE0=redis://10.$NET.1.1:$RPORT STORE1=redis://10.$NET.2.1:$RPORT
else
    for n in ${NS[@]+"${NS[@]}"}; do ip netns del "$n" 2>/dev/null || true; done
    NS=()
    echo "no network namespaces here: both hosts on this loopback"
    redis_start
    STORE0=redis://127.0.0.1:$RPORT STORE1=$STORE0
fi
HPORT=()
host_start 0 "$STORE0"
host_start 1 "$STORE1"

if [ -n "$USE_NS" ]; then
    # Each host reaches Redis only over its own link; the other host is
    # not on its network at all.
    in_host 0 redis-cli -h 10.$NET.2.1 -p "$RPORT" ping > /dev/null 2>&1 &&
        fail "host 0 reaches the other link" || pass
fi

echo "a cart made through one host"
JAR=$TMP/jar
hreq 0 -b "$JAR" -c "$JAR" --data 'act=add&id=26&qty=2' /shop
expect_status 303 "add through host 0"
KEY=$(loc_key)
hreq 1 -b "$JAR" "/shop?pg=Cart&_s=$KEY"
expect_status 200 "the cart through host 1"
expect_eq "$(cart_count)" 2 "host 1 sees host 0's cart"
K=$(page_k)
hreq 1 -b "$JAR" -c "$JAR" --data "act=add&id=26&qty=3&_s=$KEY&_k=$K" /shop
expect_status 303 "add through host 1"
hreq 0 -b "$JAR" "/shop?pg=Cart&_s=$KEY"
expect_eq "$(cart_count)" 5 "host 0 sees host 1's change"

echo "ten concurrent adds, five through each host"
bodies=()
pids=()
for i in 0 1 0 1 0 1 0 1 0 1; do
    in_host "$i" curl -s -o /dev/null -b "$JAR" --data "act=add&id=5&qty=1&_s=$KEY&_k=$K" \
        "http://127.0.0.1:${HPORT[$i]}/shop" &
    pids+=($!)
done
wait "${pids[@]}"
hreq 1 -b "$JAR" "/shop?pg=Cart&_s=$KEY"
expect_eq "$(cart_count)" 15 "5 + 10 concurrent adds through two hosts"

echo "stopping the hosts leaves no worker"
for i in 0 1; do
    ws=$(pgrep -P "${HPIDS[$i]}" || true)
    kill -TERM "${HPIDS[$i]}"
    wait "${HPIDS[$i]}" 2>/dev/null || true
    HPIDS[$i]=
    # A zombie is not a survivor (lib.sh: alive).
    if wait_gone $ws; then pass; else
        for w in $(live $ws); do fail "host $i: worker $w outlived lighttpd"; kill -KILL "$w"; done
    fi
done

finish
