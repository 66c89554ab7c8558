# cache-lib.sh -- what the page cache suites share: pagecache.sh (behind
# lighttpd) and nginxcache.sh (behind nginx). Sourced after lib.sh; the
# run directory of the nori that keeps the pages is CACHE_RUNDIR, or else
# lib.sh's RUNDIR of the latest srv_start (read at each call).

# nori_requests: requests that reached a worker, from nori's counters.
nori_requests() { "$NORI" stats --rundir "${CACHE_RUNDIR:-$RUNDIR}" | awk '$1 == "requests" {print $2}'; }
gen() { readlink "${CACHE_RUNDIR:-$RUNDIR}/pages/current"; }
kept() { [ -f "${CACHE_RUNDIR:-$RUNDIR}/pages/$(gen)/shop/$1.html" ]; }
# headers HFILE: the header lines two answers must share: not Date, nor
# the Accept-Ranges a static file's answer from lighttpd adds.
headers() { tr -d '\r' < "$1" | grep -Ev '^(Date|Accept-Ranges):' | grep -v '^$' | sort; }
same_headers() {    # same_headers HFILE1 HFILE2 WHAT
    if diff <(headers "$1") <(headers "$2") > "$TMP/hdiff"; then pass
    else fail "$3: the headers differ"; cat "$TMP/hdiff" >&2; fi
}
# kept_then_served URL KEY: the first answer is nori's and keeps the page
# as KEY; the second is the file's alone (no worker counts it), with
# nori's bytes and headers. nori's answer is left in $TMP/h.nori and
# $TMP/b.nori, the file's in $TMP/h and $TMP/b.
kept_then_served() {
    local before
    req "$1"
    expect_status 200 "$1 from nori"
    cp "$TMP/h" "$TMP/h.nori"; cp "$TMP/b" "$TMP/b.nori"
    kept "$2" && pass || fail "$1 was not kept as $2"
    before=$(nori_requests)
    req "$1"
    expect_status 200 "$1 from the cache"
    expect_eq "$(nori_requests)" "$before" "the cached answer reached no worker"
    cmp -s "$TMP/b" "$TMP/b.nori" && pass || fail "the cached bytes differ from nori's"
    same_headers "$TMP/h.nori" "$TMP/h" "cached and nori's $1"
}
