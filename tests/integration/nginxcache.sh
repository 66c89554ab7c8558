#!/usr/bin/env bash
# nginxcache.sh -- the page cache behind deploy/nginx/nginx.conf: a
# window shopper's page is nori's kept file, served by nginx alone (it is
# still served with nori stopped), with nori's headers and bytes; HEAD
# and If-Modified-Since too. A session (_s or the nori_s cookie), a POST,
# a non-canonical query, Search, bad input and a query nori would not
# keep always reach nori. A new catalog (restart or SIGHUP) is served at
# once, the old generation's date gets 200 and the new one 304. With the
# page cache off nginx passes everything on. The cookie carrier too.
source "$(dirname "$0")/lib.sh"

ITEM='/shop?pg=Item&id=26'
# nori serve's run directory is $TMP (serve_start): nginx's worker, run
# as nobody, must reach its pages and the socket.
chmod 755 "$TMP"
mkdir -p "$TMP/nginx"
cp "$ROOT/shop/data/catalog.tsv" "$TMP/catalog.tsv"
CACHE_RUNDIR=$TMP
source "$(dirname "$0")/cache-lib.sh"
# reaches_nori WHAT [curl args...] PATH: the request is answered by a
# worker (nori's request counter moves), not from the cache. (Its bytes
# may be the cached page's: nori renders the same page for some.)
reaches_nori() {
    local what=$1 n
    shift
    n=$(nori_requests)
    req "$@"
    [ "$(nori_requests)" -gt "$n" ] && pass || fail "$what was answered from the cache"
}

# nginx_start: the shipped config, its @PAGES@ nori serve's page cache;
# sets NPID.
nginx_run() { nginx_shipped_run "$TMP/pages"; }
nginx_start() {
    on_fresh_port nginx nginx_run
    NPID=$UPID
}
nginx_stop() { kill -TERM "$NPID"; wait "$NPID" 2>/dev/null || true; }
# serve_stop: nori serve drains and exits; its socket is gone after.
serve_stop() {
    kill -TERM "$SPID"
    wait "$SPID" && pass || fail "nori serve did not exit 0"
    rm -f "$SOCK"
}

serve_start NORI_CATALOG="$TMP/catalog.tsv" --socket-mode 0660 --socket-group www-data
nginx_start

echo "a kept page is served by nginx alone, with nori's headers and bytes"
kept_then_served "$ITEM" 'pg=Item&id=26'
before=$(nori_requests)
LM=$(header Last-Modified)
[ -n "$LM" ] && pass || fail "the cached page has no Last-Modified"
expect_header Content-Type '^text/html; charset=utf-8$' "the cached page's type"
expect_header Cache-Control '^max-age=60$' "the cached page's Cache-Control"
expect_header Vary '^Cookie$' "the cached page's Vary"
expect_header X-Content-Type-Options '^nosniff$' "the cached page's nosniff"
expect_header Referrer-Policy '^same-origin$' "the cached page's Referrer-Policy"
expect_header Content-Security-Policy "^default-src 'none'; .*frame-ancestors 'none'" \
    "the cached page's CSP"
expect_header Content-Length "^$(wc -c < "$TMP/b.nori")$" "the cached page's length"
for h in ETag Accept-Ranges; do
    expect_no_header "$h" "the cached page (nori sends no $h)"
done
# nori answers no Range.
req -H 'Range: bytes=0-9' "$ITEM"
expect_status 200 "Range on a cached page"
cmp -s "$TMP/b" "$TMP/b.nori" && pass || fail "a Range got part of the cached page"
req -I "$ITEM"
expect_status 200 "HEAD of a cached page"
expect_eq "$(nori_requests)" "$before" "HEAD from the cache reached no worker"
same_headers "$TMP/h.nori" "$TMP/h" "HEAD from the cache and nori's GET"
get 200 /shop "Home"
kept index && pass || fail "Home (no query) was not kept"
cp "$TMP/b" "$TMP/home.nori"
n=$(nori_requests)
get 200 /shop "Home from the cache"
expect_eq "$(nori_requests)" "$n" "Home from the cache reached no worker"
cmp -s "$TMP/b" "$TMP/home.nori" && pass || fail "Home from the cache differs"
get 200 '/shop?pg=Category&id=1' "a category"
kept 'pg=Category&id=1' && pass || fail "a category page was not kept"

echo "revalidation from the cache, as nori answers it"
n=$(nori_requests)
req -H "If-Modified-Since: $LM" "$ITEM"
expect_status 304 "the page's date"
expect_eq "$(nori_requests)" "$n" "the 304 from the cache reached no worker"
cp "$TMP/h" "$TMP/h.304"
# nori's own 304, for a URL that is never kept
reaches_nori "a non-canonical URL with If-Modified-Since" -H "If-Modified-Since: $LM" \
    '/shop?id=26&pg=Item'
expect_status 304 "nori's 304"
same_headers "$TMP/h" "$TMP/h.304" "the cached 304 and nori's"
expect_no_header Content-Length "a 304"
n=$(nori_requests)
req -H 'If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT' "$ITEM"
expect_status 304 "a later date"
req -H 'If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT' "$ITEM"
expect_status 200 "an earlier date"
cmp -s "$TMP/b" "$TMP/b.nori" && pass || fail "an earlier date got another page"
expect_eq "$(nori_requests)" "$n" "revalidations from the cache reached no worker"

echo "what always reaches nori"
for u in '/shop?id=26&pg=Item' '/shop?pg=Item&id=26&utm_source=x' '/shop?pg=Search&q=tuna' \
         '/shop?pg=Cart' '/shop?pg=Item&id=0' '/shop?pg=Item&id=99999' '/shop?pg=Nope' \
         '/shop?pg=Item&id=26&x=%3Cb%3E' "/shop?pg=Item&id=26&x=$(printf 'a%.0s' $(seq 1 200))" \
         '/shop?pg=Item&id=2%36' '/shop?pg=Item&id=26&_k=x' '/shop?_x=1' \
         '/shop/pg=Item&id=26.html'; do
    reaches_nori "$u" "$u"
done
for k in 'id=26&pg=Item' 'pg=Item&id=26&utm_source=x' 'pg=Search&q=tuna' 'pg=Cart' \
         'pg=Item&id=0' 'pg=Item&id=99999' 'pg=Nope'; do
    kept "$k" && fail "kept: $k" || pass
done
reaches_nori "a POST to a kept page's URL" --data 'act=nope' "$ITEM"
reaches_nori "a cookie named nori_s" -H 'Cookie: a=1; nori_s=x' "$ITEM"
# With the cache on nori ignores If-None-Match (it sends no ETag), and
# nginx would answer "*" with a 304.
reaches_nori "If-None-Match" -H 'If-None-Match: *' "$ITEM"
expect_status 200 "If-None-Match: * (nori ignores it)"
reaches_nori "a DELETE" -X DELETE "$ITEM"
expect_status 405 "a DELETE"
get 404 '/shop/index.html' "the page cache's files have no URL of their own"

echo "a session never gets a cached page (the url carrier)"
JAR=$TMP/jar
post 'act=add&id=26&qty=2'
expect_status 303 "add to cart"
KEY=$(loc_key)
reaches_nori "a URL with _s" -b "$JAR" "$ITEM&_s=$KEY"
expect_body 'id="cart-count">2<' "the session's page shows its cart"
expect_header Cache-Control 'private' "the session's page is private"

echo "a new catalog (a restart) is served at once"
[ -f "$TMP/pages/$(gen)/shop/pg=Item&id=26.html" ] && pass || fail "no kept page to outdate"
old=$(gen)
serve_stop
sed -i 's/Wagyu aburi nigiri/Wagyu aburi nigiri deluxe/' "$TMP/catalog.tsv"
serve_start NORI_CATALOG="$TMP/catalog.tsv" --socket-mode 0660 --socket-group www-data
[ "$(gen)" != "$old" ] && pass || fail "the new catalog kept generation $old"
get 200 "$ITEM" "Item, new catalog"
expect_body 'Wagyu aburi nigiri deluxe' "the new catalog at once"
NEWLM=$(header Last-Modified)
[ "$NEWLM" != "$LM" ] && pass || fail "the new catalog kept the date $LM"
n=$(nori_requests)
get 200 "$ITEM" "Item, new catalog, cached"
expect_eq "$(nori_requests)" "$n" "the new catalog's page from the cache"
expect_body 'Wagyu aburi nigiri deluxe' "the new catalog from the cache"
expect_header Last-Modified "^$NEWLM$" "the cached page's new date"
req -H "If-Modified-Since: $LM" "$ITEM"
expect_status 200 "the old generation's date"
expect_body 'Wagyu aburi nigiri deluxe' "the old date gets the new page"
req -H "If-Modified-Since: $NEWLM" "$ITEM"
expect_status 304 "the new generation's date"

echo "a new catalog by SIGHUP"
sgen=$(gen)
sed -i 's/Wagyu aburi nigiri deluxe/Wagyu aburi nigiri royale/' "$TMP/catalog.tsv"
kill -HUP "$SPID"
switched() { [ "$(gen)" != "$sgen" ]; }
poll -- switched && pass || fail "SIGHUP with a new catalog kept generation $sgen"
# The workers restart one by one: until the last has, an old one may
# still answer with the old catalog, but no cached page of it is served.
royale() { req "$ITEM"; [ "$STATUS" = 200 ] && grep -q 'nigiri royale' "$TMP/b"; }
poll -- royale && pass || fail "the reloaded catalog never showed"
get 200 "$ITEM" "Item after SIGHUP"
expect_body 'Wagyu aburi nigiri royale' "Item after SIGHUP, again"
req -H "If-Modified-Since: $NEWLM" "$ITEM"
expect_status 200 "the date before SIGHUP"

echo "served with nori stopped: the file is nginx's answer"
get 200 "$ITEM" "Item (kept)"
cp "$TMP/b" "$TMP/b.kept"
serve_stop
get 200 "$ITEM" "Item with nori stopped"
cmp -s "$TMP/b" "$TMP/b.kept" && pass || fail "the page served without nori differs"
get 502 '/shop?pg=Search&q=tuna' "Search with nori stopped"
get 502 '/shop?pg=Item&id=27' "a page not kept, with nori stopped"

echo "NORI_PAGE_CACHE=off: nginx passes everything on"
serve_start NORI_CATALOG="$TMP/catalog.tsv" NORI_PAGE_CACHE=off --socket-mode 0660 --socket-group www-data
[ ! -e "$TMP/pages/current" ] && pass || fail "the cache off left pages/current"
get 200 "$ITEM" "Item, cache off"
expect_header ETag '^"[0-9a-f]{16}"$' "with the cache off, nori's validator is its ETag"
n=$(nori_requests)
get 200 "$ITEM" "Item again, cache off"
[ "$(nori_requests)" -gt "$n" ] && pass || fail "with the cache off, a page did not reach nori"
get 200 /shop "Home, cache off"
serve_stop
nginx_stop

echo "the cookie carrier: the same headers, and a nori_s cookie reaches nori"
serve_start NORI_CATALOG="$TMP/catalog.tsv" NORI_SESSION_CARRIER=cookie --socket-mode 0660 --socket-group www-data
nginx_start
req "$ITEM"
expect_status 200 "Item (cookie carrier) from nori"
cp "$TMP/h" "$TMP/h.nori"; cp "$TMP/b" "$TMP/b.nori"
expect_header Vary '^Cookie$' "nori says Vary: Cookie"
n=$(nori_requests)
req "$ITEM"
expect_eq "$(nori_requests)" "$n" "Item (cookie carrier) from the cache"
cmp -s "$TMP/b" "$TMP/b.nori" && pass || fail "the cached bytes differ (cookie carrier)"
same_headers "$TMP/h.nori" "$TMP/h" "cached and nori's Item page (cookie carrier)"
rm -f "$JAR"
post 'act=add&id=26&qty=1'
expect_status 303 "add to cart (cookie carrier)"
reaches_nori "a request with the nori_s cookie" -b "$JAR" "$ITEM"
expect_body 'id="cart-count">1<' "the cookie's page shows its cart"
serve_stop
nginx_stop
# A generation that vanished, a cache turned off: never an error of nginx's.
# Not counted: nori stopped on purpose (connect), and a port lost to a
# race between probe and bind, which on_fresh_port retried elsewhere.
bad=$(grep -E '\[(crit|alert|emerg|error)\]' "$TMP/nginx/nginx-error.log" |
      grep -v 'connect() to unix' | grep -v 'bind() to .* failed (98: Address already in use)' | grep -v 'still could not bind()' || true)
[ -z "$bad" ] && pass || fail "nginx logged errors: $bad"
left=$(pgrep -f "nginx -p $TMP" || true)
[ -z "$left" ] && pass || fail "nginx left processes: $left"
finish
