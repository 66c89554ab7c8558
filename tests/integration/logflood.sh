#!/usr/bin/env bash
# logflood.sh -- a flood of requests that each log a line (throttled
# logins) cannot flood the error log: a kind of line is written a few
# times per interval per worker, then counted, and the count is written
# as one "N similar lines suppressed" line. Bounded loopback traffic:
# 20,000 throttled logins (at most 10 s) through the shipped lighttpd
# (4 workers): the log grows by at most 1 MB.
source "$(dirname "$0")/lib.sh"

srv_start
cat > "$TMP/login.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "act=login&user=demo&password=wrong"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
-- 20,000 requests, or 10 s, whichever comes first (-t1: one counter).
local n = 0
response = function(status, headers, body)
  n = n + 1
  if n >= 20000 then wrk.thread:stop() end
end
LUA
for i in 1 2 3 4 5 6; do req --data 'act=login&user=demo&password=wrong' /shop; done
expect_status 429 "the login is throttled"
before=$(stat -c %s "$TMP/error.log")
wrk -t1 -c4 -d10s -s "$TMP/login.lua" "$BASE/shop" > "$TMP/wrk.out" 2>&1 || true
n=$(awk '/requests in/ {print $1}' "$TMP/wrk.out")
grown=$(($(stat -c %s "$TMP/error.log") - before))
lines=$(grep -c 'login refused for user' "$TMP/error.log" || true)
echo "  ${n:-0} throttled requests (at most 20,000 in 10 s): the log grew by $grown bytes, $lines refusal lines"
[ "${n:-0}" -gt 1000 ] && pass || fail "wrk sent only ${n:-0} requests: $(tail -3 "$TMP/wrk.out")"
[ "$grown" -le 1048576 ] && pass || fail "the log grew by $grown bytes, more than 1 MB"
# 4 workers, 5 lines of a kind per 10 s interval each; the run spans at
# most 3 intervals of a worker.
[ "$lines" -le 60 ] && pass || fail "$lines refusal lines logged, more than 60"
# The count comes at the first line of that kind after its interval.
suppressed() {
    curl -s -o /dev/null --data 'act=login&user=demo&password=wrong' "$BASE/shop"
    grep -q 'similar lines suppressed in 10 s: "nori: login refused' "$TMP/error.log"
}
poll -- suppressed && pass || fail "no 'similar lines suppressed' line"
grep -m1 'similar lines suppressed' "$TMP/error.log" | sed 's/^/  /'
finish
