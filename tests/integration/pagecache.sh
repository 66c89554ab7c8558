#!/usr/bin/env bash
# pagecache.sh -- the page cache behind the shipped lighttpd.conf: a
# window shopper's page is a file lighttpd serves without a worker, with
# nori's own headers and bytes; a session, a non-canonical URL, bad input
# and Search always reach nori; a new catalog or build is a new,
# empty generation before any page of it is served; NORI_PAGE_CACHE=off
# writes nothing and NORI_PAGE_CACHE_MAX bounds what it takes on disk.
source "$(dirname "$0")/lib.sh"

ITEM='/shop?pg=Item&id=26'
source "$(dirname "$0")/cache-lib.sh"
# lm_of HFILE: the Last-Modified of an answer.
lm_of() { tr -d '\r' < "$1" | sed -n 's/^Last-Modified: //p'; }

srv_start
echo "a page is kept, then served by lighttpd alone"
kept_then_served "$ITEM" 'pg=Item&id=26'
before=$(nori_requests)
expect_no_header ETag "with the cache on, the validator is not an ETag"
lm=$(lm_of "$TMP/h")
[ -n "$lm" ] && expect_eq "$lm" "$(lm_of "$TMP/h.nori")" "the file's date is nori's Last-Modified"
req -H "If-Modified-Since: $lm" "$ITEM"
expect_status 304 "the cached page revalidates"
expect_eq "$(nori_requests)" "$before" "a 304 from the cache reached no worker"
req -H "If-Modified-Since: Thu, 01 Jan 1970 00:00:01 GMT" "$ITEM"
expect_status 200 "an older copy gets the page from the cache"
n=$(nori_requests)
req -H "If-Modified-Since: $lm" '/shop?pg=Item&id=27'
expect_status 304 "nori revalidates a page not kept yet as lighttpd does"
[ "$(nori_requests)" -gt "$n" ] && pass || fail "that 304 did not come from nori"
req -H "If-Modified-Since: $lm, junk" '/shop?pg=Item&id=28'
expect_status 200 "an unreadable date is no match"
req -I "$ITEM"
expect_status 200 "HEAD of a cached page"
get 200 /shop "Home"
kept index && pass || fail "Home (no query) was not kept"
get 200 '/shop?pg=Category&id=1' "a category"
kept 'pg=Category&id=1' && pass || fail "a category page was not kept"

echo "what always reaches nori"
for u in '/shop?id=26&pg=Item' '/shop?pg=Item&id=26&utm_source=x' '/shop?pg=Search&q=tuna' \
         '/shop?pg=Cart' '/shop?pg=Item&id=0' '/shop?pg=Item&id=99999' '/shop?pg=Nope' \
         '/shop?pg=Item%26id=26' '/shop/?pg=Item&id=26' \
         '/shop?pg=Item&id=26&' '/shop?pg=Item/../&id=26' \
         '/shop?index'; do   # no '=': never Home's index.html
    n=$(nori_requests)
    req "$u"
    [ "$(nori_requests)" -gt "$n" ] && pass || fail "$u did not reach nori"
done
# An error that came the cache's way and fell through to nori keeps
# nori's headers: lighttpd adds none that would let it be kept.
req '/shop?pg=Item&id=99999'
expect_status 404 "an unknown item, through the cache's rewrite"
expect_header Cache-Control '^no-store$' "an error is never cacheable"
for k in 'id=26&pg=Item' 'pg=Item&id=26&utm_source=x' 'pg=Search&q=tuna' 'pg=Cart' \
         'pg=Item&id=0' 'pg=Item&id=99999' 'pg=Nope'; do
    kept "$k" && fail "kept: $k" || pass
done
[ -z "$(find "$RUNDIR/pages" -name '*.tmp')" ] && pass || fail "a temporary file was left"

echo "a session never gets a cached page"
JAR=$TMP/jar
post 'act=add&id=26&qty=2'
expect_status 303 "add to cart"
KEY=$(loc_key)
n=$(nori_requests)
req -b "$JAR" "$ITEM&_s=$KEY"
[ "$(nori_requests)" -gt "$n" ] && pass || fail "a URL with _s was served from the cache"
expect_body 'id="cart-count">2<' "the session's page shows its cart"
expect_header Cache-Control 'private' "the session's page is private"
srv_stop

echo "the cookie carrier: a nori_s cookie reaches nori"
srv_start NORI_SESSION_CARRIER=cookie
get 200 "$ITEM" "the Item page, kept"
expect_header Vary 'Cookie' "nori says Vary: Cookie"
get 200 "$ITEM" "the Item page, from the cache"
expect_header Vary 'Cookie' "the cache says Vary: Cookie too"
rm -f "$JAR"
post 'act=add&id=26&qty=1'
expect_status 303 "add to cart (cookie carrier)"
n=$(nori_requests)
req -b "$JAR" "$ITEM"
[ "$(nori_requests)" -gt "$n" ] && pass || fail "a request with nori_s was served from the cache"
expect_body 'id="cart-count">1<' "the cookie's page shows its cart"
srv_stop

echo "a new catalog is a new, empty generation"
cp "$ROOT/shop/data/catalog.tsv" "$TMP/catalog.tsv"
srv_start NORI_CATALOG="$TMP/catalog.tsv"
get 200 "$ITEM" "Item, first catalog"
get 200 "$ITEM" "Item, first catalog, cached"
old=$(gen)
lm_old=$(lm_of "$TMP/h")
expect_body 'Wagyu aburi nigiri' "the first catalog's name"
srv_stop
sed -i 's/Wagyu aburi nigiri/Wagyu aburi nigiri deluxe/' "$TMP/catalog.tsv"
lighttpd_up lighttpd.conf NORI_CATALOG="$TMP/catalog.tsv" NORI_RUNDIR="$RUNDIR"
[ "$(gen)" != "$old" ] && pass || fail "the new catalog kept generation $old"
[ ! -e "$RUNDIR/pages/$old" ] && pass || fail "the old generation is still there"
get 200 "$ITEM" "Item, new catalog"
expect_body 'Wagyu aburi nigiri deluxe' "the new catalog at once"
get 200 "$ITEM" "Item, new catalog, cached"
expect_body 'Wagyu aburi nigiri deluxe' "the new catalog from the cache"
# Restarted within a second of the first start or not, the new
# generation is dated after the old one: a browser's copy of the old
# page never revalidates against the new.
[ "$(date -d "$(lm_of "$TMP/h")" +%s)" -gt "$(date -d "$lm_old" +%s)" ] && pass \
    || fail "the new generation is dated $(lm_of "$TMP/h"), the old $lm_old"
req -H "If-Modified-Since: $lm_old" "$ITEM"
expect_status 200 "the old generation's date gets the new page"
expect_body 'Wagyu aburi nigiri deluxe' "the new page, not a 304"
srv_stop

echo "SIGHUP under nori serve switches generation before new workers serve"
SRUN=$TMP/serve-run
mkdir -p "$SRUN"; chmod 700 "$SRUN"
NORI_RUNDIR=$SRUN NORI_CATALOG="$TMP/catalog.tsv" "$NORI" serve --listen "unix:$TMP/s.sock" \
    --workers 2 2>>"$TMP/serve.log" &
SPID=$!
track "$SPID"
has_gen() { [ -L "$SRUN/pages/current" ]; }
poll -- has_gen && pass || fail "nori serve made no generation"
sgen=$(readlink "$SRUN/pages/current")
sdate=$(stat -c %Y "$SRUN/pages/current")
sed -i 's/Wagyu aburi nigiri deluxe/Wagyu aburi nigiri royale/' "$TMP/catalog.tsv"
kill -HUP "$SPID"
switched() { [ "$(readlink "$SRUN/pages/current")" != "$sgen" ]; }
poll -- switched && pass || fail "SIGHUP with a new catalog kept generation $sgen"
gone() { [ ! -e "$SRUN/pages/$sgen" ]; }
poll -- gone && pass || fail "the old generation outlived the reload"
[ "$(stat -c %Y "$SRUN/pages/current")" -gt "$sdate" ] && pass \
    || fail "the new generation is not dated after the old one"

echo "behind lighttpd's stat cache, a reload never leaves a page of the old catalog"
# lighttpd.conf's own page cache lines and stat cache (inotify), in front
# of that nori serve. Each round: the Item page is kept and served from
# its file (Accept-Ranges: only a static answer says it), the catalog
# changes, SIGHUP; once the link has moved and lighttpd has turned its
# loop once, the page must not be the old file, and once the workers have reloaded it is the new one's file.
{
    echo 'server.modules += ( "mod_alias", "mod_rewrite", "mod_setenv", "mod_expire", "mod_fastcgi" )'
    echo 'server.bind = "127.0.0.1"'
    echo 'server.port = env.PORT'
    echo "server.document-root = \"$TMP\""
    echo 'mimetype.assign = ( ".html" => "text/html; charset=utf-8" )'
    echo "var.rundir = \"$SRUN\""
    echo 'var.page_cache_url = "/shop"'    # the cache is on: lighttpd.conf's include_shell
    sed -n '/^\$HTTP\["url"\] == page_cache_url {/,/^server.stat-cache-engine/p' "$ROOT/lighttpd.conf"
    echo "fastcgi.server = ( \"/shop\" => (( \"socket\" => \"$TMP/s.sock\", \"check-local\" => \"disable\" )) )"
} > "$TMP/front.conf"
grep -q '^server.stat-cache-engine = "inotify"' "$TMP/front.conf" && pass \
    || fail "lighttpd.conf's stat cache is not the one this test is about"
front_run() {
    PORT=$PORT lighttpd -D -f "$TMP/front.conf" 2>>"$TMP/error.log" &
    UPID=$!
}
on_fresh_port "lighttpd in front of nori serve" front_run
track "$UPID"
from_file() { tr -d '\r' < "$TMP/h" | grep -q '^Accept-Ranges: bytes'; }
stale=0 fresh=0
for i in 1 2 3 4 5 6 7 8; do
    name="Wagyu aburi nigiri r$i"
    req "$ITEM"; req "$ITEM"
    from_file || { fail "round $i: the kept page was not served from its file"; continue; }
    cp "$TMP/b" "$TMP/b.old"
    old=$(readlink "$SRUN/pages/current")
    sed -i "s/Wagyu aburi nigiri [a-z0-9]*\t/$name\t/" "$TMP/catalog.tsv"
    kill -HUP "$SPID"
    moved() { [ "$(readlink "$SRUN/pages/current")" != "$old" ]; }
    poll -- moved || { fail "round $i: the link did not move"; continue; }
    # One answer from lighttpd first: the kernel's notice of the removed
    # pages was queued before the link moved, so by the time lighttpd
    # answers a request sent after it, its loop has read that notice. A
    # busy machine could otherwise hand lighttpd the notice and the next
    # request in one turn of its loop, the request first (docs/design.md).
    req /nori-turn
    req "$ITEM"
    from_file && cmp -s "$TMP/b" "$TMP/b.old" && stale=$((stale + 1))
    renders_new() { req "$ITEM"; grep -q "$name" "$TMP/b"; }
    poll -- renders_new || { fail "round $i: the workers did not reload"; continue; }
    req "$ITEM"
    from_file && grep -q "$name" "$TMP/b" && fresh=$((fresh + 1))
done
expect_eq "$stale" 0 "after a reload, no page of the old catalog from the cache"
expect_eq "$fresh" 8 "after a reload, the new catalog's page from the cache"
kill -TERM "$UPID"; wait "$UPID" 2>/dev/null || true
kill -TERM "$SPID"; wait "$SPID" 2>/dev/null || true

echo "NORI_PAGE_CACHE=off writes nothing; NORI_PAGE_CACHE_MAX bounds it"
srv_start NORI_PAGE_CACHE=off
get 200 "$ITEM" "Item, cache off"
n=$(nori_requests)
get 200 "$ITEM" "Item again, cache off"
[ "$(nori_requests)" -gt "$n" ] && pass || fail "with the cache off, a page did not reach nori"
[ -z "$(find "$RUNDIR/pages" -name '*.html')" ] && pass || fail "the cache off wrote pages"
[ ! -e "$RUNDIR/pages/current" ] && pass || fail "the cache off left a current generation"
expect_header ETag '^"' "with the cache off, the validator is the ETag"
# With the cache off lighttpd.conf does not look for kept pages at all
# (one pass through it, not three): a page left in a generation the
# link names is not served.
mkdir -p "$RUNDIR/pages/left/shop"
echo "left over" > "$RUNDIR/pages/left/shop/index.html"
ln -s left "$RUNDIR/pages/current"
n=$(nori_requests)
get 200 /shop "Home, cache off, a page left in pages/current"
expect_no_body "left over" "with the cache off, lighttpd serves no kept page"
[ "$(nori_requests)" -gt "$n" ] && pass || fail "with the cache off, Home did not reach nori"
rm -rf "$RUNDIR/pages/current" "$RUNDIR/pages/left"
srv_stop
# The budget counts what the disk spends (blocks, directories): a page
# of 1.7 KB takes a 4 KiB block, and was counted as 1.7 KB, so 64 KiB of
# budget held 150 KiB on disk.
srv_start NORI_PAGE_CACHE_MAX=64
for id in $(seq 1 60); do req "/shop?pg=Item&id=$id"; done
kb=$(du -sk "$RUNDIR/pages" | cut -f1)
[ "$(find "$RUNDIR/pages" -name '*.html' | wc -l)" -gt 0 ] && pass || fail "64 KiB of cache kept nothing"
[ "$kb" -le 80 ] && pass || fail "64 KiB of cache takes $kb KiB on disk (du), over 1.25 times"
# Full of pages nobody asked for twice: a page asked for now is let go,
# but not forever: once the generation has been full for a minute (its
# date moved back here), the next page empties it and is kept.
req '/shop?pg=Category&id=2'
kept 'pg=Category&id=2' && fail "a full generation kept one more page" || pass
touch -m -d '-2 minutes' "$RUNDIR/pages/$(gen)"
req '/shop?pg=Category&id=2'
kept 'pg=Category&id=2' && pass || fail "a full generation starved a page asked for again"
expect_eq "$("$NORI" stats --rundir "$RUNDIR" | awk '$1 == "page_cache_flushes" {print $2}')" 1 \
    "the generation was emptied once"
kept 'pg=Item&id=1' && fail "the junk outlived the emptying" || pass
kb=$(du -sk "$RUNDIR/pages" | cut -f1)
[ "$kb" -le 80 ] && pass || fail "after the emptying, $kb KiB on disk"
finish
