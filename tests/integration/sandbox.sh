#!/usr/bin/env bash
# sandbox.sh -- a worker confines itself (seccomp) once it holds what it
# serves from. A test-only application (tests/apps/sandbox-probe.c) has a
# page for each call an attacker would make: execve and an outbound
# socket end the worker, logged, and nori serve starts another, while
# the request gets a 5xx from lighttpd rather than a hang; a harmless
# call nobody listed fails with ENOSYS, logged, and the worker lives on.
# NORI_SANDBOX=off (and what every build before it did) lets them all
# through, which is what proves the probe.
source "$(dirname "$0")/lib.sh"

make -s -C "$ROOT" build/sandbox-probe >"$TMP/make.log" 2>&1 && pass ||
    { fail "the probe does not build"; cat "$TMP/make.log" >&2; finish; exit 1; }
NORI=$ROOT/build/sandbox-probe      # what serve_start runs
worker() { pgrep -P "$SPID" | head -1; }
seccomp() { awk '$1 == "Seccomp:" {print $2}' "/proc/$1/status"; }
is_5xx() { [[ $STATUS == 5[0-9][0-9] ]]; }
ok_again() { req '/shop?pg=Ok'; [ "$STATUS" = 200 ] && [ -n "$(worker)" ]; }
other_worker() { local w; w=$(worker); [ -n "$w" ] && [ "$w" != "$1" ]; }

# probe MODE: the probe under nori serve (one worker, a memory store)
# behind lighttpd's external config.
probe() {
    serve_start NORI_STORE=memory NORI_SANDBOX="$1" --workers 1
    lighttpd_with deploy/lighttpd/lighttpd-external.conf
}
stop() { srv_stop; kill -TERM "$SPID"; wait "$SPID" || true; }

echo "sandbox on (the default)"
probe on
get 200 '/shop?pg=Ok' "a page"
w=$(worker)
expect_eq "$(seccomp "$w")" 2 "the worker runs under a seccomp filter"

req '/shop?pg=Unlisted'
expect_status 200 "an unlisted call is survived"
expect_body 'getpriority: -1 Function not implemented' "it failed with ENOSYS"
grep -q "worker $w: refused system call" "$TMP/serve.log" && pass || fail "the refused call was not logged"
expect_eq "$(worker)" "$w" "the same worker"

for call in execve:Exec socket:Socket; do
    name=${call%%:*} page=${call#*:}
    w=$(worker)
    req --max-time 60 "/shop?pg=$page"
    is_5xx && pass || fail "$name: $STATUS, not a 5xx"
    grep -q "worker $w: forbidden system call [0-9]* ($name): the worker ends" "$TMP/serve.log" &&
        pass || fail "$name: not logged"
    poll -- other_worker "$w" && pass || fail "$name: no new worker"
    poll -- ok_again && pass || fail "$name: not served again"
done
stop

echo "NORI_SANDBOX=net: connections out are allowed, programs still are not"
: > "$TMP/serve.log"
probe net
req '/shop?pg=Socket'
expect_status 200 "a socket under net"
expect_body 'connect: -1 Connection refused' "it reached the port"
req --max-time 60 '/shop?pg=Exec'
is_5xx && pass || fail "execve under net: $STATUS"
grep -q '(execve): the worker ends' "$TMP/serve.log" && pass || fail "execve under net: not logged"
stop

echo "NORI_SANDBOX=off: no filter, every call goes through"
: > "$TMP/serve.log"
probe off
get 200 '/shop?pg=Ok' "a page"
expect_eq "$(seccomp "$(worker)")" 0 "no filter"
for page in Exec Socket Unlisted; do
    get 200 "/shop?pg=$page" "$page without a sandbox"
done
expect_body 'getpriority: 0 ok' "getpriority ran"
grep -q 'sandbox' "$TMP/serve.log" && fail "off still logged: $(grep sandbox "$TMP/serve.log" | head -1)" || pass
stop

finish
