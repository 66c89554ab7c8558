#!/usr/bin/env bash
# adds.sh -- a burst of add-to-carts (issue 22): every request an
# anonymous add that creates a session and commits it, at wrk -c50,
# behind one lighttpd, in one run:
#   nori serve --workers 8, NORI_SYNC=fsync (durable before the answer,
#     group commit), and the same with NORI_SYNC=background (opt-in);
#   the commit floor (bench/commit-floor.c, 8 processes): one LMDB
#     write transaction, fsynced, per request;
#   PHP-FPM (8 static children), session_start() + a $_SESSION write,
#     the files handler: no fsync, not durable;
#   nori serve --workers 8 on the Redis store, one redis-server with
#     appendonly yes and appendfsync always (fsynced on that node before
#     Redis answers), one with appendfsync everysec (up to a second of
#     acknowledged commits lost if the node loses power), NORI_REDIS_WAIT=0.
# Then nori's lazy read rate (Item pages) against the 5 % and 20 % add
# mixes, and the p99 latency of an add (wrk --latency). Medians of
# BENCH_ROUNDS interleaved rounds.
#
#   BENCH_SECONDS (10), BENCH_ROUNDS (3)
#   BENCH_OUT (build/bench)   adds.txt (the tables) and adds.dat, which
#                             bench/table.sh adds to the bench table and plot
source "$(dirname "$0")/lib.sh"
TMP=$DIR
track() { PIDS+=("$1"); }
fail() { echo "bench: $*" >&2; exit 1; }
source "$ROOT/tests/integration/redis-lib.sh"
OUT=${BENCH_OUT:-$ROOT/build/bench}
mkdir -p "$OUT"

NORI=$ROOT/build/nori
WRK="wrk -t1 -c50 -d${SECONDS_EACH}s --latency --timeout 10s"
PHPFPM=$(command -v php-fpm php-fpm8.2 php-fpm8.3 php-fpm8.4 /usr/sbin/php-fpm* 2>/dev/null | head -1 || true)
[ -n "$PHPFPM" ] || { echo "bench: no php-fpm (make deps installs it)" >&2; exit 1; }
PIDS=()
adds_cleanup() {
    local p
    for p in ${PIDS[@]+"${PIDS[@]}"}; do kill -TERM "$p" 2>/dev/null || true; done
    for p in ${PIDS[@]+"${PIDS[@]}"}; do wait "$p" 2>/dev/null || true; done
    bench_cleanup
}
trap adds_cleanup EXIT

# The per-address cap on new sessions would throttle a benchmark whose
# every request comes from 127.0.0.1 and makes a session: off here.
export NORI_NEW_SESSIONS_PER_MIN=0
mkdir -p "$DIR/rates" "$DIR/www" "$DIR/php-sessions"
serve() {   # serve NAME VAR=value...: nori serve, 8 workers, on DIR/NAME.sock
    local name=$1; shift
    env "$@" NORI_PAGE_CACHE=off NORI_RUNDIR="$DIR/$name" "$NORI" serve \
        --listen "unix:$DIR/$name.sock" --workers 8 2>>"$DIR/serve.log" &
    PIDS+=($!)
}
serve fsync NORI_SYNC=fsync
serve bg NORI_SYNC=background NORI_SYNC_MS=100
# Two Redis servers, one per appendfsync policy (redis_start sets RPORT).
redis_start --appendonly yes --appendfsync always --appenddirname aof-always
serve redis_always NORI_STORE=redis://127.0.0.1:$RPORT NORI_REDIS_WAIT=0
redis_start --appendonly yes --appendfsync everysec --appenddirname aof-everysec
serve redis_everysec NORI_STORE=redis://127.0.0.1:$RPORT NORI_REDIS_WAIT=0

cat > "$DIR/www/add.php" <<'PHP'
<?php
session_start();
$_SESSION['cart'][26] = ($_SESSION['cart'][26] ?? 0) + 1;
header('Location: /add.php?pg=Cart', true, 303);
PHP
cat > "$DIR/php-fpm.conf" <<CONF
[global]
error_log = $DIR/php-fpm.log
daemonize = no
[bench]
listen = $DIR/php.sock
pm = static
pm.max_children = 8
php_admin_value[session.save_handler] = files
php_admin_value[session.save_path] = $DIR/php-sessions
; Debian's php.ini: expired files are swept by cron, not by requests
php_admin_value[session.gc_probability] = 0
CONF
# Debian's php.ini and conf.d (opcache) as installed; root needs -R.
"$PHPFPM" -R -F -y "$DIR/php-fpm.conf" 2>>"$DIR/php-fpm.log" &
PIDS+=($!)

PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
cat > "$DIR/lighttpd.conf" <<CONF
server.modules += ( "mod_fastcgi" )
server.bind = "127.0.0.1"
server.port = $PORT
server.document-root = "$DIR/www"
server.max-connections = 1024
fastcgi.server = (
  "/shop" => (( "socket" => "$DIR/fsync.sock", "check-local" => "disable" )),
  "/bg" => (( "socket" => "$DIR/bg.sock", "check-local" => "disable" )),
  "/ra" => (( "socket" => "$DIR/redis_always.sock", "check-local" => "disable" )),
  "/re" => (( "socket" => "$DIR/redis_everysec.sock", "check-local" => "disable" )),
  "/commit" => ((
    "bin-path" => "$ROOT/build/commit-floor", "socket" => "$DIR/commit.sock",
    "max-procs" => 8, "min-procs" => 8, "check-local" => "disable",
    "bin-environment" => ( "FLOOR_STORE" => "$DIR/commit-store", "FLOOR_BYTES" => "64" ),
  )),
  ".php" => (( "socket" => "$DIR/php.sock", "check-local" => "disable" )),
)
CONF
for i in $(seq 1 200); do [ -S "$DIR/fsync.sock" ] && [ -S "$DIR/bg.sock" ] && [ -S "$DIR/php.sock" ] && [ -S "$DIR/redis_always.sock" ] && [ -S "$DIR/redis_everysec.sock" ] && break; sleep 0.05; done
lighttpd -D -f "$DIR/lighttpd.conf" 2>"$DIR/error.log" &
LPID=$!
code=
for i in $(seq 1 200); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/shop?pg=Item&id=26" || true)
    [ "$code" = 200 ] && break
    sleep 0.05
done
for u in /shop /bg /ra /re /add.php; do
    c=$(curl -s -o /dev/null -w '%{http_code}' --data 'act=add&id=26&qty=1' "$BASE$u" || true)
    [ "$c" = 303 ] || { echo "bench: an add to $u answers $c" >&2; tail "$DIR"/*.log >&2; exit 1; }
done
c=$(curl -s -o /dev/null -w '%{http_code}' --data 'x' "$BASE/commit")
[ "$c" = 200 ] || { echo "bench: /commit answers $c" >&2; exit 1; }

# adds NAME PREFIX PERCENT: one wrk run; its p99 kept beside its rate.
adds() {
    local name=$1 out
    out=$(ADD_PERCENT=$3 ADD_PREFIX=$2 $WRK -s "$ROOT/bench/adds.lua" "$BASE$2")
    if echo "$out" | grep -Eq 'Non-2xx|Socket errors'; then
        echo "bench: $name: $(echo "$out" | grep -E 'Non-2xx|Socket errors')" >&2
        exit 1
    fi
    echo "$out" | awk '/Requests\/sec/ {print $2}' >> "$DIR/rates/$name"
    echo "$out" | awk '$1 == "99%" {v = $2; if (v ~ /us$/) v = v / 1000; else if (v ~ /ms$/) v = v + 0; else if (v ~ /s$/) v = v * 1000; print v}' >> "$DIR/rates/$name.p99"
}
p99() { sort -g "$DIR/rates/$1.p99" | awk '{a[NR] = $1} END {printf "%.1f", a[int((NR + 1) / 2)]}'; }

adds warm /shop 100 > /dev/null; : > "$DIR/rates/warm"
for r in $(seq 1 "$ROUNDS"); do
    adds nori /shop 100
    adds floor /commit 100
    adds php /add.php 100
    adds bg /bg 100
    adds ra /ra 100
    adds re /re 100
    adds read /shop 0
    adds mix5 /shop 5
    adds mix20 /shop 20
done

n=$(median nori) f=$(median floor) p=$(median php) b=$(median bg) ra=$(median ra) re=$(median re)
rd=$(median read) m5=$(median mix5) m20=$(median mix20)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
{
echo "adds: every request a new session, committed, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores $(uname -m)," \
     "$(lighttpd -v 2>&1 | head -1 | cut -d' ' -f1), $("$PHPFPM" -v | head -1 | cut -d' ' -f1-2)," \
     "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$ROUNDS interleaved rounds, medians; $WRK, bench/adds.lua; nori serve --workers 8; NORI_NEW_SESSIONS_PER_MIN=0"
printf '%-58s %9s %8s  %s\n' candidate "adds/s" "p99 ms" "durable before the answer"
printf '%-58s %9s %8s  %s\n' "nori, LMDB, NORI_SYNC=fsync (group commit)" "$n" "$(p99 nori)" "yes: its batch fdatasync'd first"
printf '%-58s %9s %8s  %s\n' "commit floor: libfcgi + 1 LMDB txn/request, 8 procs" "$f" "$(p99 floor)" "yes: fdatasync'd, a sync a request"
printf '%-58s %9s %8s  %s\n' "PHP-FPM 8 children, session_start + files handler" "$p" "$(p99 php)" "no: never fsynced (kernel writeback, ~30 s)"
printf '%-58s %9s %8s  %s\n' "nori, NORI_SYNC=background NORI_SYNC_MS=100" "$b" "$(p99 bg)" "no: ~100 ms lost to a power failure"
printf '%-58s %9s %8s  %s\n' "nori, Redis, appendfsync always, NORI_REDIS_WAIT=0" "$ra" "$(p99 ra)" "yes, on the Redis node: AOF fsynced before its reply"
printf '%-58s %9s %8s  %s\n' "nori, Redis, appendfsync everysec, NORI_REDIS_WAIT=0" "$re" "$(p99 re)" "no: ~1 s (2 s, disk busy) lost to a power failure"
echo "nori/floor $(ratio "$n" "$f") (goal >= 3)   nori/php $(ratio "$n" "$p") (goal >= 1)   background/fsync $(ratio "$b" "$n")"
# The goal is every round, not the median: the floor of the same round
# ran on the same disk a few seconds apart, so the noise mostly cancels.
echo "nori/floor each round: $(paste -d' ' "$DIR/rates/nori" "$DIR/rates/floor" |
    awk '{printf "%s%.2f", (NR > 1 ? " " : ""), $2 ? $1 / $2 : 0}')"
echo
printf '%-58s %9s %8s\n' "nori, fsync, mixes" "req/s" "of read"
printf '%-58s %9s %8s\n' "lazy read: Item pages only" "$rd" 1.00
printf '%-58s %9s %8s\n' "5 % adds (new sessions), 95 % Item" "$m5" "$(ratio "$m5" "$rd")"
printf '%-58s %9s %8s\n' "20 % adds (new sessions), 80 % Item" "$m20" "$(ratio "$m20" "$rd")"
for k in nori floor php bg ra re read mix5 mix20; do printf '%s rounds: %s\n' "$k" "$(tr '\n' ' ' < "$DIR/rates/$k")"; done
} | tee "$OUT/adds.txt"
# For the plot: one bar a candidate, adds/s and p99; then the mixes.
{
    echo "# candidate adds/s p99_ms"
    echo "\"nori fsync\" $n $(p99 nori)"
    echo "\"floor\" $f $(p99 floor)"
    echo "\"PHP-FPM files\" $p $(p99 php)"
    echo "\"nori background\" $b $(p99 bg)"
    echo "\"Redis always\" $ra $(p99 ra)"
    echo "\"Redis everysec\" $re $(p99 re)"
    # The mixes: req/s of nori fsync, Item pages with that share of adds.
    echo "\"Item pages only\" $rd $(p99 read)"
    echo "\"5 % adds\" $m5 $(p99 mix5)"
    echo "\"20 % adds\" $m20 $(p99 mix20)"
} > "$OUT/adds.dat"
echo "adds: $OUT/adds.txt, $OUT/adds.dat"

