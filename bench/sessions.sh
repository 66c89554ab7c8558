#!/usr/bin/env bash
# sessions.sh -- what lazy sessions save, in one run against one lighttpd
# (bench/lighttpd-bench.conf): the Item page under the lazy and the
# eager policy, the commit floor (a bare responder making one fsync'd
# LMDB commit per request), and a mixed run where 5 % of requests are
# adds on live sessions.
#
#   BENCH_SECONDS (10), BENCH_ROUNDS (3), BENCH_SIEGE (1: also siege -b -c 10)
source "$(dirname "$0")/lib.sh"

bench_start

# Ten live sessions for the mixed run, made as a browser makes them.
mix=
for i in $(seq 1 10); do
    jar=$DIR/jar.$i
    loc=$(curl -s -c "$jar" -o /dev/null -w '%{redirect_url}' --data "act=add&id=$i" "$BASE/shop")
    key=${loc##*_s=}
    k=$(curl -s -b "$jar" "$BASE/shop?pg=Cart&_s=$key" | grep -o 'name="_k" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
    b=$(awk '$6 == "nori_b" {print $7}' "$jar")
    mix="$mix${mix:+,}$key:$k:$b"
done
export MIX_SESSIONS=$mix

commits_per_k() {   # NAME: commits per 1000 requests of that candidate
    awk -v c="$(cat "$DIR/rates/$1.commits")" -v n="$(requests "$1")" \
        'BEGIN {printf "%.0f", n ? 1000 * c / n : 0}'
}

# Counters are read around each candidate's runs: the differences are
# that candidate's commits.
for n in lazy eager mixed; do echo 0 > "$DIR/rates/$n.commits"; done
count() {   # NAME PREFIX COMMAND...: run, adding the commits it made
    local name=$1 prefix=$2; shift 2
    local c0 c1
    c0=$(stat "$prefix" commits)
    "$@"
    c1=$(stat "$prefix" commits)
    echo $(( $(cat "$DIR/rates/$name.commits") + c1 - c0 )) > "$DIR/rates/$name.commits"
}

$WRK "$BASE$ITEM" >/dev/null          # warm-up, not counted
for r in $(seq 1 "$ROUNDS"); do
    count lazy /shop run lazy "$ITEM"
    count eager /eager run eager "/eager?pg=Item&id=26"
    run floor /commit
    count mixed /shop run mixed /shop -s "$ROOT/bench/mixed.lua"
done

lazy=$(median lazy) eager=$(median eager) floor=$(median floor) mixed=$(median mixed)
header_line "nori session benchmark (fsync on every commit)"
printf '%-34s %12s %16s\n' run "req/s" "commits/1000"
printf '%-34s %12s %16s\n' "Item, lazy sessions" "$lazy" "$(commits_per_k lazy)"
printf '%-34s %12s %16s\n' "Item, eager sessions" "$eager" "$(commits_per_k eager)"
printf '%-34s %12s %16s\n' "commit floor (1 LMDB commit/req)" "$floor" 1000
printf '%-34s %12s %16s\n' "mixed: 5 % adds on live sessions" "$mixed" "$(commits_per_k mixed)"
awk -v l="$lazy" -v e="$eager" -v f="$floor" -v m="$mixed" 'BEGIN {
    printf "lazy/eager %.1fx   eager/commit floor %.2f   mixed/lazy %.2f\n", l / e, e / f, m / l }'
echo "store after the run: lazy $(stat /shop store_records) records, $(stat /shop store_bytes) bytes;" \
     "eager $(stat /eager store_records) records, $(stat /eager store_bytes) bytes"

if [ "${BENCH_SIEGE:-1}" = 1 ]; then
    # As the 2008 experiment measured: siege in benchmark mode, 10 users.
    echo
    echo "siege -R bench/siegerc -b -c 10 -t ${SECONDS_EACH}S, one run each, trans/s:"
    for u in "$ITEM" "/eager?pg=Item&id=26"; do
        out=$(timeout $((SECONDS_EACH + 30)) siege -R "$ROOT/bench/siegerc" -b -c 10 \
              -t "${SECONDS_EACH}S" "$BASE$u" 2>/dev/null || true)
        rate=$(echo "$out" | awk -F: '/"transaction_rate"/ {gsub(/[^0-9.]/, "", $2); print $2}')
        failed=$(echo "$out" | awk -F: '/"failed_transactions"/ {gsub(/[^0-9]/, "", $2); print $2}')
        printf '%-34s %12s   (%s failed: cut off when the clock stops)\n' "$u" "$rate" "$failed"
    done
fi
