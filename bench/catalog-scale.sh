#!/usr/bin/env bash
# catalog-scale.sh -- does the shop stay as fast and as small as the
# catalog grows? For the demo catalog and generated ones
# (bench/gen-catalog.sh; CATALOG_SIZES, default 10000 100000 1000000
# items in 9 categories, as many as the demo's: every page's header links
# each category, so more of them would be a bigger page, not a bigger
# catalog): the time to generate and to build the catalog
# file (`nori check`), the time from `nori serve --workers 4` to its first
# answer with the file built, each worker's private and shared memory
# (/proc/PID/smaps_rollup) after 10,000 random Item pages, and the rates
# of random Item pages, of a common search term (`dish`, in every name,
# a random page of the first 500; `nigiri` in the demo's) and of a rare one (a number that is
# one item's, and part of no other word).
# Issue 23's goals at 1,000,000 items: first answer <= 1 s, private
# memory <= 16 MB a worker, Item within 10 % of the demo's, Search >=
# 2,000 req/s for both terms.
#
#   BENCH_SECONDS (5)   length of each wrk run (one run each)
#   CATALOG_SIZES       the generated catalogs' item counts
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NORI=$ROOT/build/nori
SECS=${BENCH_SECONDS:-5}
SIZES=${CATALOG_SIZES:-10000 100000 1000000}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/nori-scale.XXXXXX")
WRK="wrk -t1 -c10 -d${SECS}s"
SPID= LPID= DSPID= DLPID=
source "$ROOT/tests/integration/port.sh"

stop() {
    local p
    for p in $LPID $SPID; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $LPID $SPID; do wait "$p" 2>/dev/null || true; done
    LPID= SPID=
}
stop_ref() {
    local p
    for p in $DLPID $DSPID; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $DLPID $DSPID; do wait "$p" 2>/dev/null || true; done
}
trap 'stop; stop_ref; rm -rf "$DIR"' EXIT

# lighttpd_up SOCKET: on a fresh port, again when the port is lost to a
# race between the probe and the bind; sets PORT and LPID.
lighttpd_up() {
    local try i
    for try in 1 2 3 4 5 6; do
        PORT=$(free_port)
        PORT=$PORT SCALE_DIR=$DIR SCALE_SOCK=$1 lighttpd -D -f "$DIR/lighttpd.conf" \
            2>>"$DIR/lighttpd.log" &
        LPID=$!
        for i in $(seq 1 200); do
            kill -0 "$LPID" 2>/dev/null || break
            curl -s -o /dev/null "http://127.0.0.1:$PORT/shop" && return 0
            sleep 0.05
        done
        kill -TERM "$LPID" 2>/dev/null || true
        wait "$LPID" 2>/dev/null || true
    done
    echo "catalog-scale: lighttpd did not start" >&2
    tail -3 "$DIR/lighttpd.log" >&2
    exit 1
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# A lighttpd in front of the socket, as the shipped setups put one.
cat > "$DIR/lighttpd.conf" <<'EOF'
server.modules += ( "mod_fastcgi" )
server.bind = "127.0.0.1"
server.port = env.PORT
server.document-root = env.SCALE_DIR
server.max-connections = 1024
fastcgi.server = ( "/shop" => (( "socket" => env.SCALE_SOCK, "check-local" => "disable" )) )
EOF

answers() {
    env -i REQUEST_METHOD=GET SCRIPT_NAME=/shop QUERY_STRING='pg=Item&id=1' \
        REMOTE_ADDR=127.0.0.1 cgi-fcgi -bind -connect "${1:-$DIR/s.sock}" 2>/dev/null |
        head -1 | grep -q '^Status: 200'
}

# rate URLFILE: one wrk run over random lines of URLFILE; its req/s.
rate() {
    local out
    out=$(URLS=$1 $WRK -s "$ROOT/bench/urls.lua" "http://127.0.0.1:$PORT/")
    if echo "$out" | grep -Eq 'Non-2xx|Socket errors'; then
        echo "catalog-scale: $(echo "$out" | grep -E 'Non-2xx|Socket errors')" >&2
        exit 1
    fi
    LAST_N=$(echo "$out" | awk '/requests in/ {print $1}')
    echo "$out" | awk '/Requests\/sec/ {printf "%d", $2}'
}

# mem FIELD...: the largest sum of those smaps_rollup fields over the
# workers, in MB.
mem() {
    local p best=0 kb
    for p in $(pgrep -P "$SPID"); do
        kb=$(awk -v f=" $* " 'index(f, " " substr($1, 1, length($1) - 1) " ") {s += $2}
                              END {print s + 0}' "/proc/$p/smaps_rollup")
        [ "$kb" -gt "$best" ] && best=$kb
    done
    awk -v k="$best" 'BEGIN {printf "%.1f", k / 1024}'
}

# measure NAME TSV N IDS RARE COMMON HITS: one catalog from build to
# rates; IDS is a file of its item ids, RARE one of rare search terms,
# COMMON a term HITS names hold.
measure() {
    local name=$1 tsv=$2 n=$3 ids=$4 rare=$5 term=$6 hits=$7 rd=$DIR/run-$1 t0 build start
    mkdir -p "$rd"
    t0=$(now_ms)
    NORI_RUNDIR=$rd NORI_CATALOG=$tsv "$NORI" check
    build=$(( $(now_ms) - t0 ))
    t0=$(now_ms)
    NORI_RUNDIR=$rd NORI_CATALOG=$tsv NORI_PAGE_CACHE=off "$NORI" serve \
        --listen "unix:$DIR/s.sock" --workers 4 2>>"$DIR/serve.log" &
    SPID=$!
    until answers; do
        kill -0 "$SPID" 2>/dev/null || { tail -3 "$DIR/serve.log" >&2; exit 1; }
        sleep 0.005
    done
    start=$(( $(now_ms) - t0 ))
    lighttpd_up "$DIR/s.sock"
    awk -v b="http://127.0.0.1:$PORT" '{print b "/shop?pg=Item&id=" $1}' "$ids" > "$DIR/items.urls"
    awk -v b="http://127.0.0.1:$PORT" -v n="$hits" -v t="$term" 'BEGIN { srand(7);
        p = int((n + 19) / 20); if (p > 500) p = 500; for (i = 0; i < 2000; i++)
        printf "%s/shop?pg=Search&q=%s&page=%d\n", b, t, int(rand() * p) + 1 }' > "$DIR/common.urls"
    awk -v b="http://127.0.0.1:$PORT" '{print b "/shop?pg=Search&q=" $1}' "$rare" > "$DIR/rare.urls"
    # 10,000 random Item pages at least, then the memory.
    local done_n=0
    while [ "$done_n" -lt 10000 ]; do
        rate "$DIR/items.urls" > /dev/null
        done_n=$((done_n + LAST_N))
    done
    local priv shared
    priv=$(mem Private_Clean Private_Dirty)
    shared=$(mem Shared_Clean Shared_Dirty)
    # Item pages against the demo's, in turns: a busy machine's noise
    # falls on both alike.
    local item=0 ref=0 r
    for r in 1 2; do
        item=$((item + $(rate "$DIR/items.urls")))
        ref=$((ref + $(rate "$DIR/ref.urls")))
    done
    local common rarer
    common=$(rate "$DIR/common.urls")
    rarer=$(rate "$DIR/rare.urls")
    printf '%-10s %9s %8s %9s %9s %9s %9s %9s %9s\n' "$name" "$build" "$start" "$priv" \
        "$shared" $((item / 2)) "$(awk -v a=$item -v b=$ref 'BEGIN {printf "%.2f", a / b}')" \
        "$common" "$rarer"
    stop
    rm -rf "$rd"
}

echo
echo "catalog scale, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores $(uname -m)," \
     "nori serve --workers 4 behind lighttpd, page cache off"
echo "each rate: $WRK, one run (Item: two, in turns with the demo's: /demo is their ratio);"
echo "memory: the largest worker's, after >= 10,000 random Item pages"
printf '%-10s %9s %8s %9s %9s %9s %9s %9s %9s\n' items "build ms" "start ms" "priv MB" \
    "shared MB" "Item/s" "/demo" "common/s" "rare/s"

# The demo catalog: its own ids; rare terms, names of one item each. A
# second nori serve with it runs throughout, for the Item pages' ratio.
awk -F'\t' '$1 == "I" {print $2}' "$ROOT/shop/data/catalog.tsv" > "$DIR/demo.ids"
printf '%s\n' wagyu otoro hamachi unagi > "$DIR/demo.rare"
mkdir -p "$DIR/ref"
NORI_RUNDIR=$DIR/ref NORI_PAGE_CACHE=off "$NORI" serve --listen "unix:$DIR/d.sock" \
    --workers 4 2>>"$DIR/serve.log" &
DSPID=$!
until answers "$DIR/d.sock"; do
    kill -0 "$DSPID" 2>/dev/null || { tail -3 "$DIR/serve.log" >&2; exit 1; }
    sleep 0.005
done
lighttpd_up "$DIR/d.sock"
DLPID=$LPID LPID=
awk -v b="http://127.0.0.1:$PORT" '{print b "/shop?pg=Item&id=" $1}' "$DIR/demo.ids" \
    > "$DIR/ref.urls"
measure demo "$ROOT/shop/data/catalog.tsv" "$(wc -l < "$DIR/demo.ids")" "$DIR/demo.ids" \
    "$DIR/demo.rare" nigiri 15

for n in $SIZES; do
    t0=$(now_ms)
    bash "$ROOT/bench/gen-catalog.sh" 9 "$n" > "$DIR/gen.tsv"
    gen=$(( $(now_ms) - t0 ))
    awk -v n="$n" 'BEGIN { srand(11); for (i = 0; i < 20000; i++) print int(rand() * n) + 1 }' \
        > "$DIR/gen.ids"
    # Numbers with one digit fewer than n (10^k): each one item's id, and
    # part of no other number of the catalog.
    awk -v n="$n" 'BEGIN { srand(13); lo = 1; while (lo * 100 <= n) lo *= 10;
        for (i = 0; i < 2000; i++) print lo + 1 + int(rand() * (lo * 9 - 2)) }' > "$DIR/gen.rare"
    measure "$n" "$DIR/gen.tsv" "$n" "$DIR/gen.ids" "$DIR/gen.rare" dish "$n"
    echo "           (bench/gen-catalog.sh 9 $n: ${gen} ms, $(( $(wc -c < "$DIR/gen.tsv") >> 20 )) MB)"
done
