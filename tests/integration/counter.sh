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
