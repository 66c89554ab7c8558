#!/usr/bin/env bash
# apache.sh -- Apache 2.4 with the shipped configs: mod_fcgid spawning
# nori itself (deploy/apache/nori-fcgid.conf), and mod_proxy_fcgi in
# front of `nori serve` (deploy/apache/nori-proxy-fcgi.conf). The same
# smoke flow through each.
source "$(dirname "$0")/lib.sh"

source "$(dirname "$0")/apache-lib.sh"

echo "mod_fcgid"
apache_start nori-fcgid.conf
smoke fcgid
monitor_urls fcgid
n=$(fcgid_noris | wc -l)
[ "$n" -ge 1 ] && pass || fail "mod_fcgid started no nori"
apache_stop
poll -- no_nori && pass || fail "nori processes outlived apache: $(fcgid_noris)"

echo "mod_proxy_fcgi to nori serve"
serve_start NORI_COOKIE_PATH=/ --workers 2 --socket-mode 0660 --socket-group www-data
# mod_authnz_fcgi reaches its authorizer over TCP only.
serve_tcp NORI_COOKIE_PATH=/
APZ=$TPID
apache_start nori-proxy-fcgi.conf NORI_SOCKET="$SOCK" NORI_AUTHZ="127.0.0.1:$TPORT"
smoke proxy_fcgi
monitor_urls proxy_fcgi
get 403 /members/index.html "proxy_fcgi: /members/ without a session"
key=${LOC##*_s=}
get 403 "/members/index.html?_s=$key" "proxy_fcgi: /members/ before login"
req -b "$TMP/jar" "$LOC"
k=$(page_k)
req -c "$TMP/jar" -b "$TMP/jar" --data "act=login&user=demo&password=nori-demo&_s=$key&_k=$k" /shop
expect_status 303 "proxy_fcgi: login"
key=$(header Location | sed -n 's/.*_s=//p')
req -b "$TMP/jar" "/members/index.html?_s=$key"
expect_status 200 "proxy_fcgi: /members/ after login"
expect_body 'Members only' "proxy_fcgi: the protected file"
apache_stop
kill -TERM "$SPID" "$APZ"
wait "$SPID" && pass || fail "nori serve did not exit 0"
finish
