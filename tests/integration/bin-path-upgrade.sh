#!/usr/bin/env bash
# bin-path-upgrade.sh -- a new build under lighttpd's bin-path, loaded as
# deploy/lighttpd/README.md says: `nori check`, then SIGTERM to
# lighttpd's workers, which lighttpd starts again from bin-path. The new
# build answers (/nori-status names it); a broken catalog at that moment
# makes the new workers refuse to start, and lighttpd stays up and serves
# again once the catalog is fixed, with no restart of its own.
source "$(dirname "$0")/lib.sh"

# The binary lighttpd runs is a copy that the test replaces: NORI_HOME
# is the stage, its build/nori the bin-path.
HOME_STAGED=$(stage_for_others)
cp "$ROOT/shop/data/catalog.tsv" "$TMP/catalog.tsv"
RUNDIR=$TMP/run
mkdir -p "$RUNDIR"
lt_run() {
    NORI_HOME="$HOME_STAGED" NORI_RUNDIR="$RUNDIR" NORI_CATALOG="$TMP/catalog.tsv" PORT="$PORT" \
        lighttpd -D -f "$ROOT/lighttpd.conf" 2>>"$TMP/error.log" &
    UPID=$!
    track "$UPID"
}
on_fresh_port lighttpd lt_run
LT=$UPID
lt_workers() { live $(pgrep -P "$LT" || true); }
has_lt_workers() { [ "$(lt_workers | wc -l)" = 4 ]; }
build_of() { curl -s --max-time 10 "$BASE/nori-status" | sed -n 's/.*"build": "\([0-9a-f]*\)".*/\1/p'; }
poll -- has_lt_workers || true
old_build=$(build_of)
[ -n "$old_build" ] && pass || fail "/nori-status names no build"

echo "a new build: nori check, then the workers told to finish"
printf 'const char nori_build_id[] = "0123456789abcdef";\n' > "$TMP/build_id.c"
cc -c "$TMP/build_id.c" -o "$TMP/build_id.o"
cc -std=c11 -D_GNU_SOURCE -I"$ROOT/include" -DNORI_DATADIR="\"$HOME_STAGED/shop/data\"" \
    "$ROOT/shop/main.c" "$TMP/build_id.o" "$ROOT/build/libshop.a" "$ROOT/build/libnori-internal.a" \
    $(make -s -C "$ROOT" --eval 'print-ldlibs: ; @echo $(LDLIBS)' print-ldlibs) -o "$TMP/nori.new" && pass || fail "linking a new build"
mv -f "$TMP/nori.new" "$HOME_STAGED/build/nori"
# The guide's two commands, with this test's settings and pid.
NORI_RUNDIR="$RUNDIR" NORI_CATALOG="$TMP/catalog.tsv" "$HOME_STAGED/build/nori" check \
    && pass || fail "nori check of the new build"
pkill -TERM -P "$LT"
new_build() { [ "$(build_of)" = 0123456789abcdef ]; }
poll -- new_build && pass || fail "lighttpd's workers do not answer as the new build: $(build_of)"
poll -- has_lt_workers && pass || fail "lighttpd has $(lt_workers | wc -l) workers, not 4"

echo "a broken catalog at that moment does not take lighttpd down"
echo "broken line" >> "$TMP/catalog.tsv"
NORI_RUNDIR="$RUNDIR" NORI_CATALOG="$TMP/catalog.tsv" "$HOME_STAGED/build/nori" check 2>/dev/null \
    && fail "nori check passed a broken catalog" || pass
pkill -TERM -P "$LT"
refusing() { grep -q "NORI_CATALOG.*catalog.tsv.*broken line" "$TMP/error.log"; }
poll -- refusing && pass || fail "no worker refused the broken catalog"
alive "$LT" && pass || fail "lighttpd went down with the broken catalog"
req '/shop?pg=Item&id=26'
[ "$STATUS" != 200 ] && pass || fail "served 200 with no worker"
cp "$ROOT/shop/data/catalog.tsv" "$TMP/catalog.tsv"
poll -- is_200 "$BASE/shop?pg=Item&id=26" && pass || fail "lighttpd did not serve again once the catalog was fixed"
alive "$LT" && pass || fail "lighttpd is gone"
kill -TERM "$LT"; wait "$LT" 2>/dev/null || true
finish
