#!/usr/bin/env bash
# logfile.sh -- `nori serve --log-file PATH` (and NORI_LOG_FILE): every
# line, the supervisor's and the workers', begins with an ISO-8601 time
# and the pid that wrote it; deploy/logrotate/nori passes `logrotate -d`
# as shipped, and a real rotation with it (only the path and the
# postrotate signal's target changed) moves the old lines away while the
# supervisor (SIGUSR1) and the workers (by themselves) write to the new
# file; a SIGUSR1 ends no worker.
source "$(dirname "$0")/lib.sh"

serve_workers() { live $(pgrep -P "$SPID" || true); }
LOG=$TMP/log/nori.log
mkdir -p "$TMP/log"
serve_start --log-file "$LOG"
lighttpd_with deploy/lighttpd/lighttpd-external.conf
poll -- test -s "$LOG" || true
# The workers as the request goes out: the one that answers is among them
# (a worker replaced in between, on a loaded machine, still wrote the line).
before=$(serve_workers)
req --data 'act=login&user=demo&password=wrong' /shop
expect_status 200 "a failed login"
poll -- grep -q 'login failed' "$LOG" && pass || fail "the worker's line is not in the log file"
stamp='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z \[[0-9]+\] '
bad=$(grep -Evc "$stamp" "$LOG" || true)
expect_eq "$bad" 0 "lines without an ISO-8601 time and a pid: $(grep -Ev "$stamp" "$LOG" | head -2)"
pid_of() { grep -m1 "$1" "$LOG" | sed -E 's/^[^[]*\[([0-9]+)\].*/\1/'; }
expect_eq "$(pid_of 'listening on')" "$SPID" "the supervisor's line carries its pid"
wpid=$(pid_of 'login failed')
if serve_workers | grep -qx "$wpid"; then pass
elif printf '%s\n' $before | grep -qx "$wpid"; then
    pass
    echo "  note: worker $wpid, which wrote the login line, has since been replaced: $(grep -v 'login failed' "$LOG" | tail -n 3 | tr '\n' '|')"
else
    fail "the login line's pid $wpid is not a worker's (workers: $(serve_workers | tr '\n' ' '), before: $(echo $before); log: $(grep -v 'login failed' "$LOG" | tail -n 5 | tr '\n' '|'))"
fi
grep -q 'login failed' "$TMP/serve.log" && fail "the line also went to stderr" || pass
NORI_LOG_FILE=$TMP/log/env.log "$NORI" check && [ -f "$TMP/log/env.log" ] && pass \
    || fail "NORI_LOG_FILE was not opened"
out=$("$NORI" check --log-file "$TMP/none/x.log" 2>&1) && rc=0 || rc=$?
expect_eq "$rc" 1 "a log file that cannot be opened: exit status"
grep -q 'NORI_LOG_FILE' <<<"$out" && pass || fail "the refusal does not name the setting: $out"

echo "logrotate"
out=$(logrotate -d "$ROOT/deploy/logrotate/nori" 2>&1) && pass || fail "logrotate -d: $out"
grep -qi 'error' <<<"$out" && fail "logrotate -d reports an error: $out" || pass
sed -e "s|/var/log/nori/nori.log|$LOG|" \
    -e "s|systemctl kill --signal=USR1 --kill-whom=main nori.service|kill -USR1 $SPID|" \
    "$ROOT/deploy/logrotate/nori" > "$TMP/logrotate.conf"
logrotate -f -s "$TMP/logrotate.state" "$TMP/logrotate.conf" && pass || fail "logrotate -f"
[ -f "$LOG.1" ] && grep -q 'login failed' "$LOG.1" && pass || fail "the old lines were not rotated to $LOG.1"
# A line from a worker after the rotation (another kind: the login line
# may be rate-limited by now), and one from the supervisor (a reload).
req -H 'Origin: http://elsewhere.example' --data 'act=add&id=26' /shop
expect_status 403 "a cross-site POST"
kill -HUP "$SPID"
poll -- grep -q 'another site' "$LOG" && pass || fail "a worker's line after the rotation is not in the new file"
poll -- grep -q 'reloaded 4 workers' "$LOG" && pass || fail "the supervisor's line after the rotation is not in the new file"
expect_eq "$(stat -c %a "$LOG")" 640 "the new file's mode"
alive "$SPID" && pass || fail "SIGUSR1 ended nori serve"
kill -USR1 $(serve_workers)
get 200 '/shop?pg=Item&id=26' "workers survive a stray SIGUSR1"
kill -TERM "$SPID"; wait "$SPID" && pass || fail "nori serve did not exit 0"
finish
