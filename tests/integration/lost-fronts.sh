#!/usr/bin/env bash
# lost-fronts.sh -- a memory-store worker killed where no nori serve reaps
# it is counted all the same (sessions_lost, /nori-status, openmetrics,
# one log line per dead worker with its pid and count), and once: under
# lighttpd's bin-path (a respawned worker claims the dead one's
# RUNDIR/memory.PID as it starts, several at once after a kill of all
# four) and under spawn-fcgi (nothing respawns: the worker left claims it
# when its status page is asked; and, as its guide says, SIGHUP ends that
# worker for good). lost.sh: the same under nori serve.
source "$(dirname "$0")/lib.sh"

# adds SOCKET N: N new sessions on that socket, each answered 303.
adds() {
    local i n=0
    for i in $(seq 1 "$2"); do [ "$(fcgi_add "$1")" = 303 ] && n=$((n + 1)); done
    expect_eq "$n" "$2" "$2 sessions made on $(basename "$1")"
}
# status SOCKET [QUERY]: the status page, straight from a worker.
status() {
    env -i REQUEST_METHOD=GET SCRIPT_NAME=/shop PATH_INFO=/nori-status QUERY_STRING="${2:-}" \
        REMOTE_ADDR=127.0.0.1 timeout 10 cgi-fcgi -bind -connect "$1" 2>/dev/null
}
lost() { "$NORI" stats --rundir "$1" 2>/dev/null | awk '$1 == "sessions_lost" {print $2}'; }
lost_is() { [ "$(lost "$1")" = "$2" ]; }
# held DIR PID: the records PID's DIR/memory.PID says it holds.
held() { od -An -tu8 -N8 "$1/memory.$2" 2>/dev/null | tr -d ' '; }
# published DIR: the pids of DIR/memory.PID files.
published() { ls "$1" | sed -n 's/^memory\.\([0-9][0-9]*\)$/\1/p' | sort -n; }
npublished_is() { [ "$(published "$1" | wc -l)" = "$2" ]; }
# logged LOG PID N: exactly one line says PID died holding N sessions.
logged() {
    expect_eq "$(grep -c "nori: worker $2 died holding $3 live sessions of its memory store" "$1")" 1 \
        "log lines for worker $2 with $3 sessions"
}

echo "lighttpd bin-path: a killed worker's respawn counts what it held"
srv_start NORI_STORE=memory
wait_workers 4 || fail "lighttpd started no 4 workers"
adds "$RUNDIR/nori.sock-0" 3
adds "$RUNDIR/nori.sock-1" 2
poll -- npublished_is "$RUNDIR" 2 || fail "files: $(ls "$RUNDIR" | grep memory || true)"
dead=$(published "$RUNDIR")
declare -A had=()
total=0
for p in $dead; do had[$p]=$(held "$RUNDIR" "$p"); total=$((total + had[$p])); done
expect_eq "$total" 5 "the published files hold the 5 sessions"
[ "$(stat -c %a "$RUNDIR/memory.${dead%%$'\n'*}")" = 600 ] && pass || fail "memory.PID is not 0600"
kill -KILL $dead
poll -- lost_is "$RUNDIR" 5 && pass || fail "after kill -9: sessions_lost $(lost "$RUNDIR"), want 5"
for p in $dead; do
    logged "$TMP/error.log" "$p" "${had[$p]}"
    [ ! -e "$RUNDIR/memory.$p" ] && pass || fail "memory.$p outlived its count"
done
wait_workers 4 || fail "lighttpd did not respawn the killed workers"
get 200 /nori-status "the status page"
expect_body '"sessions_lost": 5,' "/nori-status counts the kill"

echo "lighttpd bin-path: four killed at once, four claimants starting at once"
for k in 0 1 2 3; do adds "$RUNDIR/nori.sock-$k" $((k + 1)); done
poll -- npublished_is "$RUNDIR" 4 || fail "files: $(ls "$RUNDIR" | grep memory || true)"
dead=$(published "$RUNDIR")
total=0
for p in $dead; do had[$p]=$(held "$RUNDIR" "$p"); total=$((total + had[$p])); done
# the two untouched workers of the first round held none before
expect_eq "$total" 10 "the published files hold the 10 new sessions"
kill -KILL $dead
poll -- lost_is "$RUNDIR" 15 && pass || fail "after kill -9 of 4: sessions_lost $(lost "$RUNDIR"), want 15"
wait_workers 4 || fail "lighttpd did not respawn the killed workers"
for p in $dead; do logged "$TMP/error.log" "$p" "${had[$p]}"; done
get 200 /nori-status "the status page"
expect_body '"sessions_lost": 15,' "/nori-status counts each kill once"
get 200 '/nori-status?openmetrics' "openmetrics"
expect_body '^nori_sessions_lost_total 15$' "openmetrics counts each kill once"
expect_eq "$(lost "$RUNDIR")" 15 "nori stats, after the status pages"
expect_eq "$(grep -c 'died holding' "$TMP/error.log")" 6 "one log line per dead worker"
srv_stop

echo "spawn-fcgi: the worker left counts the one killed, at its status page"
SP=$TMP/spawn
mkdir -m 700 "$SP"
env NORI_RUNDIR="$SP" NORI_STORE=memory NORI_LOG_FILE="$SP/nori.log" \
    spawn-fcgi -s "$SP/nori.sock" -F 2 -P "$SP/spawn.pid" -- "$NORI" >/dev/null 2>&1 \
    && pass || fail "spawn-fcgi failed"
pids=$(pgrep -f "^$NORI\$" | while read -r p; do
    tr '\0' '\n' < "/proc/$p/environ" | grep -qx "NORI_RUNDIR=$SP" && echo "$p"
done || true)
for p in $pids; do track "$p"; done
expect_eq "$(echo "$pids" | wc -w)" 2 "spawn-fcgi forked 2 workers"
adds "$SP/nori.sock" 4
# the worker holding the most (one of them holds some)
victim= most=0
for p in $(published "$SP"); do
    n=$(held "$SP" "$p")
    [ "${n:-0}" -gt "$most" ] && { most=$n; victim=$p; }
done
[ -n "$victim" ] && pass || fail "no worker published its sessions"
kill -KILL "$victim"
wait_gone "$victim" || fail "worker $victim outlived kill -9"
# the one left answers every request now; its status page claims
status "$SP/nori.sock" > "$TMP/status"
grep -q "\"sessions_lost\": $most," "$TMP/status" && pass ||
    fail "/nori-status: $(grep -o '"sessions_lost": [0-9]*' "$TMP/status"), want $most"
status "$SP/nori.sock" openmetrics > "$TMP/metrics"
grep -q "^nori_sessions_lost_total $most\$" "$TMP/metrics" && pass ||
    fail "openmetrics: $(grep '^nori_sessions_lost_total' "$TMP/metrics"), want $most"
expect_eq "$(lost "$SP")" "$most" "nori stats"
expect_eq "$(grep -c "\[[0-9]*\] nori: worker $victim died holding $most live sessions" "$SP/nori.log")" 1 \
    "the log file's line for worker $victim"
# deploy/spawn-fcgi/README.md: "SIGHUP kills a worker here", and
# spawn-fcgi does not start it again.
left=$(live $pids)
kill -HUP $left
wait_gone $left && pass || fail "SIGHUP did not end the spawn-fcgi worker $left"
expect_eq "$(pgrep -f "^$NORI\$" | while read -r p; do
    tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "NORI_RUNDIR=$SP" && echo "$p"
done | wc -l)" 0 "spawn-fcgi started no worker again"
finish
