#!/usr/bin/env bash
# instructions.sh -- instructions per request, counted by callgrind:
# cost changes show up without timing noise, whatever else the machine
# is doing.
#
# Each responder runs as one FastCGI worker under valgrind, on a socket
# made by spawn-fcgi -n. It gets WARM requests first (catalog loaded,
# store opened, caches warm), then callgrind's counters are zeroed, N
# requests are sent with cgi-fcgi, and the counters are dumped: the
# dump holds exactly those N requests, the worker's user-space work for
# each, from accept to the last write.
#
#   BENCH_CG_REQUESTS (200)  requests counted per responder
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${BENCH_CG_REQUESTS:-200}
WARM=20
DIR=$(mktemp -d "${TMPDIR:-/tmp}/nori-cg.XXXXXX")
VPID=
cg_cleanup() {
    [ -z "$VPID" ] || { kill -KILL "$VPID" 2>/dev/null || true; wait "$VPID" 2>/dev/null || true; }
    rm -rf "$DIR"
}
trap cg_cleanup EXIT

# send COUNT METHOD QUERY [BODY]: COUNT requests to the worker.
send() {
    local count=$1 method=$2 query=$3 body=${4:-} i
    for i in $(seq 1 "$count"); do
        printf '%s' "$body" | env -i REQUEST_METHOD="$method" QUERY_STRING="$query" \
            SCRIPT_NAME=/shop CONTENT_LENGTH=${#body} REMOTE_ADDR=127.0.0.1 \
            CONTENT_TYPE=application/x-www-form-urlencoded \
            cgi-fcgi -bind -connect "$DIR/sock" > "$DIR/last" 2>/dev/null
    done
    head -1 "$DIR/last" | grep -Eq '^Status: (200|303)|^Content-Type' \
        || { echo "instructions: $method $query: $(head -1 "$DIR/last")" >&2; exit 1; }
}

# count NAME BINARY METHOD QUERY [BODY]: prints instructions per request.
count() {
    local name=$1 bin=$2 method=$3 query=$4 body=${5:-} i out
    rm -f "$DIR/sock" "$DIR"/cg.*
    # env -i drops bench/lib.sh's NORI_NEW_SESSIONS_PER_MIN=0: set again,
    # or the add row's 220 new sessions from one address answer 429.
    env -i PATH="$PATH" NORI_RUNDIR="$DIR" NORI_SYNC=none NORI_PAGE_CACHE="${CG_PAGE_CACHE:-off}" \
        NORI_NEW_SESSIONS_PER_MIN=0 FLOOR_BYTES="${FLOOR_BYTES:-1700}" \
        spawn-fcgi -n -s "$DIR/sock" -- /usr/bin/valgrind --tool=callgrind \
        --callgrind-out-file="$DIR/cg.%p" "$bin" 2>"$DIR/vg.log" &
    VPID=$!
    for i in $(seq 1 600); do [ -S "$DIR/sock" ] && break; sleep 0.1; done
    send "$WARM" "$method" "$query" "$body"
    callgrind_control -z "$VPID" >/dev/null 2>&1
    send "$N" "$method" "$query" "$body"
    callgrind_control -d "$VPID" >/dev/null 2>&1
    out=$(ls "$DIR"/cg.* | sort | tail -1)
    # BENCH_CG_KEEP=DIR keeps each profile, for callgrind_annotate.
    [ -z "${BENCH_CG_KEEP:-}" ] || cp "$out" "$BENCH_CG_KEEP/callgrind.$(echo "$name" | tr -c 'A-Za-z0-9\n' _)"
    kill -TERM "$VPID" 2>/dev/null || true
    wait "$VPID" 2>/dev/null || true
    VPID=
    awk -v n="$N" -v name="$name" '/^(summary|totals):/ {t = $2} END {printf "%-28s %10d\n", name, t / n}' "$out"
}

make -s -C "$ROOT" build/nori build/floor
export FLOOR_BYTES=$(QUERY_STRING='pg=Item&id=26' NORI_PAGE_CACHE=off "$ROOT/build/nori" | sed '1,/^\r$/d' | wc -c)
echo "instructions per request (callgrind, $N requests after $WARM, one worker)"
printf '%-28s %10s\n' responder instructions
count "floor (bare libfcgi)" "$ROOT/build/floor" GET ''
count "Item page" "$ROOT/build/nori" GET 'pg=Item&id=26'
# The page cache on, but no web server serving it (Apache, or nginx
# without the shipped lines): what each render of a kept page then costs.
CG_PAGE_CACHE=on count "Item page, cache not served" "$ROOT/build/nori" GET 'pg=Item&id=26'
count "Home page" "$ROOT/build/nori" GET ''
count "Category page" "$ROOT/build/nori" GET 'pg=Category&id=1'
count "add to cart (new session)" "$ROOT/build/nori" POST '' 'act=add&id=26&qty=1'
