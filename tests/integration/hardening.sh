#!/usr/bin/env bash
# hardening.sh -- the attacks of issue 8 that need real processes: a
# wildcard listener, a store filled by anonymous POSTs, a reload while an
# old worker is stuck in a slow body, password guessing spread over
# workers, a run directory others (or its group) could write, symlinks
# planted under it, and a mount prefix spelt another way.
source "$(dirname "$0")/lib.sh"

serve_workers() { pgrep -P "$SPID" || true; }
# fcgi_get: one GET of the Item page straight to nori serve's socket.
fcgi_get() {
    env -i QUERY_STRING='pg=Item&id=26' SCRIPT_NAME=/shop REQUEST_METHOD=GET \
        timeout 10 cgi-fcgi -bind -connect "$SOCK" 2>/dev/null | head -1 || true
}
gone() { [ ! -e "/proc/$1" ]; }     # exited and reaped: no zombie either

echo "a wildcard listener needs FCGI_WEB_SERVER_ADDRS"
for addr in ":PORT" "0.0.0.0:PORT" "*:PORT"; do
    p=$(free_port)
    l=${addr/PORT/$p}
    rc=0
    out=$(env -u FCGI_WEB_SERVER_ADDRS NORI_RUNDIR="$TMP" timeout 20 "$NORI" serve \
        --listen "$l" --workers 1 2>&1) || rc=$?
    expect_eq "$rc" 1 "--listen $l without FCGI_WEB_SERVER_ADDRS exits 1"
    grep -q 'FCGI_WEB_SERVER_ADDRS' <<<"$out" && pass || fail "--listen $l: $out"
done
# Allowed with the variable; and the probe for a taken port looks at the
# address libfcgi binds (every interface), not at 127.0.0.1 only: a
# server on 127.0.0.2 holds the port for a wildcard bind too.
for try in 1 2 3 4 5; do
    p=$(free_port)
    FCGI_WEB_SERVER_ADDRS=127.0.0.1 NORI_RUNDIR=$TMP "$NORI" serve \
        --listen "127.0.0.2:$p" --workers 1 2>>"$TMP/serve.log" &
    SPID=$!
    track "$SPID"
    poll 30 -- bash -c "exec 3<>/dev/tcp/127.0.0.2/$p" 2>/dev/null && break
    kill -TERM "$SPID" 2>/dev/null; wait "$SPID" || true
done
rc=0
out=$(FCGI_WEB_SERVER_ADDRS=127.0.0.1 NORI_RUNDIR=$TMP timeout 20 "$NORI" serve \
    --listen ":$p" --workers 1 2>&1) || rc=$?
expect_eq "$rc" 1 "a wildcard bind over 127.0.0.2:$p is refused with status 1"
grep -q 'already in use' <<<"$out" && pass || fail "taken wildcard port: $out"
kill -TERM "$SPID"; wait "$SPID" || true
p=$(free_port)
FCGI_WEB_SERVER_ADDRS=127.0.0.1 NORI_RUNDIR=$TMP "$NORI" serve --listen ":$p" \
    --workers 1 2>>"$TMP/serve.log" &
SPID=$!
track "$SPID"
tcp_get() {
    env -i QUERY_STRING='pg=Item&id=26' SCRIPT_NAME=/shop REQUEST_METHOD=GET \
        timeout 10 cgi-fcgi -bind -connect "127.0.0.1:$p" 2>/dev/null | head -1 || true
}
tcp_served() { tcp_get | grep -q '^Status: 200'; }
poll 30 -- tcp_served && pass || fail "wildcard with FCGI_WEB_SERVER_ADDRS serves"
kill -TERM "$SPID"; wait "$SPID" || true

echo "a full store: state changes 503 with Retry-After, pages 200"
# Anonymous adds, each a new session, in batches of 500 on one
# connection, until the 1 MiB map says full (a few thousand fit): from
# one address, so without the cap on new sessions per address.
srv_start NORI_LMDB_MAPSIZE=1 NORI_SYNC=none NORI_NEW_SESSIONS_PER_MIN=0
posts=()
for i in $(seq 1 500); do posts+=(-o /dev/null "$BASE/shop"); done
full=0
for round in $(seq 1 20); do
    curl -s -w '%{http_code}\n' -d act=inc "${posts[@]}" > "$TMP/codes"
    grep -q 503 "$TMP/codes" && { full=1; break; }
done
expect_eq "$full" 1 "anonymous POSTs fill a 1 MiB store"
req -d act=inc /shop
expect_status 503 "a new session in a full store"
expect_header Retry-After '^[0-9]+$' "503 says when to retry"
get 200 '/shop?pg=Item&id=26' "a sessionless page in a full store"
get 200 '/shop?pg=Category&id=1' "another one"
grep -q 'the store is full' "$TMP/error.log" && pass || fail "the full store is not logged"
srv_stop

echo "SIGHUP while a worker is stuck in a slow body"
# One worker; a POST that sends 7 of its 100 bytes and waits holds it.
served() { fcgi_get | grep -q '^Status: 200'; }
serve_start --workers 1 NORI_BODY_TIMEOUT_MS=600000
poll 30 -- served || fail "nori serve does not serve"
stuck=$(serve_workers)
mkfifo "$TMP/slow"
env -i REQUEST_METHOD=POST CONTENT_LENGTH=100 CONTENT_TYPE=application/x-www-form-urlencoded \
    SCRIPT_NAME=/shop QUERY_STRING= cgi-fcgi -bind -connect "$SOCK" \
    < "$TMP/slow" > "$TMP/slow.out" 2>&1 &
cpid=$!
exec 7>"$TMP/slow"
printf 'act=inc' >&7
# The worker has the connection once it holds a second socket.
conn_held() { [ "$(find "/proc/$stuck/fd" -lname 'socket:*' 2>/dev/null | wc -l)" -ge 2 ]; }
poll 30 -- conn_held && pass || fail "the slow POST never reached the worker"
kill -HUP "$SPID"
reloaded() { grep -q 'reloaded 1 workers' "$TMP/serve.log"; }
poll 30 -- reloaded && pass || fail "the reload waited for the stuck worker"
kill -0 "$stuck" 2>/dev/null && pass || fail "the stuck worker was not stuck"
poll 30 -- served && pass || fail "the new worker serves"
fresh=$(serve_workers | grep -vx "$stuck" | head -1)
[ -n "$fresh" ] && kill -KILL "$fresh"
replaced() { serve_workers | grep -vx "$stuck" | grep -vxq "$fresh"; }
poll 30 -- replaced && pass || fail "a worker that died during the reload was not replaced"
poll 30 -- served && pass || fail "its replacement serves"
exec 7>&-                          # the client gives up: the old one finishes
wait "$cpid" || true
poll 30 -- gone "$stuck" && pass || fail "the old worker was never reaped"
kill -TERM "$SPID"; wait "$SPID" || true
rm -f "$TMP/slow"

echo "password guessing: counted over workers, 429 with Retry-After, logged"
serve_start --workers 4 NORI_LOGIN_FAILURES=3 NORI_LOGIN_LOCKOUT=600
poll 30 -- served || fail "nori serve does not serve"
# login USER PASSWORD ADDR: a login POST as a web server would pass it,
# from the client ADDR; the answer's head in $TMP/login, its log lines
# (the FastCGI stderr stream) added to $TMP/login.log.
login() {
    local body="act=login&user=$1&password=$2"
    printf '%s' "$body" | env -i REQUEST_METHOD=POST CONTENT_LENGTH=${#body} \
        CONTENT_TYPE=application/x-www-form-urlencoded SCRIPT_NAME=/shop QUERY_STRING= \
        REMOTE_ADDR="$3" timeout 20 cgi-fcgi -bind -connect "$SOCK" \
        2>>"$TMP/login.log" | sed '/^\r\?$/q' > "$TMP/login" || true
    STATUS=$(sed -n 's/^Status: \([0-9]*\).*/\1/p' "$TMP/login")
}
login demo nori-demo 192.0.2.5
expect_status 303 "the right password logs in"
for i in 1 2 3; do
    login demo "wrong-guess-$i" 192.0.2.1
    expect_status 200 "failed login $i re-renders the login page"
done
login demo wrong-guess-4 192.0.2.1
expect_status 429 "the fourth guess"
grep -Eq '^Retry-After: [0-9]+' "$TMP/login" && pass || fail "429 without Retry-After"
login demo nori-demo 192.0.2.2
expect_status 429 "the locked user, from another address, even with the password"
grep -q '^Set-Cookie' "$TMP/login" && fail "a throttled login set a cookie" || pass
login alice wrong-guess-5 192.0.2.1
expect_status 429 "another user from the guessing address"
login alice wrong-guess-6 192.0.2.3
expect_status 200 "another user from another address is only told no"
expect_eq "$(grep -c "login failed for user 'demo' from 192.0.2.1" "$TMP/login.log")" 3 \
    "each failure is logged with user and address"
grep -q "login refused for user 'demo' from 192.0.2.2" "$TMP/login.log" && pass \
    || fail "a throttled attempt is not logged"
grep -q 'wrong-guess' "$TMP/login.log" "$TMP/serve.log" && fail "a password reached the log" || pass
kill -TERM "$SPID"; wait "$SPID" || true

echo "the run directory must be ours alone"
# oneshot RUNDIR: a one-shot CGI GET; its output in $TMP/oneshot, status in RC.
oneshot() {
    RC=0
    env -i QUERY_STRING='pg=Item&id=26' SCRIPT_NAME=/shop REQUEST_METHOD=GET \
        NORI_RUNDIR="$1" "$NORI" > "$TMP/oneshot" 2>&1 || RC=$?
}
rd=$TMP/rd.open
mkdir -p "$rd" && chmod 1777 "$rd"
oneshot "$rd"
expect_eq "$RC" 1 "a world-writable run directory is refused"
grep -q 'writable by others' "$TMP/oneshot" && pass || fail "why: $(head -1 "$TMP/oneshot")"
rc=0
NORI_RUNDIR=$rd timeout 20 "$NORI" serve --listen "unix:$rd/s" --workers 1 >/dev/null 2>&1 || rc=$?
expect_eq "$rc" 1 "nori serve refuses it too"
rd=$TMP/rd.theirs
mkdir -p "$rd" && chown nobody "$rd"
oneshot "$rd"
expect_eq "$RC" 1 "a run directory of another user is refused"
grep -q 'owned by uid' "$TMP/oneshot" && pass || fail "why: $(head -1 "$TMP/oneshot")"
# A planted counters file stops nori at start, with one line, and is
# never followed (counters are checked with the other settings).
rd=$TMP/rd.planted-stats
mkdir -p "$rd"
ln -s "$TMP/victim-stats" "$rd/stats"
oneshot "$rd"
expect_eq "$RC" 1 "a planted counters file is refused at start"
grep -q "NORI_RUNDIR=$rd: cannot map the counters file" "$TMP/oneshot" && pass \
    || fail "why: $(head -1 "$TMP/oneshot")"
[ ! -e "$TMP/victim-stats" ] && pass || fail "the counters followed a planted symlink"
rd=$TMP/rd.planted
mkdir -p "$rd"
ln -s "$TMP/victim-throttle" "$rd/throttle"
body='act=login&user=demo&password=nori-demo'
out=$(printf '%s' "$body" | env -i REQUEST_METHOD=POST CONTENT_LENGTH=${#body} \
    CONTENT_TYPE=application/x-www-form-urlencoded SCRIPT_NAME=/shop REMOTE_ADDR=192.0.2.7 \
    NORI_RUNDIR="$rd" "$NORI" 2>/dev/null | head -1)
grep -q '^Status: 503' <<<"$out" && pass || fail "login with a planted throttle file: $out"
[ ! -e "$TMP/victim-throttle" ] && pass || fail "the throttle table followed a planted symlink"

rd=$TMP/rd.group
mkdir -p "$rd" && chmod 770 "$rd"
oneshot "$rd"
expect_eq "$RC" 1 "a run directory its group may write is refused"
grep -q 'writable by its group' "$TMP/oneshot" && pass || fail "why: $(head -1 "$TMP/oneshot")"

echo "a symlink planted under RUNDIR/pages is never followed"
# A canary directory (a file, a directory in it) behind symlinks planted
# where the page cache goes: it must survive start, caching and restart,
# with nothing removed and nothing written into it.
canary=$TMP/canary
mkdir -p "$canary/sub/deep" && echo alive > "$canary/file"
canary_ok() {
    [ "$(cat "$canary/file" 2>/dev/null)" = alive ] && [ -d "$canary/sub/deep" ] &&
        [ "$(ls -A "$canary" | wc -l)" = 2 ]
}
rd=$TMP/rd.pages-link
mkdir -p "$rd" && chmod 700 "$rd"
ln -s "$canary" "$rd/pages"
oneshot "$rd"
expect_eq "$RC" 1 "RUNDIR/pages a symlink: refused at start"
grep -q 'pages: not a directory' "$TMP/oneshot" && pass || fail "why: $(head -1 "$TMP/oneshot")"
canary_ok && pass || fail "the canary behind RUNDIR/pages was touched: $(ls -A "$canary")"
rm "$rd/pages"
oneshot "$rd"
expect_eq "$RC" 0 "without the link, the page is served"
g=$(readlink "$rd/pages/current")
[ -f "$rd/pages/$g/shop/pg=Item&id=26.html" ] && pass || fail "the page was not kept"
# The mount directory replaced by a link, a fake old generation holding
# one, and a link posing as a generation; then restarts, same and new.
rm -r "$rd/pages/$g/shop"
ln -s "$canary" "$rd/pages/$g/shop"
mkdir -p "$rd/pages/0123abcd" && ln -s "$canary" "$rd/pages/0123abcd/shop"
ln -s "$canary" "$rd/pages/4567cdef"
oneshot "$rd"
expect_eq "$RC" 0 "a restart with the links planted still serves"
canary_ok && pass || fail "caching wrote through a planted link: $(ls -A "$canary")"
[ ! -e "$rd/pages/0123abcd" ] && pass || fail "the fake old generation was left"
cp "$ROOT/shop/data/catalog.tsv" "$TMP/catalog-canary.tsv"
echo "# another catalog, another generation" >> "$TMP/catalog-canary.tsv"
env -i QUERY_STRING='pg=Item&id=26' SCRIPT_NAME=/shop REQUEST_METHOD=GET \
    NORI_RUNDIR="$rd" NORI_CATALOG="$TMP/catalog-canary.tsv" "$NORI" > "$TMP/oneshot" 2>&1
[ "$(readlink "$rd/pages/current")" != "$g" ] && pass || fail "no new generation"
[ ! -e "$rd/pages/$g" ] && pass || fail "the old generation was left"
canary_ok && pass || fail "removing a generation followed a link: $(ls -A "$canary")"

echo "a mount prefix spelt another way renders nothing and is never kept"
rd=$TMP/rd.prefix
mkdir -p "$rd" && chmod 700 "$rd"
for sn in //shop /shop/ /./shop; do
    out=$(env -i QUERY_STRING='pg=Item&id=26' SCRIPT_NAME="$sn" REQUEST_METHOD=GET \
        NORI_RUNDIR="$rd" "$NORI" 2>/dev/null)
    grep -q '^Status: 404' <<<"$out" && pass || fail "SCRIPT_NAME=$sn: $(head -1 <<<"$out")"
    grep -q "href=\"$sn?" <<<"$out" && fail "SCRIPT_NAME=$sn: links carry it" || pass
done
[ -z "$(find "$rd/pages" -name '*.html')" ] && pass || fail "a page was kept under another spelling"
oneshot "$rd"
page=$rd/pages/$(readlink "$rd/pages/current")/shop/pg=Item\&id=26.html
grep -q 'href="/shop?pg=Category' "$page" && pass || fail "the canonical page was not kept"
cp "$page" "$TMP/kept.html"
for sn in //shop /shop/ /./shop; do
    env -i QUERY_STRING='pg=Item&id=26' SCRIPT_NAME="$sn" REQUEST_METHOD=GET \
        NORI_RUNDIR="$rd" "$NORI" >/dev/null 2>&1 || true
done
cmp -s "$page" "$TMP/kept.html" && pass || fail "another spelling replaced the kept page"

echo "a worker stuck loading its data does not hold the supervisor"
# Two workers. The catalog becomes a FIFO nobody writes: a respawned
# worker blocks opening it. Meanwhile another worker dies: the supervisor
# must reap it while the stuck one is still starting (it used to wait up
# to 10 s for each start, reaping nothing).
cp "$ROOT/shop/data/catalog.tsv" "$TMP/catalog2.tsv"
serve_start --workers 2 NORI_CATALOG="$TMP/catalog2.tsv"
has_two() { [ "$(serve_workers | wc -l)" = 2 ]; }
poll 30 -- has_two || fail "two workers did not start"
read -r a b <<< "$(serve_workers | tr '\n' ' ')"
rm "$TMP/catalog2.tsv"
mkfifo "$TMP/catalog2.tsv"
kill -KILL "$a"
respawned() { serve_workers | grep -vx "$a" | grep -vxq "$b"; }
poll 30 -- respawned || fail "the first dead worker was not respawned"
starting=$(serve_workers | grep -vx "$a" | grep -vx "$b" | head -1)
kill -KILL "$b"
poll 30 -- gone "$b" && pass || fail "a dead worker was not reaped"
alive "$starting" && pass || fail "the supervisor waited for a starting worker before reaping"
kill -TERM "$SPID"; wait "$SPID" || true
rm -f "$TMP/catalog2.tsv"

finish
