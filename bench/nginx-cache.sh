#!/usr/bin/env bash
# nginx-cache.sh -- the page cache behind nginx, the two ways issue 11
# names, in one nginx, one run: the shipped deploy/nginx/nginx.conf
# (try_files: nginx serves nori's kept file from RUNDIR/pages/current,
# found by the query), a fastcgi_cache of nori's answers keyed by the
# generation (the realpath of current) and the query (only for the URLs
# nori keeps, so the same requests are cached), the Item page with no
# cache (nginx -> nori serve), and the same bytes as a plain static file
# from the same nginx. 4 workers.
#
#   BENCH_SECONDS (10), BENCH_ROUNDS (3)
source "$(dirname "$0")/lib.sh"

NORI=$ROOT/build/nori
SPID= NPID=
nc_cleanup() {
    local p
    for p in $NPID $SPID; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $NPID $SPID; do wait "$p" 2>/dev/null || true; done
    bench_cleanup
}
trap nc_cleanup EXIT

chmod 755 "$DIR"                    # nginx's worker runs as nobody
SOCK=$DIR/nori.sock
mkdir -p "$DIR/run" "$DIR/nginx" "$DIR/static" "$DIR/fcache" "$DIR/rates"
chmod 755 "$DIR/run"
NORI_RUNDIR=$DIR/run "$NORI" serve --listen "unix:$SOCK" --workers 4 --socket-mode 0666 \
    2>"$DIR/serve.log" &
SPID=$!
for i in $(seq 1 200); do [ -S "$SOCK" ] && break; sleep 0.05; done

# The shipped config, with three more locations in its server: /direct
# (always nori), /fcache (fastcgi_cache) and /same.html (a static file).
PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
sed -e "s|@PORT@|$PORT|g; s|@SOCKET@|$SOCK|g; s|@HOME@|$ROOT|g" \
    -e "s|@RUNDIR@|$DIR/nginx|g; s|@PAGES@|$DIR/run/pages|g" \
    "$ROOT/deploy/nginx/nginx.conf" > "$DIR/nginx/nginx.conf"
cat > "$DIR/extra.conf" <<EOF
        location = /direct {
            fastcgi_param SCRIPT_NAME /shop;
            fastcgi_param PATH_INFO "";
            include /etc/nginx/fastcgi_params;
            fastcgi_keep_conn on;
            fastcgi_pass nori;
        }
        location = /fcache {
            root $DIR/run/pages/current;
            set \$nori_fgen "";
            set \$nori_fskip 1;
            if (-f $DIR/run/pages/current/shop/\$nori_key.html) {
                set \$nori_fgen \$nori_realpath;
                set \$nori_fskip 0;
            }
            fastcgi_cache noripages;
            fastcgi_cache_key "\$nori_fgen|\$request_method|\$args";
            fastcgi_cache_bypass \$nori_fskip;
            fastcgi_no_cache \$nori_fskip;
            fastcgi_param SCRIPT_NAME /shop;
            fastcgi_param PATH_INFO "";
            include /etc/nginx/fastcgi_params;
            fastcgi_keep_conn on;
            fastcgi_pass nori;
        }
        location = /same.html {
            root $DIR/static;
        }
EOF
awk -v extra="$DIR/extra.conf" -v cpath="$DIR/fcache" '
    /^http \{/ { print; print "    fastcgi_cache_path " cpath " levels=1:2 keys_zone=noripages:10m;"
                 print "    map $realpath_root $nori_realpath { \"~^(?<nori_r>/.*)$\" $nori_r; }"; next }
    /^        location = \/shop \{/ { while ((getline l < extra) > 0) print l }
    { print }' "$DIR/nginx/nginx.conf" > "$DIR/nginx/bench.conf"
nginx -p "$DIR/nginx" -c "$DIR/nginx/bench.conf" -g 'daemon off;' 2>>"$DIR/nginx.err" &
NPID=$!
up() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ]; }
for i in $(seq 1 200); do up "$BASE$ITEM" && break; sleep 0.05; done
up "$BASE$ITEM" || { echo "bench: nginx does not answer" >&2; cat "$DIR/nginx.err" "$DIR/serve.log" >&2; exit 1; }
kept=$DIR/run/pages/current/shop/pg=Item\&id=26.html
[ -f "$kept" ] || { echo "bench: nori kept no Item page" >&2; exit 1; }
cp "$kept" "$DIR/static/same.html"
chmod 644 "$DIR/static/same.html"

# Each candidate answers the same bytes, and the cached ones without nori.
nori_requests() { curl -s "$BASE/nori-status" | grep -o '"requests": [0-9]*' | grep -o '[0-9]*$'; }
for u in "$ITEM" "/fcache?pg=Item&id=26" /same.html "/direct?pg=Item&id=26"; do
    curl -s -o "$DIR/body" "$BASE$u"
    cmp -s "$DIR/body" "$kept" || { echo "bench: $u: not the Item page's bytes" >&2; exit 1; }
done
n0=$(nori_requests)
curl -s -o /dev/null "$BASE$ITEM"
curl -s -o /dev/null "$BASE/fcache?pg=Item&id=26"
n1=$(nori_requests)
[ "$n1" = "$n0" ] || { echo "bench: a cached answer reached nori ($n0 -> $n1)" >&2; exit 1; }

# The servers' CPU time a request (nginx's worker and nori's workers,
# from /proc): on a shared machine, where the rates move with whatever
# else runs, this is the steadier figure.
# nori serve replaces a worker after NORI_MAX_REQUESTS: a reaped one's
# time is in the supervisor's cutime and cstime.
HZ=$(getconf CLK_TCK)
ticks() {
    local p t=0 v
    for p in $(pgrep -P "$NPID") $(pgrep -P "$SPID"); do
        v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null) || v=0
        t=$((t + ${v:-0}))
    done
    echo $((t + $(awk '{print $16 + $17}' "/proc/$SPID/stat")))
}
crun() {        # crun NAME PATH: run, and the servers' CPU µs a request
    local t0 t1
    t0=$(ticks)
    run "$@"
    t1=$(ticks)
    awk -v t=$((t1 - t0)) -v hz="$HZ" -v n="$(tail -1 "$DIR/rates/$1.n")" \
        'BEGIN { printf "%.1f\n", t * 1e6 / hz / n }' >> "$DIR/rates/$1.cpu"
}
cmedian() { sort -g "$DIR/rates/$1.cpu" | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

$WRK "$BASE$ITEM" >/dev/null            # warm-up, not counted
for r in $(seq 1 "$ROUNDS"); do
    crun tryfiles "$ITEM"
    crun fcache "/fcache?pg=Item&id=26"
    crun static /same.html
    crun direct "/direct?pg=Item&id=26"
done
n2=$(nori_requests)
t=$(median tryfiles) f=$(median fcache) s=$(median static) d=$(median direct)
echo
echo "nori page cache behind nginx ($(wc -c < "$kept")-byte Item page)," \
     "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores $(uname -m), $(nginx -v 2>&1 | sed 's/.*: //')"
echo "each: $WRK, $ROUNDS interleaved rounds, medians; nori serve, 4 workers;" \
     "CPU: nginx's and nori's workers' user+system time over the run / requests"
printf '%-56s %10s %12s\n' run "req/s" "CPU us/req"
printf '%-56s %10s %12s\n' "try_files on the kept file (shipped nginx.conf)" "$t" "$(cmedian tryfiles)"
printf '%-56s %10s %12s\n' "fastcgi_cache keyed by generation and query" "$f" "$(cmedian fcache)"
printf '%-56s %10s %12s\n' "static file, same bytes, same nginx" "$s" "$(cmedian static)"
printf '%-56s %10s %12s\n' "no cache: nginx -> nori serve" "$d" "$(cmedian direct)"
awk -v t="$t" -v f="$f" -v s="$s" -v d="$d" 'BEGIN {
    printf "try_files/fastcgi_cache %.2f   try_files/static %.0f %%   fastcgi_cache/static %.0f %%   try_files/no cache %.2f\n",
           t / f, 100 * t / s, 100 * f / s, t / d }'
for n in tryfiles fcache static direct; do
    printf '%s rounds: %s; CPU us/req %s\n' "$n" "$(tr '\n' ' ' < "$DIR/rates/$n")" \
        "$(tr '\n' ' ' < "$DIR/rates/$n.cpu")"
done
# Only the no-cache runs (and the status reads) reached nori.
echo "nori requests during the runs: $((n2 - n1)), no-cache requests: $(requests direct)"
