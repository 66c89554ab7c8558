#!/usr/bin/env bash
# storespec.sh -- a store spec that cannot be right stops nori before it
# serves (one-shot CGI, `nori check`, `nori serve`), with one line that
# says what is wrong; and no line nori prints, at start or serving, ever
# holds the Redis password of the spec.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/redis-lib.sh"

mkdir -p "$TMP/run"
: > "$TMP/a-file"
SECRET=hunter2-$RANDOM

# refused WHAT NEEDLE SPEC: exit 1 in every mode, one line naming
# NORI_STORE and NEEDLE, and no password in it.
refused() {
    local what=$1 needle=$2 spec=$3 mode out rc
    for mode in oneshot check serve; do
        local cmd=("$NORI")
        case $mode in
            check) cmd+=(check) ;;
            serve) cmd+=(serve --listen "unix:$TMP/never.sock" --workers 1) ;;
        esac
        rc=0
        out=$(env NORI_RUNDIR="$TMP/run" NORI_STORE="$spec" QUERY_STRING='pg=Item&id=26' \
              "${cmd[@]}" 2>&1 >/dev/null </dev/null) || rc=$?
        expect_eq "$rc" 1 "$what ($mode): exit status"
        expect_eq "$(printf '%s\n' "$out" | wc -l)" 1 "$what ($mode): one line"
        case $out in
            "nori"*": NORI_STORE="*"$needle"*) pass ;;
            *) fail "$what ($mode): '$out' lacks NORI_STORE or '$needle'" ;;
        esac
        case $out in *"$SECRET"*) fail "$what ($mode): the password in '$out'" ;; *) pass ;; esac
    done
}

echo "malformed specs are refused at check and at start"
refused "a port past 65535" "port '99999' is not a number from 1 to 65535" \
    "redis://:$SECRET@127.0.0.1:99999"
refused "no host" "no host" "redis://:$SECRET@:6379"
refused "no port" "want HOST:PORT" "redis://127.0.0.1"
refused "a database that is no number" "database 'x'" "redis://127.0.0.1:6379/x"
refused "a bad percent escape" "a bad % escape" "redis://:$SECRET%zz@127.0.0.1:6379"
refused "an unknown option" "unknown option 'verify'" \
    "rediss://:$SECRET@127.0.0.1:6380?verify=off"
refused "a CA file that is not there" "ca=$TMP/no-ca.pem" \
    "rediss://:$SECRET@127.0.0.1:6380?ca=$TMP/no-ca.pem"
refused "a sentinel spec without a master" "want HOST:PORT[,HOST:PORT...]/MASTER" \
    "redis-sentinel://:$SECRET@127.0.0.1:26379"
refused "a scheme of no known kind" "unknown store" "memcached://:$SECRET@127.0.0.1:11211"
refused "an empty lmdb path" "want lmdb:PATH" "lmdb:"
refused "an lmdb path under a file" "a-file" "lmdb:$TMP/a-file/sessions"
out=$(NORI_RUNDIR=$TMP/run NORI_STORE="redis://:$SECRET@127.0.0.1:6379/2" "$NORI" check 2>&1) \
    && rc=0 || rc=$?
expect_eq "$rc:$out" "0:" "a good Redis spec passes nori check, though no Redis runs"

echo "the password is in no log line while serving"
export REDISCLI_AUTH=$SECRET     # for redis-lib.sh's PING
redis_start --requirepass "$SECRET"
# A wrong password: 503, and the log says AUTH was refused, not with what.
srv_start NORI_STORE="redis://:wrong-$SECRET@127.0.0.1:$RPORT"
JAR=$TMP/jar
post 'act=add&id=26&qty=1'
expect_status 503 "a wrong password: the add answers 503"
poll -- grep -q "AUTH refused" "$TMP/error.log" && pass || fail "no 'AUTH refused' line"
srv_stop
# The right one (percent-encoded): the add works; then Redis goes away.
enc=$(printf %s "$SECRET" | sed 's/-/%2D/')
srv_start NORI_STORE="redis://:$enc@127.0.0.1:$RPORT"
rm -f "$JAR"
post 'act=add&id=26&qty=1'
expect_status 303 "the right password, percent-encoded: the add works"
redis_kill "$RPID"
post 'act=add&id=26&qty=1'
expect_status 503 "Redis gone: 503"
poll -- grep -q "cannot reach" "$TMP/error.log" && pass || fail "no 'cannot reach' line"
srv_stop
if grep -n -e "$SECRET" -e "${SECRET#hunter2-}" "$TMP/error.log"; then
    fail "the password (or its encoding) in lighttpd's error log"
else
    pass
fi

finish
