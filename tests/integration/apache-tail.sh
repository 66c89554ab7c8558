#!/usr/bin/env bash
# apache-tail.sh -- no request waits on mod_fcgid's one-second sleep.
# Through the shipped deploy/apache/nori-fcgid.conf (or the config named
# by NORI_FCGID_CONF, to show the test failing on another), 20 clients
# each make 20 requests of the Item page; more than 5 % of the 400 taking
# over 500 ms fails. mod_fcgid puts a request that finds every worker
# busy to sleep for a whole second, which hit about a quarter of the
# requests under the old config; loopback noise, even on a busy machine,
# stays far below half a second. That threshold is the test's only timing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/apache-lib.sh"

CLIENTS=20
ROUNDS=20
ITEM='/shop?pg=Item&id=26'

apache_start_cold "${NORI_FCGID_CONF:-nori-fcgid.conf}"
pool=$(awk '$1 == "FcgidMaxProcessesPerClass" {print $2}' "$A_CONF")
echo "mod_fcgid, a pool of $pool"

# mod_fcgid starts a worker only when a request finds none idle: at once
# while none is busy either (a fresh Apache's first burst), and otherwise
# after that request has slept its second and still finds none. Bursts
# of adds to a cart (a commit each keeps a worker busy longest) fill the
# pool, as the first minutes of traffic would; the fixed pool keeps it.
cat > "$TMP/add.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "act=add&id=26&qty=1"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
pool_full() { [ "$(fcgid_noris | wc -l)" -ge "$pool" ]; }
burst_fills() {
    wrk -t1 -c$((2 * pool)) -d1s -s "$TMP/add.lua" "$BASE/shop" >/dev/null 2>&1 || true
    pool_full
}
poll 40 -- burst_fills && pass || fail "mod_fcgid started $(fcgid_noris | wc -l) of $pool workers"

# The clients move in step: each round, every client sends one request
# at once (one curl, a connection each) and the round ends when all are
# answered. Without the step, a client that is never made to wait runs
# through its 20 requests in milliseconds and leaves, taking the
# competition (and the stall) with it: the old config then stalled only
# the first request of most clients, about 4 %.
: > "$TMP/times"
urls=()
for c in $(seq 1 "$CLIENTS"); do urls+=(-o /dev/null "$BASE$ITEM"); done
for r in $(seq 1 "$ROUNDS"); do
    curl -s --no-progress-meter --parallel --parallel-immediate --parallel-max "$CLIENTS" --max-time 30 \
        -w '%{http_code} %{time_total}\n' "${urls[@]}" >> "$TMP/times" 2>>"$TMP/curl.err" || true
done
read -r n bad slow worst < <(awk '{ n++; if ($1 != 200) bad++; if ($2 > 0.5) slow++;
    if ($2 > w) w = $2 } END { print n, bad + 0, slow + 0, w + 0 }' "$TMP/times")
echo "  $n requests, $slow over 500 ms, slowest ${worst}s"
expect_eq "$n" $((CLIENTS * ROUNDS)) "requests answered"
expect_eq "$bad" 0 "requests not answered 200"
[ "$slow" -le $((CLIENTS * ROUNDS * 5 / 100)) ] && pass ||
    fail "$slow of $n requests took over 500 ms (at most 5 % may)"
# The pool stayed whole: no worker was reaped or retired meanwhile.
pool_full && pass || fail "the pool shrank to $(fcgid_noris | wc -l)"

apache_stop
poll -- no_nori && pass || fail "nori processes outlived apache: $(fcgid_noris)"
finish
