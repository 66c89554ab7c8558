#!/usr/bin/env bash
# stores.sh -- the session stores side by side, in one run: LMDB (fsync
# on every commit), Redis over TCP and over a unix socket, and the memory
# store with sticky routing. Every candidate is nginx in front of nori
# serve, 4 workers (deploy/nginx/nginx.conf); the memory store's are 4
# nori serves of one worker each, routes w1..w4, behind the sticky map of
# deploy/nginx/nori-sticky.conf. For each store: the Item page lazy and
# eager (eager: a session and a commit per request, so its rate is the
# store's commit-bound rate), and the mixed run (5 % adds on ten live
# carts, mixed.lua); commits per 1,000 requests from nori's counters.
#
#   BENCH_SECONDS (10), BENCH_ROUNDS (3)
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/integration/redis-lib.sh"

NORI=$ROOT/build/nori
TMP=$DIR
PIDS=()
track() { PIDS+=("$1"); }
fail() { echo "bench: $*" >&2; exit 1; }
stores_cleanup() {
    local p
    for p in ${PIDS[@]+"${PIDS[@]}"}; do kill -TERM "$p" 2>/dev/null || true; done
    for p in ${PIDS[@]+"${PIDS[@]}"}; do wait "$p" 2>/dev/null || true; done
    [ -z "${BENCH_KEEP:-}" ] || cp -r "$DIR" "$BENCH_KEEP"
    bench_cleanup
}
trap stores_cleanup EXIT

# nginx's workers run as another user: they must reach the sockets.
chmod 755 "$DIR"
mkdir -p "$DIR/rates"
STORES="lmdb redis-tcp redis-unix memory"
redis_start
declare -A URL SPEC
SPEC[lmdb]="NORI_STORE=lmdb:$DIR/lmdb-POLICY"
SPEC[redis-tcp]="NORI_STORE=redis://127.0.0.1:$RPORT NORI_REDIS_PREFIX=tcp-POLICY:"
SPEC[redis-unix]="NORI_STORE=redis+unix://$RSOCK NORI_REDIS_PREFIX=unix-POLICY:"
SPEC[memory]="NORI_STORE=memory NORI_MEMORY_MAX=10000000"

code_of() { curl -s -o /dev/null --max-time 10 -w '%{http_code}' "$1" || true; }

# nginx_up NAME CONF SOCK-OR-DIR: one nginx from a deploy template, on a
# fresh port until one serves (a port can be lost between probe and bind).
nginx_up() {
    local name=$1 conf=$2 sock=$3 d=$DIR/nginx-$1 port pid try i
    mkdir -p "$d"
    for try in 1 2 3 4 5 6; do
        port=$(free_port)
        sed -e "s|@PORT@|$port|g; s|@SOCKET@|$sock|g; s|@SOCKDIR@|$sock|g; s|@HOME@|$ROOT|g; s|@RUNDIR@|$d|g; s|@PAGES@|$DIR/no-page-cache|g" \
            -e '/nori-w2\.sock/{p;s/w2/w3/g;p;s/w3/w4/g}' "$conf" > "$d/nginx.conf"
        nginx -p "$d" -c "$d/nginx.conf" -g 'daemon off;' 2>>"$DIR/nginx.log" &
        pid=$!
        track $pid
        for i in $(seq 1 600); do
            kill -0 "$pid" 2>/dev/null || break
            [ "$(code_of "http://127.0.0.1:$port$ITEM")" = 200 ] && { URL[$name]=http://127.0.0.1:$port; return 0; }
            sleep 0.1
        done
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    tail -n 5 "$DIR/serve.log" "$DIR/nginx.log" "$d/nginx-error.log" >&2 || true
    fail "$name does not serve"
}

# candidate STORE POLICY: its nori serve(s) and its nginx.
candidate() {
    local store=$1 policy=$2 name=$1-$2 d=$DIR/$1-$2 r
    local envs
    read -ra envs <<< "${SPEC[$store]//POLICY/$policy}"
    mkdir -p "$d"
    if [ "$store" = memory ]; then
        for r in w1 w2 w3 w4; do
            env "${envs[@]}" NORI_ROUTE=$r NORI_SESSION_POLICY=$policy NORI_RUNDIR="$d" \
                "$NORI" serve --listen "unix:$d/nori-$r.sock" --workers 1 --socket-mode 0666 2>>"$DIR/serve.log" &
            track $!
        done
        nginx_up "$name" "$ROOT/deploy/nginx/nori-sticky.conf" "$d"
    else
        env "${envs[@]}" NORI_SESSION_POLICY=$policy NORI_RUNDIR="$d" \
            "$NORI" serve --listen "unix:$d/nori.sock" --workers 4 --socket-mode 0666 2>>"$DIR/serve.log" &
        track $!
        nginx_up "$name" "$ROOT/deploy/nginx/nginx.conf" "$d/nori.sock"
    fi
}

for s in $STORES; do for p in lazy eager; do candidate "$s" "$p"; done; done
# Ten live carts on each lazy candidate, as a browser makes them.
declare -A MIXES
for s in $STORES; do
    base=${URL[$s-lazy]} mix=
    for i in $(seq 1 10); do
        jar=$DIR/jar.$s.$i
        loc=$(curl -s -c "$jar" -o /dev/null -w '%{redirect_url}' --data "act=add&id=$i" "$base/shop")
        key=${loc##*_s=}
        k=$(curl -s -b "$jar" "$base/shop?pg=Cart&_s=$key" | grep -o 'name="_k" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
        b=$(awk '$6 == "nori_b" {print $7}' "$jar")
        [ -n "$k" ] || fail "$s: no live cart"
        mix="$mix${mix:+,}$key:$k:$b"
    done
    MIXES[$s]=$mix
done

commits() { curl -s "$1/shop/nori-status" | grep -o '"commits": [0-9]*' | grep -o '[0-9]*$' || echo 0; }
count() {   # NAME BASE COMMAND...: run, adding the commits it made
    local name=$1 base=$2 c0 c1; shift 2
    c0=$(commits "$base")
    "$@"
    c1=$(commits "$base")
    echo $(( $(cat "$DIR/rates/$name.commits" 2>/dev/null || echo 0) + c1 - c0 )) > "$DIR/rates/$name.commits"
}
per_k() {
    awk -v c="$(cat "$DIR/rates/$1.commits")" -v n="$(requests "$1")" \
        'BEGIN {printf "%.0f", n ? 1000 * c / n : 0}'
}

for s in $STORES; do BASE=${URL[$s-lazy]}; $WRK "$BASE$ITEM" > /dev/null; done   # warm-up
for r in $(seq 1 "$ROUNDS"); do
    for s in $STORES; do
        BASE=${URL[$s-lazy]}
        count "$s-lazy" "$BASE" run "$s-lazy" "$ITEM"
        BASE=${URL[$s-eager]}
        count "$s-eager" "$BASE" run "$s-eager" "$ITEM"
        BASE=${URL[$s-lazy]}
        export MIX_SESSIONS=${MIXES[$s]}
        count "$s-mixed" "$BASE" run "$s-mixed" /shop -s "$ROOT/bench/mixed.lua"
    done
done

header_line "nori session stores"
echo "every candidate: nginx -> nori serve, 4 workers (memory: 4 routes of 1 worker, sticky map)"
printf '%-12s %11s %11s %9s %11s %9s %11s\n' store "lazy req/s" "eager req/s" "lazy/eager" \
    "mixed req/s" "mixed c/1k" "eager c/1k"
for s in $STORES; do
    l=$(median "$s-lazy") e=$(median "$s-eager") m=$(median "$s-mixed")
    printf '%-12s %11s %11s %9s %11s %9s %11s\n' "$s" "$l" "$e" \
        "$(awk -v l="$l" -v e="$e" 'BEGIN {printf "%.1fx", l / e}')" "$m" \
        "$(per_k "$s-mixed")" "$(per_k "$s-eager")"
done
echo "lazy c/1k: $(for s in $STORES; do printf '%s %s  ' "$s" "$(per_k "$s-lazy")"; done)"
