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
/usr/bin/python3 "$ROOT/tests/browser/walk.py" --base "$BASE" --out "$OUT" \
    --profiles "$PROFILES" &
WPID=$!
track "$WPID"
if wait "$WPID"; then pass; else fail "the browser walk (see above)"; fi

# walk.py quits its browsers; any Chromium or chromedriver left running
# on one of its profiles (each names it on its command line) is a leak.
browser_pids() {
    local p
    for p in $(pgrep -f -- "$PROFILES" || true); do
        [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] || echo "$p"
    done
}
left=
for i in $(seq 1 100); do
    left=$(browser_pids)
    [ -z "$left" ] && break
    sleep 0.1
done
if [ -z "$left" ]; then pass; else
    fail "browser processes outlived the walk: $left"
    kill -KILL $left 2>/dev/null || true
fi
n=$(ls "$OUT"/*.png 2>/dev/null | wc -l)
[ "$n" -ge 8 ] && pass || fail "only $n screenshots in $OUT"
finish
