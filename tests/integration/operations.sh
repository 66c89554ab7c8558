#!/usr/bin/env bash
# operations.sh -- the README's operations block (<!-- test: operations
# -->) run line by line as written, with only its placeholders changed
# (the port 8080, /run/nori, /var/log/nori, /etc/logrotate.d/nori), each
# line's effect checked: the version, a clean check, nori serve started,
# a reload that replaces every worker, the health and metrics URLs
# through lighttpd in front, a log file reopened after a rotation, the
# shipped logrotate file, a Redis spec checked. Its `make install` and
# `make uninstall` lines must be the ones install.sh runs (with DESTDIR
# and PREFIX); that suite checks what they do.
source "$(dirname "$0")/lib.sh"

block=$(awk '
    $0 == "<!-- test: operations -->" { want = 1; next }
    want && /^```sh$/ { inside = 1; next }
    inside && /^```$/ { exit }
    inside { print }' "$ROOT/README.md")
[ -n "$block" ] && pass || { fail "README.md has no operations block"; finish; exit 1; }

# The installed paths, the test's own; `nori` on PATH is this build.
mkdir -p -m 700 "$TMP/run" "$TMP/log" "$TMP/state" "$TMP/bin"
ln -s "$NORI" "$TMP/bin/nori"
export PATH=$TMP/bin:$PATH NORI_RUNDIR=$TMP/state
PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
SOCK=$TMP/run/nori.sock
placed() {
    sed -e "s#\\b8080\\b#$PORT#g; s#/run/nori/#$TMP/run/#g; s#/var/log/nori/#$TMP/log/#g" \
        -e "s#/etc/logrotate\\.d/nori#$ROOT/deploy/logrotate/nori#g"
}
kids() { live $(pgrep -P "$SPID" || true) | sort; }
has4() { [ "$(kids | wc -l)" = 4 ]; }
none_of() { [ -z "$(comm -12 <(echo "$1") <(kids))" ] && has4; }

n=0
while IFS= read -r line; do
    n=$((n + 1))
    cmd=${line%%  #*}
    case $cmd in
    make\ install*|make\ uninstall*)
        target=${cmd#make }
        target=${target%% *}
        grep -q "make -s -C \"\$ROOT\" $target DESTDIR=" "$ROOT/tests/integration/install.sh" \
            && pass || fail "install.sh does not run '$cmd'"
        continue ;;
    esac
    before=
    case $cmd in kill\ -HUP*) before=$(kids) ;; kill\ -USR1*) mv "$TMP/log/nori.log" "$TMP/log/nori.log.1" ;; esac
    placed <<<"$cmd" > "$TMP/op.$n"
    # `nori serve ... &` and `SPID=$!` must run in this shell.
    rc=0
    eval "$(cat "$TMP/op.$n")" > "$TMP/out.$n" 2>&1 || rc=$?
    expect_eq "$rc" 0 "line $n: $cmd"
    out=$(cat "$TMP/out.$n")
    case $cmd in
    "nori --version")
        [[ $out =~ ^nori\ [0-9.]+\ \(build\ [0-9a-f]+\)$ ]] && pass || fail "nori --version: '$out'" ;;
    *"nori check")
        expect_eq "$out" "" "line $n: nori check says nothing" ;;
    "nori serve"*)
        poll -- test -S "$SOCK" && pass || fail "nori serve made no $SOCK" ;;
    SPID=*)
        track "$SPID"
        poll -- has4 || fail "nori serve started no 4 workers"
        lighttpd_with deploy/lighttpd/lighttpd-external.conf ;;
    kill\ -HUP*)
        poll -- none_of "$before" && pass || fail "the reload left old workers: $(kids)"
        get 200 /shop "the shop after the reload" ;;
    *nori-ping)
        expect_eq "$out" pong "the health check" ;;
    *openmetrics*)
        grep -q '^nori_requests_total [0-9]' <<<"$out" && pass || fail "no nori_requests_total: $out" ;;
    *nori-status)
        grep -q '"build": "[0-9a-f]*"' <<<"$out" && pass || fail "no build in /nori-status: $out" ;;
    kill\ -USR1*)
        poll -- test -e "$TMP/log/nori.log" && pass || fail "SIGUSR1 reopened no log file at its path"
        alive "$SPID" && pass || fail "SIGUSR1 ended nori serve" ;;
    logrotate*)
        grep -qi error <<<"$out" && fail "logrotate -d reports an error: $out" || pass ;;
    esac
done <<<"$block"
expect_eq "$(grep -c . <<<"$block")" "$n" "every line of the block was looked at"
srv_stop
kill -TERM "$SPID" 2>/dev/null || true
wait "$SPID" 2>/dev/null || true
finish
