#!/usr/bin/env bash
# frame.sh -- the frame a sessionless page shares (head, site header,
# search form) is rendered once per worker and copied after: one worker
# must answer the same bytes the first time and every time after, never
# hand one prefix's links to another mount, and never let a search text
# or a session reach the frame of a page that has neither.
source "$(dirname "$0")/lib.sh"

serve_start --workers 1
# get NAME SCRIPT_NAME QUERY: a GET straight to the worker, body kept as NAME.
get_fcgi() {
    env -i REQUEST_METHOD=GET SCRIPT_NAME="$2" QUERY_STRING="$3" REMOTE_ADDR=127.0.0.1 \
        cgi-fcgi -bind -connect "$SOCK" 2>/dev/null | sed '1,/^\r$/d' > "$TMP/$1"
}

get_fcgi first /shop 'pg=Item&id=26'
grep -q '<h1>' "$TMP/first" && pass || fail "the Item page was not served"
get_fcgi second /shop 'pg=Item&id=26'
cmp -s "$TMP/first" "$TMP/second" && pass || fail "the copied frame differs from the rendered one"
get_fcgi other /other 'pg=Item&id=26'
grep -q 'href="/other?pg=Category&amp;id=' "$TMP/other" && pass || fail "another mount's links"
grep -q 'href="/shop' "$TMP/other" && fail "another mount got /shop links" || pass
get_fcgi again /shop 'pg=Item&id=26'
cmp -s "$TMP/first" "$TMP/again" && pass || fail "the /shop frame changed after another mount"

get_fcgi search /shop 'pg=Search&q=salmon'
grep -q 'value="salmon"' "$TMP/search" && pass || fail "the search box keeps its text"
get_fcgi after /shop 'pg=Item&id=26'
grep -q 'value="salmon"' "$TMP/after" && fail "a search text leaked into the shared frame" || pass
cmp -s "$TMP/first" "$TMP/after" && pass || fail "the frame changed after a search"

# A session's page renders its own frame: its cart count and _s links.
out=$(printf 'act=add&id=26&qty=3' | env -i REQUEST_METHOD=POST SCRIPT_NAME=/shop QUERY_STRING= \
      CONTENT_LENGTH=19 CONTENT_TYPE=application/x-www-form-urlencoded REMOTE_ADDR=127.0.0.1 \
      cgi-fcgi -bind -connect "$SOCK" 2>/dev/null)
key=$(echo "$out" | sed -n 's/^Location: .*_s=\([A-Za-z0-9_-]*\).*/\1/p' | tr -d '\r')
bind=$(echo "$out" | sed -n 's/^Set-Cookie: nori_b=\([^;]*\).*/\1/p' | tr -d '\r')
[ -n "$key" ] && pass || fail "the add made no session: $(echo "$out" | head -3)"
env -i REQUEST_METHOD=GET SCRIPT_NAME=/shop QUERY_STRING="pg=Item&id=26&_s=$key" \
    HTTP_COOKIE="nori_b=$bind" REMOTE_ADDR=127.0.0.1 \
    cgi-fcgi -bind -connect "$SOCK" 2>/dev/null > "$TMP/session"
grep -q 'id="cart-count">3<' "$TMP/session" && pass || fail "the session page shows the shared frame"
grep -q "pg=Cart&amp;_s=$key" "$TMP/session" && pass || fail "the session page's links lack _s"
get_fcgi last /shop 'pg=Item&id=26'
cmp -s "$TMP/first" "$TMP/last" && pass || fail "a session page changed the shared frame"

kill -TERM "$SPID"; wait "$SPID" || true
finish
