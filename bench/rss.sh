#!/usr/bin/env bash
# rss.sh -- does a worker's memory stay put? One worker (/one in
# bench/lighttpd-bench.conf) gets 1,000 requests, then 200,000 in all,
# of a mix of pages, errors and a dead session key (bench/mix.lua); its
# resident set size is read from /proc after each. Issue 2's goal: the
# second within 10 % of the first. Every request's memory comes from an
# arena that is reset, never freed piecemeal, so it should not drift.
source "$(dirname "$0")/lib.sh"

TOTAL=${RSS_REQUESTS:-200000}
bench_start

# The worker of the /one pool: the only nori whose NORI_RUNDIR is DIR/one.
worker=
for p in $(pgrep -P "$LPID" -f "$ROOT/build/nori"); do
    tr '\0' '\n' < "/proc/$p/environ" | grep -qx "NORI_RUNDIR=$DIR/one" && worker=$p
done
[ -n "$worker" ] || { echo "rss: no /one worker" >&2; exit 1; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$worker/status"; }

# The first 1,000 (give or take the 4 in flight): the same mix, so that
# the arena has met the largest page before the first reading.
out=$(MIX_LIMIT=1000 wrk -t1 -c4 -d60s -s "$ROOT/bench/mix.lua" "$BASE/one")
done_n=$(echo "$out" | awk '/requests in/ {print $1}')
first_n=$done_n
rss_first=$(rss)

# Then wrk in slices until the total is reached.
while [ "$done_n" -lt "$TOTAL" ]; do
    out=$(wrk -t1 -c4 -d5s -s "$ROOT/bench/mix.lua" "$BASE/one")
    done_n=$((done_n + $(echo "$out" | awk '/requests in/ {print $1}')))
done
rss_last=$(rss)
[ "$(cat "/proc/$worker/status" | awk '/^Pid/ {print $2}')" = "$worker" ] || { echo "rss: worker restarted" >&2; exit 1; }

echo
echo "nori worker memory, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores $(uname -m)"
echo "one worker (pid $worker), requests: bench/mix.lua with wrk -t1 -c4"
printf 'RSS after %7d requests: %6d KiB\n' "$first_n" "$rss_first"
printf 'RSS after %7d requests: %6d KiB\n' "$done_n" "$rss_last"
awk -v a="$rss_first" -v b="$rss_last" 'BEGIN {
    d = 100 * (b - a) / a; printf "growth: %+.1f %% (goal: within 10 %%)\n", d
    exit (d > 10 || d < -10) }'
