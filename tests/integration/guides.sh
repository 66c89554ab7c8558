#!/usr/bin/env bash
# guides.sh -- every deployment guide works as written. `make install`
# puts the tree below a base directory ($GROOT, standing for /); each
# guide's start block is then run as written (paths moved below $GROOT,
# ports 8080 and 9000 replaced by free ones), the smoke flow goes through
# the web server it started, its stop block stops everything it started.
# A guide that drifts from the code turns this red. Also: the installed
# tree served by lighttpd from outside the source directory, and the
# systemd unit's hardening rating.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/integration/guide-lib.sh"

# nori and www-data must reach the installed tree and the run directories.
chmod 755 "$TMP"
GROOT=$TMP/root
make -s -C "$ROOT" install PREFIX="$GROOT/usr/local" STATEDIR="$GROOT/var/lib/nori" \
    >"$TMP/install.log" 2>&1 && pass || { cat "$TMP/install.log" >&2; fail "make install"; exit 1; }
[ -e "$GROOT/var/lib/nori" ] && fail "make install made STATEDIR (the guides make it for nori)" || pass

echo "the commands in the configs' headers are the guides' commands"
for r in "$ROOT"/deploy/*/README.md; do guide_commands "$r"; done > "$TMP/guide-commands"
for conf in "$ROOT"/lighttpd.conf "$ROOT"/deploy/*/*.conf; do
    while IFS= read -r cmd; do
        grep -qF -- "$cmd" "$TMP/guide-commands" && pass \
            || fail "${conf#$ROOT/}: a header command is in no tested guide: $cmd"
    done < <(header_commands "$conf")
done
n=$(for conf in "$ROOT"/deploy/*/*.conf; do header_commands "$conf"; done | wc -l)
[ "$n" -ge 5 ] && pass || fail "only $n header commands found: is header_commands broken?"

guide_run deploy/lighttpd/README.md lighttpd 0
guide_run deploy/lighttpd/README.md lighttpd-members 1
guide_run deploy/apache/README.md apache-fcgid 0
guide_run deploy/apache/README.md apache-proxy-fcgi 1
guide_run deploy/apache/README.md apache-sticky 0
guide_run deploy/nginx/README.md nginx 1
guide_run deploy/nginx/README.md nginx-sticky 0
guide_run deploy/spawn-fcgi/README.md spawn-fcgi 0

echo "the installed tree, from outside the checkout"
# The installed lighttpd.conf, as a user with no checkout: its bin-path,
# its nori check and the data all come from the installed tree.
RUNDIR=$TMP/installed-run
installed_lighttpd() {
    (cd / && exec env -i PATH="$PATH" NORI_HOME="$GROOT/usr/local/share/nori" \
        NORI_RUNDIR="$RUNDIR" PORT="$PORT" \
        lighttpd -D -f "$GROOT/usr/local/share/nori/examples/lighttpd.conf" \
        2>>"$TMP/installed.log") &
    UPID=$!
}
on_fresh_port "lighttpd on the installed tree" installed_lighttpd
LPID=$UPID
pass
guide_smoke installed 0
installed_workers() { live $(pgrep -P "$LPID" || true); }
expect_eq "$(installed_workers | wc -l)" 4 "lighttpd spawned 4 installed workers"
for w in $(installed_workers); do
    exe=$(readlink "/proc/$w/exe" || true)
    expect_eq "$exe" "$GROOT/usr/local/bin/nori" "an installed worker runs the installed binary"
done
pids=$(installed_workers)
kill -TERM "$LPID"; wait "$LPID" 2>/dev/null || true
LPID=
wait_gone $pids && pass || fail "installed workers outlived lighttpd: $(live $pids)"
grep -rl "$ROOT" "$GROOT/usr/local/share/nori/examples" && fail "the installed configs name the checkout" || pass

echo "systemd unit"
rating=$(systemd-analyze security --offline=true "$ROOT/deploy/systemd/nori.service" 2>&1 \
         | sed -n 's/.*Overall exposure level for nori.service: \([0-9.]*\).*/\1/p')
echo "  systemd-analyze security --offline=true: $rating"
[ -n "$rating" ] && awk -v r="$rating" 'BEGIN { exit !(r <= 2.0) }' && pass \
    || fail "the unit's exposure is '$rating', want at most 2.0"
unit=$GROOT/usr/local/share/nori/examples/systemd/nori.service
grep -q "^ExecStart=$GROOT/usr/local/bin/nori serve" "$unit" && pass || fail "installed ExecStart: $(grep ExecStart "$unit")"
out=$(systemd-analyze verify "$unit" 2>&1) && pass || fail "systemd-analyze verify: $out"

# No systemd runs here, so the unit's service is started as systemd
# would: its directories with its modes, its Environment= lines, then
# its EnvironmentFile=, its ExecStart= as user nori with group www-data;
# then lighttpd-members.conf as the lighttpd guide starts it ("With
# systemd ... start only lighttpd"). The members flow needs the unit's
# NORI_COOKIE_PATH=/; a setting in the environment file must be seen.
echo "the unit's service behind lighttpd-members.conf"
ef=$(sed -n 's/^EnvironmentFile=-//p' "$unit")
expect_eq "$ef" /etc/default/nori "the unit reads an optional /etc/default/nori"
mkdir -p "$GROOT/etc/default"
echo 'NORI_STATUS_PATH=/status-from-envfile' > "$GROOT$ef"
install -d -o nori -g nori -m 0700 "$GROOT/var/lib/nori"
install -d -o nori -g nori -m 0755 "$GROOT/run/nori"
unit_env=()
while IFS= read -r l; do unit_env+=("$l"); done < <(sed -n 's/^Environment=//p' "$unit" | guide_localize)
while IFS= read -r l; do unit_env+=("$l"); done < <(grep -v '^#' "$GROOT$ef")
read -r -a unit_exec < <(sed -n 's/^ExecStart=//p' "$unit" | guide_localize)
(cd / && exec env -i PATH="$PATH" "${unit_env[@]}" setpriv --reuid=nori --regid=nori \
    --groups www-data "${unit_exec[@]}" 2>>"$TMP/unit.log") &
UNITPID=$!
track "$UNITPID"
poll -- test -S "$GROOT/run/nori/nori.sock" && pass || fail "the unit's ExecStart made no socket: $(tail -n 3 "$TMP/unit.log")"
unit_lighttpd() {
    (cd / && exec env NORI_HOME="$GROOT/usr/local/share/nori" NORI_SOCKET="$GROOT/run/nori/nori.sock" \
        PORT="$PORT" setpriv --reuid=www-data --regid=www-data --init-groups \
        lighttpd -D -f "$GROOT/usr/local/share/nori/examples/lighttpd/lighttpd-members.conf" \
        2>>"$TMP/unit-lighttpd.log") &
    UPID=$!
    track "$UPID"
}
on_fresh_port "lighttpd in front of the unit's nori serve" unit_lighttpd
ULPID=$UPID
guide_smoke unit 1
get 200 /shop/status-from-envfile "the environment file's NORI_STATUS_PATH"
expect_body '"requests"' "the counters at the environment file's path"
kill -TERM "$ULPID" "$UNITPID"
wait "$UNITPID" && pass || fail "the unit's nori serve did not exit 0 on SIGTERM"
finish
