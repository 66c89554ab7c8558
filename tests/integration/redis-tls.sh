#!/usr/bin/env bash
# redis-tls.sh -- the Redis store over TLS (rediss://) against a real
# redis-server --tls-port, with a test CA and certificates made here by
# openssl: sessions work with the CA given, a client certificate when
# Redis asks for one, an ACL user with a percent-encoded password; and
# every way the TLS check can fail (another CA, a name the certificate
# does not carry, no client certificate, plain Redis to a TLS port) is a
# 503 and a log line, never a session in the clear.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/redis-lib.sh"

CERTS=$TMP/certs
tls_certs "$CERTS" || { fail "openssl could not make the test certificates"; finish; exit 1; }
JAR=$TMP/jar

# add_works WHAT SPEC: an add answers 303 and the cart shows it next.
add_works() {
    srv_start NORI_STORE="$2"
    rm -f "$JAR"
    post 'act=add&id=26&qty=2'
    expect_status 303 "$1: the add"
    req -b "$JAR" "/shop?pg=Cart&_s=$(loc_key)"
    expect_eq "$(cart_count)" 2 "$1: the cart on the next request"
    srv_stop
}
# add_refused WHAT SPEC NEEDLE: an add answers 503, and the log says why.
add_refused() {
    : > "$TMP/error.log"
    srv_start NORI_STORE="$2"
    rm -f "$JAR"
    post 'act=add&id=26&qty=2'
    expect_status 503 "$1: the add answers 503"
    poll -- grep -q -- "$3" "$TMP/error.log" && pass || {
        fail "$1: no '$3' in the log"; cat "$TMP/error.log" >&2; }
    srv_stop
}

echo "TLS, server certificate checked"
redis_tls_start --tls-auth-clients no
add_works "rediss:// with the test CA" "rediss://127.0.0.1:$RPORT?ca=$CERTS/ca.crt"
expect_eq "$(tcli --scan --pattern 'nori:*' | wc -l)" 1 "the session is in the TLS Redis"
add_works "the name localhost, and sni=" \
    "rediss://localhost:$RPORT?ca=$CERTS/ca.crt&sni=localhost"
add_refused "a CA that signed nothing" "rediss://127.0.0.1:$RPORT?ca=$CERTS/other-ca.crt" \
    "certificate"
add_refused "a name the certificate does not carry" \
    "rediss://127.0.0.1:$RPORT?ca=$CERTS/ca.crt&sni=redis.example" "certificate"
add_refused "the system's CAs only" "rediss://127.0.0.1:$RPORT" "certificate"
add_refused "plain redis:// to a TLS port" "redis://127.0.0.1:$RPORT" "cannot reach"
redis_kill "$RPID"

echo "TLS with a client certificate, an ACL user, a percent-encoded password"
redis_tls_start --tls-auth-clients yes
tcli acl setuser shop on '>p@ss/w%rd?x' '~*' '+@all' > /dev/null
tcli acl setuser default off > /dev/null
TCLI_AUTH=(--user shop --pass 'p@ss/w%rd?x')
expect_eq "$(tcli ping)" PONG "the ACL user shop answers, the default user is off"
c="ca=$CERTS/ca.crt&cert=$CERTS/client.crt&key=$CERTS/client.key"
add_works "client certificate, user and password" \
    "rediss://shop:p%40ss%2Fw%25rd%3Fx@127.0.0.1:$RPORT?$c"
add_refused "no client certificate" "rediss://shop:p%40ss%2Fw%25rd%3Fx@127.0.0.1:$RPORT?ca=$CERTS/ca.crt" \
    "cannot reach"
add_refused "a wrong password" "rediss://shop:nope@127.0.0.1:$RPORT?$c" "AUTH refused"
if grep -n -e 'p@ss' -e 'p%40ss' "$TMP/error.log"; then
    fail "the password in the log"
else
    pass
fi
out=$(NORI_RUNDIR=$TMP NORI_STORE="rediss://shop:pw@127.0.0.1:$RPORT?ca=$CERTS/ca.crt&cert=$CERTS/client.crt" \
      "$NORI" check 2>&1) && rc=0 || rc=$?
expect_eq "$rc" 1 "nori check: a cert without its key"
case $out in *"cert and key go together"*) pass ;; *) fail "nori check said '$out'" ;; esac
redis_kill "$RPID"

finish
