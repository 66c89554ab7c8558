#!/usr/bin/env bash
# frontinstr.sh -- the instructions the web server itself runs a request
# through the shipped front-end configs, counted by callgrind: changes to
# lighttpd.conf or nginx.conf show here whatever the machine's load does
# to bench/frontcost.sh's rates (docs/design.md, "What the front-end
# configs cost"). User space only; the system calls are the same but for
# the stat of a kept page that is not there.
#
# The server runs under valgrind (lighttpd -D, nginx with master_process
# off); after a warm-up callgrind's counters are zeroed, wrk -t1 -c4 runs
# BENCH_CG_SECONDS (4), the counters are dumped and divided by wrk's
# request count.
#   BENCH_OLD_CONF=FILE   another lighttpd.conf beside the shipped one
#   BENCH_OLD_NGINX=FILE  another nginx.conf beside the shipped one
# Writes BENCH_OUT/frontinstr.txt (build/bench) too: table.sh prints it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
S=${BENCH_CG_SECONDS:-4}
OUT=${BENCH_OUT:-$ROOT/build/bench}
mkdir -p "$OUT"
ITEM='/shop?pg=Item&id=26'
DIR=$(mktemp -d "${TMPDIR:-/tmp}/nori-fi.XXXXXX")
chmod 755 "$DIR"
VPID=
fi_cleanup() {
    [ -z "$VPID" ] || { kill "$VPID" 2>/dev/null || true; wait "$VPID" 2>/dev/null || true; }
    rm -rf "$DIR"
}
trap fi_cleanup EXIT
source "$ROOT/tests/integration/port.sh"
export NORI_NEW_SESSIONS_PER_MIN=0

FLOOR_BYTES=$(QUERY_STRING='pg=Item&id=26' NORI_PAGE_CACHE=off "$ROOT/build/nori" | sed '1,/^\r$/d' | wc -c)
H=$DIR/home
mkdir -p "$H/build" "$H/static"
cp "$ROOT"/static/* "$H/static/"
head -c "$FLOOR_BYTES" /dev/zero | tr '\0' x > "$H/static/same.html"
ln -s "$ROOT/build/nori" "$H/build/nori"
# The minimal config: nothing but the app.
cat > "$DIR/minimal.conf" <<'CONF'
var.home   = env.NORI_HOME
var.rundir = env.NORI_RUNDIR
server.modules += ( "mod_fastcgi" )
server.bind          = "127.0.0.1"
server.port          = env.PORT
server.document-root = home + "/static"
mimetype.assign = ( ".html" => "text/html; charset=utf-8" )
fastcgi.server = ( "/shop" => (( "bin-path" => home + "/build/nori", "socket" => rundir + "/nori.sock",
  "max-procs" => 4, "check-local" => "disable" )) )
CONF

# measure URL: warm, zero, wrk, dump; prints instructions a request.
measure() {
    local url=$1 i n tot f
    for i in $(seq 1 600); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$url")" = 200 ] && break
        kill -0 "$VPID" 2>/dev/null || break
        sleep 0.1
    done
    wrk -t1 -c4 -d1s "$url" >/dev/null
    callgrind_control -z "$VPID" >/dev/null 2>&1
    wrk -t1 -c4 -d"${S}s" "$url" > "$DIR/wrk.txt"
    callgrind_control -d "$VPID" >/dev/null 2>&1
    if grep -Eq 'Non-2xx|Socket errors' "$DIR/wrk.txt"; then
        echo "frontinstr: $url: $(grep -E 'Non-2xx|Socket errors' "$DIR/wrk.txt")" >&2; exit 1
    fi
    n=$(awk '/requests in/ {print $1}' "$DIR/wrk.txt")
    # The server's own dump (its children, until they exec, have files too).
    f=$DIR/cg.out.$VPID.1
    for i in $(seq 1 50); do [ -s "$f" ] && break; sleep 0.1; done
    sleep 0.3
    tot=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    kill "$VPID" 2>/dev/null || true; wait "$VPID" 2>/dev/null || true; VPID=
    rm -f "$DIR"/cg.out*
    echo $((tot / n))
}
# lt NAME CONF URL BIN [VAR=value...]: lighttpd with CONF (bin-path BIN).
lt() {
    local name=$1 conf=$2 url=$3 bin=$4 port
    shift 4
    port=$(free_port)
    rm -rf "$DIR/run"; mkdir -p "$DIR/run"
    sed -e "s|home + \"/build/nori\",|\"$bin\",|" "$conf" > "$DIR/$name.conf"
    env "$@" FLOOR_BYTES="$FLOOR_BYTES" NORI_HOME="$H" NORI_RUNDIR="$DIR/run" PORT="$port" \
        valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.out.%p" \
        lighttpd -D -f "$DIR/$name.conf" 2>>"$DIR/valgrind.err" &
    VPID=$!
    printf '%-52s %8s\n' "$name" "$(measure "http://127.0.0.1:$port$url")"
}
# ng NAME URL [CONF]: nginx with CONF (the shipped nginx.conf); a kept
# page planted.
ng() {
    local name=$1 url=$2 conf=${3:-$ROOT/deploy/nginx/nginx.conf} port
    port=$(free_port)
    rm -rf "$DIR/ng"; mkdir -p "$DIR/ng/run" "$DIR/ng/pages/g/shop"
    ln -s g "$DIR/ng/pages/current"
    cp "$H/static/same.html" "$DIR/ng/pages/g/shop/pg=Item&id=26.html"
    chmod -R a+rX "$DIR/ng"
    sed -e "s|@PORT@|$port|g; s|@SOCKET@|$DIR/ng/none.sock|g; s|@HOME@|$H|g; s|@RUNDIR@|$DIR/ng/run|g; s|@PAGES@|$DIR/ng/pages|g" \
        "$conf" > "$DIR/ng/run/nginx.conf"
    valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.out.%p" \
        nginx -p "$DIR/ng/run" -c "$DIR/ng/run/nginx.conf" -g 'daemon off; master_process off;' 2>>"$DIR/valgrind.err" &
    VPID=$!
    printf '%-52s %8s\n' "$name" "$(measure "http://127.0.0.1:$port$url")"
}

{
echo
echo "front-end config instructions a request (callgrind, user space; wrk -t1 -c4 ${S} s), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores $(uname -m), $(lighttpd -v 2>&1 | head -1 | cut -d' ' -f1), $(nginx -v 2>&1 | sed 's|.*: ||')"
printf '%-52s %8s\n' run "instr/req"
F=$ROOT/build/floor N=$H/build/nori
lt "floor, minimal lighttpd config" "$DIR/minimal.conf" "$ITEM" "$F"
lt "floor, shipped lighttpd.conf (cache on, no kept file)" "$ROOT/lighttpd.conf" "$ITEM" "$F"
lt "nori rendered, minimal lighttpd config" "$DIR/minimal.conf" "$ITEM" "$N" NORI_PAGE_CACHE=off
lt "nori rendered, shipped lighttpd.conf (cache off)" "$ROOT/lighttpd.conf" "$ITEM" "$N" NORI_PAGE_CACHE=off
lt "kept page, shipped lighttpd.conf" "$ROOT/lighttpd.conf" "$ITEM" "$N"
lt "static file, minimal lighttpd config" "$DIR/minimal.conf" /same.html "$N"
if [ -n "${BENCH_OLD_CONF:-}" ]; then
    lt "floor, $(basename "$BENCH_OLD_CONF")" "$BENCH_OLD_CONF" "$ITEM" "$F"
    lt "nori rendered, $(basename "$BENCH_OLD_CONF") (cache off)" "$BENCH_OLD_CONF" "$ITEM" "$N" NORI_PAGE_CACHE=off
    lt "kept page, $(basename "$BENCH_OLD_CONF")" "$BENCH_OLD_CONF" "$ITEM" "$N"
fi
ng "kept page, shipped nginx.conf" "$ITEM"
ng "static file, shipped nginx.conf" /static/same.html
if [ -n "${BENCH_OLD_NGINX:-}" ]; then
    ng "kept page, $(basename "$BENCH_OLD_NGINX")" "$ITEM" "$BENCH_OLD_NGINX"
fi
} | tee "$OUT/frontinstr.txt"
