#!/usr/bin/env bash
# fcgid-cold.sh -- deploy/apache/nori-fcgid.conf just after a start and
# just after a graceful restart: wrk -t1 -c10 --latency on the Item page
# from 3 s after each, with and without deploy/apache/nori-fcgid-warm.
# Without it, the 3 s are one client asking for the page in a loop (a
# first visitor), as the pool would see them. Prints p50, p99 and the
# pool size before and after each run. Needs root (Apache as www-data).
source "$(dirname "$0")/lib.sh"

CONF=$ROOT/deploy/apache/nori-fcgid.conf
URL_PATH=$ITEM
chmod 755 "$DIR"
RD=$DIR/apache
mkdir -p "$RD" && chown www-data:www-data "$RD"
PORT=$(free_port)
export APACHE_RUN_USER=www-data APACHE_RUN_GROUP=www-data NORI_HOME=$ROOT NORI_RUNDIR=$RD PORT
APID=
fcgid_cleanup() {
    [ -n "$APID" ] && kill "$APID" 2>/dev/null && wait "$APID" 2>/dev/null
    bench_cleanup
}
trap fcgid_cleanup EXIT
pool() { pgrep -c -f "^$ROOT/build/nori\$" || true; }
static_up() { curl -sf -o /dev/null "http://127.0.0.1:$PORT/static/nori.css"; }
until_up() { for i in $(seq 1 200); do static_up && [ "$(pool)" = 0 ] && return 0; sleep 0.05; done; return 1; }
# measure NAME WARM: from 3 s after the moment t0 (set by the caller),
# one wrk run; WARM=1 ran nori-fcgid-warm, else one client loops.
measure() {
    local name=$1 warm=$2 before out
    if [ "$warm" = 1 ]; then
        bash "$ROOT/deploy/apache/nori-fcgid-warm" "$CONF"
    fi
    while [ "$(date +%s%N)" -lt $((t0 + 3000000000)) ]; do
        [ "$warm" = 1 ] && sleep 0.05 || curl -s -o /dev/null "http://127.0.0.1:$PORT$URL_PATH"
    done
    before=$(pool)
    out=$(wrk -t1 -c10 -d"${SECONDS_EACH}s" --latency "http://127.0.0.1:$PORT$URL_PATH")
    printf '%-44s %6s %10s %10s %10s %5s\n' "$name" "$before" \
        "$(echo "$out" | awk '$1 == "50%" {print $2}')" \
        "$(echo "$out" | awk '$1 == "99%" {print $2}')" \
        "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" "$(pool)"
}
start() {
    apache2 -f "$CONF" -DFOREGROUND 2>>"$DIR/apache.err" &
    APID=$!
    until_up || { echo "bench: apache did not start" >&2; cat "$DIR/apache.err" >&2; exit 1; }
    t0=$(date +%s%N)
}
graceful() {
    apache2 -f "$CONF" -k graceful
    for i in $(seq 1 200); do sleep 0.05; until_up && break; done
    t0=$(date +%s%N)
}
stop() { kill "$APID"; wait "$APID" 2>/dev/null || true; APID=; }

echo
echo "mod_fcgid cold start (nori-fcgid.conf, Item page), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores $(uname -m), $(apache2 -v | sed -n 's/^Server version: //p')"
echo "wrk -t1 -c10 -d${SECONDS_EACH}s --latency from 3 s after the start; pool: workers before, after"
printf '%-44s %6s %10s %10s %10s %5s\n' run pool p50 p99 "req/s" pool
start; measure "cold start, one client for 3 s" 0
graceful; measure "graceful, one client for 3 s" 0
stop
start; measure "cold start, nori-fcgid-warm" 1
graceful; measure "graceful, nori-fcgid-warm" 1
stop
