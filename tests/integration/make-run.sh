#!/usr/bin/env bash
# make-run.sh -- `make run` serves the shop from NORI_RUNDIR, refuses a
# second `make run` on the same run directory, and Ctrl-C (SIGINT to the
# foreground process group, as a terminal sends it) leaves no process:
# not the workers it started with, and not one lighttpd started while
# stopping.
source "$(dirname "$0")/lib.sh"

RUN=$TMP/rundir
# setsid: a process group of its own, like a terminal's foreground job.
make_run() {
    NORI_RUNDIR=$RUN setsid make -s -C "$ROOT" run PORT="$PORT" >"$TMP/run.log" 2>&1 &
    UPID=$!
}
on_fresh_port "make run" make_run
leader=$UPID
pass
# Every process of this `make run`: its group, and the workers (which
# take groups of their own), known by the port in their environment.
ours() {
    local p
    {
        pgrep -g "$leader" || true
        for p in $(pgrep -f "^$NORI\$" || true); do
            tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "PORT=$PORT" && echo "$p"
        done
    } | sort -u
}
our_workers() { live $(for p in $(ours); do [ "$(cat /proc/$p/comm 2>/dev/null)" = nori ] && echo "$p"; done); }
four_workers() { [ "$(our_workers | wc -l)" = 4 ]; }
# lighttpd spawns its workers one after another: wait for all four.
poll -- four_workers || true
expect_eq "$(our_workers | wc -l)" 4 "make run starts 4 workers"
alone() { [ "$(ps -o pgid= -p "$1" | tr -d ' ')" = "$1" ]; }
w=$(our_workers | sed -n 1p)
[ -n "$w" ] && alone "$w" && pass || fail "a worker is not the leader of its own group"

ls "$RUN"/nori.sock* >/dev/null 2>&1 && pass || fail "the workers' sockets are not in NORI_RUNDIR"
[ -f "$RUN/stats" ] && pass || fail "the counters are not in NORI_RUNDIR"
expect_eq "$(stat -c %a "$RUN")" 700 "make run made the run directory 0700, as the README says"

echo "a second make run on the same run directory"
port2=$(free_port)
rc=0
NORI_RUNDIR=$RUN timeout 120 make -s -C "$ROOT" run PORT="$port2" >"$TMP/run2.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && pass || fail "a second make run: exit status $rc"
grep -q "^make run: another make run is serving from $RUN" "$TMP/run2.log" && pass \
    || fail "a second make run says why: $(cat "$TMP/run2.log")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port2/shop")" = 000 ] && pass \
    || fail "the second make run serves"
get 200 '/shop?pg=Item&id=26' "the first one still serves"
expect_eq "$(our_workers | wc -l)" 4 "with its 4 workers"

kill -INT -- "-$leader"
# A process that has exited but waits to be reaped (by make, lighttpd, or
# a slow PID 1) is gone for the visitor: only live ones count.
nothing_left() { [ -z "$(live $(ours))" ]; }
if poll -- nothing_left; then pass; else
    left=$(live $(ours))
    fail "left behind after Ctrl-C: $(ps -o pid=,stat=,args= -p "$(echo $left | tr ' ' ,)")"
    kill -KILL $left 2>/dev/null || true
fi
finish
