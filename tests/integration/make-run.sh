#!/usr/bin/env bash
# make-run.sh -- `make run` serves the shop, and Ctrl-C (SIGINT to the
# foreground process group, as a terminal sends it) leaves no process.
source "$(dirname "$0")/lib.sh"

PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
# setsid: a process group of its own, like a terminal's foreground job.
setsid make -s -C "$ROOT" run PORT="$PORT" >"$TMP/run.log" 2>&1 &
leader=$!
ok=
for i in $(seq 1 200); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/shop?pg=Item&id=26")" = 200 ]; then
        ok=1; break
    fi
    sleep 0.05
done
[ -n "$ok" ] && pass || { fail "make run did not serve the shop"; cat "$TMP/run.log" >&2; }
pids=$(pgrep -g "$leader" || true)
n=$(pgrep -g "$leader" -f "$ROOT/build/nori" | wc -l)
expect_eq "$n" 4 "make run starts 4 workers"

kill -INT -- "-$leader"
for i in $(seq 1 100); do
    [ -z "$(pgrep -g "$leader" || true)" ] && break
    sleep 0.05
done
left=$(pgrep -g "$leader" -a || true)
[ -z "$left" ] && pass || { fail "left behind after Ctrl-C: $left"; pkill -KILL -g "$leader" || true; }
for p in $pids; do kill -0 "$p" 2>/dev/null && fail "process $p survived Ctrl-C"; done
pass
finish
