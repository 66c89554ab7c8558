#!/usr/bin/env bash
# valgrind.sh -- `make valgrind`: the unit tests, then a flow through
# `nori serve` behind lighttpd, every process under memcheck. Each process
# (libcheck's forked tests and nori serve's workers included) writes its
# own log; every log that reached its end must say "ERROR SUMMARY: 0
# errors", where definite leaks count as errors. A process that exec'd
# something else (system(3) in a test) leaves a log without a summary,
# which is not counted.
source "$(dirname "$0")/integration/lib.sh"

VG=$TMP/vg
mkdir -p "$VG"
VALGRIND=(valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
          --show-leak-kinds=definite --track-fds=no --child-silent-after-fork=no)

# check_logs NAME: every finished log under $VG/NAME.* is clean.
check_logs() {
    local f n=0
    for f in "$VG/$1".*; do
        grep -q 'ERROR SUMMARY' "$f" || continue
        n=$((n + 1))
        if grep -q 'ERROR SUMMARY: 0 errors' "$f"; then pass
        else fail "$1: memcheck found errors, see below"; cat "$f" >&2; fi
    done
    [ "$n" -gt 0 ] && pass || fail "$1: no memcheck log reached its summary"
    echo "  $1: $n processes checked"
}

echo "unit tests under memcheck"
for t in "$ROOT"/build/test_*; do
    name=$(basename "$t")
    rc=0
    # memcheck is some 20 times slower: libcheck's timeouts must allow it.
    CK_TIMEOUT_MULTIPLIER=20 "${VALGRIND[@]}" --log-file="$VG/$name.%p" "$t" \
        > "$TMP/$name.out" 2>&1 || rc=$?
    expect_eq "$rc" 0 "$name under memcheck"
    [ "$rc" = 0 ] || tail -20 "$TMP/$name.out" >&2
    check_logs "$name"
done

echo "nori serve under memcheck, behind lighttpd"
# NORI_SANDBOX=off: valgrind does not implement seccomp(2) (it warns of an
# unhandled system call 317), and a filter would also judge its own calls.
env NORI_RUNDIR="$TMP" NORI_SYNC=none NORI_LOGIN_FAILURES=3 NORI_SANDBOX=off \
    "${VALGRIND[@]}" --log-file="$VG/serve.%p" "$NORI" serve --listen "unix:$SOCK" \
    --workers 2 2>>"$TMP/serve.log" &
SPID=$!
track "$SPID"
poll -- test -S "$SOCK" || { cat "$TMP/serve.log" >&2; fail "nori serve did not start"; exit 1; }
lighttpd_with deploy/lighttpd/lighttpd-external.conf

# Every path a request can take: pages, errors, actions, sessions made,
# read, rotated at login and ended at logout, throttled logins.
smoke "memcheck"
get 200 '/shop?pg=Category&id=1&page=1' "a category"
get 200 '/shop?pg=Search&q=salmon' "a search"
get 404 '/shop?pg=Nope' "an unknown page"
get 400 '/shop?pg=Item&id=%zz' "a bad escape"
get 414 "/shop?q=$(head -c 3000 /dev/zero | tr '\0' a)" "a long query"
req -X PUT /shop; expect_status 405 "PUT"
req -H 'Content-Type: text/plain' --data 'x' /shop; expect_status 415 "not a form"
rm -f "$TMP/jar"
req -c "$TMP/jar" -b "$TMP/jar" --data 'act=inc' /shop; expect_status 303 "counter ++"
req -b "$TMP/jar" "$(header Location)"; expect_status 200 "the counter, with its session"
k=$(grep -o 'name="_k" value="[^"]*"' "$TMP/b" | head -1 | sed 's/.*value="//; s/"$//')
s=$(grep -o 'name="_s" value="[^"]*"' "$TMP/b" | head -1 | sed 's/.*value="//; s/"$//')
req -c "$TMP/jar" -b "$TMP/jar" --data "act=login&user=demo&password=nori-demo&_s=$s&_k=$k" /shop
expect_status 303 "login on the session"
req -b "$TMP/jar" "$(header Location)"; expect_status 200 "home, logged in"
k=$(grep -o 'name="_k" value="[^"]*"' "$TMP/b" | head -1 | sed 's/.*value="//; s/"$//')
s=$(grep -o 'name="_s" value="[^"]*"' "$TMP/b" | head -1 | sed 's/.*value="//; s/"$//')
req -b "$TMP/jar" --data "act=logout&_s=$s&_k=$k" /shop; expect_status 303 "logout"
for i in 1 2 3; do
    req --data "act=login&user=demo&password=wrong$i" /shop; expect_status 200 "failed login $i"
done
req --data 'act=login&user=demo&password=wrong4' /shop; expect_status 429 "throttled"
get 200 /shop/nori-status "the status JSON"

srv_stop
kill -TERM "$SPID"
rc=0
wait "$SPID" || rc=$?
SPID=
expect_eq "$rc" 0 "nori serve under memcheck exits 0"
grep -q 'worker exited' "$TMP/serve.log" && { fail "a worker exited badly"; cat "$TMP/serve.log" >&2; } || pass
check_logs serve

finish
