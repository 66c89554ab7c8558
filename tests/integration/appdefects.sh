#!/usr/bin/env bash
# appdefects.sh -- what an application gets wrong (tests/apps/defects.c),
# behind a real lighttpd and at start. A page that returns 0 or 302, a
# link to a page the table lacks, an action's nori_fail(200) or redirect
# to no page: each a 500, one log line per worker however often it is
# asked, and the same worker serves the next request. Settings that
# clash with nori's or each other, a page twice in the table, a link to
# no page prepared at load: refused at start, exit status 1 (nori(8),
# a setting is wrong), one line naming both sides.
source "$(dirname "$0")/lib.sh"

make -s -C "$ROOT" build/libnori.a >"$TMP/make.log" 2>&1 && pass \
    || { fail "build/libnori.a"; cat "$TMP/make.log" >&2; finish; exit 1; }
read -ra LIBS < <(make -s --no-print-directory -C "$ROOT" lib-libs)
APP=$TMP/defects
cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$ROOT/include" "$ROOT/tests/apps/defects.c" \
    "$ROOT/build/libnori.a" "${LIBS[@]}" -o "$APP" 2>"$TMP/cc.log" && pass \
    || { fail "tests/apps/defects.c does not build"; cat "$TMP/cc.log" >&2; finish; exit 1; }

echo "refused at start"
RUNDIR=$TMP/run
mkdir -p "$RUNDIR" && chmod 700 "$RUNDIR"
# refused DEFECT WANT WHAT: `check` exits 1 with one line holding WANT.
refused() {
    local rc=0
    env DEFECT="$1" NORI_RUNDIR="$RUNDIR" "$APP" check >"$TMP/out" 2>"$TMP/err" || rc=$?
    expect_eq "$rc" 1 "$3: the exit status"
    expect_eq "$(wc -l < "$TMP/err")" 1 "$3: one line ($(cat "$TMP/err"))"
    grep -qF -- "$2" "$TMP/err" && pass || fail "$3: no '$2' in: $(cat "$TMP/err")"
}
env NORI_RUNDIR="$RUNDIR" "$APP" check && pass || fail "the app without a defect does not start"
refused nori-env 'NORI_STORE (--other) of defects has the variable of NORI_STORE (--store), a setting of nori' \
    "a setting with nori's variable"
refused nori-flag 'DEFECTS_OTHER (--workers) of defects has the flag of NORI_WORKERS (--workers), a setting of nori' \
    "a setting with nori's flag"
refused own-env 'DEFECTS_GREETING (--other) of defects has the variable of DEFECTS_GREETING (--greeting), a setting of defects' \
    "two settings of one variable"
refused help '--help is nori' "a setting whose flag is --help"
refused twice "page 'Home'" "a page twice in the table"
refused prepare 'the link to page Nope cannot be prepared' "a link to no page prepared at load"
# And a worker refuses to serve, as check does.
rc=0
env DEFECT=nori-env REQUEST_METHOD=GET QUERY_STRING= SCRIPT_NAME=/defects NORI_RUNDIR="$RUNDIR" \
    "$APP" >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_eq "$rc" 1 "a CGI request with a setting clash: the exit status"
grep -q '^Status' "$TMP/out" && fail "a CGI request with a setting clash was answered" || pass

echo "behind lighttpd: the application's mistakes are 500s"
cat > "$TMP/lighttpd.conf" <<EOF
server.modules       += ( "mod_fastcgi" )
server.bind           = "127.0.0.1"
server.port           = env.PORT
server.document-root  = "$RUNDIR"
fastcgi.server = (
  "/defects" => ((
    "bin-path"        => "$APP",
    "socket"          => "$RUNDIR/defects.sock",
    "max-procs"       => 1,
    "check-local"     => "disable",
    "bin-environment" => ( "NORI_RUNDIR" => "$RUNDIR" ),
  )),
)
EOF
start_defects() {
    env PORT="$PORT" lighttpd -D -f "$TMP/lighttpd.conf" 2>>"$TMP/error.log" &
    UPID=$!
}
UP_PATH=/defects on_fresh_port lighttpd start_defects
LPID=$UPID
NORI=$APP                       # workers() finds lighttpd's children by it
get 200 /defects "the home page"
wait_workers 1 && pass || fail "lighttpd has one worker: $(workers)"
worker=$(workers)
# once PATH WHAT LOGGED: three requests, each a 500; LOGGED once in the log.
once() {
    local i
    for i in 1 2 3; do get 500 "$1" "$2 ($i)"; done
    expect_no_body 'Unknown' "$2: no status nori has no name for"
    poll -- grep -qF -- "$3" "$TMP/error.log" && pass || fail "$2: not logged: $3"
    expect_eq "$(grep -cF -- "$3" "$TMP/error.log")" 1 "$2: logged once, not per request"
}
once '/defects?pg=Zero' "a page that returns 0" "page Zero returned 0 "
once '/defects?pg=Found' "a page that returns 302" "page Found returned 302 "
expect_no_header Location "a page's 302 is not a redirect"
once '/defects?pg=Typo' "a link to a page not in the table" "page Typo links to page 'Hoem'"
post_once() {
    local i
    for i in 1 2 3; do
        req --data "act=$1" /defects
        expect_status 500 "act=$1 ($i)"
        expect_no_header Location "act=$1: no redirect ($i)"
    done
    poll -- grep -qF -- "$2" "$TMP/error.log" && pass || fail "act=$1: not logged: $2"
    expect_eq "$(grep -cF -- "$2" "$TMP/error.log")" 1 "act=$1: logged once"
}
post_once failok "action failok returned a failure of status 200"
post_once redirectnope "action redirectnope returned a redirect to page 'Nope'"
get 200 /defects "the home page after them"
expect_eq "$(workers)" "$worker" "the same worker serves on"
finish
