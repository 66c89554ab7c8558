#!/usr/bin/env bash
# soak.sh -- does nori hold steady for half an hour of mixed load? One
# lighttpd (bench/lighttpd-soak.conf: /shop, 4 workers, LMDB, short
# session lifetimes) under wrk -t2 -c100 with bench/soak.lua: window
# shoppers on Home/Category/Item/Search, 5 % adds to cart on live
# sessions that the script keeps making and dropping, so that sessions
# expire and are reclaimed all along. wrk runs one slice (a minute) at a
# time; between slices, with nothing in flight, the script samples req/s,
# errors, the workers' memory, the store's size and nori's counters.
#
#   SOAK_MINUTES (30)    slices
#   SOAK_SLICE (60)      seconds a slice (a shorter one only for trying
#                        the script out; the bounds below still hold)
#   SOAK_TTL (20)        NORI_SESSION_TTL of the workers, seconds
#   SOAK_MAX_AGE (25)    NORI_SESSION_MAX_AGE, seconds
#   SOAK_LIVE (50), SOAK_LIFE (12)   bench/soak.lua: live sessions per wrk
#                        thread, seconds a session takes adds (< TTL, MAX_AGE)
#
# Fails (exit 1) on: any non-2xx/3xx answer or socket error, a 304, a
# worker that died or was replaced, the workers' summed RSS more than 10 %
# above minute 1's at the last minute, a store that is not bounded, a
# store that does not drain once the load stops, counters that disagree
# with each other or with what the clients saw. bench/README.md says how.
source "$(dirname "$0")/lib.sh"

MINUTES=${SOAK_MINUTES:-30}
SLICE=${SOAK_SLICE:-60}
SOAK_TTL=${SOAK_TTL:-20}
SOAK_MAX_AGE=${SOAK_MAX_AGE:-25}
SOAK_LIVE=${SOAK_LIVE:-50}
SOAK_LIFE=${SOAK_LIFE:-12}
THREADS=2 CONNS=100
WRK_SOAK="wrk -t$THREADS -c$CONNS -d${SLICE}s --timeout 10s -s bench/soak.lua"
# A record lives at most NORI_SESSION_MAX_AGE after its birth, plus the
# sweeper's lag: expiry has one-second resolution and the sweep runs every
# NORI_GC_INTERVAL_MS (1 s), up to NORI_GC_BATCH (1000) records a round,
# far above the rate sessions are made here.
LAG=5
export SOAK_TTL SOAK_MAX_AGE SOAK_LIVE SOAK_LIFE

for v in MINUTES SLICE SOAK_TTL SOAK_MAX_AGE SOAK_LIVE SOAK_LIFE; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "soak: $v=${!v}: want a positive integer" >&2; exit 1; }
done
if [ "$SOAK_LIFE" -ge "$SOAK_TTL" ] || [ "$SOAK_LIFE" -ge "$SOAK_MAX_AGE" ]; then
    echo "soak: SOAK_LIFE ($SOAK_LIFE s) must be below SOAK_TTL and SOAK_MAX_AGE:" \
         "adds would meet expired sessions" >&2
    exit 1
fi

FAILS=()
fail() { FAILS+=("$*"); echo "soak: FAIL: $*" >&2; }

# ---- the server -------------------------------------------------------
# A port can be lost to a race between free_port and lighttpd's bind:
# then lighttpd exits, and another port is tried.
start_server() {
    local tries i code
    mkdir -p "$DIR/soak"
    export NORI_HOME=$ROOT BENCH_DIR=$DIR
    for tries in 1 2 3 4 5; do
        PORT=$(free_port)
        export PORT
        BASE=http://127.0.0.1:$PORT
        lighttpd -D -f "$ROOT/bench/lighttpd-soak.conf" 2>"$DIR/error.log" &
        LPID=$!
        for i in $(seq 1 200); do      # up to ~10 s
            code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE$ITEM" || true)
            [ "$code" = 200 ] && return 0
            kill -0 "$LPID" 2>/dev/null || break
            sleep 0.05
        done
        kill "$LPID" 2>/dev/null || true
        wait "$LPID" 2>/dev/null || true
        LPID=
    done
    echo "soak: lighttpd did not answer 200 on $ITEM" >&2
    cat "$DIR/error.log" >&2
    exit 1
}

# The pool's workers: lighttpd's children running build/nori.
workers() { pgrep -P "$LPID" -f "$ROOT/build/nori" | sort -n | tr '\n' ' '; }

start_server
for i in $(seq 1 200); do
    set -- $(workers)
    [ $# -ge 4 ] && break
    sleep 0.05
done
WORKERS=$(workers)
[ "$(echo $WORKERS | wc -w)" -eq 4 ] || { echo "soak: want 4 workers, have: $WORKERS" >&2; exit 1; }

# ---- samples ----------------------------------------------------------
# /nori-status gives the counters and the store's size in one answer.
# nori does not count a status read as a request (a monitor must not move
# what it reads), so POLLS, the samples' own requests that every
# difference of two samples takes out, stays 0.
POLLS=0
JSON=
status() {
    JSON=$(curl -s --max-time 10 "$BASE/shop/nori-status" || true)
    SNAP_POLLS=$POLLS
}
field() { echo "$JSON" | grep -o "\"$1\": [0-9]*" | grep -o '[0-9]*$' || true; }

# A quiet sample: the request counter has stopped moving (a read adds
# nothing), so nothing is in flight, not even a request wrk gave up on
# when its slice ended.
quiet_sample() {
    local prev i
    status; prev=$(field requests)
    for i in $(seq 1 100); do
        sleep 0.1
        status
        [ -n "$prev" ] && [ "$(field requests)" = "$prev" ] && return 0
        prev=$(field requests)
    done
    fail "the request counter did not settle after a slice (or /nori-status does not answer: $JSON)"
}

COUNTERS="requests pages actions sessions_created commits commits_avoided conflicts reclaimed status_4xx status_5xx"
declare -A S   # S[name,i]: counter name at sample i (0: before the load)
take() {    # take I: the quiet sample's counters, store and memory as sample I
    local i=$1 c pid rss anon
    quiet_sample
    for c in $COUNTERS store_records store_bytes; do S[$c,$i]=$(field "$c"); done
    S[polls,$i]=$SNAP_POLLS
    rss=0 anon=0
    for pid in $WORKERS; do
        [ -r "/proc/$pid/status" ] || continue
        rss=$((rss + $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")))
        anon=$((anon + $(awk '/^RssAnon/ {print $2}' "/proc/$pid/status")))
    done
    S[rss,$i]=$rss S[anon,$i]=$anon
    S[workers,$i]=$(workers)
}
d() { echo $(( ${S[$1,$2]:-0} - ${S[$1,$(($2 - 1))]:-0} )); }    # d NAME I: its change in slice I

HAVE_ACTIONS=0
take 0
[ -n "${S[actions,0]}" ] && HAVE_ACTIONS=1
[ "${S[store_records,0]}" = 0 ] || { echo "soak: the store is not empty before the load: $JSON" >&2; exit 1; }

echo
echo "nori soak, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores $(uname -m)," \
     "$(lighttpd -v 2>&1 | head -1 | cut -d' ' -f1)"
echo "$MINUTES slices of: $WRK_SOAK $BASE/shop"
echo "$CAP_NOTE"
echo "4 workers (pids $WORKERS), LMDB fsync, NORI_SESSION_TTL=$SOAK_TTL NORI_SESSION_MAX_AGE=$SOAK_MAX_AGE," \
     "SOAK_LIVE=$SOAK_LIVE sessions a thread, each taking adds for 1..$SOAK_LIFE s"
printf '%3s %8s %6s %6s %6s %6s %9s %9s %8s %9s %8s %8s %8s %9s\n' \
    min "req/s" errors 304 "adds" made "RSS KiB" "anon KiB" records "store KiB" created reclaim commits conflicts

# ---- the load, a slice at a time ---------------------------------------
for i in $(seq 1 "$MINUTES"); do
    out=$(cd "$ROOT" && $WRK_SOAK "$BASE/shop" 2>&1) || { fail "minute $i: wrk failed: $out"; break; }
    take "$i"
    rate=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    tally=$(echo "$out" | grep '^soak-tally' || true)
    tv() { echo "$tally" | grep -o " $1=[0-9]*" | cut -d= -f2; }
    for t in s200 s303 s304 s4xx s5xx sother created; do S[$t,$i]=$(tv $t); S[$t,$i]=${S[$t,$i]:-0}; done
    answered=$(( S[s200,$i] + S[s303,$i] + S[s304,$i] + S[s4xx,$i] + S[s5xx,$i] + S[sother,$i] ))
    sockerr=$(echo "$out" | grep 'Socket errors' | grep -o '[0-9][0-9]*' | awk '{s += $1} END {print s + 0}' || true)
    non23=$(echo "$out" | awk '/Non-2xx or 3xx/ {print $NF}')
    # wrk's non-2xx/3xx count and the script's own count the same answers.
    bad=$(( S[s4xx,$i] + S[s5xx,$i] + S[sother,$i] ))
    errors=$(( ${sockerr:-0} + (${non23:-0} > bad ? ${non23:-0} : bad) ))
    S[rate,$i]=$rate S[errors,$i]=$errors

    printf '%3d %8.0f %6d %6d %6d %6d %9d %9d %8d %9d %8d %8d %8d %9d\n' "$i" "${rate:-0}" "$errors" \
        "${S[s304,$i]}" "${S[s303,$i]}" "${S[created,$i]}" "${S[rss,$i]}" "${S[anon,$i]}" \
        "${S[store_records,$i]}" "$(( ${S[store_bytes,$i]:-0} / 1024 ))" "$(d sessions_created "$i")" \
        "$(d reclaimed "$i")" "$(d commits "$i")" "$(d conflicts "$i")"

    # Errors, seen by wrk or counted by nori.
    [ -z "$tally" ] && fail "minute $i: no tally line from bench/soak.lua: $out"
    [ "$errors" -eq 0 ] || fail "minute $i: $errors errors (socket errors ${sockerr:-0}," \
        "non-2xx/3xx ${non23:-0}, 4xx ${S[s4xx,$i]}, 5xx ${S[s5xx,$i]}, other ${S[sother,$i]})"
    [ "$(d status_4xx "$i")" -eq 0 ] && [ "$(d status_5xx "$i")" -eq 0 ] ||
        fail "minute $i: nori counted $(d status_4xx "$i") 4xx and $(d status_5xx "$i") 5xx"
    [ "${S[s304,$i]}" -eq 0 ] || fail "minute $i: ${S[s304,$i]} answers were 304, and no request sends If-None-Match"
    [ "${S[workers,$i]}" = "$WORKERS" ] || fail "minute $i: the workers changed: $WORKERS -> ${S[workers,$i]}"

    # Counters against each other, per slice (quiet samples: exact).
    req=$(d requests "$i") polls=$(d polls "$i")
    served=$((req - polls))         # requests other than the samples' own
    cav=$(( $(d commits "$i") + $(d commits_avoided "$i") ))
    # Every request of the shop either commits (once) or avoids a commit;
    # a status request does neither.
    [ "$cav" -eq "$served" ] || [ "$cav" -eq "$req" ] ||
        fail "minute $i: commits + commits_avoided = $cav, requests = $req of which $polls status reads"
    if [ "$HAVE_ACTIONS" = 1 ]; then
        acts=$(d actions "$i")
    else
        acts=$(( req - $(d pages "$i") - $(d status_4xx "$i") - $(d status_5xx "$i") - polls ))
    fi
    S[acts,$i]=$acts
    rest=$(( req - $(d pages "$i") - acts - $(d status_4xx "$i") - $(d status_5xx "$i") ))
    # requests = pages + actions + errors, and the status reads, which are
    # none of them today (0 accepted too, should the status read count as one).
    [ "$rest" -eq "$polls" ] || [ "$rest" -eq 0 ] ||
        fail "minute $i: requests $req != pages $(d pages "$i") + actions $acts + 4xx/5xx" \
             "$(( $(d status_4xx "$i") + $(d status_5xx "$i") )) + $polls status reads"
    # Against what wrk saw: nori served every answer wrk got, and at most
    # one more a connection (a request in flight when the slice ended).
    within() {  # WHAT SERVER CLIENT
        [ "$2" -ge "$3" ] && [ "$2" -le $(( $3 + CONNS )) ] ||
            fail "minute $i: $1: nori counted $2, wrk saw $3 (want between $3 and $(( $3 + CONNS )))"
    }
    within requests "$served" "$answered"
    within "pages (200s)" "$(d pages "$i")" "${S[s200,$i]}"
    within "actions (303s)" "$acts" "${S[s303,$i]}"
    within "sessions created (303s setting nori_b)" "$(d sessions_created "$i")" "${S[created,$i]}"
    # The store: every record was made and not yet reclaimed.
    made_total=$(( S[sessions_created,$i] - S[sessions_created,0] ))
    gone_total=$(( S[reclaimed,$i] - S[reclaimed,0] ))
    [ "${S[store_records,$i]}" -le $(( made_total - gone_total )) ] ||
        fail "minute $i: ${S[store_records,$i]} records, but $made_total sessions made and $gone_total reclaimed"
    # Bounded: no record outlives NORI_SESSION_MAX_AGE + LAG, so every one
    # in the store was made in that window (the last K samples cover it).
    k=$(( (SOAK_MAX_AGE + LAG + SLICE - 1) / SLICE ))
    from=$(( i - k < 0 ? 0 : i - k ))
    bound=$(( S[sessions_created,$i] - S[sessions_created,$from] ))
    S[bound,$i]=$bound
    [ "${S[store_records,$i]}" -le "$bound" ] ||
        fail "minute $i: ${S[store_records,$i]} records, more than the $bound sessions made in the" \
             "last $(( SOAK_MAX_AGE + LAG )) s: expired sessions are not reclaimed"
done
last=$i
LAST_WRK=$out

# ---- after the load: the store must drain -------------------------------
# Every session left expires within NORI_SESSION_MAX_AGE and is swept: the
# store must come back to no record at all, and then every session made was
# reclaimed, no more, no fewer.
drained=0
deadline=$(( $(date +%s) + SOAK_MAX_AGE + LAG + 10 ))
while [ "$(date +%s)" -le "$deadline" ]; do
    status
    [ "$(field store_records)" = 0 ] && { drained=1; break; }
    sleep 0.5
done
end=$((last + 1))
take "$end"
made_total=$(( S[sessions_created,$end] - S[sessions_created,0] ))
gone_total=$(( S[reclaimed,$end] - S[reclaimed,0] ))

# ---- the verdict --------------------------------------------------------
echo
rss1=${S[rss,1]} rssn=${S[rss,$last]}
if [ "$last" -ge 2 ] && [ -n "$rss1" ] && [ "$rss1" -gt 0 ]; then
    growth=$(awk -v a="$rss1" -v b="$rssn" 'BEGIN {printf "%+.1f", 100 * (b - a) / a}')
    echo "workers' RSS: minute 1 $rss1 KiB, minute $last $rssn KiB: $growth % (limit +10 %);" \
         "anonymous ${S[anon,1]} -> ${S[anon,$last]} KiB"
    awk -v a="$rss1" -v b="$rssn" 'BEGIN {exit !(b > a * 1.10)}' &&
        fail "the workers' RSS grew $growth % from minute 1 to minute $last"
else
    echo "workers' RSS: minute 1 ${rss1:-?} KiB (one minute: no growth to measure)"
    fail "RSS growth needs at least 2 slices (SOAK_MINUTES=$MINUTES)"
fi

# The store: records against the hard bound every minute (above); its
# file's high-water mark must level off: at the last minute no more than
# twice the largest of the first half (LMDB reuses freed pages).
half=$(( (last + 1) / 2 )) maxb=0 maxr=0
for j in $(seq 1 "$half"); do
    [ "${S[store_bytes,$j]:-0}" -gt "$maxb" ] && maxb=${S[store_bytes,$j]}
    [ "${S[store_records,$j]:-0}" -gt "$maxr" ] && maxr=${S[store_records,$j]}
done
echo "store: records per minute ${S[store_records,1]}$(for j in $(seq 2 "$last"); do printf ', %s' "${S[store_records,$j]}"; done);" \
     "each at most the sessions made in the last $(( SOAK_MAX_AGE + LAG )) s" \
     "(minute $last: ${S[store_records,$last]} records, bound ${S[bound,$last]})"
echo "store: KiB per minute $(( ${S[store_bytes,1]:-0} / 1024 ))$(for j in $(seq 2 "$last"); do printf ', %s' $(( ${S[store_bytes,$j]:-0} / 1024 )); done);" \
     "minute $last at most 2 x the first half's largest ($(( maxb / 1024 )) KiB);" \
     "records: minute $last ${S[store_records,$last]}, first half's largest $maxr (not checked: it moves with the load)"
[ "${S[store_bytes,$last]:-0}" -le $(( 2 * maxb )) ] ||
    fail "the store's file grew to ${S[store_bytes,$last]} bytes, over 2 x $maxb (the first half's largest)"
if [ "$drained" = 1 ]; then
    echo "store after the load: drained to 0 records; sessions made $made_total, reclaimed $gone_total"
else
    fail "the store still holds $(field store_records) records $(( SOAK_MAX_AGE + LAG + 10 )) s after the load stopped"
fi
[ "$made_total" -eq "$gone_total" ] || [ "$drained" = 0 ] ||
    fail "sessions made $made_total, but $gone_total reclaimed once the store is empty"

if [ "$HAVE_ACTIONS" = 1 ]; then
    echo "counters: requests = pages + actions + 4xx + 5xx (status reads are not counted) checked every minute"
else
    echo "counters: no 'actions' counter in this build: actions derived as" \
         "requests - pages - 4xx - 5xx; identity not checkable without the actions counter"
fi
echo "counters: requests = commits + commits_avoided, and pages, actions, sessions" \
     "made against wrk's 200s, 303s and new sessions, checked every minute"
echo "last slice's wrk:"
echo "$LAST_WRK" | sed 's/^/  /'
echo "nori stats (NORI_RUNDIR=$DIR/soak) at the end:"
NORI_RUNDIR=$DIR/soak "$ROOT/build/nori" stats | sed 's/^/  /'

if [ "${#FAILS[@]}" -gt 0 ]; then
    echo
    echo "soak: FAILED (${#FAILS[@]}):"
    printf '  %s\n' "${FAILS[@]}"
    grep -v '^$' "$DIR/error.log" | tail -20 | sed 's/^/  error.log: /' || true
    exit 1
fi
echo
echo "soak: passed"
