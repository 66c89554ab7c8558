#!/usr/bin/env bash
# latency.sh -- tail latency of every way nori is deployed, in one run:
# the Item page through lighttpd with bin-path workers (shipped),
# lighttpd -> nori serve, nginx -> nori serve, Apache mod_fcgid spawning
# nori and Apache mod_proxy_fcgi -> nori serve, each with the shipped
# config and 4 workers, at each concurrency. A table of req/s, p50, p90
# and p99 (wrk's latency distribution), and a PNG of p99 against
# concurrency (gnuplot), written to BENCH_OUT (build/bench).
#
#   BENCH_LAT_SECONDS (3)       length of each wrk run
#   BENCH_CONCURRENCY (10 50 100)
#   BENCH_FCGID_CONF            another mod_fcgid config to measure (a path)
source "$(dirname "$0")/lib.sh"

LSECS=${BENCH_LAT_SECONDS:-3}
CONCS=${BENCH_CONCURRENCY:-10 50 100}
OUT=${BENCH_OUT:-$ROOT/build/bench}
NORI=$ROOT/build/nori
mkdir -p "$OUT"

SPID=
PIDS=()
latency_cleanup() {
    local p
    for p in ${PIDS[@]+"${PIDS[@]}"}; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    [ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
    bench_cleanup
}
trap latency_cleanup EXIT

# until_200 URL: polls URL (20 s at most); 1 if it never answers 200.
until_200() {
    local i
    for i in $(seq 1 400); do
        [ "$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$1")" = 200 ] && return 0
        sleep 0.05
    done
    return 1
}

# One nori serve (4 workers) behind lighttpd, nginx and mod_proxy_fcgi,
# which run one after the other; it answers only one of them at a time.
chmod 755 "$DIR"                    # nginx's and Apache's workers read it
export NORI_SOCKET=$DIR/served.sock
mkdir -p "$DIR/served"
NORI_RUNDIR=$DIR/served "$NORI" serve --listen "unix:$NORI_SOCKET" \
    --workers 4 --socket-mode 0666 2>"$DIR/serve.log" &
SPID=$!
for i in $(seq 1 200); do [ -S "$NORI_SOCKET" ] && break; sleep 0.05; done
bench_start                         # lighttpd: /shop bin-path, /served

NGPORT=$(free_port)
mkdir -p "$DIR/nginx"
sed -e "s|@PORT@|$NGPORT|g; s|@SOCKET@|$NORI_SOCKET|g; s|@HOME@|$ROOT|g; s|@RUNDIR@|$DIR/nginx|g" \
    -e "s|@PAGES@|$DIR/no-page-cache|g" \
    "$ROOT/deploy/nginx/nginx.conf" > "$DIR/nginx/nginx.conf"
nginx -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" -g 'daemon off;' 2>>"$DIR/nginx.err" &
PIDS+=($!)

# apache NAME CONF VAR=value...: Apache with a shipped config on a fresh
# port, tried again on another if it loses the port; sets APORT_<NAME>
# and APID_<NAME>.
apache() {
    local name=$1 conf=$2 try port pid run
    shift 2
    for try in 1 2 3 4 5; do
        port=$(free_port)
        run=$DIR/apache-$name.$try
        # www-data's alone: nori refuses a run directory others may write.
        mkdir -p "$run" && chown www-data:www-data "$run"
        env "$@" APACHE_RUN_USER=www-data APACHE_RUN_GROUP=www-data NORI_HOME="$ROOT" \
            NORI_RUNDIR="$run" PORT="$port" \
            apache2 -f "$conf" -DFOREGROUND 2>>"$DIR/apache.err" &
        pid=$!
        PIDS+=("$pid")
        # mod_fcgid's pool must start cold for warm_fcgid: wait on a file.
        until_200 "http://127.0.0.1:$port/static/nori.css" && break
        kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    done
    printf -v "APORT_$name" %s "$port"
    printf -v "APID_$name" %s "$pid"
}
apache fcgid "${BENCH_FCGID_CONF:-$ROOT/deploy/apache/nori-fcgid.conf}"
# /members/ is not measured: the authorizer address only has to parse.
apache proxy "$ROOT/deploy/apache/nori-proxy-fcgi.conf" NORI_SOCKET="$NORI_SOCKET" NORI_AUTHZ=127.0.0.1:9

NAMES=(binpath served nginx fcgid proxy)
declare -A LABEL=(
    [binpath]="lighttpd, bin-path workers (shipped)"
    [served]="lighttpd -> nori serve"
    [nginx]="nginx -> nori serve"
    [fcgid]="Apache mod_fcgid${BENCH_FCGID_CONF:+ (BENCH_FCGID_CONF)}"
    [proxy]="Apache mod_proxy_fcgi -> nori serve"
)
declare -A URL=(
    [binpath]="$BASE$ITEM"
    [served]="$BASE/served?pg=Item&id=26"
    [nginx]="http://127.0.0.1:$NGPORT$ITEM"
    [fcgid]="http://127.0.0.1:$APORT_fcgid$ITEM"
    [proxy]="http://127.0.0.1:$APORT_proxy$ITEM"
)
for n in "${NAMES[@]}"; do
    until_200 "${URL[$n]}" || { echo "bench: ${URL[$n]} does not answer" >&2;
        cat "$DIR"/*.err "$DIR"/apache-*/apache-error.log >&2; exit 1; }
done

# mod_fcgid starts a worker only when a request finds none idle, and
# keeps it; bursts of adds to a cart (a commit keeps a worker busy
# longest) fill its pool of 4 before it is measured: a fresh Apache's
# first moments are not the steady state this table is about.
cat > "$DIR/add.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "act=add&id=26&qty=1"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
fcgid_pool() { pgrep -P "$(pgrep -d, -P "$APID_fcgid")" -fx "$NORI" | wc -l; }
for i in $(seq 1 40); do
    [ "$(fcgid_pool)" -ge 4 ] && break
    wrk -t1 -c8 -d1s -s "$DIR/add.lua" "http://127.0.0.1:$APORT_fcgid/shop" >/dev/null
done
POOL=$(fcgid_pool)

# ms VALUE: wrk's "1.23ms", "850.00us", "1.02s" or "1.50m" in ms.
ms() {
    awk -v v="$1" 'BEGIN {
        u = v; sub(/^[0-9.]+/, "", u); n = substr(v, 1, length(v) - length(u))
        f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : 0
        printf "%.2f", n * f }'
}

# measure NAME C: one wrk run, its rate, p50/p90/p99 in ms and errors
# (socket errors and non-2xx answers) kept as RES[NAME,C]. The timeout
# is long, so that a slow request counts in the latencies, not apart.
declare -A RES
measure() {
    local name=$1 c=$2 out rate p50 p90 p99 err
    out=$(wrk -t1 -c"$c" -d"${LSECS}s" --timeout 10s --latency "${URL[$name]}")
    rate=$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}')
    p50=$(ms "$(echo "$out" | awk '$1 == "50%" {print $2}')")
    p90=$(ms "$(echo "$out" | awk '$1 == "90%" {print $2}')")
    p99=$(ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")
    err=$(echo "$out" | awk '/Socket errors/ { gsub(/,/, ""); s += $4 + $6 + $8 + $10 }
        /Non-2xx/ { s += $NF } END { print s + 0 }')
    RES[$name,$c]="$rate $p50 $p90 $p99 $err"
}

for n in "${NAMES[@]}"; do wrk -t1 -c10 -d1s "${URL[$n]}" >/dev/null; done   # warm-up
for c in $CONCS; do
    for n in "${NAMES[@]}"; do measure "$n" "$c"; done
done

echo
echo "nori tail latency (Item page), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores $(uname -m)," \
     "$(lighttpd -v 2>&1 | head -1 | cut -d' ' -f1), $(apache2 -v | sed -n 's/^Server version: //p')," \
     "$(nginx -v 2>&1 | sed 's/.*: //')"
echo "each: wrk -t1 -cC -d${LSECS}s --timeout 10s --latency, one run a point, 4 workers" \
     "a front end (mod_fcgid's pool filled to $POOL before)"
printf '%-40s %4s %8s %9s %9s %9s %7s\n' "front end" c "req/s" "p50 ms" "p90 ms" "p99 ms" errors
for c in $CONCS; do
    for n in "${NAMES[@]}"; do
        read -r rate p50 p90 p99 err <<< "${RES[$n,$c]}"
        printf '%-40s %4s %8s %9s %9s %9s %7s\n' "${LABEL[$n]}" "$c" "$rate" "$p50" "$p90" "$p99" "$err"
    done
done

# The plot: p99 against concurrency, one line per front end.
{
    echo "# c ${NAMES[*]}  (p99, ms)"
    for c in $CONCS; do
        line=$c
        for n in "${NAMES[@]}"; do read -r _ _ _ p99 _ <<< "${RES[$n,$c]}"; line+=" $p99"; done
        echo "$line"
    done
} > "$OUT/latency.dat"
plots=()
for i in "${!NAMES[@]}"; do
    plots+=("'$OUT/latency.dat' using 1:$((i + 2)) with linespoints title '${LABEL[${NAMES[$i]}]}'")
done
gnuplot <<EOF
set terminal png size 1000,540 noenhanced
set output '$OUT/latency.png'
set title "nori, Item page: p99 latency against concurrency ($(date -u '+%Y-%m-%d'), $(nproc) cores, shared)"
set xlabel 'concurrent connections (wrk -c)'
set ylabel 'p99 latency, ms (log scale)'
set logscale y
set key outside below
set grid
plot $(IFS=,; echo "${plots[*]}")
EOF
echo "plot: $OUT/latency.png (data: $OUT/latency.dat)"
