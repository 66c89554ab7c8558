# lib.sh -- what the benchmarks share: one lighttpd with
# bench/lighttpd-bench.conf on a free loopback port, wrk runs whose rates
# are collected per candidate, medians, and the counters of a mount.
#
#   BENCH_SECONDS (10)  length of each wrk run
#   BENCH_ROUNDS (3)    interleaved rounds: each candidate once a round,
#                       so the machine's noise falls on all of them alike
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_EACH=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/nori-bench.XXXXXX")
WRK="wrk -t1 -c10 -d${SECONDS_EACH}s"
ITEM='/shop?pg=Item&id=26'
LPID=

source "$ROOT/tests/integration/port.sh"
source "$ROOT/tests/integration/wait.sh"

# Every benchmark makes its sessions from one address (127.0.0.1) at full
# speed, which the cap on new sessions per address exists to refuse: it
# is off in every server a benchmark starts, and each report says so.
export NORI_NEW_SESSIONS_PER_MIN=0
CAP_NOTE="NORI_NEW_SESSIONS_PER_MIN=0: no cap on new sessions per address (one client makes them all)"

bench_cleanup() {
    if [ -n "$LPID" ]; then
        kill "$LPID" 2>/dev/null || true
        wait "$LPID" 2>/dev/null || true
    fi
    rm -rf "$DIR"
}
trap bench_cleanup EXIT

# The size of the Item page's body, which the floor and ceiling copy.
item_bytes() {
    QUERY_STRING='pg=Item&id=26' NORI_PAGE_CACHE=off "$ROOT/build/nori" | sed '1,/^\r$/d' | wc -c
}

bench_start() {
    mkdir -p "$DIR/lazy" "$DIR/eager" "$DIR/one" "$DIR/rates"
    PORT=$(free_port)
    BASE=http://127.0.0.1:$PORT
    FLOOR_BYTES=$(item_bytes)
    head -c "$FLOOR_BYTES" /dev/zero | tr '\0' x > "$DIR/ceiling.html"
    NORI_SOCKET=${NORI_SOCKET:-$DIR/served.sock}
    export NORI_HOME=$ROOT BENCH_DIR=$DIR PORT FLOOR_BYTES NORI_SOCKET
    lighttpd -D -f "$ROOT/bench/lighttpd-bench.conf" 2>"$DIR/error.log" &
    LPID=$!
    local u code i
    for i in $(seq 1 100); do
        curl -s -o /dev/null "$BASE$ITEM" && break
        sleep 0.05
    done
    for u in "$ITEM" "/eager?pg=Item&id=26" /floor /commit /ceiling.html; do
        code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE$u")
        [ "$code" = 200 ] || { echo "bench: $u answers $code" >&2; cat "$DIR/error.log" >&2; exit 1; }
    done
}

# header_line TITLE: when, where and how, above every table.
header_line() {
    echo
    echo "$1, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores $(uname -m)," \
         "$(lighttpd -v 2>&1 | head -1 | cut -d' ' -f1)"
    echo "each: $WRK, $ROUNDS interleaved rounds, median req/s; 4 workers a pool"
    echo "$CAP_NOTE"
}

# run NAME PATH [wrk args]: one wrk run, its rate and request count kept
# under NAME; socket errors or non-2xx/3xx answers fail the benchmark.
run() {
    local name=$1 path=$2 out
    shift 2
    out=$($WRK "$@" "$BASE$path")
    if echo "$out" | grep -Eq 'Non-2xx|Socket errors'; then
        echo "bench: $name: $(echo "$out" | grep -E 'Non-2xx|Socket errors')" >&2
        exit 1
    fi
    echo "$out" | awk '/Requests\/sec/ {print $2}' >> "$DIR/rates/$name"
    echo "$out" | awk '/requests in/ {print $1}' >> "$DIR/rates/$name.n"
}
median() { sort -g "$DIR/rates/$1" | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
requests() { awk '{s += $1} END {print s}' "$DIR/rates/$1.n"; }

# stat PREFIX NAME: a counter of the nori mounted at PREFIX.
stat() {
    curl -s "$BASE$1/nori-status" | grep -o "\"$2\": [0-9]*" | grep -o '[0-9]*$'
}
