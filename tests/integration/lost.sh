#!/usr/bin/env bash
# lost.sh -- the memory store's lost sessions are counted (sessions_lost),
# however its worker goes: killed (nori serve, or whoever claims first,
# counts for it from the RUNDIR/memory.PID it published), replaced on
# SIGHUP, drained on SIGTERM or recycled by --max-requests (each counts
# its own at close). Requests go straight to the socket, as a web server
# would pass them. lost-fronts.sh: the same kill without nori serve.
source "$(dirname "$0")/lib.sh"

# adds N WHAT: N new sessions, each answered 303.
adds() {
    local i n=0
    for i in $(seq 1 "$1"); do [ "$(fcgi_add "$SOCK")" = 303 ] && n=$((n + 1)); done
    expect_eq "$n" "$1" "$2: $1 sessions made"
}
stat_of() { "$NORI" stats --rundir "$TMP" 2>/dev/null | awk -v k="$1" '$1 == k {print $2}'; }
lost_is() { [ "$(stat_of sessions_lost)" = "$1" ]; }
# the one worker of nori serve, once there is exactly one.
worker() { live $(pgrep -P "$SPID" || true); }
one_worker() { [ "$(worker | wc -w)" = 1 ]; }
one_worker_not() { one_worker && [ "$(worker)" != "$1" ]; }
served() { [ "$(env -i REQUEST_METHOD=GET SCRIPT_NAME=/shop QUERY_STRING= REMOTE_ADDR=127.0.0.1 \
    timeout 10 cgi-fcgi -bind -connect "$SOCK" 2>/dev/null | grep -c '^Status: 200\|<html')" -gt 0 ]; }
no_published() { ! compgen -G "$TMP/memory.*" >/dev/null; }

echo "a killed worker: nori serve counts its live sessions"
serve_start NORI_STORE=memory --workers 1
poll -- one_worker || fail "nori serve started no worker"
w=$(worker)
adds 3 "killed"
[ -f "$TMP/memory.$w" ] && pass || fail "the worker publishes no RUNDIR/memory.$w"
[ "$(stat -c %a "$TMP/memory.$w" 2>/dev/null)" = 600 ] && pass || fail "memory.$w is not 0600"
kill -KILL "$w"
poll -- lost_is 3 && pass || fail "after kill -9: sessions_lost $(stat_of sessions_lost), want 3"
poll -- test ! -e "$TMP/memory.$w" && pass || fail "memory.$w outlived its count"
grep -q "^nori\( serve\)\?: worker $w died holding 3 live sessions of its memory store" \
    "$TMP/serve.log" && pass || fail "no log line names worker $w and its 3 lost sessions"
poll -- one_worker_not "$w" || fail "the killed worker was not replaced"
poll -- served || fail "its replacement does not serve"
# the status page counts it too (nori answers its path below the app)
env -i REQUEST_METHOD=GET SCRIPT_NAME=/shop PATH_INFO=/nori-status QUERY_STRING= \
    REMOTE_ADDR=127.0.0.1 timeout 10 cgi-fcgi -bind -connect "$SOCK" 2>/dev/null > "$TMP/status"
grep -q '"sessions_lost": 3' "$TMP/status" && pass || fail "/nori-status: $(grep -o '"sessions_lost": [0-9]*' "$TMP/status")"
expect_eq "$(stat_of sessions_created)" 3 "a status page made no session"

echo "a SIGHUP replacement: the old worker counts its own"
w=$(worker)
adds 2 "reload"
kill -HUP "$SPID"
poll -- lost_is 5 && pass || fail "after SIGHUP: sessions_lost $(stat_of sessions_lost), want 5"
poll -- one_worker_not "$w" || fail "the reload replaced no worker"
poll -- test ! -e "$TMP/memory.$w" && pass || fail "memory.$w outlived its worker"

echo "SIGTERM: the drain counts the live ones"
poll -- served || fail "the reloaded worker does not serve"
adds 1 "drain"
kill -TERM "$SPID"; wait "$SPID" || true
expect_eq "$(stat_of sessions_lost)" 6 "after SIGTERM"
no_published && pass || fail "files left behind: $(ls "$TMP" | grep '^memory\.')"

echo "--max-requests: a recycled worker counts its own"
serve_start NORI_STORE=memory --workers 1 --max-requests 2
poll -- one_worker || fail "nori serve started no worker"
w=$(worker)
adds 2 "recycle"
poll -- lost_is 8 && pass || fail "after a recycle: sessions_lost $(stat_of sessions_lost), want 8"
poll -- one_worker_not "$w" || fail "the recycled worker was not replaced"
kill -TERM "$SPID"; wait "$SPID" || true
expect_eq "$(stat_of sessions_lost)" 8 "an empty table loses nothing"
no_published && pass || fail "files left behind: $(ls "$TMP" | grep '^memory\.')"

echo "another store: nothing published, nothing lost"
serve_start --workers 1
poll -- one_worker || fail "nori serve started no worker"
adds 1 "lmdb"
kill -KILL "$(worker)"
poll -- one_worker || fail "the killed worker was not replaced"
kill -TERM "$SPID"; wait "$SPID" || true
expect_eq "$(stat_of sessions_lost)" 8 "an LMDB worker killed"
no_published && pass || fail "an LMDB worker published a count"

finish
