#!/usr/bin/env bash
# slowbody.sh -- a client that sends 7 bytes of a 100-byte body and waits
# must not pin a worker: with NORI_BODY_TIMEOUT_MS its request ends in a
# 408 with nothing done, and other clients are served meanwhile. Straight
# against `nori serve` (one worker, so a pinned worker is a stopped shop)
# and through Apache's mod_proxy_fcgi, which passes a body on as it comes.
source "$(dirname "$0")/lib.sh"

TIMEOUT_MS=1500

# wait_reading PID: until worker PID is blocked on a request's connection
# rather than waiting in accept on fd 0 (the listening socket): the
# blocking call's first argument, in /proc/PID/syscall, is then not fd 0.
reading() {
    local s
    s=$(cat "/proc/$1/syscall" 2>/dev/null || true)
    case $s in running|'') return 1 ;; esac
    [ "$(awk '{print $2}' <<<"$s")" != 0x0 ]
}
wait_reading() { poll -- reading "$1"; }
counter() { NORI_RUNDIR=$TMP "$NORI" stats | awk -v n="$1" '$1 == n {print $2}'; }

echo "nori serve, one worker"
serve_start NORI_BODY_TIMEOUT_MS=$TIMEOUT_MS --workers 1
worker=$(pgrep -P "$SPID" | head -1)
mkfifo "$TMP/slow.in"
env -i SCRIPT_NAME=/shop REQUEST_METHOD=POST QUERY_STRING= REMOTE_ADDR=127.0.0.1 \
    CONTENT_TYPE=application/x-www-form-urlencoded CONTENT_LENGTH=100 \
    cgi-fcgi -bind -connect "$SOCK" <"$TMP/slow.in" >"$TMP/slow.out" 2>&1 &
SLOW=$!
track "$SLOW"
exec 5>"$TMP/slow.in"
printf 'act=inc' >&5
wait_reading "$worker" && pass || fail "the worker never took the slow request"
# The one worker is the slow client's now; this GET is answered only
# once it is free again (without the deadline: never, so a cap here).
out=$(env -i SCRIPT_NAME=/shop REQUEST_METHOD=GET QUERY_STRING='pg=Item&id=26' \
      REMOTE_ADDR=127.0.0.1 timeout 60 cgi-fcgi -bind -connect "$SOCK" 2>/dev/null || true)
grep -q '^Status: 200' <<<"$out" && pass || fail "another client was not served"
# The client may go now (it has its answer, or, without the deadline,
# it would wait for ever).
exec 5>&-
wait "$SLOW" || true
grep -q '^Status: 408' "$TMP/slow.out" && pass || fail "the slow body: $(head -1 "$TMP/slow.out")"
expect_eq "$(counter sessions_created)" 0 "the slow POST made no session"
expect_eq "$(counter commits)" 0 "and committed nothing"
# The worker is whole after it: a normal POST works on it.
out=$(printf 'act=inc' | env -i SCRIPT_NAME=/shop REQUEST_METHOD=POST QUERY_STRING= \
      CONTENT_TYPE=application/x-www-form-urlencoded CONTENT_LENGTH=7 REMOTE_ADDR=127.0.0.1 \
      timeout 60 cgi-fcgi -bind -connect "$SOCK" 2>/dev/null || true)
grep -q '^Status: 303' <<<"$out" && pass || fail "a whole POST after it: $out"
kill -TERM "$SPID"; wait "$SPID" && pass || fail "nori serve did not exit 0"

echo "Apache mod_proxy_fcgi to nori serve, one worker"
chmod 755 "$TMP"
serve_start NORI_BODY_TIMEOUT_MS=$TIMEOUT_MS --workers 1 --socket-mode 0666
worker=$(pgrep -P "$SPID" | head -1)
RUNDIR=$TMP/apache
mkdir -p "$RUNDIR" && chmod 777 "$RUNDIR"
HOME_STAGED=$(stage_for_others)     # Apache's www-data reads static/ there
apache_run() {
    env APACHE_RUN_USER=www-data APACHE_RUN_GROUP=www-data NORI_HOME="$HOME_STAGED" \
        NORI_RUNDIR="$RUNDIR" PORT="$PORT" NORI_SOCKET="$SOCK" NORI_AUTHZ=127.0.0.1:9 \
        apache2 -f "$ROOT/deploy/apache/nori-proxy-fcgi.conf" -DFOREGROUND \
        2>>"$TMP/apache.out" &
    UPID=$!
    track "$UPID"
}
on_fresh_port apache apache_run
APID=$UPID
commits=$(counter commits)
exec 6<>"/dev/tcp/127.0.0.1/$PORT"
printf 'POST /shop HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\nConnection: close\r\n\r\nact=inc' \
    "$PORT" >&6
wait_reading "$worker" && pass || fail "Apache did not pass the slow body on to nori"
req --max-time 60 '/shop?pg=Item&id=26'
expect_status 200 "another client through Apache was served"
# ... while Apache still waits for the slow client's body: nori's own
# deadline freed the worker, not Apache giving up (which answers the
# slow client first, and only then lets go of the worker).
if read -r -t 0 -u 6; then fail "the slow client was answered before the other"; else pass; fi
# Apache would hold the client until mod_reqtimeout's body deadline
# (shipped: 10 s) and answer it 408 itself; not waited for here, to keep
# the suite short: nori's side is what this suite is about.
exec 6<&-
expect_eq "$(counter commits)" "$commits" "nothing committed"
kill -TERM "$APID"; wait "$APID" 2>/dev/null || true
no_apache() { [ -z "$(live $(pgrep -f "apache2 -f $ROOT" || true))" ]; }
poll -- no_apache && pass || fail "apache left processes"
kill -TERM "$SPID"; wait "$SPID" && pass || fail "nori serve did not exit 0"
finish
