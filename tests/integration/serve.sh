#!/usr/bin/env bash
# serve.sh -- `nori serve`, the prefork supervisor, behind lighttpd with
# deploy/lighttpd/lighttpd-external.conf: the smoke flow, a refused
# second start, a worker killed under load, a reload under load, worker
# recycling, a drain that lets the request in hand finish, and an upgrade:
# SIGHUP re-executes the new binary at its path, under load, losing no
# request, and a broken binary there is refused.
source "$(dirname "$0")/lib.sh"

serve_workers() { live $(pgrep -P "$SPID" || true); }
n_serve_workers() { serve_workers | wc -l; }
has_serve_workers() { [ "$(n_serve_workers)" = "$1" ]; }
lighttpd_start() { lighttpd_with deploy/lighttpd/lighttpd-external.conf; }
# load SECONDS NAME: wrk on the Item page, its report kept as NAME;
# errors_in NAME: its non-2xx/3xx answers and socket errors, summed.
load() {
    wrk -t1 -c8 -d"$1"s "$BASE/shop?pg=Item&id=26" > "$TMP/wrk.$2" 2>&1
}
errors_in() {
    awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$TMP/wrk.$1"
}

serve_start
lighttpd_start

echo "smoke"
smoke "nori serve"
poll -- has_serve_workers 4 || true
expect_eq "$(n_serve_workers)" 4 "4 workers"

echo "a second start is refused"
out=$(NORI_RUNDIR=$TMP "$NORI" serve --listen "unix:$SOCK" --workers 1 2>&1 && echo "rc=0" || echo "rc=$?")
grep -q 'already in use' <<<"$out" && pass || fail "second start: $out"
grep -q 'rc=0' <<<"$out" && fail "second start succeeded" || pass
get 200 '/shop?pg=Item&id=26' "the first one still serves"

echo "kill -9 of a worker under load"
load 4 kill &
wpid=$!
sleep 1
victim=$(serve_workers | sed -n 1p)
kill -KILL "$victim"
wait "$wpid"
echo "  errors while a worker died: $(errors_in kill) (the request it held, at most)"
[ "$(errors_in kill)" -le 1 ] && pass || fail "kill -9 cost $(errors_in kill) requests"
poll -- has_serve_workers 4 && pass || fail "the dead worker was not replaced: $(n_serve_workers) workers"
alive "$victim" && fail "victim still alive" || pass
load 2 after
expect_eq "$(errors_in after)" 0 "no error after the respawn"

echo "SIGHUP under load"
before=$(serve_workers | sort | tr '\n' ' ')
load 4 hup &
wpid=$!
sleep 1
kill -HUP "$SPID"
wait "$wpid"
# The reload replaces workers one at a time; on a busy machine it may
# outlast the load.
poll -- grep -q 'reloaded 4 workers' "$TMP/serve.log" || true
poll -- has_serve_workers 4 || true
after=$(serve_workers | sort | tr '\n' ' ')
expect_eq "$(errors_in hup)" 0 "no request refused during a reload"
[ "$before" != "$after" ] && pass || fail "workers were not replaced on SIGHUP"
grep -q 'reloaded 4 workers' "$TMP/serve.log" && pass || fail "reload not logged"
expect_eq "$(serve_workers | wc -l)" 4 "4 workers after the reload"

echo "SIGTERM drains the request in hand"
# A POST whose body is held back until the connection is in a worker's
# hands: the worker is inside the request when the supervisor is told to
# stop; the action still happens.
mkfifo "$TMP/body"
env -i REQUEST_METHOD=POST CONTENT_LENGTH=7 \
    CONTENT_TYPE=application/x-www-form-urlencoded SCRIPT_NAME=/shop QUERY_STRING= \
    cgi-fcgi -bind -connect "$SOCK" < "$TMP/body" > "$TMP/slow.out" 2>&1 &
cpid=$!
exec 7>"$TMP/body"
connected() { ss -xnH state established 2>/dev/null | grep -qF "$SOCK"; }
poll -- connected || fail "the slow client never connected"
kill -TERM "$SPID"
printf 'act=inc' >&7
exec 7>&-
wait "$cpid" || true
head -1 "$TMP/slow.out" | grep -q '^Status: 303' && pass || fail "request in hand: $(head -1 "$TMP/slow.out")"
status=0
wait "$SPID" || status=$?
expect_eq "$status" 0 "nori serve exits 0 after draining"
[ -e "$SOCK" ] && fail "socket left behind" || pass
left=$(pgrep -f "$NORI serve --listen unix:$SOCK" || true)
[ -z "$left" ] && pass || fail "processes left: $left"

echo "recycling with --max-requests"
serve_start --max-requests 50
first=$(serve_workers | sort | tr '\n' ' ')
for i in $(seq 1 300); do curl -s -o /dev/null "$BASE/shop?pg=Item&id=26"; done
get 200 '/shop?pg=Item&id=26' "after recycling"
now=$(serve_workers | sort | tr '\n' ' ')
[ "$first" != "$now" ] && pass || fail "no worker was recycled after 300 requests"
expect_eq "$(serve_workers | wc -l)" 4 "4 workers after recycling"
kill -TERM "$SPID"; wait "$SPID" || true

echo "SIGHUP re-reads the catalog; a broken one is refused"
cp "$ROOT/shop/data/catalog.tsv" "$TMP/catalog.tsv"
serve_start NORI_CATALOG="$TMP/catalog.tsv"
get 200 '/shop?pg=Item&id=26' "before the reload"
expect_no_body 'Chef.s special' "the old name"
sed -i 's/^I\t26\t\([0-9]*\)\t[^\t]*\t/I\t26\t\1\tChef'"'"'s special\t/' "$TMP/catalog.tsv"
kill -HUP "$SPID"
reloaded_twice() { [ "$(grep -c 'reloaded 4 workers' "$TMP/serve.log")" -ge 2 ]; }
poll -- reloaded_twice || fail "the second reload was not logged"
get 200 '/shop?pg=Item&id=26' "after the reload"
expect_body 'Chef&#39;s special' "the new name is served"
echo "broken line" >> "$TMP/catalog.tsv"
kill -HUP "$SPID"
poll -- grep -q 'reload refused' "$TMP/serve.log" || true
grep -q 'reload refused' "$TMP/serve.log" && pass || fail "a broken catalog was not refused"
get 200 '/shop?pg=Item&id=26' "a refused reload keeps serving"
expect_body 'Chef&#39;s special' "with the data it had"
kill -TERM "$SPID"; wait "$SPID" || true

echo "SIGHUP loads the new binary at its path, under load"
# An upgrade: make install renames a new build over the binary nori
# serve was started from. The new build here is the same code with
# another build id, linked in a second; the env gives both the catalog.
mkdir -p "$TMP/bin"
cp "$NORI" "$TMP/bin/nori"
# Linked from the internal archive: the installed one keeps its own
# nori_build_id, which this one replaces.
printf 'const char nori_build_id[] = "0123456789abcdef";\n' > "$TMP/build_id.c"
cc -c "$TMP/build_id.c" -o "$TMP/build_id.o"
cc -std=c11 -D_GNU_SOURCE -I"$ROOT/include" "$ROOT/shop/main.c" "$TMP/build_id.o" \
    "$ROOT/build/libshop.a" "$ROOT/build/libnori-internal.a" $(make -s -C "$ROOT" --eval 'print-ldlibs: ; @echo $(LDLIBS)' print-ldlibs) \
    -o "$TMP/nori.new" && pass || fail "linking a new build"
build_of() { curl -s --max-time 10 "$BASE/nori-status" | sed -n 's/.*"build": "\([0-9a-f]*\)".*/\1/p'; }
NORI=$TMP/bin/nori serve_start NORI_CATALOG="$ROOT/shop/data/catalog.tsv" NORI_USERS="$ROOT/shop/data/users"
wait_200 "$BASE/shop?pg=Item&id=26" || fail "the copied binary does not serve"
old_build=$(build_of)
[ -n "$old_build" ] && [ "$old_build" != 0123456789abcdef ] && pass || fail "/nori-status names no build: '$old_build'"
rm -f "$TMP/stop-load"
( for i in $(seq 1 3000); do
      [ -e "$TMP/stop-load" ] && break
      curl -s -o /dev/null --max-time 20 -w '%{http_code}\n' "$BASE/shop?pg=Item&id=26"
  done > "$TMP/upgrade.codes" ) &
lpid=$!
# The load runs from before the SIGHUP until after the last old worker
# was replaced, by at least 50 requests either side.
answered() { [ "$(wc -l < "$TMP/upgrade.codes")" -ge "$1" ]; }
poll -- answered 50 || true
mv -f "$TMP/nori.new" "$TMP/bin/nori"
hup_at=$SECONDS
kill -HUP "$SPID"
new_build() { [ "$(build_of)" = 0123456789abcdef ]; }
poll -- new_build && pass || fail "the workers do not answer as the new build: $(build_of)"
echo "  the new build answered $((SECONDS - hup_at)) s after SIGHUP"
"$TMP/bin/nori" --version | grep -q "build $(build_of))" && pass \
    || fail "/nori-status and --version disagree: $(build_of), $("$TMP/bin/nori" --version)"
reexec_done() { grep -q 're-executed' "$TMP/serve.log" && [ "$(grep -c 'reloaded 4 workers' "$TMP/serve.log")" -ge 3 ]; }
poll -- reexec_done && pass || fail "the re-executed supervisor did not replace its 4 workers"
poll -- has_serve_workers 4 || true
poll -- answered $(($(wc -l < "$TMP/upgrade.codes") + 50)) || true
touch "$TMP/stop-load"
wait "$lpid" || true
echo "  $(wc -l < "$TMP/upgrade.codes") requests across the upgrade"
expect_eq "$(grep -vc '^200$' "$TMP/upgrade.codes" || true)" 0 \
    "failed requests across the upgrade, of $(wc -l < "$TMP/upgrade.codes")"
alive "$SPID" && pass || fail "the supervisor is gone"
exe_new() { local p; for p in "$SPID" $(serve_workers); do
    [ "$(readlink "/proc/$p/exe")" = "$TMP/bin/nori" ] || return 1; done; }
exe_new && pass || fail "a process still runs the replaced file: $(for p in "$SPID" $(serve_workers); do readlink "/proc/$p/exe"; done | sort | uniq -c)"
echo "  a broken binary at the path is refused, the old one keeps serving"
printf '#!/bin/sh\necho "nori: not a nori" >&2\nexit 1\n' > "$TMP/broken"
chmod 755 "$TMP/broken"
cp "$TMP/bin/nori" "$TMP/nori.good"
mv -f "$TMP/broken" "$TMP/bin/nori"
kill -HUP "$SPID"
poll -- grep -q 'reload refused, workers keep the old binary' "$TMP/serve.log" && pass \
    || fail "a broken binary was not refused"
alive "$SPID" && pass || fail "a broken binary took the supervisor down"
get 200 '/shop?pg=Item&id=26' "a refused upgrade keeps serving"
expect_eq "$(build_of)" 0123456789abcdef "with the build it had"
kill -TERM "$SPID"; wait "$SPID" && pass || fail "the re-executed nori serve did not exit 0"

echo "TCP, and FCGI_WEB_SERVER_ADDRS"
tcp_get() {
    env -i QUERY_STRING='pg=Item&id=26' SCRIPT_NAME=/shop REQUEST_METHOD=GET \
        cgi-fcgi -bind -connect "127.0.0.1:$TPORT" 2>/dev/null | head -1 || true
}
tcp_answers() { [ -n "$(tcp_get)" ]; }
serve_tcp FCGI_WEB_SERVER_ADDRS=127.0.0.1
SPID=$TPID
poll -- tcp_answers || true
tcp_get | grep -q '^Status: 200' && pass || fail "TCP from an allowed address"
kill -TERM "$SPID"; wait "$SPID" || true
serve_tcp FCGI_WEB_SERVER_ADDRS=192.0.2.1
SPID=$TPID
tcp_listening && pass || fail "nori serve is not listening on TCP"
tcp_get | grep -q '^Status: 200' && fail "a web server not in FCGI_WEB_SERVER_ADDRS was served" || pass
kill -TERM "$SPID"; wait "$SPID" || true

finish
