# guide-lib.sh -- helpers for running the deployment guides as tests:
# a guide's command blocks, extracted and run as written (only ports and
# a base directory in front of every path changed), the processes they
# start, and the smoke flow a guide must pass. Sourced after lib.sh.

# guide_block FILE NAME start|stop: the ```sh block that follows the
# line `<!-- test: start NAME -->` (or stop) in FILE.
guide_block() {
    awk -v mark="<!-- test: $3 $2 -->" '
        $0 == mark { want = 1; next }
        want && /^```sh$/ { inside = 1; next }
        inside && /^```$/ { exit }
        inside { print }
    ' "$1"
}

# guide_localize: the block on stdin with every path under the roots a
# guide may use moved below $GROOT, and ports 8080 and 9000 replaced by
# $PORT and $PORT2. Nothing else of the block changes.
guide_localize() {
    sed -E -e "s#(^|[^A-Za-z0-9_./-])(/usr/local|/var/lib/nori|/run/nori)#\\1$GROOT\\2#g" \
        -e "s#\\b8080\\b#$PORT#g; s#\\b9000\\b#$PORT2#g"
}

# descendants PID...: the pids and all their descendants.
descendants() {
    local p
    for p in "$@"; do
        echo "$p"
        descendants $(pgrep -P "$p" || true)
    done
}

# guide_pids: every live process named by a pid file below $GROOT, and
# their descendants.
guide_pids() {
    local f pids=()
    while IFS= read -r f; do
        pids+=($(cat "$f" 2>/dev/null || true))
    done < <(find "$GROOT" -name '*.pid' -type f 2>/dev/null)
    descendants ${pids[@]+"${pids[@]}"} | sort -u | while read -r p; do
        if alive "$p"; then echo "$p"; fi
    done
}

# guide_smoke NAME MEMBERS: Home, an Item, an add with a cookie jar and
# -L (curl follows the 303 to the cart, which shows 1), and when MEMBERS
# is 1, /members/ refused without a login and allowed after one.
guide_smoke() {
    local name=$1 members=$2 jar=$TMP/guide-jar key k
    rm -f "$jar"
    get 200 /shop "$name: Home"
    expect_body 'href="/shop\?pg=Category&amp;id=1"' "$name: links from SCRIPT_NAME"
    get 200 '/shop?pg=Item&id=26' "$name: Item"
    expect_body '<h1>[^<]+</h1>' "$name: Item has its name"
    req -c "$jar" -b "$jar" -L --data 'act=add&id=26' /shop
    expect_status 200 "$name: add, then the cart (-L)"
    expect_body 'id="cart-count">1<' "$name: the cart shows 1"
    key=$(grep -o '_s=[A-Za-z0-9_-]\{22\}' "$TMP/b" | head -1 | cut -c4- || true)
    [ "$members" = 1 ] || return 0
    get 403 /members/index.html "$name: /members/ without a session"
    req -b "$jar" "/members/index.html?_s=$key"
    expect_status 403 "$name: /members/ with a session, before login"
    req -c "$jar" -b "$jar" "/shop?pg=Login&_s=$key"
    k=$(page_k)
    req -c "$jar" -b "$jar" --data "act=login&user=demo&password=nori-demo&_s=$key&_k=$k" /shop
    expect_status 303 "$name: login"
    key=$(header Location | sed -n 's/.*_s=//p')
    req -b "$jar" "/members/index.html?_s=$key"
    expect_status 200 "$name: /members/ after login"
    expect_body 'Members only' "$name: the protected file"
}

# guide_start NAME: the localized start block, run as root from /; 0
# once the shop answers 200, 1 when the block fails or it never does.
guide_start() {
    PORT=$(free_port)
    PORT2=$(free_port)
    BASE=http://127.0.0.1:$PORT
    guide_block "$ROOT/$GFILE" "$1" start | guide_localize > "$TMP/$1.start"
    guide_block "$ROOT/$GFILE" "$1" stop | guide_localize > "$TMP/$1.stop"
    # A failure is judged by the caller: a lost port is retried.
    (cd / && bash -e "$TMP/$1.start") >>"$TMP/$1.out" 2>&1 || return 1
    poll -- is_200 "$BASE/shop"
}

# guide_stop NAME: the stop block, and every process the guide started
# gone (lib.sh's alive: a zombie is gone); pid files removed after, so
# that the next guide does not take these for its own.
guide_stop() {
    local pids=$1 left
    (cd / && bash -e "$TMP/$2.stop") >>"$TMP/$2.out" 2>&1 \
        && pass || fail "$2: the stop block failed: $(tail -n 3 "$TMP/$2.out")"
    if wait_gone $pids; then pass; else
        left=$(live $pids)
        fail "$2: left running after the stop block: $(ps -o pid=,args= -p "$(echo $left | tr ' ' ,)")"
        kill -KILL $left 2>/dev/null || true
    fi
    find "$GROOT" -name '*.pid' -type f -delete
}

# guide_reload NAME MEMBERS: a guide's reload block (`<!-- test: reload
# NAME -->`, a graceful restart, say), when it has one, run as written,
# and the smoke flow again.
guide_reload() {
    guide_block "$ROOT/$GFILE" "$1" reload | guide_localize > "$TMP/$1.reload"
    [ -s "$TMP/$1.reload" ] || return 0
    (cd / && bash -e "$TMP/$1.reload") >>"$TMP/$1.out" 2>&1 \
        && pass || fail "$1: the reload block failed: $(tail -n 3 "$TMP/$1.out")"
    guide_smoke "$1 (reloaded)" "$2"
}

# lost_port NAME: the guide's servers failed to bind (a port race).
lost_port() {
    cat "$TMP/$1.out" $(find "$GROOT" -name '*.log' -type f) 2>/dev/null \
        | grep -qi 'already in use\|address in use\|could not bind'
}

# guide_run FILE NAME MEMBERS: the guide's start block (again on fresh
# ports when its servers lost theirs to a race), the smoke flow, the
# stop block, and no process of the guide left.
guide_run() {
    local name=$2 members=$3 pids p try
    GFILE=$1
    echo "guide $name ($GFILE)"
    : > "$TMP/$name.out"
    for try in 1 2 3; do
        if guide_start "$name"; then
            pids=$(guide_pids)
            for p in $pids; do track "$p"; done
            pass
            guide_smoke "$name" "$members"
            guide_reload "$name" "$members"
            guide_stop "$(guide_pids) $pids" "$name"
            return 0
        fi
        pids=$(guide_pids)
        for p in $pids; do track "$p"; done
        guide_stop "$pids" "$name"
        lost_port "$name" || break
        echo "  ($name lost a port, retrying on others)" >&2
        tail -n 5 "$TMP/$name.out" $(find "$GROOT" -name '*.log' -type f) >&2 2>/dev/null || true
        find "$GROOT" -name '*.log' -type f -delete
    done
    fail "$name: the start block failed, or the shop never answered 200"
    tail -n 20 "$TMP/$name.out" $(find "$GROOT" -name '*.log' -type f) >&2 2>/dev/null || true
}

# header_commands CONF: the commands in CONF's header comment (lines
# `#   cmd \` and their continuations, and lone `#   install ...`), one
# a line, whitespace squeezed.
header_commands() {
    awk '
        /^[^#]/ { exit }
        { line = $0; sub(/^#[ \t]*/, "", line) }
        cont { cmd = cmd " " line; if (line !~ /\\$/) { print cmd; cont = 0 }; next }
        /^#   [a-zA-Z_]+=[^ ]* .*\\$/ || /^#   (install|apache2|lighttpd|nginx|setpriv) / {
            cmd = line; if (line ~ /\\$/) cont = 1; else print cmd
        }
    ' "$1" | sed -E 's/\\ / /g; s/[ \t]+/ /g; s/ $//'
}

# guide_commands README: every start block of README, one command a
# line, whitespace squeezed, as header_commands prints them.
guide_commands() {
    awk '
        /^<!-- test: start / { want = 1; next }
        want && /^```sh$/ { inside = 1; next }
        inside && /^```$/ { inside = 0; want = 0; next }
        inside { print }
    ' "$1" | awk '{ cmd = cmd (cmd == "" ? "" : " ") $0 } !/\\$/ { print cmd; cmd = "" }' \
        | sed -E 's/\\ / /g; s/[ \t]+/ /g; s/ $//'
}
