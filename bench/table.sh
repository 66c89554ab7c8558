#!/usr/bin/env bash
# table.sh -- the table the 2008 Seaside/GemStone experiment published
# (run, pages/s, cores, workers, load, average response time, session
# policy), measured in one run against one lighttpd, plus what nori can
# say about itself: commits per 1,000 requests (its own counters), the
# pool's resident memory, and each rate against the bare floor
# (bench/floor.c) and the static ceiling measured in the same run.
# lighttpd starts min-procs (default 4) of a pool, not max-procs: each
# pool here sets both. Writes the table and a PNG (pages/s against concurrency and against
# workers) to BENCH_OUT (build/bench).
#
# Every nori mount serves a generated catalog of BENCH_ITEMS items, and
# the Item rows walk a URL file of ids spread over all of it, so that
# lookups are not the same few cache lines. NORI_SESSION_BIND=off on
# every mount: siege and wrk replay the adds of the internet mix from a
# URL file and carry no nori_b cookie.
#
#   BENCH_SECONDS (3)              length of each run
#   BENCH_ROUNDS (3)               interleaved rounds, median kept
#   BENCH_ITEMS (100000)           catalog size, in BENCH_CATEGORIES (50)
#   BENCH_CONCURRENCY (10 50 100)  wrk -c of the concurrency plot
#   BENCH_WORKERS (1 2 4 8)        lighttpd max-procs of the workers plot
#   BENCH_PAGE_CACHE (1)           0: leave out the page cache rows
#   BENCH_OUT (build/bench)        where table.txt, table.png, *.dat go
: "${BENCH_SECONDS:=3}" "${BENCH_ROUNDS:=3}"
source "$(dirname "$0")/lib.sh"

NORI=$ROOT/build/nori
FLOOR=$ROOT/build/floor
ITEMS=${BENCH_ITEMS:-100000}
CATS=${BENCH_CATEGORIES:-50}
CONCS=${BENCH_CONCURRENCY:-10 50 100}
WORKERS=${BENCH_WORKERS:-1 2 4 8}
OUT=${BENCH_OUT:-$ROOT/build/bench}
S=$SECONDS_EACH
CORES=$(nproc)
mkdir -p "$OUT" "$DIR/rates" "$DIR/docroot" "$DIR/run"
T0=$(date +%s)

# ---- page cache switch ------------------------------------------------
# /cache4 is the shipped setup: nori with NORI_PAGE_CACHE=on and lighttpd
# serving kept pages with the page cache lines of lighttpd.conf itself
# (cache_block below). Every other nori mount runs with the cache off, so that
# it measures nori itself. BENCH_PAGE_CACHE=0 leaves the cache rows out.
CACHE=1
CACHE_NOTE="page cache: on in the cache rows only (lighttpd.conf's own lines, mounted at /cache4)"
if [ "${BENCH_PAGE_CACHE:-1}" = 0 ]; then
    CACHE=0 CACHE_NOTE="page cache: not measured (BENCH_PAGE_CACHE=0)"
fi

# ---- the catalog --------------------------------------------------------
bash "$ROOT/bench/gen-catalog.sh" "$CATS" "$ITEMS" > "$DIR/catalog.tsv"
CATALOG_NOTE="catalog: $ITEMS items in $CATS categories, $(( $(wc -c < "$DIR/catalog.tsv") / 1024 )) KiB (bench/gen-catalog.sh $CATS $ITEMS)"
export NORI_CATALOG=$DIR/catalog.tsv NORI_SESSION_BIND=off
MID=$(( (ITEMS + 1) / 2 ))
# The floor copies the size of an Item page from the middle
# of the catalog (the ids, and so the pages, differ by a few bytes).
FLOOR_BYTES=$(QUERY_STRING="pg=Item&id=$MID" NORI_PAGE_CACHE=off "$NORI" | sed '1,/^\r$/d' | wc -c)

# ---- one lighttpd, a mount per policy and pool size ----------------------
# /lazyN, /eagerN: nori with N workers; /cache4: nori with the page cache;
# /floor: bench/floor.c, 4 workers; /kept/ID.html: static files.
MOUNTS=()
declare -A PROCS POLICY ENVX
for n in $(printf '%s\n' $WORKERS 4 | sort -nu); do
    MOUNTS+=("lazy$n" "eager$n")
    PROCS[lazy$n]=$n POLICY[lazy$n]=lazy ENVX[lazy$n]='"NORI_PAGE_CACHE" => "off",'
    PROCS[eager$n]=$n POLICY[eager$n]=eager ENVX[eager$n]='"NORI_PAGE_CACHE" => "off",'
done
if [ "$CACHE" = 1 ]; then
    MOUNTS+=(cache4)
    PROCS[cache4]=4 POLICY[cache4]=lazy ENVX[cache4]='"NORI_PAGE_CACHE" => "on",'
fi
# cache_block: lighttpd.conf's page cache lines, from the /shop
# conditional to the stat cache setting, for the /cache4 mount and its
# run directory: the bench measures the very lines users run.
cache_block() {
    { echo 'var.page_cache_url = "/shop"'     # the cache is on: lighttpd.conf's include_shell
      sed -n '/^\$HTTP\["url"\] == page_cache_url {/,/^server.stat-cache-engine/p' "$ROOT/lighttpd.conf"; } |
        sed -e 's|/shop|/cache4|g' -e "s|rundir + \"/pages/current/\"|\"$DIR/run/cache4/pages/current/\"|" \
            -e '/^server.stat-cache-engine/d'
}
PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
{
    echo "server.modules += ( \"mod_fastcgi\" )"
    echo "server.bind = \"127.0.0.1\""
    echo "server.port = $PORT"
    echo "server.document-root = \"$DIR/docroot\""
    echo "server.max-connections = 1024"
    echo "mimetype.assign = ( \".html\" => \"text/html; charset=utf-8\" )"
    # The stat cache as the shipped lighttpd.conf sets it, for every
    # mount alike, the ceiling's included.
    grep '^server.stat-cache-engine' "$ROOT/lighttpd.conf"
    if [ "$CACHE" = 1 ]; then
        echo "server.modules += ( \"mod_alias\", \"mod_rewrite\", \"mod_setenv\", \"mod_expire\" )"
        cache_block
    fi
    echo "fastcgi.server += ("
    for m in "${MOUNTS[@]}"; do
        mkdir -m 700 "$DIR/run/$m"
        echo "  \"/$m\" => (( \"bin-path\" => \"$NORI\", \"socket\" => \"$DIR/$m.sock\","
        echo "    \"max-procs\" => ${PROCS[$m]}, \"min-procs\" => ${PROCS[$m]}, \"check-local\" => \"disable\","
        echo "    \"bin-environment\" => ( ${ENVX[$m]:-} \"NORI_SESSION_POLICY\" => \"${POLICY[$m]}\","
        echo "                           \"NORI_RUNDIR\" => \"$DIR/run/$m\" ) )),"
    done
    echo "  \"/floor\" => (( \"bin-path\" => \"$FLOOR\", \"socket\" => \"$DIR/floor.sock\","
    echo "    \"max-procs\" => 4, \"check-local\" => \"disable\","
    echo "    \"bin-environment\" => ( \"FLOOR_BYTES\" => \"$FLOOR_BYTES\" ) )),"
    echo ")"
} > "$DIR/table.conf"
lighttpd -D -f "$DIR/table.conf" 2>"$DIR/error.log" &
LPID=$!

# until_200 URL: polls URL (30 s at most, every worker loads the catalog).
until_200() {
    local i
    for i in $(seq 1 600); do
        [ "$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$1")" = 200 ] && return 0
        kill -0 "$LPID" 2>/dev/null || break
        sleep 0.05
    done
    echo "bench: $1 does not answer 200" >&2
    cat "$DIR/error.log" >&2
    exit 1
}
for m in "${MOUNTS[@]}"; do until_200 "$BASE/$m?pg=Item&id=$MID"; done
until_200 "$BASE/floor"

# ---- URL files ------------------------------------------------------------
# items-M: Item pages of ids spread over the whole catalog, for mount M.
awk -v n="$ITEMS" 'BEGIN { srand(26); for (i = 0; i < 1000; i++) print int(rand() * n) + 1 }' \
    > "$DIR/ids"
items_file() {   # MOUNT: the Item URL file of that mount
    [ -f "$DIR/items-$1" ] || sed "s|^|$BASE/$1?pg=Item\&id=|" "$DIR/ids" > "$DIR/items-$1"
    echo "$DIR/items-$1"
}
# The ceiling is the very Item pages of the rows as static files, fetched
# once (from the page cache's mount, which keeps them as it answers, so
# its rows are all hits) and served by the same lighttpd; the floor and
# the ceiling are loaded from URL files of the same ids, as the Item rows
# are, so that every row pays wrk's and siege's cost of a URL file alike.
mkdir -p "$DIR/docroot/kept"
src=lazy4
[ "$CACHE" = 1 ] && src=cache4
args=()
while read -r id; do args+=(-o "$DIR/docroot/kept/$id.html" "$BASE/$src?pg=Item&id=$id"); done \
    < <(cat "$DIR/ids"; echo "$MID")
curl -sf "${args[@]}" || { echo "bench: the Item pages of /$src do not answer" >&2; exit 1; }
sed "s|.*|$BASE/kept/&.html|" "$DIR/ids" > "$DIR/ceiling-urls"
sed "s|^|$BASE/floor?pg=Item\&id=|" "$DIR/ids" > "$DIR/floor-urls"

# The internet mix, on lazy4: 10 % Home, 20 % Category (any page of it),
# 10 % Search, 55 % Item (any id), 5 % adds to the carts of 10 live
# sessions, made as a browser makes them: an add without a session answers
# 303 to the cart with the new _s, and the Item page of that session
# carries its form key _k. Each session adds at most 40 different dishes
# (a cart holds 64); an add of a 100th one of a dish stops at 99.
NSESS=10
: > "$DIR/sessions"
for i in $(seq 1 "$NSESS"); do
    loc=$(curl -s -o /dev/null -w '%{redirect_url}' --data "act=add&id=$(( i * 4999 % ITEMS + 1 ))&qty=1" "$BASE/lazy4")
    key=${loc##*_s=}
    k=$(curl -s "$BASE/lazy4?pg=Item&id=26&_s=$key" | grep -o 'name="_k" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
    [ -n "$key" ] && [ -n "$k" ] || { echo "bench: no session from $BASE/lazy4 (${loc:-no Location})" >&2; exit 1; }
    echo "$key $k" >> "$DIR/sessions"
done
awk -v base="$BASE/lazy4" -v n="$ITEMS" -v nc="$CATS" -v ns="$NSESS" '
    NR == FNR { key[NR] = $1; k[NR] = $2; next }
    END {
        srand(2008); pages = int(n / nc / 20); if (pages < 1) pages = 1
        for (i = 0; i < 1000; i++) {
            r = i % 100
            if (r < 5) {
                s = int(rand() * ns) + 1
                id = (s * 4999 + int(rand() * 40) * 2477) % n + 1
                printf "%s POST act=add&id=%d&qty=1&_s=%s&_k=%s\n", base, id, key[s], k[s]
            } else if (r < 15) print base "?pg=Home"
            else if (r < 35) {
                p = int(rand() * pages) + 1
                printf "%s?pg=Category&id=%d%s\n", base, int(rand() * nc) + 1, (p > 1 ? "&page=" p : "")
            } else if (r < 45) printf "%s?pg=Search&q=dish%%20%d\n", base, int(rand() * 900) + 100
            else printf "%s?pg=Item&id=%d\n", base, int(rand() * n) + 1
        }
    }' "$DIR/sessions" "$DIR/sessions" > "$DIR/mix"
[ "$(wc -l < "$DIR/mix")" = 1000 ] || { echo "bench: the mix has $(wc -l < "$DIR/mix") lines, not 1000" >&2; exit 1; }
# The mix answers before it is measured: its GETs in one curl, 200, and
# one add of each session, 303.
mapfile -t gets < <(awk '$2 != "POST" && !seen[$0]++' "$DIR/mix")
args=()
for u in "${gets[@]}"; do args+=(-o /dev/null "$u"); done
bad=$(curl -s -w '%{http_code} %{url_effective}\n' "${args[@]}" | grep -v '^200 ' || true)
while read -r url post body; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --data "$body" "$url")
    [ "$code" = 303 ] || bad+="$code $url POST $body"$'\n'
done < <(awk '$2 == "POST" && !seen[$NF]++' "$DIR/mix")
[ -z "$bad" ] || { echo "bench: the mix does not answer:" >&2; echo "$bad" >&2; exit 1; }

# ---- the rows ---------------------------------------------------------------
# Each row: a tool (siege or wrk), a concurrency, a mount (its policy and
# pool) and what it loads; REF names the floor and ceiling rows of the
# same tool and concurrency it is compared with.
ROWS=()
declare -A LABEL TOOL CONC MOUNT TARGET FLAGS
row() {   # NAME TOOL C MOUNT TARGET FLAGS LABEL
    ROWS+=("$1")
    TOOL[$1]=$2 CONC[$1]=$3 MOUNT[$1]=$4 TARGET[$1]=$5 FLAGS[$1]=$6 LABEL[$1]=$7

}
# As in 2008: siege in benchmark mode on the Item page, eager then lazy.
row s-eager-10 siege 10 eager4 "$(items_file eager4)" "siege -b -c10" "Item, eager"
row s-lazy-10 siege 10 lazy4 "$(items_file lazy4)" "siege -b -c10" "Item, lazy"
row s-lazy-100 siege 100 lazy4 "$(items_file lazy4)" "siege -b -c100" "Item, lazy"
[ "$CACHE" = 1 ] && row s-cache-10 siege 10 cache4 "$(items_file cache4)" "siege -b -c10" "Item, lazy, page cache"
row s-mix-10 siege 10 lazy4 "$DIR/mix" "siege -i -b -c10" "internet mix, 5 % adds"
row s-floor-10 siege 10 floor "$DIR/floor-urls" "siege -b -c10" "floor: bare libfcgi"
row s-ceil-10 siege 10 - "$DIR/ceiling-urls" "siege -b -c10" "ceiling: static file"
row s-floor-100 siege 100 floor "$DIR/floor-urls" "siege -b -c100" "floor: bare libfcgi"
row s-ceil-100 siege 100 - "$DIR/ceiling-urls" "siege -b -c100" "ceiling: static file"
# The same with wrk, at each concurrency of the plot.
for c in $CONCS; do
    row "w-eager-$c" wrk "$c" eager4 "$(items_file eager4)" "wrk -t1 -c$c" "Item, eager"
    row "w-lazy-$c" wrk "$c" lazy4 "$(items_file lazy4)" "wrk -t1 -c$c" "Item, lazy"
    [ "$CACHE" = 1 ] && row "w-cache-$c" wrk "$c" cache4 "$(items_file cache4)" "wrk -t1 -c$c" "Item, lazy, page cache"
    [ "$c" = 10 ] && row w-mix-10 wrk 10 lazy4 "$DIR/mix" "wrk -t1 -c10" "internet mix, 5 % adds"
    row "w-floor-$c" wrk "$c" floor "$DIR/floor-urls" "wrk -t1 -c$c" "floor: bare libfcgi"
    row "w-ceil-$c" wrk "$c" - "$DIR/ceiling-urls" "wrk -t1 -c$c" "ceiling: static file"
done
# One URL, the Item page of the middle id, at -c10: wrk's own request
# loop with no script, so that the client costs least and the server's
# cost shows most; the page cache's goal (80 % of a static file) is read
# here, against the same page as a static file.
row u-lazy-10 wrk 10 lazy4 "$BASE/lazy4?pg=Item&id=$MID" "wrk -c10, one URL" "Item, lazy"
[ "$CACHE" = 1 ] && row u-cache-10 wrk 10 cache4 "$BASE/cache4?pg=Item&id=$MID" "wrk -c10, one URL" "Item, lazy, page cache"
row u-floor-10 wrk 10 floor "$BASE/floor" "wrk -c10, one URL" "floor: bare libfcgi"
row u-ceil-10 wrk 10 - "$BASE/kept/$MID.html" "wrk -c10, one URL" "ceiling: static file"
# Pool sizes, at -c10 (4 workers is the row above). The floor keeps 4.
for n in $WORKERS; do
    [ "$n" = 4 ] && continue
    row "w-eager-10-w$n" wrk 10 "eager$n" "$(items_file "eager$n")" "wrk -t1 -c10" "Item, eager"
    row "w-lazy-10-w$n" wrk 10 "lazy$n" "$(items_file "lazy$n")" "wrk -t1 -c10" "Item, lazy"
done

# ---- measuring ----------------------------------------------------------------
# ms VALUE: wrk's "1.23ms", "850.00us", "1.02s" or "1.50m" in ms.
ms() {
    awk -v v="$1" 'BEGIN {
        u = v; sub(/^[0-9.]+/, "", u); n = substr(v, 1, length(v) - length(u))
        f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : 0
        printf "%.2f", n * f }'
}
json() { echo "$1" | awk -F: -v k="\"$2\"" '$1 ~ k {gsub(/[^0-9.]/, "", $2); print $2}'; }

# counters MOUNT: its nori's commits and requests, from /nori-status.
counters() {
    local js
    js=$(curl -s "$BASE/$1/nori-status")
    echo "$(echo "$js" | grep -o '"commits": [0-9]*' | grep -o '[0-9]*$')" \
         "$(echo "$js" | grep -o '"requests": [0-9]*' | grep -o '[0-9]*$')"
}

# once NAME: one run of that row; rate, average ms and errors appended
# under rates/NAME, commits and requests from the mount's counters.
once() {
    local name=$1 m=${MOUNT[$1]} t=${TARGET[$1]} c=${CONC[$1]} out rate avg err c0 r0 c1 r1
    [ -n "${NORIM[$m]:-}" ] && read -r c0 r0 <<< "$(counters "$m")"
    if [ "${TOOL[$name]}" = wrk ]; then
        if [ -f "$t" ]; then
            out=$(URLS=$t wrk -t1 -c"$c" -d"${S}s" --timeout 10s -s "$ROOT/bench/urls.lua" "$BASE/")
        else
            out=$(wrk -t1 -c"$c" -d"${S}s" --timeout 10s "$t")
        fi
        rate=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
        avg=$(ms "$(echo "$out" | awk '$1 == "Latency" {print $2}')")
        err=$(echo "$out" | awk '/Socket errors/ { gsub(/,/, ""); s += $4 + $6 + $8 + $10 }
            /Non-2xx/ { s += $NF } END { print s + 0 }')
    else
        local src=("$t")
        [ -f "$t" ] && src=(-f "$t")
        [ "${FLAGS[$name]#siege -i}" != "${FLAGS[$name]}" ] && src=(-i "${src[@]}")
        # siege may hang as its clock stops (seen at -c100): killed,
        # that run is lost and counted below the table.
        out=$(timeout -k 2 $((S + 20)) siege -R "$ROOT/bench/siegerc" -b -c "$c" -t "${S}S" \
              "${src[@]}" 2>/dev/null || true)
        rate=$(json "$out" transaction_rate)
        # siege rounds its response time to 10 ms; with no delay each of
        # its c users has one request in flight: the mean is c / rate.
        avg=$(awk -v r="$rate" -v c="$c" 'BEGIN {printf "%.2f", r ? 1000 * c / r : 0}')
        err=$(json "$out" failed_transactions)
    fi
    if [ -z "$rate" ]; then
        [ "${TOOL[$name]}" = siege ] || { echo "bench: $name: no rate from wrk" >&2; echo "$out" >&2; exit 1; }
        echo "$name" >> "$DIR/lost"
        return 0
    fi
    echo "$rate" >> "$DIR/rates/$name"
    echo "$avg" >> "$DIR/rates/$name.ms"
    echo "${err:-0}" >> "$DIR/rates/$name.err"
    if [ -n "${NORIM[$m]:-}" ]; then
        read -r c1 r1 <<< "$(counters "$m")"
        echo "$(( c1 - c0 )) $(( r1 - r0 ))" >> "$DIR/rates/$name.commits"
    fi
}
med() { sort -g "$1" | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

declare -A NORIM
for m in "${MOUNTS[@]}"; do NORIM[$m]=1; done
# Warm-up, not counted: every pool, a second each.
for m in "${MOUNTS[@]}"; do
    URLS=$(items_file "$m") wrk -t1 -c10 -d1s -s "$ROOT/bench/urls.lua" "$BASE/" >/dev/null
done
wrk -t1 -c10 -d1s "$BASE/floor" >/dev/null
for r in $(seq 1 "$ROUNDS"); do
    for name in "${ROWS[@]}"; do once "$name"; done
done

# The resident memory of each pool, KiB, after the last round: every
# child of lighttpd, by its binary and its NORI_RUNDIR (the floor's: none).
declare -A RSS NPROC
for p in $(pgrep -P "$LPID"); do
    exe=$(readlink "/proc/$p/exe" 2>/dev/null) || continue
    if [ "$exe" = "$FLOOR" ]; then m=floor
    elif [ "$exe" = "$NORI" ]; then
        m=$(tr '\0' '\n' < "/proc/$p/environ" | sed -n "s|^NORI_RUNDIR=$DIR/run/||p")
    else continue; fi
    RSS[$m]=$(( ${RSS[$m]:-0} + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status") ))
    NPROC[$m]=$(( ${NPROC[$m]:-0} + 1 ))
done

# ---- the table ------------------------------------------------------------------
declare -A RATE AVG
for name in "${ROWS[@]}"; do
    [ -f "$DIR/rates/$name" ] || continue      # every siege run of it lost
    RATE[$name]=$(med "$DIR/rates/$name")
    AVG[$name]=$(med "$DIR/rates/$name.ms")
done
{
echo
echo "nori, the 2008 Seaside/GemStone table, $(date -u '+%Y-%m-%d %H:%M UTC'), $CORES cores $(uname -m)," \
     "$(lighttpd -v 2>&1 | head -1 | cut -d' ' -f1), $(siege -V 2>&1 | grep -o 'SIEGE [0-9.]*' | head -1), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1,2)"
echo "$CAP_NOTE"
echo "$CATALOG_NOTE; Item rows: 1000 ids spread over it; floor: $FLOOR_BYTES bytes (Item id=$MID), ceiling: those 1000 Item pages as static files; every row from a URL file"
echo "each run ${S} s, $ROUNDS interleaved rounds, median; lighttpd bin-path pools; fsync on every commit;" \
     "NORI_SESSION_BIND=off (no nori_b cookie); $CACHE_NOTE"
printf '%-3s %-26s %9s %5s %7s %-17s %8s %-6s %10s %9s %6s %8s\n' \
    "#" run "pages/s" cores workers "load" "avg ms" policy "commits/1k" "RSS KiB" "/floor" "/ceiling"
i=0
for name in "${ROWS[@]}"; do
    i=$((i + 1))
    m=${MOUNT[$name]}
    case $m in
        -) policy=- workers=- rss=- ;;
        floor) policy=- workers=4 rss=${RSS[floor]:--} ;;
        *) policy=${POLICY[$m]} workers=${PROCS[$m]} rss=${RSS[$m]:--} ;;
    esac
    if [ -f "$DIR/rates/$name.commits" ]; then
        cpk=$(awk '{c += $1; n += $2} END {printf "%.0f", n ? 1000 * c / n : 0}' "$DIR/rates/$name.commits")
    else cpk=-; fi
    t=${name%%-*}     # s, w or u: compared with the floor and ceiling of its tool and -c
    ratios=$(awk -v r="${RATE[$name]:-0}" -v f="${RATE[$t-floor-${CONC[$name]}]:-0}" \
        -v c="${RATE[$t-ceil-${CONC[$name]}]:-0}" 'BEGIN {
        printf "%6s %8s", f ? sprintf("%.2f", r / f) : "-", c ? sprintf("%.2f", r / c) : "-" }')
    printf '%-3s %-26s %9s %5s %7s %-17s %8s %-6s %10s %9s %s\n' \
        "$i" "${LABEL[$name]}" "$(printf '%.0f' "${RATE[$name]:-0}" | sed 's/^0$/-/')" "$CORES" "$workers" "${FLAGS[$name]}" \
        "${AVG[$name]:--}" "$policy" "$cpk" "$rss" "$ratios"
done
awk -v l="${RATE[s-lazy-10]:-0}" -v e="${RATE[s-eager-10]:-0}" -v wl="${RATE[w-lazy-10]:-0}" -v we="${RATE[w-eager-10]:-0}" 'BEGIN {
    printf "lazy/eager:"; if (e) printf " siege -c10 %.1fx", l / e; if (we) printf ", wrk -c10 %.1fx", wl / we; print "" }'
awk -v u="${RATE[u-cache-10]:-0}" -v uc="${RATE[u-ceil-10]:-0}" -v w="${RATE[w-cache-10]:-0}" -v wc="${RATE[w-ceil-10]:-0}" 'BEGIN {
    if (!u || !w) exit; printf "page cache / static file of the same bytes: one URL %.0f %%, URL file %.0f %% (wrk -c10)\n", 100 * u / uc, 100 * w / wc }'
errs=
for name in "${ROWS[@]}"; do
    e=$(cat "$DIR/rates/$name.err" 2>/dev/null | awk '{s += $1} END {print s + 0}')
    [ "$e" = 0 ] || errs+=" ${LABEL[$name]} (${FLAGS[$name]}): $e;"
done
[ -f "$DIR/lost" ] && echo "siege runs lost (hung, killed): $(sort "$DIR/lost" | uniq -c | awk '{printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1}')"
echo "errors (socket errors, non-2xx/3xx, siege's failed transactions, summed over rounds):${errs:- none}"
for m in "${MOUNTS[@]}" floor; do
    want=${PROCS[$m]:-4}
    [ "${NPROC[$m]:-0}" = "$want" ] || echo "note: /$m has ${NPROC[$m]:-0} workers, not $want"
done
echo "RSS: the pool's workers summed, read from /proc after the last round; $(( $(date +%s) - T0 )) s in all"
# What the shipped front-end configs cost (lighttpd.conf, nginx.conf):
# bench/frontcost.sh's rows, from its own run (make bench runs it just
# before this), dated by its own header line.
if [ -f "$OUT/frontcost.txt" ]; then
    cat "$OUT/frontcost.txt"
else
    echo; echo "front-end config cost: not measured in this run (bash bench/frontcost.sh writes $OUT/frontcost.txt)"
fi
if [ -f "$OUT/frontinstr.txt" ]; then cat "$OUT/frontinstr.txt"; fi    # bench/frontinstr.sh's counts
# Instructions per request, beside the rates: cost changes show here
# whatever the machine's noise did to the rows above.
echo
env -u NORI_CATALOG -u NORI_SESSION_BIND bash "$ROOT/bench/instructions.sh"
# The burst of adds (bench/adds.sh, run before this by make bench): its
# tables as it printed them, in this run's output directory.
if [ -f "$OUT/adds.txt" ]; then
    echo
    cat "$OUT/adds.txt"
fi
} | tee "$OUT/table.txt"

# ---- the plot ---------------------------------------------------------------------
# Left: pages/s against wrk -c, 4 workers. Right: against workers, wrk -c10.
LINES=(lazy eager)
[ "$CACHE" = 1 ] && LINES+=(cache)
{
    echo "# c ${LINES[*]} floor ceiling (wrk pages/s, 4 workers)"
    for c in $CONCS; do
        line=$c
        for l in "${LINES[@]}" floor ceil; do line+=" ${RATE[w-$l-$c]:-NaN}"; done
        echo "$line"
    done
} > "$OUT/table-concurrency.dat"
{
    echo "# workers lazy eager (wrk -c10 pages/s)"
    for n in $WORKERS; do
        if [ "$n" = 4 ]; then echo "$n ${RATE[w-lazy-10]:-NaN} ${RATE[w-eager-10]:-NaN}"
        else echo "$n ${RATE[w-lazy-10-w$n]} ${RATE[w-eager-10-w$n]}"; fi
    done
} > "$OUT/table-workers.dat"
cplots=() wplots=()
for i in "${!LINES[@]}"; do
    cplots+=("'$OUT/table-concurrency.dat' using 1:$((i + 2)) with linespoints title 'Item, ${LINES[$i]}'")
done
n=${#LINES[@]}
cplots+=("'$OUT/table-concurrency.dat' using 1:$((n + 2)) with linespoints dashtype 2 title 'floor: bare libfcgi'")
cplots+=("'$OUT/table-concurrency.dat' using 1:$((n + 3)) with linespoints dashtype 2 title 'ceiling: static file'")
wplots=("'$OUT/table-workers.dat' using 1:2 with linespoints title 'Item, lazy'"
        "'$OUT/table-workers.dat' using 1:3 with linespoints title 'Item, eager'")
# The page cache has no pool-size rows: its line on the right is absent.
# A third panel when bench/adds.sh left its figures: adds/s a candidate.
PANELS=2 ADDS_PLOT=
if [ -f "$OUT/adds.dat" ]; then
    PANELS=3
    ADDS_PLOT="unset logscale
set logscale y
unset xrange
set xtics rotate by -30
set xlabel 'wrk -c50, 8 workers, p99 ms on each bar; last 3: nori fsync, Item + 0/5/20 % adds'
set ylabel 'adds/s, then req/s (log scale)'
set style fill solid 0.5
set boxwidth 0.6
set yrange [100:*]
plot '$OUT/adds.dat' using 0:2:xtic(1) with boxes notitle, '' using 0:2:(sprintf('%.1f', \$3)) with labels offset 0,1 notitle"
fi
gnuplot <<EOF
set terminal png size $((600 * PANELS)),540 noenhanced
set output '$OUT/table.png'
set multiplot layout 1,$PANELS title "nori: pages/s, $ITEMS-item catalog ($(date -u '+%Y-%m-%d'), $CORES cores $(uname -m), wrk -t1, ${S} s x $ROUNDS, median)"
set logscale y
set grid
set key outside below
set ylabel 'pages/s (log scale)'
set xlabel 'concurrent connections (wrk -c), 4 workers'
plot $(IFS=,; echo "${cplots[*]}")
set xlabel 'workers (lighttpd max-procs), wrk -c10'
set logscale x 2
set xrange [0.8:10]
set xtics ($(echo $WORKERS | tr " " ,))
plot $(IFS=,; echo "${wplots[*]}")
$ADDS_PLOT
unset multiplot
EOF
echo "table: $OUT/table.txt  plot: $OUT/table.png (data: $OUT/table-concurrency.dat, $OUT/table-workers.dat)"
