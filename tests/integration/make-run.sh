#!/usr/bin/env bash
# make-run.sh -- `make run` serves the shop, and Ctrl-C (SIGINT to the
# foreground process group, as a terminal sends it) leaves no process.
source "$(dirname "$0")/lib.sh"

# setsid: a process group of its own, like a terminal's foreground job.
make_run() {
    setsid make -s -C "$ROOT" run PORT="$PORT" >"$TMP/run.log" 2>&1 &
    UPID=$!
}
on_fresh_port "make run" make_run
leader=$UPID
group() { pgrep -g "$leader" "$@" || true; }
pass
# lighttpd spawns its workers one after another: wait for all four.
four_workers() { [ "$(live $(group -f "$ROOT/build/nori") | wc -l)" = 4 ]; }
poll -- four_workers || true
expect_eq "$(live $(group -f "$ROOT/build/nori") | wc -l)" 4 "make run starts 4 workers"
pids=$(group)

kill -INT -- "-$leader"
# A process that has exited but waits to be reaped (by make, lighttpd, or
# a slow PID 1) is gone for the visitor: only live ones count.
if wait_gone $pids; then pass; else
    left=$(live $pids)
    fail "left behind after Ctrl-C: $(ps -o pid=,stat=,args= -p "$(echo $left | tr ' ' ,)")"
    kill -KILL $left 2>/dev/null || true
fi
finish
