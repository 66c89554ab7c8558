#!/usr/bin/env bash
# etag.sh -- the sessionless ETag names the build: a copy of the tree
# with a changed page template builds a binary whose ETag differs, and
# whose pages answer 200, not 304, to the validator of the old build;
# the same sources give the same build identity wherever they are built.
source "$(dirname "$0")/lib.sh"

# oneshot BINARY [VAR=value...]: the Item page as a one-shot CGI run,
# page cache off: with it on, the validator is the cache generation's
# date (pagecache.sh), and the generation is named by this ETag.
oneshot() {
    local bin=$1; shift
    env -i "$@" QUERY_STRING='pg=Item&id=26' SCRIPT_NAME=/shop REQUEST_METHOD=GET \
        NORI_RUNDIR="$TMP" NORI_PAGE_CACHE=off "$bin"
}
etag_of() { oneshot "$1" | sed -n 's/^ETag: *//p' | tr -d '\r'; }

# A copy of what git tracks (or of the tree, outside a checkout).
copy_tree() {
    mkdir -p "$1"
    if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (cd "$ROOT" && git ls-files -z | xargs -0 cp --parents -t "$1" 2>/dev/null)
        # files of the change at hand that git does not track yet
        (cd "$ROOT" && git ls-files -z --others --exclude-standard | \
            xargs -0 -r cp --parents -t "$1" 2>/dev/null) || true
    else
        (cd "$ROOT" && tar --exclude=./build --exclude=./var -cf - .) | tar -C "$1" -xf -
    fi
}

old=$(etag_of "$NORI")
[ -n "$old" ] && pass || fail "the Item page has no ETag"

copy_tree "$TMP/same"
make -s -C "$TMP/same" build/build_id.c >/dev/null
expect_eq "$(cat "$TMP/same/build/build_id.c")" "$(cat "$ROOT/build/build_id.c")" \
    "the same sources, built elsewhere, are the same build"

copy_tree "$TMP/changed"
sed -i 's|view_link(r, "Home", 0, "nori sushi");|view_link(r, "Home", 0, "nori sushi!");|' \
    "$TMP/changed/shop/layout.c"
grep -q 'nori sushi!' "$TMP/changed/shop/layout.c" && pass || fail "the template was not changed"
make -s -C "$TMP/changed" OPT=-O0 build/nori >"$TMP/build.log" 2>&1 \
    || { cat "$TMP/build.log" >&2; fail "the changed tree did not build"; finish; exit 1; }
new=$(etag_of "$TMP/changed/build/nori")
[ -n "$new" ] && [ "$new" != "$old" ] && pass || fail "a changed template kept the ETag $old"
oneshot "$TMP/changed/build/nori" HTTP_IF_NONE_MATCH="$old" > "$TMP/out"
head -1 "$TMP/out" | grep -q '^Status: 200' && pass \
    || fail "the new build answered the old validator with: $(head -1 "$TMP/out")"
grep -q 'nori sushi!' "$TMP/out" && pass || fail "the new build does not serve the new page"
oneshot "$NORI" HTTP_IF_NONE_MATCH="$old" | head -1 | grep -q '^Status: 304' && pass \
    || fail "the old build no longer answers its own validator with 304"
finish
