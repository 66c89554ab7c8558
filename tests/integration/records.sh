#!/usr/bin/env bash
# records.sh -- the FastCGI records that open a request have a deadline
# and a bound. Two connections that send BEGIN_REQUEST and then trickle
# their params no longer hold two workers for ever: after
# NORI_PARAMS_TIMEOUT_MS they are dropped and the workers serve others.
# A PARAMS pair declaring a 0x40000000-byte name (which made libfcgi's
# allocator abort the worker) is refused before libfcgi sees it: the same
# worker answers the next request. Params past 64 KiB are refused too.
# Raw records from tests/integration/fcgi_client.py, against nori serve.
source "$(dirname "$0")/lib.sh"

CLIENT=$ROOT/tests/integration/fcgi_client.py
fcgi() { timeout 120 python3 "$CLIENT" "$@" 2>/dev/null || echo FAILED; }
# Not in accept(2) (x86-64 288, arm64 202): the worker has a connection.
busy() {
    local s
    s=$(cat "/proc/$1/syscall" 2>/dev/null) || return 1
    case ${s%% *} in 288|202) return 1 ;; esac
}
both_busy() { busy "$1" && busy "$2"; }

echo "two trickling connections, two workers: others are still served"
serve_start NORI_PARAMS_TIMEOUT_MS=1500 --workers 2
ws=($(pgrep -P "$SPID"))
expect_eq "${#ws[@]}" 2 "two workers"
fcgi trickle "unix:$SOCK" > "$TMP/t1" &
T1=$!
fcgi trickle "unix:$SOCK" > "$TMP/t2" &
T2=$!
track "$T1"; track "$T2"
poll -- both_busy "${ws[0]}" "${ws[1]}" && pass || fail "the trickles never held both workers"
# Without a deadline both workers stay the trickles' until the trickles
# end (90 s), and this is never answered.
expect_eq "$(fcgi get "unix:$SOCK")" "Status: 200 OK" "a GET while two connections trickle"
wait "$T1" "$T2" || true
expect_eq "$(cat "$TMP/t1")" CLOSED "the first trickle was dropped"
expect_eq "$(cat "$TMP/t2")" CLOSED "the second trickle was dropped"
grep -q 'params were not whole within 1500 ms' "$TMP/serve.log" && pass ||
    fail "the dropped trickle was not logged"
expect_eq "$(pgrep -P "$SPID" | sort | tr '\n' ' ')" "$(printf '%s\n' "${ws[@]}" | sort | tr '\n' ' ')" \
    "the same two workers"
kill -TERM "$SPID"; wait "$SPID" || true

echo "a declared length of 0x40000000, one worker"
: > "$TMP/serve.log"
# With at most 1 GiB of address space (a container's memory limit, say),
# libfcgi's 0x40000000-byte allocation fails and it aborts the worker;
# without a limit it may get the memory, and then waits for the bytes.
ulimit -S -v 1048576
serve_start NORI_PARAMS_TIMEOUT_MS=1500 --workers 1
w=$(pgrep -P "$SPID")
expect_eq "$(fcgi absurd "unix:$SOCK" end)" CLOSED "params that end: closed at once, no answer"
expect_eq "$(fcgi absurd "unix:$SOCK")" CLOSED "params that do not end: closed at the deadline"
expect_eq "$(fcgi get "unix:$SOCK")" "Status: 200 OK" "the next request is answered"
expect_eq "$(pgrep -P "$SPID")" "$w" "by the same worker"
grep -q 'declared longer than the params (1073741824)' "$TMP/serve.log" && pass ||
    fail "the absurd length was not logged"
grep -q 'worker exited' "$TMP/serve.log" && fail "a worker died: $(grep 'worker exited' "$TMP/serve.log")" || pass

echo "params are bounded at 64 KiB"
big=$(head -c 30000 /dev/zero | tr '\0' a)
expect_eq "$(fcgi get "unix:$SOCK" "q=$big")" "Status: 414 URI Too Long" "30 KB of query: nori's own answer"
big=$(head -c 70000 /dev/zero | tr '\0' a)
expect_eq "$(fcgi get "unix:$SOCK" "q=$big")" CLOSED "70 KB of params: closed, no answer"
expect_eq "$(fcgi get "unix:$SOCK")" "Status: 200 OK" "and the worker serves on"
expect_eq "$(pgrep -P "$SPID")" "$w" "still the same worker"
kill -TERM "$SPID"; wait "$SPID" && pass || fail "nori serve did not exit 0"

finish
