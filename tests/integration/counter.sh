#!/usr/bin/env bash
# counter.sh -- the second application: Seaside's counter, built outside
# this tree against the installed library (make install, then
# `pkg-config --cflags --libs nori`), served by lighttpd with its own
# snippet (examples/counter/lighttpd.conf). Window shopping commits
# nothing; ++ makes a session; the count survives kill -9 of every worker.
source "$(dirname "$0")/lib.sh"

echo "built against the installed library"
PREFIX=$TMP/prefix
make -s -C "$ROOT" install PREFIX="$PREFIX" STATEDIR="$TMP/state" >"$TMP/install.log" 2>&1 \
    && pass || { fail "make install"; tail -20 "$TMP/install.log" >&2; finish; exit 1; }
for f in lib/libnori.a include/nori.h lib/pkgconfig/nori.pc; do
    [ -f "$PREFIX/$f" ] && pass || fail "not installed: $f"
done
BUILDDIR=$TMP/outside           # not the tree: only what was installed
mkdir -p "$BUILDDIR"
cp "$ROOT/examples/counter/counter.c" "$BUILDDIR/"
flags=$(PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig pkg-config --cflags --libs nori)
expect_eq "$(echo "$flags" | grep -c -- "-I$PREFIX/include")" 1 "pkg-config --cflags"
(cd "$BUILDDIR" && cc -std=c11 -Wall -Wextra -Werror counter.c $flags -o counter) \
    2>"$TMP/cc.log" && pass || { fail "the counter does not build"; cat "$TMP/cc.log" >&2; finish; exit 1; }
COUNTER=$BUILDDIR/counter

echo "the installed library exports nori_ names only"
others=$(nm -g --defined-only "$PREFIX/lib/libnori.a" | awk 'NF == 3 && $3 !~ /^nori_/ {print $3}')
[ -z "$others" ] && pass || fail "global symbols without nori_: $(echo $others | head -c 300)"
nm -g --defined-only "$PREFIX/lib/libnori.a" | grep -q ' T nori_main$' && pass \
    || fail "nori_main is not exported"
# An application may name its own functions as nori's internals are named.
cat > "$BUILDDIR/clash.c" <<'C'
int store_get(void) { return 42; }
void *arena_alloc(void) { return 0; }
int response_write_count;
C
(cd "$BUILDDIR" && cc -std=c11 -Wall -Wextra -Werror counter.c clash.c $flags -o clash) \
    2>"$TMP/clash.log" && pass || fail "an app with its own store_get does not link: $(head -3 "$TMP/clash.log")"
mkdir -m 700 "$TMP/clashrun"
[ -x "$BUILDDIR/clash" ] && REQUEST_METHOD=GET QUERY_STRING= SCRIPT_NAME=/counter \
    NORI_RUNDIR="$TMP/clashrun" "$BUILDDIR/clash" 2>/dev/null | grep -q '^Status: 200' \
    && pass || fail "the app with its own store_get does not answer 200"
# The old names still compile (deprecated) and write what they wrote.
cat > "$BUILDDIR/old.c" <<'C'
#include <nori.h>
void old_api(struct response *r)
{
    void (*puts_fn)(struct response *, const char *) = (response_puts);
    response_puts(r, "a");
    puts_fn(r, "b");
    response_write(r, "c", 1);
    response_uint(r, 7);
    response_printf(r, "%d", 8);
    (void)response_length(r);
    (void)response_since(r, 0);
}
C
(cd "$BUILDDIR" && cc -std=c11 -Wall -Wextra -Werror -Wno-error=deprecated-declarations \
    -c old.c $(PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig pkg-config --cflags nori) -o old.o) \
    2>"$TMP/old.log" && pass || fail "the old response_* calls do not compile: $(head -3 "$TMP/old.log")"
grep -q 'deprecated' "$TMP/old.log" && pass || fail "the old names are not marked deprecated"
lines=$(wc -l < "$ROOT/examples/counter/counter.c")
[ "$lines" -lt 120 ] && pass || fail "counter.c has $lines lines, not under 120"

RUNDIR=$TMP/run
mkdir -p "$RUNDIR"
chmod 700 "$RUNDIR"
start_counter() {
    env COUNTER="$COUNTER" RUNDIR="$RUNDIR" PORT="$PORT" \
        lighttpd -D -f "$ROOT/examples/counter/lighttpd.conf" 2>>"$TMP/error.log" &
    UPID=$!
}
UP_PATH=/counter on_fresh_port lighttpd start_counter
LPID=$UPID
NORI=$COUNTER                   # workers() finds lighttpd's children by it
stat() { "$COUNTER" stats --rundir "$RUNDIR" | awk -v k="$1" '$1 == k {print $2}'; }

echo "window shopping"
for i in 1 2 3 4 5; do get 200 /counter "the counter page"; done
expect_body 'id="count">0<' "no session: the count is 0"
expect_no_body '_s=' "no session: no key in the page"
expect_no_body 'name="_k"' "no session: no form key"
expect_header Last-Modified 'GMT$' "a sessionless page has a validator (the page cache's date)"
expect_eq "$(stat commits)" 0 "window shopping commits nothing"
expect_eq "$(stat sessions_created)" 0 "window shopping makes no session"

echo "++ makes a session"
JAR=$TMP/jar
req -b "$JAR" -c "$JAR" --data 'act=inc' /counter
expect_status 303 "++"
KEY=$(loc_key)
[ -n "$KEY" ] && pass || fail "the 303 carries _s"
expect_eq "$(stat sessions_created)" 1 "the first write made one session"
req -b "$JAR" "/counter?pg=Counter&_s=$KEY"
expect_body 'id="count">1<' "the count after ++"
K=$(page_k)
req -b "$JAR" -c "$JAR" --data "act=inc&_s=$KEY&_k=$K" /counter
expect_status 303 "++ again"
req -b "$JAR" -c "$JAR" --data "act=inc&_s=$KEY" /counter
expect_status 403 "a POST without the session's form key"
req -b "$JAR" "/counter?pg=Counter&_s=$KEY"
expect_body 'id="count">2<' "the count after two ++"
commits=$(stat commits)
req -b "$JAR" "/counter?pg=Counter&_s=$KEY"
expect_eq "$(stat commits)" "$commits" "reading the count commits nothing"

echo "the count survives kill -9 of every worker"
old=$(workers)
[ -n "$old" ] && pass || fail "lighttpd has counter workers"
kill -KILL $old
wait_gone $old && pass || fail "the workers died"
new_workers() { [ -n "$(workers)" ] && [ -z "$(live $old)" ] && is_200 "$BASE/counter"; }
poll -- new_workers && pass || fail "lighttpd started new workers"
req -b "$JAR" "/counter?pg=Counter&_s=$KEY"
expect_status 200 "the page after the crash"
expect_body 'id="count">2<' "the count after kill -9"
finish
