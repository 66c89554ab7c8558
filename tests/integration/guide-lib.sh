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

# alive PID: the process exists and is not a zombie.
alive() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
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
    k=$(grep -o 'name="_k" value="[^"]*"' "$TMP/b" | head -1 | sed 's/.*value="//; s/"$//' || true)
    req -c "$jar" -b "$jar" --data "act=login&user=demo&password=nori-demo&_s=$key&_k=$k" /shop
    expect_status 303 "$name: login"
    key=$(header Location | sed -n 's/.*_s=//p')
    req -b "$jar" "/members/index.html?_s=$key"
    expect_status 200 "$name: /members/ after login"
    expect_body 'Members only' "$name: the protected file"
}

# guide_run FILE NAME MEMBERS: the guide's start block, the shop served
# within a generous deadline, the smoke flow, the stop block, and no
# process of the guide left (zombies count as gone).
guide_run() {
    local file=$1 name=$2 members=$3 pids p i left
    echo "guide $name ($file)"
    PORT=$(free_port)
    PORT2=$(free_port)
    guide_block "$ROOT/$file" "$name" start | guide_localize > "$TMP/$name.start"
    guide_block "$ROOT/$file" "$name" stop | guide_localize > "$TMP/$name.stop"
    [ -s "$TMP/$name.start" ] && [ -s "$TMP/$name.stop" ] && pass \
        || { fail "$name: no start or stop block in $file"; return 0; }
    (cd / && bash -e "$TMP/$name.start") >"$TMP/$name.out" 2>&1 \
        && pass || fail "$name: the start block failed: $(tail -3 "$TMP/$name.out")"
    BASE=http://127.0.0.1:$PORT
    ok=
    for i in $(seq 1 300); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/shop")" = 200 ] && { ok=1; break; }
        sleep 0.1
    done
    pids=$(guide_pids)
    for p in $pids; do track "$p"; done
    if [ -n "$ok" ]; then
        pass
        guide_smoke "$name" "$members"
    else
        fail "$name: the shop never answered 200"
        cat "$TMP/$name.out" >&2
    fi
    (cd / && bash -e "$TMP/$name.stop") >>"$TMP/$name.out" 2>&1 \
        && pass || fail "$name: the stop block failed: $(tail -3 "$TMP/$name.out")"
    for i in $(seq 1 200); do
        left=$(for p in $pids; do alive "$p" && echo "$p"; done || true)
        [ -z "$left" ] && break
        sleep 0.1
    done
    [ -z "$left" ] && pass || {
        fail "$name: left running after the stop block: $(for p in $left; do ps -o pid=,args= -p "$p"; done)"
        kill -KILL $left 2>/dev/null || true
    }
    # The next guide must not mistake these for its own.
    find "$GROOT" -name '*.pid' -type f -delete
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
