#!/usr/bin/env bash
# groupcommit.sh -- the LMDB store's group commit (issue 22) and its start
# (issue 21, item 10), against `nori serve --workers 8`, requests straight
# to its socket as a web server would pass them:
#   1. no answer is written before a sync covering its commit has returned:
#      every process traced by synctrace.c (LD_PRELOAD), the order checked
#      by synccheck.awk, which must also fail on an ordering that is broken
#      on purpose (NORI_SYNC=none and background answer before any sync);
#   2. SIGKILL of the worker holding the group's lock (the leader of a
#      batch, often inside its sync), 100 times under concurrent adds: every
#      add answered 303 is in the store afterwards, none applied twice, none
#      half applied;
#   3. 20 starts with 8 workers on fresh run directories: no worker exits.
source "$(dirname "$0")/lib.sh"

CLIENTS=6

# fcgi METHOD QUERY [BODY]: one request to $SOCK; the answer on stdout.
fcgi() {
    local body=${3:-}
    printf '%s' "$body" | env -i REQUEST_METHOD="$1" CONTENT_LENGTH=${#body} \
        CONTENT_TYPE=application/x-www-form-urlencoded SCRIPT_NAME=/shop \
        QUERY_STRING="$2" REMOTE_ADDR=127.0.0.1 timeout 20 \
        cgi-fcgi -bind -connect "$SOCK" 2>/dev/null || true
}
status_of() { sed -n 's/^Status: \([0-9]*\).*/\1/p' | head -1; }
key_of() { sed -n 's/^Location: .*[?&]_s=\([A-Za-z0-9_-]*\).*/\1/p' | tr -d '\r' | head -1; }
# add [BODY-SUFFIX]: an add of one item; prints "STATUS KEY".
add() {
    local out
    out=$(fcgi POST '' "act=add&id=26&qty=1${1:-}")
    echo "$(status_of <<< "$out") $(key_of <<< "$out")"
}
cart_of() {    # cart_of KEY: the cart count its page shows ("" if none)
    fcgi GET "pg=Cart&_s=$1" | grep -o 'id="cart-count">[0-9]*' | grep -o '[0-9]*$' || true
}
form_key() {
    fcgi GET "pg=Cart&_s=$1" | grep -o 'name="_k" value="[^"]*"' | head -1 \
        | sed 's/.*value="//; s/"$//' || true
}
serves() { [ "$(fcgi GET '' | status_of)" = 200 ]; }
stop_serve() { kill -TERM "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; }

echo "1. every answer after the sync that covers its commit"
cc -std=c11 -O2 -shared -fPIC -o "$TMP/synctrace.so" "$ROOT/tests/integration/synctrace.c" -ldl \
    || { fail "cannot build synctrace.so"; finish; exit 1; }
# trace MODE: 8 workers under the shim, $CLIENTS x 10 new-session adds.
trace() {
    rm -rf "$TMP/sessions"
    : > "$TMP/trace.$1"
    serve_start SYNCTRACE="$TMP/trace.$1" LD_PRELOAD="$TMP/synctrace.so" NORI_SYNC="$1" --workers 8
    poll -- serves || fail "$1: nori serve does not serve"
    local c i pids=()
    for c in $(seq 1 $CLIENTS); do
        (for i in $(seq 1 10); do add; done > "$TMP/adds.$1.$c") &
        pids+=($!)
    done
    wait "${pids[@]}"
    stop_serve
    expect_eq "$(cat "$TMP"/adds."$1".* | grep -c '^303 ')" $((CLIENTS * 10)) "$1: every add answered 303"
}
trace fsync
if awk -f "$ROOT/tests/integration/synccheck.awk" "$TMP/trace.fsync" > "$TMP/check.fsync"; then
    pass
else
    fail "NORI_SYNC=fsync: an answer came before its sync: $(cat "$TMP/check.fsync")"
fi
echo "  fsync: $(tail -1 "$TMP/check.fsync")"
# The same check must catch an answer that does not wait for its sync.
for mode in none background; do
    trace "$mode"
    if awk -f "$ROOT/tests/integration/synccheck.awk" "$TMP/trace.$mode" > "$TMP/check.$mode"; then
        fail "NORI_SYNC=$mode answers before syncing, and the check saw nothing"
    else
        pass
    fi
    echo "  $mode (must fail): $(tail -1 "$TMP/check.$mode")"
done

echo "2. kill -9 of the syncing worker, 100 times: no acknowledged add lost"
rm -rf "$TMP/sessions" "$TMP/stop"
serve_start NORI_SESSION_BIND=off --workers 8
poll -- serves || fail "nori serve does not serve"
# Each client: new carts of one item, and adds to a cart of its own
# (compare-and-put on an existing record), alternately, until told to stop.
client() {
    local c=$1 own k r s key acked=0 tried=0
    until [ -n "${own:-}" ]; do
        r=$(add); [ "${r%% *}" = 303 ] && own=${r#* }
    done
    until [ -n "${k:-}" ]; do k=$(form_key "$own"); done
    while [ ! -e "$TMP/stop" ]; do
        r=$(add); s=${r%% *} key=${r#* }
        [ "$s" = 303 ] && echo "$key" >> "$TMP/acked.$c"
        # (under the shop's 99 of an item)
        [ "$tried" -lt 90 ] || continue
        r=$(fcgi POST '' "act=add&id=5&qty=1&_s=$own&_k=$k" | status_of)
        tried=$((tried + 1))
        [ "$r" = 303 ] && acked=$((acked + 1))
    done
    echo "$own $acked $tried" > "$TMP/own.$c"
}
pids=()
for c in $(seq 1 $CLIENTS); do client "$c" & pids+=($!); done
ino=$(poll -- test -e "$TMP/sessions/group" && stat -c %i "$TMP/sessions/group")
# The holder of the group's flock: the leader of a batch, committing or
# in its sync (waiters sleep beside it, not on it). Found with builtins
# only, so that the poll is quick beside a batch. With SYNCING, only one
# inside fdatasync or a write (pwrite64, writev on x86-64: a commit's
# write, the O_DSYNC meta write being a sync too). Sets HOLDER.
holder() {
    local n type adv mode pid dev rest sc ppid
    HOLDER=
    while read -r n type adv mode pid dev rest; do
        [ "$type" = FLOCK ] && [ "$mode" = WRITE ] && [ "${dev##*:}" = "$ino" ] || continue
        read -r sc rest < "/proc/$pid/syscall" 2>/dev/null || return 0
        if [ -n "${1:-}" ]; then case $sc in 75|18|20) ;; *) return 0 ;; esac; fi
        read -r n n n ppid rest < "/proc/$pid/stat" 2>/dev/null || return 0
        [ "$ppid" = "$SPID" ] && HOLDER=$pid
        return 0
    done < /proc/locks
}
kills=0 insync=0 misses=0 end=$((SECONDS + DEADLINE))
while [ "$kills" -lt 100 ] && [ "$SECONDS" -lt "$end" ]; do
    # Mostly the syncing leader; any holder when none is caught syncing
    # in a while, so that a fast disk cannot stall the test.
    if [ "$misses" -lt 20 ]; then holder syncing; else holder; fi
    if [ -n "$HOLDER" ] && kill -KILL "$HOLDER" 2>/dev/null; then
        kills=$((kills + 1))
        [ "$misses" -lt 20 ] && insync=$((insync + 1))
        misses=0
    else
        misses=$((misses + 1))
        [ $((misses % 4)) != 0 ] || sleep 0.002
    fi
done
echo "  (kills done at ${SECONDS}s)"
touch "$TMP/stop"
wait "${pids[@]}"
echo "  $kills kills of the lock holder, $insync caught inside its commit's write or sync"
[ "$kills" -ge 100 ] && pass || fail "only $kills kills of a lock holder"
# A fresh nori on the same store: what it reads was on disk.
stop_serve
serve_start NORI_SESSION_BIND=off --workers 2
poll -- serves || fail "nori serve does not serve after the kills"
# verify FILE: the acknowledged new carts in FILE, each holding its item.
verify() {
    local key got lost=0
    while read -r key; do
        got=$(cart_of "$key")
        [ "$got" = 1 ] || { lost=$((lost + 1)); [ "$lost" -gt 3 ] || echo "  $key: cart '$got', want 1" >&2; }
    done < "$1"
    echo "$lost" > "$1.lost"
}
cat "$TMP"/acked.* > "$TMP/acked"
n=$(wc -l < "$TMP/acked")
split -n l/4 "$TMP/acked" "$TMP/part."
pids=()
for f in "$TMP"/part.??; do verify "$f" & pids+=($!); done
wait "${pids[@]}"
expect_eq "$(cat "$TMP"/part.??.lost | awk '{s += $1} END {print s}')" 0 \
    "acknowledged new carts missing or wrong (of $n)"
for c in $(seq 1 $CLIENTS); do
    read -r own acked tried < "$TMP/own.$c"
    got=$(cart_of "$own")
    # 1 from the add that made it, then every acknowledged add, and at
    # most the unacknowledged ones besides, each once.
    if [ -n "$got" ] && [ "$got" -ge $((1 + acked)) ] && [ "$got" -le $((1 + tried)) ]; then
        pass
    else
        fail "client $c: cart $got, want $((1 + acked))..$((1 + tried))"
    fi
done
echo "  $n new carts and $CLIENTS updated ones checked (at ${SECONDS}s)"
stop_serve

echo "3. 20 starts of 8 workers on fresh run directories: no worker exits"
# A worker is past its store check once it has mapped the counters file
# (process_load does the one, then the other).
loaded() {
    local p n=0
    for p in $(pgrep -P "$SPID" || true); do
        grep -q "$RUNDIR/stats" "/proc/$p/maps" 2>/dev/null && n=$((n + 1))
    done
    [ "$n" = 8 ]
}
exits=0
for i in $(seq 1 20); do
    RUNDIR=$TMP/start.$i
    env NORI_RUNDIR="$RUNDIR" "$NORI" serve --listen "unix:$TMP/start.sock" --workers 8 \
        2> "$TMP/start.$i.log" &
    SPID=$!
    track "$SPID"
    poll -- loaded || fail "start $i: 8 workers never loaded"
    stop_serve
    if grep -Eq 'worker (exited|[0-9]+:)' "$TMP/start.$i.log"; then
        exits=$((exits + 1))
        [ "$exits" -gt 3 ] || sed 's/^/  /' "$TMP/start.$i.log" >&2
    fi
done
expect_eq "$exits" 0 "starts in which a worker exited"
[ -d "$TMP/start.1/sessions" ] && pass || fail "the sessions directory was not kept"

finish
