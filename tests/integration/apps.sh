#!/usr/bin/env bash
# apps.sh -- two applications on one machine, and one application
# rebuilt. Started without NORI_RUNDIR, the shop and the counter (and a
# second counter) each get a run directory of their own under the default
# compiled into the library, so neither removes the other's page cache
# generation nor accepts the other's session key. An application rebuilt
# with other HTML is a new generation, whose validators the old page's
# do not match (200, not 304), also when linked against a libnori.a that
# did not change; the session policy is in the generation too.
source "$(dirname "$0")/lib.sh"

# The library's default run directory, as `make install STATEDIR=...`
# would compile it, here $TMP/state: nori/config.c built with it, linked
# before libnori-internal.a (whose own config.o is then not pulled in).
STATE=$TMP/state
CC_FLAGS=(-std=c11 -D_GNU_SOURCE -O2 -I"$ROOT/include")
cc "${CC_FLAGS[@]}" -DNORI_RUNDIR="\"$STATE\"" -c "$ROOT/nori/config.c" -o "$TMP/config.o" \
    && pass || fail "nori/config.c with a default run directory of the test's"
make -s -C "$ROOT" build/libnori-internal.a >/dev/null
# What libnori.a links against, as the Makefile declares it.
read -ra LIBS < <(make -s --no-print-directory -C "$ROOT" lib-libs)
# build SRC OUT [config.o]: an application against the tree's objects
# (libnori-internal.a: config.o replaces one of them, which the exported
# archive, its internals local, would not let it do).
build() {
    cc "${CC_FLAGS[@]}" -DNORI_DATADIR="\"$ROOT/shop/data\"" "$1" ${3:+"$3"} \
        $( [ "$1" = "$ROOT/shop/main.c" ] && echo "$ROOT/build/libshop.a" ) \
        "$ROOT/build/libnori-internal.a" "${LIBS[@]}" -lcrypt -o "$2" 2>>"$TMP/cc.log"
}
build "$ROOT/shop/main.c" "$TMP/shop" "$TMP/config.o" && pass || fail "the shop does not build"
build "$ROOT/examples/counter/counter.c" "$TMP/counter" "$TMP/config.o" && pass \
    || fail "the counter does not build"
sed 's/Seaside'"'"'s counter/Another counter/' "$ROOT/examples/counter/counter.c" > "$TMP/other.c"
build "$TMP/other.c" "$TMP/other" "$TMP/config.o" && pass || fail "the other counter does not build"
[ -f "$TMP/shop" ] && [ -f "$TMP/counter" ] && [ -f "$TMP/other" ] || { cat "$TMP/cc.log" >&2; finish; exit 1; }

# cgi BIN PREFIX METHOD QUERY [COOKIE] [BODY]: one CGI request without
# NORI_RUNDIR; the answer in $TMP/out, stderr in $TMP/err.
cgi() {
    local body=${6:-}
    printf '%s' "$body" | env -i REQUEST_METHOD="$3" QUERY_STRING="$4" SCRIPT_NAME="$2" \
        REMOTE_ADDR=127.0.0.1 HTTP_HOST=127.0.0.1 HTTP_COOKIE="${5:-}" \
        CONTENT_LENGTH=${#body} CONTENT_TYPE=application/x-www-form-urlencoded \
        ${EXTRA:+"$EXTRA"} "$1" > "$TMP/out" 2> "$TMP/err" || true
}
key_of() { sed -n 's/^Location: .*_s=\([A-Za-z0-9_-]*\).*/\1/p' "$TMP/out" | tr -d '\r'; }
bind_of() { sed -n 's/^Set-Cookie: nori_b=\([^;]*\).*/\1/p' "$TMP/out" | tr -d '\r'; }
header_of() { tr -d '\r' < "$TMP/out" | sed -n "s/^$1: //p" | head -1; }

echo "two applications on their default run directories"
cgi "$TMP/shop" /shop GET 'pg=Item&id=26'
grep -q '^Status: 200' "$TMP/out" && pass || fail "the shop: $(head -1 "$TMP/out") $(cat "$TMP/err")"
SHOPDIR=$STATE/the-nori-sushi-shop
[ -L "$SHOPDIR/pages/current" ] && pass || fail "the shop's run directory is not $SHOPDIR"
shop_gen=$(readlink "$SHOPDIR/pages/current")
cgi "$TMP/counter" /counter GET ''
grep -q '^Status: 200' "$TMP/out" && pass || fail "the counter: $(head -1 "$TMP/out") $(cat "$TMP/err")"
COUNTERDIR=$STATE/seaside-s-counter
[ -L "$COUNTERDIR/pages/current" ] && pass || fail "the counter's run directory is not $COUNTERDIR"
[ -d "$SHOPDIR/pages/$shop_gen" ] && pass || fail "the counter's start removed the shop's generation"
[ -f "$SHOPDIR/pages/$shop_gen/shop/pg=Item&id=26.html" ] && pass || fail "the shop's page is gone"

# The shop's session, shown to the counter: not a record of its store.
cgi "$TMP/shop" /shop POST '' '' 'act=add&id=26&qty=2'
SKEY=$(key_of); SBIND=$(bind_of)
[ -n "$SKEY" ] && pass || fail "the shop's add made no session: $(head -1 "$TMP/out")"
cgi "$TMP/counter" /counter GET "pg=Counter&_s=$SKEY" "nori_b=$SBIND"
grep -q 'session record' "$TMP/err" && fail "the counter found the shop's session: $(cat "$TMP/err")" || pass
grep -q "_s=$SKEY" "$TMP/out" && fail "the counter took the shop's key" || pass

# Two counters: the same state, so a shared store would show one's count
# in the other.
cgi "$TMP/counter" /counter POST '' '' 'act=inc'
CKEY=$(key_of); CBIND=$(bind_of)
[ -n "$CKEY" ] && pass || fail "++ made no session: $(head -1 "$TMP/out")"
cgi "$TMP/counter" /counter GET "pg=Counter&_s=$CKEY" "nori_b=$CBIND"
grep -q 'id="count">1<' "$TMP/out" && pass || fail "the counter's own count"
cgi "$TMP/other" /counter GET "pg=Counter&_s=$CKEY" "nori_b=$CBIND"
grep -q '^Status: 200' "$TMP/out" && pass || fail "the other counter: $(head -1 "$TMP/out")"
[ -d "$STATE/another-counter" ] && pass || fail "the other counter's run directory"
grep -q 'id="count">1<' "$TMP/out" && fail "the other counter accepted the first one's key" || pass
grep -q "_s=$CKEY" "$TMP/out" && fail "the other counter links the first one's key" || pass
[ -d "$COUNTERDIR/pages/$(readlink "$COUNTERDIR/pages/current")" ] && pass \
    || fail "the other counter removed the first one's generation"

echo "the application rebuilt with other HTML is a new generation"
RUN=$TMP/rebuild
mkdir -p "$RUN" && chmod 700 "$RUN"
cp "$ROOT/examples/counter/counter.c" "$TMP/app.c"
build "$TMP/app.c" "$TMP/app" && pass || fail "the app (first build)"
EXTRA="NORI_RUNDIR=$RUN"
cgi "$TMP/app" /counter GET ''
lm1=$(header_of Last-Modified)
gen1=$(readlink "$RUN/pages/current")
[ -n "$lm1" ] && pass || fail "no Last-Modified: $(head -3 "$TMP/out")"
# The same sources built again: the same program, the same generation.
build "$TMP/app.c" "$TMP/app" && pass || fail "the app (same sources again)"
cgi "$TMP/app" /counter GET ''
expect_eq "$(readlink "$RUN/pages/current")" "$gen1" "rebuilding the same sources keeps the generation"
sed -i 's|<h1>Counter</h1>|<h1>Counter, rebuilt</h1>|' "$TMP/app.c"
build "$TMP/app.c" "$TMP/app" && pass || fail "the app (second build)"
cgi "$TMP/app" /counter GET ''
gen2=$(readlink "$RUN/pages/current")
[ "$gen2" != "$gen1" ] && pass || fail "the rebuilt app kept generation $gen1"
[ ! -e "$RUN/pages/$gen1" ] && pass || fail "the old generation was left"
# If-Modified-Since: the old page's date gets the new page.
printf '' | env -i REQUEST_METHOD=GET QUERY_STRING= SCRIPT_NAME=/counter REMOTE_ADDR=127.0.0.1 \
    HTTP_IF_MODIFIED_SINCE="$lm1" NORI_RUNDIR="$RUN" "$TMP/app" > "$TMP/out" 2>/dev/null
grep -q '^Status: 200' "$TMP/out" && pass || fail "the old date: $(head -1 "$TMP/out")"
grep -q 'Counter, rebuilt' "$TMP/out" && pass || fail "the old date did not get the new page"
# With the cache off the validator is the ETag: the old one gets 200.
cp "$ROOT/examples/counter/counter.c" "$TMP/app.c"
build "$TMP/app.c" "$TMP/app" || fail "the app (first build again)"
env -i REQUEST_METHOD=GET QUERY_STRING= SCRIPT_NAME=/counter NORI_PAGE_CACHE=off \
    NORI_RUNDIR="$RUN" "$TMP/app" > "$TMP/out" 2>/dev/null
etag1=$(header_of ETag)
[ -n "$etag1" ] && pass || fail "no ETag with the cache off"
sed -i 's|<h1>Counter</h1>|<h1>Counter, rebuilt</h1>|' "$TMP/app.c"
build "$TMP/app.c" "$TMP/app" || fail "the app (second build again)"
env -i REQUEST_METHOD=GET QUERY_STRING= SCRIPT_NAME=/counter NORI_PAGE_CACHE=off \
    HTTP_IF_NONE_MATCH="$etag1" NORI_RUNDIR="$RUN" "$TMP/app" > "$TMP/out" 2>/dev/null
grep -q '^Status: 200' "$TMP/out" && pass || fail "the old ETag: $(head -1 "$TMP/out")"
[ "$(header_of ETag)" != "$etag1" ] && pass || fail "the rebuilt app kept ETag $etag1"
unset EXTRA

echo "the session policy is in the generation"
RUN=$TMP/policy
mkdir -p "$RUN" && chmod 700 "$RUN"
for p in lazy eager; do
    env -i REQUEST_METHOD=GET QUERY_STRING='pg=Item&id=26' SCRIPT_NAME=/shop \
        NORI_SESSION_POLICY=$p NORI_RUNDIR="$RUN" "$TMP/shop" > "$TMP/out.$p" 2>/dev/null
    eval "gen_$p=\$(readlink \"\$RUN/pages/current\")"
done
[ -n "$gen_lazy" ] && [ "$gen_lazy" != "$gen_eager" ] && pass \
    || fail "lazy and eager share generation $gen_lazy"
finish
