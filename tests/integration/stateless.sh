#!/usr/bin/env bash
# stateless.sh -- the sessionless half through a real lighttpd with the
# shipped config: pages, every bad-input status of docs/design.md, caching,
# methods, strict bodies, and what a window shopper must never get.
source "$(dirname "$0")/lib.sh"

srv_start

echo "pages"
req /
expect_status 301 "/ redirects"
expect_header Location '^/shop$' "/ redirects to the app"

get 200 /shop "Home, no query"
expect_body '<span id="cart-count">0</span>' "Home has the cart count"
expect_eq "$(grep -o '<main>' "$TMP/b" | wc -l)" 1 "Home has one <main>"
expect_body 'name="pg" value="Search"' "Home has the search form"
expect_body 'href="/shop\?pg=Category&amp;id=1"' "Home links categories from SCRIPT_NAME"
expect_header Content-Type '^text/html; charset=utf-8$' "Home content type"
expect_header X-Content-Type-Options '^nosniff$' "nosniff"
expect_header Referrer-Policy '^same-origin$' "Referrer-Policy"
expect_header Content-Security-Policy "default-src 'none'" "CSP"
if header Content-Security-Policy | grep -q "unsafe-inline"; then
    fail "CSP allows inline script"
else pass; fi
get 200 '/shop?pg=Home' "Home by name"

get 200 '/shop?pg=Item&id=26' "Item 26"
expect_body '<h1>[^<]+</h1>' "Item has an <h1> name"
expect_body 'name="act" value="add"' "Item has the add form"
expect_body 'method="post"' "add is a POST form"
expect_body '€[0-9]+\.[0-9]{2}' "Item shows a price"

get 200 '/shop?pg=Category&id=1' "Category 1"
expect_eq "$(grep -c '^<li><a href="/shop?pg=Item' "$TMP/b")" 20 "Category page 1 lists 20 items"
expect_body 'pg=Category&amp;id=1&amp;page=2' "Category 1 links page 2"
get 200 '/shop?pg=Category&id=1&page=2' "Category 1 page 2"
expect_body 'Page 2 of' "page 2 says so"
expect_body 'pg=Category&amp;id=1"' "page 2 links back to page 1 without page="
get 404 '/shop?pg=Category&id=1&page=50' "Category page beyond the last"
get 404 '/shop?pg=Category' "Category without id"
get 404 '/shop?pg=Category&id=999' "unknown category"

get 200 '/shop?pg=Search&q=SALMON' "Search, upper case"
expect_body '[3-9][0-9]* dishes match|[1-9][0-9]+ dishes match' "salmon matches several dishes"
expect_body 'value="SALMON"' "search box keeps the query"
get 200 '/shop?pg=Search&q=zzzzqqq' "Search without hits"
expect_body '0 dishes match' "no hits is said"
get 200 '/shop?pg=Search&q=%3Cscript%3E' "Search for markup"
expect_no_body '<script>' "the query is escaped"
expect_body '&lt;script&gt;' "the query is shown escaped"
get 200 '/shop?pg=Search' "Search without q shows the prompt"

get 200 '/shop?pg=Cart' "Cart"
expect_body 'empty' "sessionless cart is empty"
get 200 '/shop?pg=Counter' "Counter"
expect_body '<span id="count">0</span>' "sessionless count is 0"
expect_body 'value="inc"' "++ is a POST form"
get 200 '/shop?pg=Login' "Login"
expect_body 'name="password"' "Login form"

echo "bad input (docs/design.md)"
get 400 '/shop?pg=Item&id=%zz' "malformed percent-encoding"
get 400 '/shop?pg=Item&id=%2' "truncated percent-encoding"
get 400 '/shop?pg=Search&q=a%00b' "%00"
get 400 '/shop?pg=Search&q=%C0%AF' "overlong UTF-8"
get 400 '/shop?pg=Search&q=%FF' "invalid UTF-8"
get 400 '/shop?pg=Item&id=1&id=2' "repeated id"
get 400 '/shop?pg=Item&pg=Home' "repeated pg"
get 400 '/shop?pg=Item&id=0' "id 0"
get 400 '/shop?pg=Item&id=026' "id with a leading zero"
get 400 '/shop?pg=Item&id=-1' "negative id"
get 400 '/shop?pg=Item&id=2147483648' "id over 2^31-1"
get 400 '/shop?pg=Item&id=abc' "non-decimal id"
get 400 '/shop?pg=Category&id=1&page=0' "page 0"
get 400 '/shop?pg=Category&id=1&page=10001' "page over 10000"
get 400 '/shop?pg=Search&q=' "empty q"
get 400 '/shop?pg=Search&q=a%01b' "control character in q"
get 400 '/shop?pg=Item&id=abc' "non-decimal id"
expect_body '<main>' "a 400 explains itself in a page"
expect_body 'number' "the explanation names the trouble"
expect_header Cache-Control 'no-store' "errors are not cached"
get 404 '/shop?pg=Nope' "unknown pg"
expect_body '404' "404 page says so"
get 404 '/shop?pg=Item&id=999999' "id that names nothing"
get 404 '/shop/deeper' "a path below the app"
long=$(printf 'x%.0s' $(seq 1 2040))
get 414 "/shop?pg=Home&u=$long" "query over 2048 bytes"
short=$(printf 'x%.0s' $(seq 1 2038))
get 200 "/shop?pg=Home&u=$short" "query of 2048 bytes"
get 200 '/shop?pg=Home&_s=not-a-key' "malformed _s is a sessionless 200"
expect_no_body 'not-a-key' "a bad key is never echoed"

echo "caching"
# The shipped config has the page cache on: the validator of a
# sessionless page is then the generation's date (pagecache.sh checks
# it against the cached copy); off, it is an ETag.
req '/shop?pg=Item&id=26'
lm=$(header Last-Modified)
expect_header Cache-Control '^max-age=60$' "pages are cacheable"
[ -n "$lm" ] && pass || fail "Item has a Last-Modified"
req -H "If-Modified-Since: $lm" '/shop?pg=Item&id=26'
expect_status 304 "If-Modified-Since with its date"
expect_eq "$(stat -c %s "$TMP/b")" 0 "304 has no body"
req -H 'If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT' '/shop?pg=Item&id=26'
expect_status 200 "an older date renders"
# The ETag follows the catalog's content: one byte more, another ETag.
cp "$ROOT/shop/data/catalog.tsv" "$TMP/catalog.tsv"
echo "# one more line" >> "$TMP/catalog.tsv"
item_off() { QUERY_STRING='pg=Item&id=26' NORI_PAGE_CACHE=off NORI_RUNDIR="$TMP" "$NORI" "$@"; }
e1=$(item_off | grep -i '^ETag:' | tr -d '\r')
e2=$(NORI_CATALOG="$TMP/catalog.tsv" item_off | grep -i '^ETag:' | tr -d '\r')
[ -n "$e1" ] && [ "$e1" != "$e2" ] && pass || fail "ETag changes with the catalog ($e1 / $e2)"
e=${e1#ETag: }
QUERY_STRING='pg=Item&id=26' NORI_PAGE_CACHE=off NORI_RUNDIR="$TMP" HTTP_IF_NONE_MATCH="$e" \
    "$NORI" | head -1 | grep -q '^Status: 304' && pass || fail "If-None-Match with the ETag, cache off"

echo "methods and bodies"
req -I '/shop?pg=Item&id=26'
expect_status 200 "HEAD"
expect_no_body '<html' "HEAD has no body"
req '/shop?pg=Item&id=26'
len=$(stat -c %s "$TMP/b")
req -I '/shop?pg=Item&id=26'
expect_header Content-Length "^$len\$" "HEAD tells the GET length"
req -X PUT '/shop?pg=Home'
expect_status 405 "PUT"
expect_header Allow 'GET, HEAD, POST' "405 says what is allowed"
req -X DELETE '/shop?pg=Home'
expect_status 405 "DELETE"
req -H 'Content-Type: text/plain' --data 'act=inc' /shop
expect_status 415 "POST that is not a form"
head -c 17000 /dev/zero | tr '\0' a > "$TMP/big"
req --data-binary "@$TMP/big" /shop
expect_status 413 "POST over 16 KiB"
req --data 'act=inc&act=dec' /shop
expect_status 400 "repeated act"
req --data 'act=add&id=1&qty=100' /shop
expect_status 400 "qty over 99"

# A body that ends before CONTENT_LENGTH: lighttpd buffers bodies and
# never forwards a short one, so speak FastCGI to a worker's socket
# directly (cgi-fcgi sends the params and whatever stdin has).
sock=$(ls "$RUNDIR"/nori.sock* | head -1)
out=$(printf 'act=inc' | env -i REQUEST_METHOD=POST CONTENT_LENGTH=100 \
      CONTENT_TYPE=application/x-www-form-urlencoded SCRIPT_NAME=/shop \
      QUERY_STRING= cgi-fcgi -bind -connect "$sock" 2>&1 || true)
grep -q '^Status: 400' <<<"$out" && pass || fail "truncated FastCGI body: $(echo "$out" | head -1)"
out=$(printf 'act=inc' | env -i REQUEST_METHOD=POST CONTENT_LENGTH=100 \
      CONTENT_TYPE=application/x-www-form-urlencoded QUERY_STRING= "$NORI" 2>/dev/null || true)
grep -q '^Status: 400' <<<"$out" && pass || fail "truncated CGI body: $(echo "$out" | head -1)"
out=$(env -i QUERY_STRING='pg=Item&id=26' "$NORI")
grep -q '^Status: 200' <<<"$out" && grep -q '<h1>' <<<"$out" && pass \
    || fail "one-shot CGI prints a page"

echo "a window shopper"
# Crawl every link reachable from Home, two levels deep: none may set a
# cookie, carry _s, or fail.
: > "$TMP/seen"
crawl() {
    local url=$1 depth=$2 links l
    grep -qxF "$url" "$TMP/seen" && return 0
    echo "$url" >> "$TMP/seen"
    req "$url"
    expect_status 200 "crawl $url"
    expect_no_header Set-Cookie "crawl $url"
    expect_no_body '_s=' "crawl $url"
    [ "$depth" -gt 0 ] || return 0
    links=$(grep -o 'href="/shop[^"]*"' "$TMP/b" | sed 's/^href="//; s/"$//; s/&amp;/\&/g' | sort -u)
    for l in $links; do crawl "$l" $((depth - 1)); done
}
crawl /shop 2
n=$(wc -l < "$TMP/seen")
[ "$n" -gt 20 ] && pass || fail "crawl reached only $n pages"

req /static/nori.css
expect_status 200 "stylesheet is served"
expect_header Content-Type '^text/css' "stylesheet type"
get 200 /shop "Home, for its head"
expect_body '<link rel="icon" href="/static/favicon.ico">' "every page links the icon"
favicon_check shipped
# NORI_ICON_URL moves the icon link, and changes the ETag with the page
# (and so the page cache's generation, which the ETag names).
item() { env "$@" QUERY_STRING='pg=Item&id=26' SCRIPT_NAME=/shop REQUEST_METHOD=GET \
             NORI_RUNDIR="$TMP" NORI_PAGE_CACHE=off "$NORI"; }
moved=$(item NORI_ICON_URL=/img/nori.png)
grep -q '<link rel="icon" href="/img/nori.png">' <<<"$moved" && pass \
    || fail "NORI_ICON_URL does not move the icon link"
expect_eq "$(echo "$moved" | grep -c '^ETag: ')" 1 "a page with a moved icon has an ETag"
[ "$(echo "$moved" | grep '^ETag: ')" != "$(item | grep '^ETag: ')" ] && pass \
    || fail "a moved icon kept the ETag"

echo "signals"
# SIGTERM to an idle worker: it leaves accept at once and lighttpd
# starts another; the shop keeps answering.
w=$(workers | sed -n 1p)
kill -TERM "$w"
wait_gone "$w" && pass || fail "idle worker ignored SIGTERM"
for i in 1 2 3 4 5 6 7 8; do get 200 '/shop?pg=Item&id=26' "after SIGTERM ($i)"; done

finish
