#!/usr/bin/env bash
# guestbook.sh -- the README's "Write your own application" block run as
# written (HOME and /tmp moved below this suite's directory, port 8080
# replaced by a free one): make install into a prefix, the guestbook and
# its harness test built with nothing of nori's but what was installed
# (pkg-config), the harness test run, then the guestbook behind a real
# lighttpd with its own config, walked with curl: the book, a signing
# (303, then the entry HTML-escaped), bad fields (400), and an entry's
# page served from the page cache by lighttpd without reaching a worker.
source "$(dirname "$0")/lib.sh"

export HOME=$TMP/home
mkdir -p "$HOME"
# readme_block: the block, with /tmp/ and port 8080 moved for this run.
readme_block() {
    guide=$(awk -v mark="<!-- test: start guestbook -->" '
        $0 == mark { want = 1; next }
        want && /^```sh$/ { inside = 1; next }
        inside && /^```$/ { exit }
        inside { print }' "$ROOT/README.md")
    printf '%s\n' "$guide" | sed -e "s#/tmp/#$TMP/#g" -e "s#\\b8080\\b#${PORT:-8080}#g"
}
block=$(readme_block)
[ "$(printf '%s\n' "$block" | wc -l)" -ge 5 ] && pass || { fail "no guestbook block in README.md"; finish; exit 1; }
awk '/^## Write your own application/ {p = 1; next} /^## / {p = 0} p' "$ROOT/README.md" > "$TMP/section"
n=$(wc -l < "$TMP/section")
[ "$n" -le 30 ] && pass || fail "the README's section has $n lines, not at most 30"

echo "the README's commands, as written: install, build, harness test"
# Everything but the last line, which serves in the foreground.
printf '%s\n' "$block" | sed '$d' > "$TMP/build.sh"
(cd "$ROOT" && bash -e "$TMP/build.sh") >"$TMP/build.log" 2>&1 \
    && pass || { fail "the README's build lines"; tail -30 "$TMP/build.log" >&2; finish; exit 1; }
grep -q '^guestbook: all checks passed$' "$TMP/build.log" && pass \
    || fail "the harness test did not say it passed"
PREFIX=$HOME/nori
for f in include/nori.h include/nori_test.h lib/libnori.a; do
    [ -f "$PREFIX/$f" ] && pass || fail "not installed: $f"
done
nm -g --defined-only "$PREFIX/lib/libnori.a" | grep -q ' T nori_test_open$' && pass \
    || fail "the installed library has no nori_test_open"
# The example was built from the installed header only: nothing of the
# tree's include/ on its command line.
grep -q -- "-I$ROOT/include" "$TMP/build.log" && fail "built against the tree's include/" || pass
GB=$TMP/guestbook
[ -x "$GB" ] && pass || { fail "no guestbook binary"; finish; exit 1; }
lines=$(cat "$ROOT"/examples/guestbook/guestbook.c | wc -l)
[ "$lines" -ge 200 ] && [ "$lines" -le 400 ] && pass || fail "guestbook.c has $lines lines"
# Its HTML goes through the escaping writer only: the raw writer is for
# the JSON page alone, and the trusted call writes literals only.
grep -n 'nori_html_escape' "$ROOT"/examples/guestbook/guestbook.c \
    && fail "guestbook.c escapes by hand" || pass
awk '/^static void json_string/ {j = 1} /^\/\* ---- the action/ {j = 0}
     !j && /nori_response_/ {print FILENAME ":" FNR ": " $0}' \
    "$ROOT"/examples/guestbook/guestbook.c > "$TMP/raw"
[ ! -s "$TMP/raw" ] && pass || fail "raw output outside the JSON page: $(cat "$TMP/raw")"
grep -n 'nori_html_unescaped_trusted' "$ROOT"/examples/guestbook/guestbook.c \
    | grep -v 'nori_html_unescaped_trusted(r, "' > "$TMP/trusted" || true
[ ! -s "$TMP/trusted" ] && pass || fail "unescaped output of a non-literal: $(cat "$TMP/trusted")"

echo "behind lighttpd, with the example's config"
RUNDIR=$TMP/guestbook-run
start_guestbook() {
    serve_line=$(readme_block | tail -1)
    (cd "$ROOT/examples/guestbook" && exec bash -c "exec env $serve_line") 2>>"$TMP/error.log" &
    UPID=$!
}
UP_PATH=/guestbook on_fresh_port lighttpd start_guestbook
LPID=$UPID
NORI=$GB                        # workers() finds lighttpd's children by it
requests() { "$GB" stats --rundir "$RUNDIR" | awk '$1 == "requests" {print $2}'; }

get 200 /guestbook "the empty book"
expect_body '0 entries' "no entries yet"
expect_header Cache-Control '^no-store$' "the book is never kept"
expect_no_header Last-Modified "the book has no validator"

JAR=$TMP/jar
req -b "$JAR" -c "$JAR" --data 'act=sign&name=Ann&text=%3Cscript%3Ealert(1)%3C/script%3E' /guestbook
expect_status 303 "signing"
expect_header Location '^/guestbook\?pg=Book&_s=' "the 303 goes to the book, with the session"
req -b "$JAR" "$(header Location)"
expect_status 200 "the book after signing"
expect_body '1 entries' "one entry"
expect_body '&lt;script&gt;alert\(1\)&lt;/script&gt;' "the text comes back HTML-escaped"
expect_no_body '<script' "no script element"
expect_body 'value="Ann"' "the session remembers the name"
get 200 /guestbook "another visitor's book"
expect_body '&lt;script&gt;' "another visitor sees the entry"
expect_no_body 'value="Ann"' "another visitor is offered no name"

echo "bad fields"
req --data 'act=sign&name=Bob' /guestbook
expect_status 400 "a required field missing"
req --data 'act=sign&name=B%01b&text=hi' /guestbook
expect_status 400 "a control character in a name"
req --data "act=sign&name=Bob&text=$(head -c 201 /dev/zero | tr '\0' x)" /guestbook
expect_status 400 "a text over 200 bytes"
get 400 '/guestbook?pg=Entry&id=0' "entry 0"
get 404 '/guestbook?pg=Entry&id=2' "an entry not signed yet"
expect_header Cache-Control '^no-store$' "an error is never kept"
get 200 /guestbook "the book"
expect_body '1 entries' "nothing was added by the bad forms"

echo "the JSON page"
get 200 '/guestbook?pg=Json' "the book as JSON"
expect_header Content-Type '^application/json' "its own content type"
expect_body '"name":"Ann"' "the entry in JSON"

echo "an entry from the page cache, without a worker"
get 200 '/guestbook?pg=Entry&id=1' "entry 1, rendered by nori"
cp "$TMP/b" "$TMP/b.nori"; cp "$TMP/h" "$TMP/h.nori"
[ -f "$RUNDIR/pages/current/guestbook/pg=Entry&id=1.html" ] && pass || fail "entry 1 was not kept"
before=$(requests)
get 200 '/guestbook?pg=Entry&id=1' "entry 1 again"
expect_eq "$(requests)" "$before" "the cached entry reached no worker"
cmp -s "$TMP/b" "$TMP/b.nori" && pass || fail "the cached bytes differ from nori's"
# The headers lighttpd sends with the file are nori's (but Date, and the
# Accept-Ranges a static file gets).
heads() { tr -d '\r' < "$1" | grep -Ev '^(Date|Accept-Ranges):' | grep -v '^$' | sort; }
diff <(heads "$TMP/h.nori") <(heads "$TMP/h") > "$TMP/hdiff" && pass \
    || { fail "the cached entry's headers differ from nori's"; cat "$TMP/hdiff" >&2; }
expect_body '&lt;script&gt;' "the cached entry is the escaped one"
get 200 /guestbook "the book, again"
[ "$(requests)" -gt "$before" ] && pass || fail "the book came from somewhere else than nori"
[ -z "$(find "$RUNDIR/pages" -name 'index.html')" ] && pass || fail "the book was kept"
curl -s "$BASE/nori-status" | grep -q '"requests"' && pass || fail "/nori-status"
get 403 /guestbook.tsv "the book's file is not served"
finish
