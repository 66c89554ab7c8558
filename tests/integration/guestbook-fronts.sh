#!/usr/bin/env bash
# guestbook-fronts.sh -- the guestbook's nginx.conf and apache.conf
# (examples/guestbook/), each with a real server in front of `guestbook
# serve`: the guestbook built as guestbook.sh builds it (make install
# into a prefix, then only the installed header and pkg-config), and
# walked through each front end: the book, a signing (303, then the
# entry HTML-escaped), a bad field (400), an entry's page served from
# the kept file without reaching nori (nori's request counter at
# /nori-status does not move) with nori's bytes and headers, exactly
# /guestbook routed to the app (never /guestbookfoo), and the counters
# for loopback (127.0.0.1) only; with nori stopped, the kept entry is
# still served.
source "$(dirname "$0")/lib.sh"

# The servers' workers run as www-data: they reach the socket (group
# www-data) and read the page cache, both under $TMP (in /tmp). Nothing
# of the checkout is read by them (the configs are read by root).
chmod 755 "$TMP"
PREFIX=$TMP/prefix
(cd "$ROOT" && make -s install PREFIX="$PREFIX") > "$TMP/build.log" 2>&1 \
    && pass || { fail "make install"; tail -30 "$TMP/build.log" >&2; finish; exit 1; }
GB=$TMP/guestbook
(cd "$ROOT/examples/guestbook" &&
 cc -std=c11 guestbook.c main.c $(PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig pkg-config --cflags --libs nori) \
    -o "$GB") >> "$TMP/build.log" 2>&1 \
    && pass || { fail "the guestbook did not build"; tail -30 "$TMP/build.log" >&2; finish; exit 1; }

# gb_start: `guestbook serve` with a fresh run directory (an empty book)
# on GBRUN/guestbook.sock; sets GBRUN and SPID.
gb_start() {
    GBRUN=$TMP/gb.$RANDOM
    # Made here, 0755: nori would make a missing one 0700, and the
    # servers' www-data could not read the kept pages.
    mkdir -p "$GBRUN"
    NORI_RUNDIR=$GBRUN "$GB" serve --listen "unix:$GBRUN/guestbook.sock" --workers 2 \
        --socket-mode 0660 --socket-group www-data 2>>"$TMP/serve.log" &
    SPID=$!
    track "$SPID"
    poll -- test -S "$GBRUN/guestbook.sock" \
        || { fail "guestbook serve did not start"; cat "$TMP/serve.log" >&2; exit 1; }
}
gb_stop() {
    kill -TERM "$SPID"
    wait "$SPID" && pass || fail "guestbook serve did not exit 0"
}

# requests: nori's request count, read over HTTP from loopback (a read
# of the counters does not count itself).
requests() {
    curl -s --max-time 10 "$BASE/nori-status" | sed -n 's/.*"requests": \([0-9]*\).*/\1/p'
}
# heads HFILE: the header lines nori's answer and the file's must share:
# not those of the transport (Date, Server, the connection, the length
# or its chunking, which differ between a proxied answer and a file's).
heads() {
    tr -d '\r' < "$1" |
        grep -Eiv '^(Date|Server|Accept-Ranges|Connection|Keep-Alive|Content-Length|Transfer-Encoding):' |
        grep -v '^$' | sort
}

# walk NAME: the guestbook through the front end at BASE, on a fresh book.
walk() {
    local n before after u key jar=$TMP/jar.$1
    rm -f "$jar"
    n=$(requests)
    [ -n "$n" ] && pass || { fail "$1: no counters at /nori-status"; return; }

    get 200 /guestbook "$1: the empty book"
    expect_body '0 entries' "$1: no entries yet"
    expect_header Cache-Control '^no-store$' "$1: the book is never kept"
    req -b "$jar" -c "$jar" --data 'act=sign&name=Ann&text=%3Cscript%3Ealert(1)%3C/script%3E' /guestbook
    expect_status 303 "$1: signing"
    expect_header Location '^/guestbook\?pg=Book&_s=' "$1: the 303 goes to the book, with the session"
    key=$(header Location | sed -n 's/.*[?&]_s=\([A-Za-z0-9_-]*\)$/\1/p')
    req -b "$jar" "$(header Location)"
    expect_status 200 "$1: the book after signing"
    expect_body '1 entries' "$1: one entry"
    expect_body '&lt;script&gt;alert\(1\)&lt;/script&gt;' "$1: the text comes back HTML-escaped"
    expect_no_body '<script' "$1: no script element"
    req --data 'act=sign&name=Bob' /guestbook
    expect_status 400 "$1: a required field missing"
    req --data 'act=sign&name=B%01b&text=hi' /guestbook
    expect_status 400 "$1: a control character in a name"
    get 200 '/guestbook?pg=Json' "$1: the JSON page"
    expect_header Content-Type '^application/json' "$1: its own content type"

    echo "  $1: an entry from the kept file"
    get 200 '/guestbook?pg=Entry&id=1' "$1: entry 1, rendered by nori"
    cp "$TMP/b" "$TMP/b.nori"; cp "$TMP/h" "$TMP/h.nori"
    [ -f "$GBRUN/pages/current/guestbook/pg=Entry&id=1.html" ] && pass || fail "$1: entry 1 was not kept"
    before=$(requests)
    get 200 '/guestbook?pg=Entry&id=1' "$1: entry 1 again"
    expect_eq "$(requests)" "$before" "$1: the kept entry reached no worker"
    cmp -s "$TMP/b" "$TMP/b.nori" && pass || fail "$1: the kept bytes differ from nori's"
    diff <(heads "$TMP/h.nori") <(heads "$TMP/h") > "$TMP/hdiff" && pass \
        || { fail "$1: the kept entry's headers differ from nori's"; cat "$TMP/hdiff" >&2; }
    expect_header Content-Type '^text/html; charset=utf-8$' "$1: the kept page's type"
    expect_header Cache-Control '^max-age=60$' "$1: the kept page's Cache-Control"
    expect_header Vary '^Cookie$' "$1: the kept page's Vary"
    expect_header X-Content-Type-Options '^nosniff$' "$1: the kept page's nosniff"
    expect_header Referrer-Policy '^same-origin$' "$1: the kept page's Referrer-Policy"
    expect_header Content-Security-Policy "^default-src 'none'; .*frame-ancestors 'none'" \
        "$1: the kept page's CSP"
    expect_header Last-Modified . "$1: the kept page's date"
    expect_no_header ETag "$1: the kept page (nori sends no ETag)"
    expect_body '&lt;script&gt;' "$1: the kept entry is the escaped one"
    req -I '/guestbook?pg=Entry&id=1'
    expect_status 200 "$1: HEAD of the kept entry"
    req -H "If-Modified-Since: $(header Last-Modified)" '/guestbook?pg=Entry&id=1'
    expect_status 304 "$1: the kept entry revalidated"
    expect_eq "$(requests)" "$before" "$1: HEAD and the 304 reached no worker"
    # What always reaches nori: a session (its key in the URL, or the
    # cookie), another order, a _ key, a POST, the book.
    for u in "/guestbook?pg=Entry&id=1&_s=$key" '/guestbook?id=1&pg=Entry' \
             '/guestbook?pg=Entry&id=1&_k=x' '/guestbook'; do
        n=$(requests)
        req "$u"
        [ "$(requests)" -gt "$n" ] && pass || fail "$1: $u was answered from the cache"
    done
    n=$(requests)
    req -H 'Cookie: a=1; nori_s=x' '/guestbook?pg=Entry&id=1'
    [ "$(requests)" -gt "$n" ] && pass || fail "$1: a nori_s cookie was answered from the cache"
    n=$(requests)
    req --data 'act=nope' '/guestbook?pg=Entry&id=1'
    [ "$(requests)" -gt "$n" ] && pass || fail "$1: a POST was answered from the cache"
    req -H 'If-None-Match: *' '/guestbook?pg=Entry&id=1'
    expect_status 200 "$1: If-None-Match (nori ignores it)"
    [ -z "$(find "$GBRUN/pages" -name 'index.html')" ] && pass || fail "$1: the book was kept"

    echo "  $1: exactly /guestbook"
    before=$(requests)
    for u in /guestbookfoo /guestbookfoo/bar '/guestbookx?pg=Entry&id=1' /guestbook.tsv \
             /guestbooknori-status; do
        req "$u"
        [ "$STATUS" != 200 ] && [ "$STATUS" != 303 ] && pass || fail "$1: $u answered $STATUS"
    done
    expect_eq "$(requests)" "$before" "$1: none of /guestbookfoo, /guestbookx, /guestbook.tsv reached nori"
    get 404 /guestbook/below "$1: a path below the app is nori's 404"
    expect_eq "$(requests)" $((before + 1)) "$1: /guestbook/below reached nori"

    echo "  $1: the counters for loopback only"
    for u in /nori-status /guestbook/nori-status /nori-ping; do
        get 200 "$u" "$1: $u from 127.0.0.1"
        req --interface 127.0.0.2 "$u"
        expect_status 403 "$1: $u from 127.0.0.2"
    done
}

# without_nori NAME CODE: with guestbook serve stopped, the kept entry is
# still the front end's answer, byte for byte, and the book (never
# kept) is the front end's CODE for an app that is not there.
without_nori() {
    gb_stop
    get 200 '/guestbook?pg=Entry&id=1' "$1: entry 1 with nori stopped"
    cmp -s "$TMP/b" "$TMP/b.nori" && pass || fail "$1: the entry served without nori differs"
    get "$2" /guestbook "$1: the book with nori stopped"
}

echo "nginx with examples/guestbook/nginx.conf"
mkdir -p "$TMP/nginx"
nginx_run() {
    sed -e "s|@PORT@|$PORT|g; s|@SOCKET@|$GBRUN/guestbook.sock|g; s|@RUNDIR@|$TMP/nginx|g" \
        -e "s|@PAGES@|$GBRUN/pages|g" \
        "$ROOT/examples/guestbook/nginx.conf" > "$TMP/nginx/nginx.conf"
    nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' 2>>"$TMP/nginx.out" &
    UPID=$!
    track "$UPID"
}
gb_start
UP_PATH=/guestbook on_fresh_port nginx nginx_run
NPID=$UPID
walk nginx
without_nori nginx 502
kill -TERM "$NPID"; wait "$NPID" 2>/dev/null || true
# Not counted: nori stopped on purpose (connect), 127.0.0.2 refused the
# counters on purpose, and a port lost to a race between probe and bind,
# which on_fresh_port retried elsewhere.
bad=$(grep -E '\[(crit|alert|emerg|error)\]' "$TMP/nginx/nginx-error.log" |
      grep -v 'connect() to unix' | grep -v 'access forbidden by rule, client: 127\.0\.0\.2,' |
      grep -v 'bind() to .* failed (98: Address already in use)' | grep -v 'still could not bind()' || true)
[ -z "$bad" ] && pass || fail "nginx logged errors: $bad"

echo "Apache with examples/guestbook/apache.conf (mod_proxy_fcgi)"
AP_CONF=$ROOT/examples/guestbook/apache.conf
apache_run() {
    APDIR=$TMP/apache.$RANDOM
    mkdir -p "$APDIR" && chown www-data:www-data "$APDIR"
    env RUNDIR="$GBRUN" APACHE_DIR="$APDIR" PORT="$PORT" \
        APACHE_RUN_USER=www-data APACHE_RUN_GROUP=www-data \
        apache2 -f "$AP_CONF" -DFOREGROUND 2>>"$TMP/apache.out" &
    UPID=$!
    track "$UPID"
}
gb_start
UP_PATH=/guestbook on_fresh_port apache apache_run
APID=$UPID
walk apache
without_nori apache 503
kill -TERM "$APID"; wait "$APID" 2>/dev/null || true
no_apache() { [ -z "$(live $(pgrep -f "apache2 -f $AP_CONF" || true))" ]; }
poll -- no_apache && pass || fail "apache left processes"
left=$(pgrep -f "nginx -p $TMP" || true)
[ -z "$left" ] && pass || fail "nginx left processes: $left"
finish
