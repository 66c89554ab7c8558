#!/usr/bin/env bash
# ports.sh -- free_port honours NORI_TEST_PORTS=LOW-HIGH, refuses a bad
# range with one line, and says so when every port of the range is taken.
source "$(dirname "$0")/lib.sh"

ok=0
for i in $(seq 1 20); do
    p=$(NORI_TEST_PORTS=31000-31004 free_port)
    [ "$p" -ge 31000 ] && [ "$p" -le 31004 ] && ok=$((ok + 1))
done
expect_eq "$ok" 20 "20 ports drawn from 31000-31004, all in range"
for bad in 8080 80-90 9000-8000 30000-70000 abc-def; do
    rc=0
    out=$(NORI_TEST_PORTS=$bad free_port 2>&1) || rc=$?
    expect_eq "$rc" 1 "NORI_TEST_PORTS=$bad is refused"
    case $out in *"NORI_TEST_PORTS=$bad"*) pass ;; *) fail "the refusal names the setting: $out" ;; esac
done
# A range of one port that something listens on (a nori serve): no
# port, and a reason.
serve_tcp
held=$TPORT
rc=0
out=$(NORI_TEST_PORTS=$held-$held free_port 2>&1) || rc=$?
expect_eq "$rc" 1 "a range whose every port is taken"
case $out in *"no free port"*) pass ;; *) fail "says why: $out" ;; esac
kill -TERM "$TPID"; wait "$TPID" && pass || fail "nori serve did not exit 0"
finish
