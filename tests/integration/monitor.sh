#!/usr/bin/env bash
# monitor.sh -- what a monitor on this machine sees, through the shipped
# lighttpd.conf: /nori-ping answers pong while the store answers and 503
# when it does not (a real Redis stopped with SIGSTOP mid-test, then shut
# down), /nori-status?openmetrics parses as Prometheus text and counts
# what happened (sessions, commits, errors by status, store latency), a
# poll of the status URLs counts no request, and a forwarded request is
# refused both URLs; cache hits nori sees (304s, pages written for the
# web server to serve) are counted.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/redis-lib.sh"

JAR=$TMP/jar
PY=/usr/bin/python3     # Debian's, with python3-prometheus-client

# metric NAME [LABELS]: a sample's value from the last answer (in $TMP/b),
# read by the Prometheus client library's own parser; "" when absent.
metric() {
    "$PY" - "$TMP/b" "$1" "${2:-}" <<'PYEOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
name, labels = sys.argv[2], sys.argv[3]
want = dict(kv.split("=", 1) for kv in labels.split(",")) if labels else {}
for fam in text_string_to_metric_families(text):
    for s in fam.samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in want.items()):
            v = s.value
            print(int(v) if float(v).is_integer() and "seconds_sum" not in name else v)
            sys.exit(0)
PYEOF
}
json() { curl -s "$BASE/nori-status" | grep -o "\"$1\": [a-z0-9]*" | sed 's/.*: //' || true; }

echo "the shipped lighttpd, the LMDB store"
srv_start
monitor_urls lighttpd
get 404 /shop/below "a path below the app"
post 'act=add&id=26&qty=2'
expect_status 303 "an add makes a session"
get 200 "/nori-status?openmetrics" "the counters in Prometheus's format"
expect_header Content-Type '^text/plain; version=0\.0\.4' "the exposition format's type"
expect_header Cache-Control no-store "no cache keeps the counters"
# Every family the parser finds, with its type: the file is well formed.
fams=$("$PY" -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    print(f.name, f.type)' "$TMP/b" 2>&1) || fail "the parser refused it: $fams"
for want in "nori_requests counter" "nori_sessions_created counter" \
            "nori_commits counter" "nori_conflicts counter" "nori_throttled counter" \
            "nori_errors_by_status counter" "nori_errors counter" \
            "nori_store_latency_seconds summary" "nori_page_cache_bytes gauge" \
            "nori_store_up gauge"; do
    grep -qx "$want" <<<"$fams" && pass || fail "no family '$want' in: $(echo $fams)"
done
expect_eq "$(metric nori_sessions_created_total)" 1 "one session created"
expect_eq "$(metric nori_commits_total)" 1 "one commit"
expect_eq "$(metric nori_errors_by_status_total status=404)" 1 "one 404, by status"
expect_eq "$(metric nori_errors_total class=4xx)" 1 "one 4xx, by class"
expect_eq "$(metric nori_store_up backend=lmdb)" 1 "the store is up"
calls=$(metric nori_store_latency_seconds_count)
[ "${calls:-0}" -ge 1 ] && pass || fail "the add's store calls are timed: count '$calls'"
expect_eq "$(metric nori_throttled_total)" 0 "nothing throttled yet"
pages=$(metric nori_page_cache_pages_total)
[ "${pages:-0}" -ge 1 ] && pass || fail "the Home page lighttpd now serves was written: '$pages'"

echo "polling the status URLs counts no request"
r1=$(json requests)
for i in 1 2 3; do
    code_of "$BASE/nori-status" >/dev/null
    code_of "$BASE/nori-status?openmetrics" >/dev/null
    code_of "$BASE/nori-ping" >/dev/null
done
expect_eq "$(json requests)" "$r1" "requests after nine polls"
get 404 /shop/below "a request for nori (no page cache file answers it)"
expect_eq "$(json requests)" "$((r1 + 1))" "that request is counted"

echo "a request a proxy forwarded is nobody's on this machine"
for path in /nori-ping "/nori-status?openmetrics" /shop/nori-ping; do
    req -H 'X-Forwarded-For: 192.0.2.1' "$path"
    expect_status 403 "forwarded $path"
done
srv_stop

echo "lighttpd in front of nori serve (lighttpd-external.conf, lighttpd-members.conf's base)"
serve_start --workers 1
lighttpd_with deploy/lighttpd/lighttpd-external.conf
monitor_urls lighttpd-external
srv_stop
kill -TERM "$SPID"; wait "$SPID" || true

echo "the Redis store: pong while it answers, 503 while it does not"
redis_start
srv_start NORI_STORE="redis://127.0.0.1:$RPORT" NORI_REDIS_TIMEOUT_MS=300
get 200 /nori-ping "Redis up"
expect_eq "$(cat "$TMP/b")" pong "pong"
is_503() { [ "$(code_of "$BASE/nori-ping")" = 503 ]; }
kill -STOP "$RPID"
poll -- is_503 && pass || fail "a stopped Redis: /nori-ping still $(code_of "$BASE/nori-ping")"
req /nori-ping
expect_status 503 "stopped Redis"
expect_header Retry-After '^[0-9]+$' "the 503 says when to ask again"
expect_header Cache-Control no-store "the 503 is not kept"
get 200 /nori-status "the status page still answers"
expect_body '"store_reachable": false' "and says the store is not reachable"
get 200 "/nori-status?openmetrics" "so does its Prometheus form"
expect_eq "$(metric nori_store_up backend=redis)" 0 "nori_store_up 0"
kill -CONT "$RPID"
poll -- is_200 "$BASE/nori-ping" && pass || fail "Redis continued: /nori-ping $(code_of "$BASE/nori-ping")"
redis_kill "$RPID"
poll -- is_503 && pass || fail "Redis shut down: /nori-ping still $(code_of "$BASE/nori-ping")"
redis_restart || fail "Redis did not come back on its port"
poll -- is_200 "$BASE/nori-ping" && pass || fail "Redis back: /nori-ping $(code_of "$BASE/nori-ping")"
srv_stop
redis_kill "$RPID"

echo "a 304 is a cache hit nori counts"
oneshot() { env REQUEST_METHOD=GET SCRIPT_NAME=/shop REMOTE_ADDR=127.0.0.1 NORI_RUNDIR="$TMP/run1" \
    NORI_PAGE_CACHE=off "$@" "$NORI" </dev/null; }
mkdir -m 700 "$TMP/run1"
etag=$(oneshot QUERY_STRING='pg=Item&id=26' | sed -n 's/^ETag: //p' | tr -d '\r')
[ -n "$etag" ] && pass || fail "an Item page without the page cache has an ETag"
expect_eq "$(oneshot QUERY_STRING='pg=Item&id=26' HTTP_IF_NONE_MATCH="$etag" | head -1 | tr -d '\r')" \
    "Status: 304 Not Modified" "If-None-Match of its ETag"
oneshot PATH_INFO=/nori-status QUERY_STRING=openmetrics | sed '1,/^\r$/d' > "$TMP/b"
expect_eq "$(metric nori_cache_not_modified_total)" 1 "nori_cache_not_modified_total"

echo "a one-shot request from another address is refused"
out=$(REQUEST_METHOD=GET SCRIPT_NAME=/shop PATH_INFO=/nori-ping REMOTE_ADDR=192.0.2.7 \
      NORI_RUNDIR="$TMP/run1" "$NORI" </dev/null | head -1 | tr -d '\r')
expect_eq "$out" "Status: 403 Forbidden" "/nori-ping from 192.0.2.7"
out=$(REQUEST_METHOD=GET SCRIPT_NAME=/shop PATH_INFO=/nori-ping REMOTE_ADDR=127.0.0.1 \
      NORI_RUNDIR="$TMP/run1" "$NORI" --ping-path= </dev/null | head -1 | tr -d '\r')
expect_eq "$out" "Status: 404 Not Found" "an empty --ping-path turns it off"
finish
