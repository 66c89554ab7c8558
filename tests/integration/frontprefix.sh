#!/usr/bin/env bash
# frontprefix.sh -- every shipped front-end config hands nori exactly the
# app's path: /shop and what is below /shop/, never /shopfoo (a string
# prefix would: lighttpd's fastcgi.server key and Apache's <Location> are
# both plain prefixes). Whether a request reached nori is read from
# nori's own request counter (/shop/nori-status, shared by every worker):
# the requests that must not reach it leave it where it was, and the
# requests below /shop/ move it, so the check cannot pass on a config
# that sends nothing to nori at all.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/apache-lib.sh"

# requests_now: nori's request count (this request of the counters
# itself included).
requests_now() {
    req /shop/nori-status
    sed -n 's/.*"requests": \([0-9]*\).*/\1/p' "$TMP/b"
}

# exact NAME: /shopfoo and its cousins are not nori's; /shop/... is.
exact() {
    local name=$1 before after u
    before=$(requests_now)
    [ -n "$before" ] && pass || { fail "$name: no counters at /shop/nori-status ($STATUS)"; return; }
    for u in /shopfoo /shopfoo/bar '/shopx?pg=Item&id=26' /shop.css /shopnori-status; do
        req "$u"
        [ "$STATUS" != 200 ] && pass || fail "$name: $u answered 200"
    done
    after=$(requests_now)
    expect_eq "$after" $((before + 1)) "$name: none of /shopfoo, /shopx, /shop.css reached nori"
    req /shop/below
    expect_status 404 "$name: a path below the app is nori's 404"
    get 200 '/shop?pg=Item&id=26' "$name: the app itself"
    after=$(requests_now)
    expect_eq "$after" $((before + 4)) "$name: /shop and /shop/below reached nori"
}

echo "lighttpd.conf (bin-path)"
srv_start
exact lighttpd
srv_stop

echo "lighttpd-external.conf in front of nori serve"
serve_start --workers 2 --socket-mode 0660 --socket-group www-data
lighttpd_with deploy/lighttpd/lighttpd-external.conf
exact lighttpd-external
srv_stop

echo "nginx.conf"
mkdir -p "$TMP/nginx"
nginx_run() { nginx_shipped_run "$TMP/no-page-cache"; }
on_fresh_port nginx nginx_run
NPID=$UPID
exact nginx
kill -TERM "$NPID"; wait "$NPID" 2>/dev/null || true

echo "nginx nori-sticky.conf"
mkdir -p "$TMP/sticky"
chmod 755 "$TMP/sticky"
for r in w1 w2; do
    NORI_STORE=memory NORI_ROUTE=$r NORI_RUNDIR="$TMP/sticky" "$NORI" serve \
        --listen "unix:$TMP/sticky/nori-$r.sock" --workers 1 --socket-mode 0660 --socket-group www-data \
        2>>"$TMP/serve.log" &
    track $!
done
poll -- test -S "$TMP/sticky/nori-w1.sock" && poll -- test -S "$TMP/sticky/nori-w2.sock" \
    || { fail "the sticky workers did not start"; cat "$TMP/serve.log" >&2; exit 1; }
sticky_nginx_run() {
    sed -e "s|@PORT@|$PORT|g; s|@SOCKDIR@|$TMP/sticky|g; s|@HOME@|$ROOT|g; s|@RUNDIR@|$TMP/nginx|g" \
        "$ROOT/deploy/nginx/nori-sticky.conf" > "$TMP/nginx/sticky.conf"
    nginx -p "$TMP/nginx" -c "$TMP/nginx/sticky.conf" -g 'daemon off;' 2>>"$TMP/nginx.out" &
    UPID=$!
    track "$UPID"
}
on_fresh_port nginx-sticky sticky_nginx_run
NPID=$UPID
exact nginx-sticky
kill -TERM "$NPID"; wait "$NPID" 2>/dev/null || true

echo "Apache nori-fcgid.conf"
apache_start nori-fcgid.conf
exact apache-fcgid
apache_stop

echo "Apache nori-proxy-fcgi.conf"
apache_start nori-proxy-fcgi.conf NORI_SOCKET="$SOCK" NORI_AUTHZ=127.0.0.1:9
exact apache-proxy-fcgi
apache_stop

echo "Apache nori-sticky.conf"
apache_start nori-sticky.conf NORI_SOCKDIR="$TMP/sticky"
exact apache-sticky
apache_stop
kill -TERM "$SPID"
finish
