#!/usr/bin/env bash
# sticky.sh -- the memory store, "one session per worker", behind real
# sticky balancers: Apache's mod_proxy_balancer (deploy/apache/
# nori-sticky.conf) and nginx's map on the key's route (deploy/nginx/
# nori-sticky.conf), each in front of two `nori serve`s of one worker,
# routes w1 and w2. Every session is seen on every later request, GET or
# POST; killing a worker loses its sessions and nobody else's.
source "$(dirname "$0")/lib.sh"

chmod 755 "$TMP"
SPIDS=()
loc_key() { header Location | sed -n 's/.*[?&]_s=\([A-Za-z0-9_.-]*\)$/\1/p' || true; }

# workers_start DIR [VAR=value...]: nori serve for w1 and w2, one worker
# each, memory store.
workers_start() {
    local dir=$1 r i
    shift
    # nori refuses a run directory others may write; 755 lets Apache reach
    # the sockets.
    mkdir -p "$dir" && chmod 755 "$dir"
    SPIDS=()
    for r in w1 w2; do
        env "$@" NORI_STORE=memory NORI_ROUTE=$r NORI_RUNDIR="$dir" "$NORI" serve \
            --listen "unix:$dir/nori-$r.sock" --workers 1 --socket-mode 0660 --socket-group www-data \
            2>>"$TMP/serve.log" &
        SPIDS+=($!)
        track $!
    done
    for r in w1 w2; do
        for i in $(seq 1 100); do [ -S "$dir/nori-$r.sock" ] && break; sleep 0.05; done
        [ -S "$dir/nori-$r.sock" ] || { cat "$TMP/serve.log" >&2; fail "nori serve $r"; exit 1; }
    done
}
workers_stop() {
    kill -TERM "${SPIDS[@]}" 2>/dev/null || true
    for p in "${SPIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
# worker_of ROUTE: the pid of the one worker of that route's nori serve.
worker_of() { pgrep -P "${SPIDS[$([ "$1" = w1 ] && echo 0 || echo 1)]}" || true; }

# flow NAME: sessions made through BASE land on both routes; each is
# seen on every later request (GETs and a POST); then w1's worker is
# killed: its sessions are gone, w2's are all there.
flow() {
    local name=$1 i k n keys=() counts=()
    for i in $(seq 1 6); do
        rm -f "$TMP/jar.$i"
        req -b "$TMP/jar.$i" -c "$TMP/jar.$i" --data "act=add&id=26&qty=$i" /shop
        expect_status 303 "$name: add $i"
        keys+=("$(loc_key)")
    done
    n1=$(printf '%s\n' "${keys[@]}" | grep -c '\.w1$' || true)
    n2=$(printf '%s\n' "${keys[@]}" | grep -c '\.w2$' || true)
    echo "  $name: 6 sessions, $n1 on w1, $n2 on w2"
    expect_eq "$((n1 + n2))" 6 "$name: every key carries a route"
    [ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] && pass || fail "$name: sessions on one route only"
    n=0
    for i in $(seq 1 6); do
        k=${keys[$((i - 1))]}
        for _ in 1 2; do
            req -b "$TMP/jar.$i" "/shop?pg=Cart&_s=$k"
            [ "$STATUS" = 200 ] && [ "$(cart_count)" = "$i" ] && n=$((n + 1))
        done
    done
    expect_eq "$n" 12 "$name: every session seen on both later requests"
    # A POST reaches its worker too: the form's action URL carries the key.
    req -b "$TMP/jar.1" "/shop?pg=Cart&_s=${keys[0]}"
    expect_body "action=\"/shop\?_s=${keys[0]}\"" "$name: forms post to a URL with the key"
    req -b "$TMP/jar.1" -c "$TMP/jar.1" --data "act=add&id=26&qty=10&_s=${keys[0]}&_k=$(page_k)" \
        "/shop?_s=${keys[0]}"
    expect_status 303 "$name: a POST on the session"
    req -b "$TMP/jar.1" "/shop?pg=Cart&_s=${keys[0]}"
    expect_eq "$(cart_count)" 11 "$name: the POST changed the session"

    echo "  $name: w1's worker killed"
    local old
    old=$(worker_of w1)
    kill -KILL "$old"
    for i in $(seq 1 100); do
        new=$(worker_of w1)
        [ -n "$new" ] && [ "$new" != "$old" ] && break
        sleep 0.05
    done
    [ -n "$new" ] && [ "$new" != "$old" ] && pass || fail "$name: w1 not respawned"
    lost=0 kept=0
    for i in $(seq 1 6); do
        k=${keys[$((i - 1))]}
        want=$i
        [ "$i" = 1 ] && want=11
        for _ in $(seq 1 50); do
            req -b "$TMP/jar.$i" "/shop?pg=Cart&_s=$k"
            [ "$STATUS" = 200 ] && break
            sleep 0.05          # the balancer may still be connecting to the new worker
        done
        c=$(cart_count)
        case $k in
            *.w1) [ "$STATUS" = 200 ] && [ "$c" = 0 ] && lost=$((lost + 1)) ;;
            *.w2) [ "$STATUS" = 200 ] && [ "$c" = "$want" ] && kept=$((kept + 1)) ;;
        esac
    done
    expect_eq "$lost" "$n1" "$name: w1's sessions are gone (sessionless 200)"
    expect_eq "$kept" "$n2" "$name: w2's sessions are all there"
}

# readme_cart NAME: the README's curl example of a second add, as
# written (its port moved to BASE's), prints the count its comment
# gives: the POST reached the session's worker. Run a few times, so
# that both routes are likely met.
readme_cart() {
    local want got i n=0
    awk '$0 == "<!-- test: curl cart -->" { w = 1; next }
         w && /^```sh$/ { i = 1; next } i && /^```$/ { exit } i { print }' \
        "$ROOT/README.md" | sed "s#\b8080\b#$PORT#g" > "$TMP/readme-cart.sh"
    want=$(sed -n 's/.*# *\(id="cart-count">[0-9]*\)$/\1/p' "$TMP/readme-cart.sh")
    [ -n "$want" ] && pass || fail "$1: no curl cart example in README.md"
    for i in 1 2 3 4; do
        got=$(cd "$TMP" && rm -f jar && bash -e "$TMP/readme-cart.sh" 2>&1) || true
        [ "$got" = "$want" ] && n=$((n + 1))
    done
    expect_eq "$n" 4 "$1: the README's second add counted on its cart, 4 times ($got)"
}

echo "Apache mod_proxy_balancer, stickysession=nori_s|_s"
workers_start "$TMP/apache-w"
RUNDIR=$TMP/apache
mkdir -p "$RUNDIR" && chown www-data:www-data "$RUNDIR"
# What Apache's and nginx's workers read (static/) is staged for them.
HOME_STAGED=$(stage_for_others)
for try in 1 2 3; do
    PORT=$(free_port)
    BASE=http://127.0.0.1:$PORT
    APACHE_RUN_USER=www-data APACHE_RUN_GROUP=www-data NORI_HOME="$HOME_STAGED" \
        NORI_SOCKDIR="$TMP/apache-w" NORI_RUNDIR="$RUNDIR" PORT="$PORT" \
        apache2 -f "$ROOT/deploy/apache/nori-sticky.conf" -DFOREGROUND 2>>"$TMP/apache.out" &
    APID=$!
    track "$APID"
    wait_200 "$BASE/shop" && break
    kill "$APID" 2>/dev/null || true
    wait "$APID" 2>/dev/null || true
done
flow apache
monitor_urls apache-sticky
readme_cart apache
kill -TERM "$APID"
wait "$APID" 2>/dev/null || true
for i in $(seq 1 50); do pgrep -f "apache2 -f $ROOT/deploy/apache/nori-sticky" >/dev/null || break; sleep 0.1; done
pgrep -f "apache2 -f $ROOT/deploy/apache/nori-sticky" >/dev/null && fail "apache left processes" || pass
workers_stop

echo "nginx, a map from the key's route to the socket"
workers_start "$TMP/nginx-w"
mkdir -p "$TMP/nginx"
for try in 1 2 3; do
    PORT=$(free_port)
    BASE=http://127.0.0.1:$PORT
    sed -e "s|@PORT@|$PORT|g; s|@SOCKDIR@|$TMP/nginx-w|g; s|@HOME@|$HOME_STAGED|g; s|@RUNDIR@|$TMP/nginx|g" \
        "$ROOT/deploy/nginx/nori-sticky.conf" > "$TMP/nginx/nginx.conf"
    nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' 2>>"$TMP/nginx.out" &
    NPID=$!
    track "$NPID"
    wait_200 "$BASE/shop" && break
    kill "$NPID" 2>/dev/null || true
    wait "$NPID" 2>/dev/null || true
done
flow nginx
monitor_urls nginx-sticky
readme_cart nginx
workers_stop

echo "nginx, the cookie carrier: nori_s carries the route"
workers_start "$TMP/nginx-w" NORI_SESSION_CARRIER=cookie
n=0 routes=
for i in 1 2 3 4; do
    rm -f "$TMP/jar.c$i"
    req -b "$TMP/jar.c$i" -c "$TMP/jar.c$i" --data "act=add&id=26&qty=$i" /shop
    routes="$routes $(awk '$6 == "nori_s" {print $7}' "$TMP/jar.c$i" | sed 's/.*\.//')"
    for _ in 1 2 3; do
        req -b "$TMP/jar.c$i" "/shop?pg=Cart"
        [ "$(cart_count)" = "$i" ] && n=$((n + 1))
    done
done
echo "  routes:$routes"
expect_eq "$(echo "$routes" | tr ' ' '\n' | grep -c '^w[12]$')" 4 "cookie: every nori_s carries a route"
expect_eq "$n" 12 "cookie: every session seen on all 3 later requests"
kill -TERM "$NPID"
wait "$NPID" 2>/dev/null || true
workers_stop

finish
