#!/usr/bin/env bash
# deploy.sh -- what the way nori is run costs, in one run: the Item page
# through lighttpd with bin-path workers (the shipped setup) and through
# lighttpd to `nori serve`; through nginx to nori serve with kept-alive
# FastCGI connections (deploy/nginx/nginx.conf) and without. Every
# candidate has 4 workers.
source "$(dirname "$0")/lib.sh"

SPID=
NPIDS=()
deploy_cleanup() {
    for p in "${NPIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
    bench_cleanup
}
trap deploy_cleanup EXIT

chmod 755 "$DIR"                    # nginx's worker runs as nobody
export NORI_SOCKET=$DIR/served.sock
mkdir -p "$DIR/served"
NORI_RUNDIR=$DIR/served "$ROOT/build/nori" serve --listen "unix:$NORI_SOCKET" \
    --workers 4 --socket-mode 0666 2>"$DIR/serve.log" &
SPID=$!
for i in $(seq 1 100); do [ -S "$NORI_SOCKET" ] && break; sleep 0.05; done
bench_start

# Two nginx: the shipped config, and the same with a FastCGI connection
# per request (no keep_conn, no pool).
NPIDS=()
for v in keep fresh; do
    mkdir -p "$DIR/nginx-$v"
    port=$(free_port)
    [ "$v" = keep ] && NPORT=$port || NPORT2=$port
    sed -e "s|@PORT@|$port|g; s|@SOCKET@|$NORI_SOCKET|g; s|@HOME@|$ROOT|g; s|@RUNDIR@|$DIR/nginx-$v|g" \
        -e "s|@PAGES@|$DIR/no-page-cache|g" \
        "$ROOT/deploy/nginx/nginx.conf" > "$DIR/nginx-$v/nginx.conf"
    if [ "$v" = fresh ]; then
        sed -i -e 's|fastcgi_keep_conn on;|fastcgi_keep_conn off;|' \
               -e 's|^        keepalive .*||' "$DIR/nginx-$v/nginx.conf"
    fi
    nginx -p "$DIR/nginx-$v" -c "$DIR/nginx-$v/nginx.conf" -g 'daemon off;' 2>>"$DIR/nginx.err" &
    NPIDS+=($!)
done
for u in "http://127.0.0.1:$NPORT$ITEM" "http://127.0.0.1:$NPORT2$ITEM" "$BASE/served?pg=Item&id=26"; do
    for i in $(seq 1 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$u")" = 200 ] && break
        sleep 0.05
    done
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$u")" = 200 ] || { echo "bench: $u does not answer" >&2; cat "$DIR/nginx.err" >&2; exit 1; }
done

run_url() {     # NAME URL: like run, for a full URL
    local name=$1 out
    out=$($WRK "$2")
    if echo "$out" | grep -Eq 'Non-2xx|Socket errors'; then
        echo "bench: $name: $(echo "$out" | grep -E 'Non-2xx|Socket errors')" >&2
        exit 1
    fi
    echo "$out" | awk '/Requests\/sec/ {print $2}' >> "$DIR/rates/$name"
}
$WRK "$BASE$ITEM" >/dev/null
for r in $(seq 1 "$ROUNDS"); do
    run_url binpath "$BASE$ITEM"
    run_url served "$BASE/served?pg=Item&id=26"
    run_url nginx_keep "http://127.0.0.1:$NPORT$ITEM"
    run_url nginx_fresh "http://127.0.0.1:$NPORT2$ITEM"
done
b=$(median binpath) s=$(median served) k=$(median nginx_keep) f=$(median nginx_fresh)
header_line "nori deployment benchmark (Item page)"
printf '%-46s %12s\n' run "req/s"
printf '%-46s %12s\n' "lighttpd, bin-path workers (shipped)" "$b"
printf '%-46s %12s\n' "lighttpd -> nori serve" "$s"
printf '%-46s %12s\n' "nginx -> nori serve, fastcgi_keep_conn on" "$k"
printf '%-46s %12s\n' "nginx -> nori serve, a connection per request" "$f"
awk -v b="$b" -v s="$s" -v k="$k" -v f="$f" 'BEGIN {
    printf "nori serve/bin-path %.2f   nginx keep-alive/fresh %.2f\n", s / b, k / f }'
