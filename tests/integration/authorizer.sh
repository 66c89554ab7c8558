#!/usr/bin/env bash
# authorizer.sh -- nori in the FastCGI authorizer role: lighttpd
# (deploy/lighttpd/lighttpd-members.conf) serves /members/ only to a
# request that carries a live session whose user logged in.
source "$(dirname "$0")/lib.sh"

JAR=$TMP/jar
serve_start NORI_COOKIE_PATH=/ --workers 2
lighttpd_with deploy/lighttpd/lighttpd-members.conf

get 403 /members/index.html "no session: refused"
expect_no_body 'Members only' "no session: nothing of the page"

req -c "$JAR" -b "$JAR" --data 'act=add&id=26' /shop
key=$(header Location | sed -n 's/.*_s=//p')
get 403 "/members/index.html?_s=$key" "a session without a login: refused"

req -c "$JAR" -b "$JAR" "/shop?pg=Login&_s=$key"
k=$(page_k)
req -c "$JAR" -b "$JAR" --data "act=login&user=demo&password=nori-demo&_s=$key&_k=$k" /shop
expect_status 303 "login"
key=$(header Location | sed -n 's/.*_s=//p')
req -b "$JAR" "/members/index.html?_s=$key"
expect_status 200 "logged in: allowed"
expect_body 'Members only' "the protected file is served"
req "/members/index.html?_s=$key"
expect_status 403 "the same URL without the browser's binding cookie"
get 403 "/members/index.html?_s=AAAAAAAAAAAAAAAAAAAAAA" "an unknown key"

kill -TERM "$SPID"; wait "$SPID" || true
finish
