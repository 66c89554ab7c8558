#!/usr/bin/env bash
# security.sh -- issue 8's web-facing fixes against a real lighttpd and
# straight against `nori serve`: cross-site POSTs refused before anything
# is made, /nori-status refused to proxied requests, Vary: Cookie with
# the cookie carrier, /authorize only for the web server, a planted
# oversized cookie that hides nothing, a new nori_b at login, no header
# splitting, Secure and __Host- cookies, and settings checked at start.
source "$(dirname "$0")/lib.sh"

JAR=$TMP/jar
stat() {
    curl -s "$BASE/nori-status" | grep -o "\"$1\": [0-9]*" | grep -o '[0-9]*$' || true
}
jar_bind() { awk '$6 == "nori_b" {print $7}' "$JAR"; }

srv_start

echo "cross-site POSTs"
for h in 'Origin: http://evil.example' 'Origin: null' 'Sec-Fetch-Site: cross-site' \
         "Origin: http://127.0.0.1:$((PORT + 1))" 'Origin: https://127.0.0.1'; do
    rm -f "$JAR"
    post 'act=add&id=26' -H "$h"
    expect_status 403 "add with '$h'"
    expect_no_header Set-Cookie "add with '$h' sets no cookie"
    post 'act=login&user=demo&password=nori-demo' -H "$h"
    expect_status 403 "login with '$h'"
    expect_no_header Set-Cookie "login with '$h' sets no cookie"
done
expect_eq "$(stat sessions_created)" 0 "no session made by a cross-site POST"
expect_eq "$(stat commits)" 0 "no commit by a cross-site POST"

rm -f "$JAR"
post 'act=add&id=26' -H "Origin: http://127.0.0.1:$PORT" -H 'Sec-Fetch-Site: same-origin'
expect_status 303 "a POST from our own origin"
KEY=$(loc_key)
expect_eq "${#KEY}" 22 "it made a session"
req -b "$JAR" "/shop?pg=Cart&_s=$KEY"
K=$(page_k)
post "act=add&id=26&_s=$KEY&_k=$K"
expect_status 303 "a POST with neither header (curl, siege)"
req -b "$JAR" "/shop?pg=Cart&_s=$KEY"
expect_eq "$(cart_count)" 2 "both adds counted"
post "act=logout&_s=$KEY&_k=$K" -H 'Origin: http://evil.example'
expect_status 403 "a cross-site logout with the session's own _k"
req -b "$JAR" "/shop?pg=Cart&_s=$KEY"
expect_eq "$(cart_count)" 2 "the session is still there"

echo "a planted oversized nori_b hides nothing"
bind=$(jar_bind)
long=$(printf 'A%.0s' $(seq 1 40))
req -b "nori_b=$long; nori_b=$bind" "/shop?pg=Cart&_s=$KEY"
expect_eq "$(cart_count)" 2 "the real binding cookie after a planted one"
req -b "nori_b=!!!!!!!!!!!!!!!!!!!!!!; nori_b=$bind" "/shop?pg=Cart&_s=$KEY"
expect_eq "$(cart_count)" 2 "and after a planted malformed one"

echo "login mints a new binding"
req -b "$JAR" "/shop?pg=Login&_s=$KEY"
K=$(page_k)
post "act=login&user=demo&password=nori-demo&_s=$KEY&_k=$K"
expect_status 303 "login"
expect_header Set-Cookie '^nori_b=[A-Za-z0-9_-]{22}; ' "login sets nori_b"
nbind=$(jar_bind)
[ -n "$nbind" ] && [ "$nbind" != "$bind" ] && pass || fail "login kept the old nori_b"
NKEY=$(loc_key)
req -b "nori_b=$bind" "/shop?pg=Cart&_s=$NKEY"
expect_eq "$(cart_count)" 0 "the old binding does not open the logged-in session"
req -b "$JAR" "/shop?pg=Cart&_s=$NKEY"
expect_eq "$(cart_count)" 2 "the new one does"

echo "/nori-status behind a proxy"
get 200 /nori-status "status from loopback"
for h in 'X-Forwarded-For: 203.0.113.9' 'Forwarded: for=203.0.113.9' 'Via: 1.1 proxy'; do
    req -H "$h" /nori-status
    expect_status 403 "status with '$h'"
    expect_no_body '"requests"' "no counters with '$h'"
done

echo "/authorize is the web server's, not a client's"
req -b "$JAR" "/shop/authorize?_s=$NKEY"
expect_status 404 "a client asking /shop/authorize"
expect_no_header Variable-NORI_USER "no user named to a client"

echo "caching with the url carrier"
get 200 '/shop?pg=Item&id=26' "Item"
# The url carrier's URL tells pages apart, but the page cache's answers
# (the shipped config) cannot tell the carriers apart and always vary.
expect_header Vary '^Cookie$' "the page cache's pages vary with the cookie"
srv_stop

echo "caching with the cookie carrier"
srv_start NORI_SESSION_CARRIER=cookie
get 200 '/shop?pg=Item&id=26' "Item, cookie carrier"
expect_header Cache-Control '^max-age=60$' "a sessionless page may be cached"
expect_header Vary '^Cookie$' "but varies with the cookie"
lm=$(header Last-Modified)
req -H "If-Modified-Since: $lm" '/shop?pg=Item&id=26'
expect_status 304 "its 304"
expect_header Vary '^Cookie$' "says Vary too"
rm -f "$JAR"
post 'act=add&id=26'
req -b "$JAR" '/shop?pg=Item&id=26'
expect_header Cache-Control '^private, no-store$' "the nori_s holder's page is private"
srv_stop

echo "straight to nori serve"
# fcgi [VAR=value...] [< body]: one request to $SOCK; CGI answer on stdout.
fcgi() {
    env -i SCRIPT_NAME=/shop REQUEST_METHOD=GET QUERY_STRING= REMOTE_ADDR=127.0.0.1 \
        HTTP_HOST=127.0.0.1 "$@" cgi-fcgi -bind -connect "$SOCK" 2>/dev/null
}
postf() {   # postf BODY VAR=value...: a form POST to $SOCK
    local body=$1; shift
    printf '%s' "$body" | fcgi REQUEST_METHOD=POST CONTENT_TYPE=application/x-www-form-urlencoded \
        CONTENT_LENGTH=${#body} "$@"
}
longpath=/$(printf 'p%.0s' $(seq 1 200))
serve_start NORI_ALLOWED_ORIGINS='https://shop.example, https://www.shop.example' \
    NORI_COOKIE_PATH="$longpath" --workers 2
out=$(postf 'act=add&id=26' HTTP_ORIGIN=https://shop.example)
grep -q '^Status: 303' <<<"$out" && pass || fail "an origin of NORI_ALLOWED_ORIGINS: $out"
cookie=$(grep '^Set-Cookie: nori_b=' <<<"$out" | tr -d '\r' || true)
expect_eq "${cookie#*; Path=}" "$longpath; HttpOnly; SameSite=Lax" \
    "a 201-byte cookie path, and every attribute after it"
out=$(postf 'act=add&id=26' HTTP_ORIGIN=https://evil.example)
grep -q '^Status: 403' <<<"$out" && pass || fail "an origin not in the list: $out"
out=$(postf 'act=add&id=26' HTTP_ORIGIN=https://shop.example HTTPS=on)
grep -q '^Set-Cookie: nori_b=.*; HttpOnly; SameSite=Lax; Secure' <<<"$out" && pass \
    || fail "HTTPS=on: a Secure cookie: $out"
out=$(body='act=add&id=26'; printf '%s' "$body" | env -i SCRIPT_NAME=$'/shop\r\nX-Evil: 1' \
    REQUEST_METHOD=POST CONTENT_TYPE=application/x-www-form-urlencoded CONTENT_LENGTH=13 \
    cgi-fcgi -bind -connect "$SOCK" 2>"$TMP/fcgi-err")
grep -q '^Status: 502' <<<"$out" && pass || fail "CR/LF in SCRIPT_NAME: $out"
grep -q '^X-Evil' <<<"$out" && fail "CR/LF in SCRIPT_NAME split the header" || pass
grep -q 'refused to send a header with CR/LF' "$TMP/fcgi-err" && pass \
    || fail "the refused header is logged to the web server's error log"
out=$(fcgi PATH_INFO=/authorize)
grep -q '^Status: 404' <<<"$out" && pass || fail "/authorize without NORI_AUTHORIZE: $out"
out=$(fcgi PATH_INFO=/authorize NORI_AUTHORIZE=1)
grep -q '^Status: 403' <<<"$out" && pass || fail "/authorize from the internal location: $out"
grep -q '^Cache-Control: no-store' <<<"$out" && pass || fail "/authorize is no-store: $out"
out=$(postf 'act=login&user=demo&password=nori-demo')
key=$(grep '^Location:' <<<"$out" | tr -d '\r' | sed -n 's/.*_s=//p')
bind=$(grep '^Set-Cookie: nori_b=' <<<"$out" | sed 's/^Set-Cookie: nori_b=//; s/;.*//')
out=$(fcgi PATH_INFO=/authorize NORI_AUTHORIZE=1 QUERY_STRING="_s=$key" HTTP_COOKIE="nori_b=$bind")
grep -q '^Variable-NORI_USER: demo' <<<"$out" && pass || fail "/authorize after login: $out"
grep -q '^Cache-Control: no-store' <<<"$out" && pass || fail "its 200 is no-store: $out"
out=$(fcgi PATH_INFO=/authorize QUERY_STRING="_s=$key" HTTP_COOKIE="nori_b=$bind")
grep -q '^Status: 404' <<<"$out" && pass || fail "the same without NORI_AUTHORIZE: $out"
kill -TERM "$SPID"; wait "$SPID" || true

serve_start NORI_COOKIE_PATH=/ NORI_COOKIE_SECURE=on --workers 1
out=$(postf 'act=add&id=26')
grep -q '^Set-Cookie: __Host-nori_b=[A-Za-z0-9_-]*; Path=/; HttpOnly; SameSite=Lax; Secure' \
    <<<"$out" && pass || fail "NORI_COOKIE_SECURE=on, Path=/: a __Host- cookie: $out"
kill -TERM "$SPID"; wait "$SPID" || true

echo "settings checked at start"
for bad in NORI_COOKIE_PATH=$'/shop\r\nX: 1' 'NORI_COOKIE_PATH=/shop; Domain=evil.example' \
           NORI_COOKIE_PATH=shop NORI_ALLOWED_ORIGINS=shop.example \
           NORI_COOKIE_SECURE=yes NORI_BODY_TIMEOUT_MS=-1; do
    rc=0
    # timeout: a nori that accepts the setting serves until stopped.
    env "$bad" NORI_RUNDIR="$TMP" timeout 20 "$NORI" serve --listen "unix:$TMP/never.sock" \
        --workers 1 >/dev/null 2>"$TMP/bad.log" || rc=$?
    # nori(8): a bad setting exits 1, with one line naming it.
    expect_eq "$rc" 1 "refused at start: ${bad%%=*}=..."
    expect_eq "$(wc -l < "$TMP/bad.log")" 1 "one line for ${bad%%=*}"
    grep -q "${bad%%=*}" "$TMP/bad.log" && pass || fail "the line names ${bad%%=*}: $(cat "$TMP/bad.log")"
done
[ ! -e "$TMP/never.sock" ] && pass || fail "a refused setting still bound a socket"
finish
