#!/usr/bin/env bash
# newsessions.sh -- the cap on new sessions per client address
# (NORI_NEW_SESSIONS_PER_MIN), through the shipped lighttpd and its four
# workers, which share one bucket per address: 3,000 anonymous adds from
# one address within 20 s create at most 600 sessions, the rest answered
# 429 with Retry-After and nothing created (no record, no cookie); a
# session made before still acts; another address is not affected (an
# IPv6 address counts as its /64); 0 turns the cap off.
source "$(dirname "$0")/lib.sh"

JAR=$TMP/jar
json() { curl -s "$BASE/nori-status" | grep -o "\"$1\": [a-z0-9]*" | sed 's/.*: //' || true; }

# adds N [curl args...]: N anonymous adds (no cookie, no key) over one
# connection, within 20 s; the count of each status, as "CODE COUNT" lines.
adds() {
    local n=$1 i
    shift
    for i in $(seq 1 "$n"); do printf 'url = "%s/shop"\noutput = "/dev/null"\n' "$BASE"; done \
        > "$TMP/urls"
    timeout 20 curl -s -w '%{http_code}\n' --data 'act=add&id=26&qty=1' \
        "$@" -K "$TMP/urls" | sort | uniq -c | awk '{print $2, $1}' || true
}
count() { awk -v c="$1" '$1 == c {print $2}' <<<"$2" | grep . || echo 0; }

echo "the default cap, one address"
srv_start
before=$(json sessions_created)
codes=$(adds 3000)
echo "  $(echo $codes)"
made=$(count 303 "$codes")
refused=$(count 429 "$codes")
expect_eq "$((made + refused))" 3000 "every add answered 303 or 429"
[ "$made" -le 600 ] && pass || fail "3,000 adds from one address made $made sessions (at most 600)"
[ "$refused" -ge 2400 ] && pass || fail "only $refused of 3,000 adds refused"
created=$(( $(json sessions_created) - before ))
[ "$created" -le 600 ] && [ "$created" -eq "$made" ] && pass \
    || fail "sessions_created grew by $created, $made adds answered 303"
[ "$(json store_records)" -le 600 ] && pass || fail "the store holds $(json store_records) records"
expect_eq "$(json throttled)" "$refused" "every 429 is counted as throttled"

echo "another address is not affected"
rm -f "$JAR"
post 'act=add&id=26&qty=2' --interface 127.0.0.2
expect_status 303 "an add from 127.0.0.2"
LOC=$(header Location)
codes=$(adds 50 --interface 127.0.0.3)
expect_eq "$(count 303 "$codes")" 50 "50 adds from 127.0.0.3, all made"

echo "a live session is not capped: only creation is"
req -b "$JAR" -c "$JAR" --interface 127.0.0.1 "$LOC"
key=$(sed -n 's/.*_s=//p' <<<"$LOC")
k=$(page_k)
post "act=add&id=26&qty=1&_s=$key&_k=$k" --interface 127.0.0.1
expect_status 303 "the 127.0.0.2 session adds from the capped address"
req -b "$JAR" "$(header Location)"
expect_eq "$(cart_count)" 3 "its cart has both adds"
srv_stop

echo "a cap of one a minute is exact across the four workers"
srv_start NORI_NEW_SESSIONS_PER_MIN=1
codes=$(adds 200)
expect_eq "$(count 303 "$codes")" 1 "200 adds at one a minute"
expect_eq "$(count 429 "$codes")" 199 "the others refused"
echo "  a refused add: 429, Retry-After, nothing created"
rm -f "$JAR"
post 'act=add&id=26&qty=1'
expect_status 429 "the next anonymous add"
expect_header Retry-After '^[1-9][0-9]*$' "it says when to come back"
expect_no_header Set-Cookie "no cookie: nothing was made"
expect_body 'Too many new sessions' "the page says why"

srv_stop

echo "an IPv6 address counts as its /64; a v4-mapped one as its IPv4"
# One-shot CGI requests on one run directory share its table as workers do.
oneshot_add() {
    printf 'act=add&id=26&qty=1' | env REQUEST_METHOD=POST CONTENT_LENGTH=19 \
        CONTENT_TYPE=application/x-www-form-urlencoded SCRIPT_NAME=/shop REMOTE_ADDR="$1" \
        NORI_RUNDIR="$TMP/run6" NORI_NEW_SESSIONS_PER_MIN=1 "$NORI" | sed -n 's/^Status: \([0-9]*\).*/\1/p'
}
mkdir -m 700 "$TMP/run6"
expect_eq "$(oneshot_add 2001:db8:1:2::1)" 303 "2001:db8:1:2::1 makes one"
expect_eq "$(oneshot_add 2001:db8:1:2:ffff::7)" 429 "another address of its /64 is the same client"
expect_eq "$(oneshot_add 2001:db8:1:3::1)" 303 "the next /64 is another"
expect_eq "$(oneshot_add 192.0.2.44)" 303 "192.0.2.44 makes one"
expect_eq "$(oneshot_add ::ffff:192.0.2.44)" 429 "::ffff:192.0.2.44 is the same client"

echo "a planted limits file is refused at start, never followed"
mkdir -m 700 "$TMP/run.planted"
ln -s "$TMP/victim" "$TMP/run.planted/limits"
rc=0
out=$(NORI_RUNDIR="$TMP/run.planted" "$NORI" check 2>&1) || rc=$?
expect_eq "$rc" 1 "nori check with RUNDIR/limits a symlink"
case $out in *"cannot map the limits file"*) pass ;; *) fail "why: $out" ;; esac
[ ! -e "$TMP/victim" ] && pass || fail "the limits table followed a planted symlink"
rc=0
NORI_RUNDIR="$TMP/run.planted" NORI_NEW_SESSIONS_PER_MIN=0 "$NORI" check || rc=$?
expect_eq "$rc" 0 "with the cap off, the table is not opened at all"

echo "0 turns the cap off"
srv_start NORI_NEW_SESSIONS_PER_MIN=0
codes=$(adds 700)
expect_eq "$(count 303 "$codes")" 700 "700 adds from one address, all made"
expect_eq "$(json throttled)" 0 "nothing throttled"
finish
