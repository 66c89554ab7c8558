#!/usr/bin/env bash
# browser.sh -- a person's walk through the shop in a real headless
# Chromium (tests/browser/walk.py), served by lighttpd with the shipped
# lighttpd.conf: sessionless navigation, add to cart, the counter, the
# cart URL pasted into another browser, login and logout; any console
# error, CSP violation or failed load fails it. Screenshots of every
# page land in build/browser/.
source "$(dirname "$0")/lib.sh"

OUT=$ROOT/build/browser
PROFILES=$TMP/profiles
mkdir -p "$OUT" "$PROFILES"
rm -f "$OUT"/*.png
srv_start

# Debian's python3-selenium: /usr/bin/python3, not a pyenv one on PATH.
# XDG_CONFIG_HOME: Chromium's crash handler keeps its database there; so
# nothing is written under ~/.config and every browser process, the crash
# handlers included, names $PROFILES on its command line.
XDG_CONFIG_HOME=$PROFILES/config /usr/bin/python3 "$ROOT/tests/browser/walk.py" \
    --base "$BASE" --out "$OUT" --profiles "$PROFILES" --counts "$TMP/counts" &
WPID=$!
track "$WPID"
# The walk's checks count as this suite's; a walk that ended without
# counting a failure (killed, crashed) is one more.
rc=0
wait "$WPID" || rc=$?
read -r wp wf < "$TMP/counts" 2>/dev/null || wp=0 wf=0
PASSES=$((PASSES + wp)) FAILS=$((FAILS + wf))
[ "$rc" = 0 ] || [ "$wf" != 0 ] || fail "the browser walk ended with status $rc"

# walk.py quits its browsers. Anything still running that names $PROFILES
# on its command line (chromedriver, Chromium, its crash handlers), or
# descends from such a process, is a leak: reported, then ended by pid.
# One ps per look; awk reads the path from its environment, so that its
# own command line does not match.
browser_pids() {
    ps -eo pid=,ppid=,stat=,args= | PAT=$PROFILES awk '
        { parent[$1] = $2; stat[$1] = $3; if (index($0, ENVIRON["PAT"])) hit[$1] = 1 }
        END {
            do { more = 0
                 for (p in parent) if (!(p in hit) && (parent[p] in hit)) { hit[p] = 1; more = 1 }
            } while (more)
            for (p in hit) if (stat[p] !~ /^Z/) print p
        }'
}
no_browser_left() { [ -z "$(browser_pids)" ]; }
if poll 20 -- no_browser_left; then pass; else
    left=$(browser_pids)
    fail "browser processes outlived the walk:" $left
    kill -KILL $left 2>/dev/null || true
fi
n=$(ls "$OUT"/*.png 2>/dev/null | wc -l)
[ "$n" -ge 8 ] && pass || fail "only $n screenshots in $OUT"
finish
