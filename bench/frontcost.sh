#!/usr/bin/env bash
# frontcost.sh -- what the shipped front-end configs cost per request
# (issue 23, part 4), in one run with interleaved rounds:
#   lighttpd: the floor (bench/floor.c, bare libfcgi, a page of the Item
#     page's size) behind the minimal bench/lighttpd-bench.conf and behind
#     the shipped lighttpd.conf; nori's Item page rendered (page cache
#     off) behind each; nori's Item page from the page cache behind the
#     shipped config; a static file of the same bytes behind each.
#   nginx: the same behind the shipped deploy/nginx/nginx.conf, the floor
#     spawned by spawn-fcgi on a socket, nori by nori serve.
#   BENCH_PIECES=1 adds the shipped lighttpd.conf with one piece taken
#     out at a time, to see what each costs.
# Prints req/s (median of the rounds) and the two goals' ratios, and
# writes them to BENCH_OUT/frontcost.txt (build/bench), which
# bench/table.sh puts under the bench table (make bench runs this first).
: "${BENCH_SECONDS:=3}" "${BENCH_ROUNDS:=3}"
source "$(dirname "$0")/lib.sh"
OUT=${BENCH_OUT:-$ROOT/build/bench}
mkdir -p "$OUT"

NORI=$ROOT/build/nori
chmod 755 "$DIR"
PIDS=()
fc_cleanup() {
    local p
    # spawn-fcgi's floors are nobody's children: their pids are in its file.
    [ -f "$DIR/spawn.pid" ] && kill $(cat "$DIR/spawn.pid") 2>/dev/null
    for p in ${PIDS[@]+"${PIDS[@]}"}; do kill "$p" 2>/dev/null || true; done
    for p in ${PIDS[@]+"${PIDS[@]}"}; do wait "$p" 2>/dev/null || true; done
    bench_cleanup
}
trap fc_cleanup EXIT

# The minimal config (lib.sh): /floor, /shop (nori, cache off), /ceiling.html.
bench_start
MIN=$BASE
# A home of the shipped layout whose static/ also holds the file of the
# Item page's bytes, so that each config serves it as it serves its
# stylesheet.
H=$DIR/home
mkdir -p "$H/build" "$H/static"
cp "$ROOT"/static/* "$H/static/"
cp "$DIR/ceiling.html" "$H/static/same.html"
ln -s "$NORI" "$H/build/nori"

up() {  # URL: until it answers 200
    local i
    for i in $(seq 1 200); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ] && return 0
        sleep 0.05
    done
    return 1
}
must_up() { up "$1" || { echo "bench: $1 does not answer 200" >&2; tail -n 5 "$DIR"/*.err >&2; exit 1; }; }
# shipped NAME CONF VAR=value...: lighttpd with CONF, the shipped
# environment, on a port of its own; sets the URL base U[NAME].
declare -A U SRV
shipped() {
    local name=$1 conf=$2 port try
    shift 2
    for try in 1 2 3 4 5; do        # a port lost to a race: another
        port=$(free_port)
        rm -rf "$DIR/run-$name"; mkdir -p "$DIR/run-$name"
        env "$@" NORI_HOME="$H" NORI_RUNDIR="$DIR/run-$name" PORT="$port" \
            lighttpd -D -f "$conf" 2>>"$DIR/lighttpd-$name.err" &
        PIDS+=($!)
        SRV[$name]=$!
        U[$name]=http://127.0.0.1:$port
        up "${U[$name]}/static/nori.css" && return 0
        kill "$!" 2>/dev/null || true
    done
    must_up "${U[$name]}/static/nori.css"
}
# The shipped config, with the floor as its bin-path.
sed -e 's|"bin-path"    => home + "/build/nori",|"bin-path"    => "'"$ROOT"'/build/floor",|' \
    "$ROOT/lighttpd.conf" > "$DIR/shipped-floor.conf"
grep -q build/floor "$DIR/shipped-floor.conf" || { echo "bench: no bin-path to replace" >&2; exit 1; }
shipped lt_floor "$DIR/shipped-floor.conf" FLOOR_BYTES="$FLOOR_BYTES"
shipped lt_render "$ROOT/lighttpd.conf" NORI_PAGE_CACHE=off
shipped lt_cache "$ROOT/lighttpd.conf"
must_up "${U[lt_cache]}$ITEM"                # renders it, and writes it
if [ -n "${BENCH_OLD_CONF:-}" ]; then     # another lighttpd.conf beside it
    shipped lt_old_cache "$BENCH_OLD_CONF"
    must_up "${U[lt_old_cache]}$ITEM"
fi
if [ "${BENCH_PIECES:-0}" = 1 ]; then
    # Without the stat of rewrite-if-not-file: no page cache block.
    sed -e '/^\$HTTP\["url"\] == page_cache_url {/,/^}$/d' "$ROOT/lighttpd.conf" > "$DIR/no-cache-block.conf"
    shipped lt_nocache_block "$DIR/no-cache-block.conf" NORI_PAGE_CACHE=off
    # Without the cookie condition (a bench only: a session could get a page).
    sed -e '/REQUEST_HEADER\["Cookie"\]/d' \
        -e '/^        "\^\/shop\$" => "\/nori-pages\/shop\/index.html" )$/{n;/^    }$/d}' \
        "$ROOT/lighttpd.conf" > "$DIR/no-cookie.conf"
    shipped lt_nocookie "$DIR/no-cookie.conf"
    must_up "${U[lt_nocookie]}$ITEM"
    # Without mod_setenv's headers on the kept page.
    sed -e '/setenv.set-response-header = (/,/^  )$/d' "$ROOT/lighttpd.conf" > "$DIR/no-setenv.conf"
    shipped lt_nosetenv "$DIR/no-setenv.conf"
    must_up "${U[lt_nosetenv]}$ITEM"
fi

# nginx: the shipped config in front of nori serve (cache on and off),
# and in front of the floor.
mkdir -p "$DIR/serve-cache" "$DIR/serve-render"
for m in cache render; do
    e=on; [ "$m" = render ] && e=off
    NORI_PAGE_CACHE=$e NORI_RUNDIR="$DIR/serve-$m" "$NORI" serve --listen "unix:$DIR/serve-$m.sock" \
        --workers 4 --socket-mode 0660 --socket-group www-data 2>>"$DIR/serve.err" &
    PIDS+=($!)
done
FLOOR_BYTES=$FLOOR_BYTES spawn-fcgi -s "$DIR/floor-nginx.sock" -M 0660 -G www-data -F 4 \
    -P "$DIR/spawn.pid" -- "$ROOT/build/floor" >/dev/null
for i in $(seq 1 100); do [ -S "$DIR/serve-cache.sock" ] && [ -S "$DIR/serve-render.sock" ] && break; sleep 0.05; done
nginx_for() {   # NAME SOCKET PAGES
    local port try
    mkdir -p "$DIR/nginx-$1"
    for try in 1 2 3 4 5; do
        port=$(free_port)
        sed -e "s|@PORT@|$port|g; s|@SOCKET@|$2|g; s|@HOME@|$H|g; s|@RUNDIR@|$DIR/nginx-$1|g; s|@PAGES@|$3|g" \
            "$ROOT/deploy/nginx/nginx.conf" > "$DIR/nginx-$1/nginx.conf"
        # floor.c keeps a kept-alive FastCGI connection for ever, where
        # nori lets an idle one go: the floor gets a connection a request.
        [ "$1" = ng_floor ] && sed -i -e 's|fastcgi_keep_conn on;|fastcgi_keep_conn off;|' \
            -e 's|^        keepalive .*||' "$DIR/nginx-$1/nginx.conf"
        nginx -p "$DIR/nginx-$1" -c "$DIR/nginx-$1/nginx.conf" -g 'daemon off;' 2>>"$DIR/nginx.err" &
        PIDS+=($!)
        SRV[$1]=$!
        U[$1]=http://127.0.0.1:$port
        up "${U[$1]}/static/nori.css" && return 0
        kill "$!" 2>/dev/null || true
    done
    must_up "${U[$1]}/static/nori.css"
}
nginx_for ng_floor "$DIR/floor-nginx.sock" "$DIR/no-pages"
nginx_for ng_render "$DIR/serve-render.sock" "$DIR/no-pages"
nginx_for ng_cache "$DIR/serve-cache.sock" "$DIR/serve-cache/pages"
must_up "${U[ng_cache]}$ITEM"

# ticks PID: CPU time (user + system, clock ticks) of the server PID
# and of its children that are the server too (nginx's worker), not
# of the FastCGI processes it spawned.
ticks() {
    local p t=0 comm
    comm=$(cat "/proc/$1/comm")
    for p in $1 $(pgrep -P "$1" -x "$comm" || true); do
        t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}
HZ=$(getconf CLK_TCK)
run_url() {     # NAME URL: req/s, and the server's CPU us a request
    local out t0 t1 n
    t0=$(ticks "${SRV[$1]}")
    out=$($WRK "$2")
    t1=$(ticks "${SRV[$1]}")
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    awk -v d=$((t1 - t0)) -v n="$n" -v hz="$HZ" 'BEGIN { printf "%.2f\n", d * 1e6 / hz / n }' >> "$DIR/rates/$1.cpu"
    if echo "$out" | grep -Eq 'Non-2xx|Socket errors'; then
        echo "bench: $1: $(echo "$out" | grep -E 'Non-2xx|Socket errors')" >&2
        exit 1
    fi
    echo "$out" | awk '/Requests\/sec/ {print $2}' >> "$DIR/rates/$1"
}
ROWS=(min_floor lt_floor min_render lt_render lt_cache min_static lt_static
      ng_floor ng_render ng_cache ng_static)
declare -A URL=(
    [min_floor]="$MIN/floor" [lt_floor]="${U[lt_floor]}$ITEM"
    [min_render]="$MIN$ITEM" [lt_render]="${U[lt_render]}$ITEM"
    [lt_cache]="${U[lt_cache]}$ITEM"
    [min_static]="$MIN/ceiling.html" [lt_static]="${U[lt_floor]}/static/same.html"
    [ng_floor]="${U[ng_floor]}$ITEM" [ng_render]="${U[ng_render]}$ITEM"
    [ng_cache]="${U[ng_cache]}$ITEM" [ng_static]="${U[ng_floor]}/static/same.html")
declare -A LABEL=(
    [min_floor]="floor, minimal lighttpd config" [lt_floor]="floor, shipped lighttpd.conf"
    [min_render]="nori rendered, minimal lighttpd config" [lt_render]="nori rendered, shipped lighttpd.conf"
    [lt_cache]="nori page cache, shipped lighttpd.conf"
    [min_static]="static file, minimal lighttpd config" [lt_static]="static file, shipped lighttpd.conf"
    [ng_floor]="floor, shipped nginx.conf, keep_conn off" [ng_render]="nori rendered, shipped nginx.conf"
    [ng_cache]="nori page cache, shipped nginx.conf" [ng_static]="static file, shipped nginx.conf")
if [ -n "${BENCH_OLD_CONF:-}" ]; then
    ROWS+=(lt_old_cache)
    URL[lt_old_cache]="${U[lt_old_cache]}$ITEM"
    LABEL[lt_old_cache]="page cache, $(basename "$BENCH_OLD_CONF")"
fi
if [ "${BENCH_PIECES:-0}" = 1 ]; then
    ROWS+=(lt_nocache_block lt_nocookie lt_nosetenv)
    URL[lt_nocache_block]="${U[lt_nocache_block]}$ITEM"
    URL[lt_nocookie]="${U[lt_nocookie]}$ITEM"
    URL[lt_nosetenv]="${U[lt_nosetenv]}$ITEM"
    LABEL[lt_nocache_block]="rendered, shipped minus the page cache block"
    LABEL[lt_nocookie]="page cache, shipped minus the cookie condition"
    LABEL[lt_nosetenv]="page cache, shipped minus mod_setenv"
fi
SRV[min_floor]=$LPID SRV[min_render]=$LPID SRV[min_static]=$LPID SRV[lt_static]=${SRV[lt_floor]}
SRV[ng_static]=${SRV[ng_floor]}
for n in "${ROWS[@]}"; do $WRK "${URL[$n]}" >/dev/null; done      # warm-up
for r in $(seq 1 "$ROUNDS"); do
    for n in "${ROWS[@]}"; do run_url "$n" "${URL[$n]}"; done
done
{
header_line "front-end config cost (Item page, $FLOOR_BYTES bytes), $(nginx -v 2>&1 | sed 's|.*: ||')"
echo "server us/req: the web server's own CPU (user + system) per request, median"
printf '%-50s %10s %14s\n' run "req/s" "server us/req"
for n in "${ROWS[@]}"; do
    printf '%-50s %10s %14s\n' "${LABEL[$n]}" "$(median "$n")" "$(median "$n.cpu")"
done
awk -v mf="$(median min_floor)" -v lr="$(median lt_render)" -v lc="$(median lt_cache)" \
    -v ms="$(median min_static)" -v lf="$(median lt_floor)" -v nr="$(median ng_render)" \
    -v nc="$(median ng_cache)" -v ns="$(median ng_static)" -v nf="$(median ng_floor)" 'BEGIN {
    printf "lighttpd.conf: rendered/floor (minimal) %.2f   cached/static (minimal) %.2f   floor shipped/minimal %.2f\n", lr / mf, lc / ms, lf / mf
    printf "nginx.conf:    rendered/floor (minimal lighttpd) %.2f   rendered/floor (nginx) %.2f   cached/static (nginx) %.2f\n", nr / mf, nr / nf, nc / ns }'
} | tee "$OUT/frontcost.txt"
