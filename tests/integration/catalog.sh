#!/usr/bin/env bash
# catalog.sh -- the catalog file (catalog.mdb in the run directory): built
# once from the TSV and mapped by every worker of `nori serve`; rebuilt
# when the TSV changes and served after a reload, never half built (a bad
# TSV at a reload leaves the file and the pages as they were); a corrupt
# or truncated file refused at start with one line; a progress bar while
# a large catalog builds on a terminal, and none into a pipe.
source "$(dirname "$0")/lib.sh"

FILE=$TMP/catalog.mdb
cp "$ROOT/shop/data/catalog.tsv" "$TMP/catalog.tsv"

# get QUERY: a GET straight to a worker of nori serve; the body in $TMP/b.
get() {
    env -i REQUEST_METHOD=GET SCRIPT_NAME=/shop QUERY_STRING="$1" REMOTE_ADDR=127.0.0.1 \
        cgi-fcgi -bind -connect "$SOCK" 2>/dev/null | sed '1,/^\r$/d' > "$TMP/b"
}
body_has() { grep -q -- "$1" "$TMP/b"; }
serves() { get "$1"; body_has "$2"; }
inode() { stat -c %i "$FILE"; }
# serve_pids: the supervisor's workers.
serve_pids() { pgrep -P "$SPID" || true; }
has_n() { [ "$(serve_pids | wc -l)" = "$1" ]; }
# Nothing but the file and its lock: no temporary file of a build.
no_stray() { [ -z "$(ls -A "$TMP" | grep '^catalog\.mdb\.' | grep -vx 'catalog\.mdb\.lock')" ]; }

echo "built once, mapped by every worker"
serve_start --workers 2 NORI_CATALOG="$TMP/catalog.tsv"
poll -- has_n 2 && pass || fail "two workers did not start"
poll -- serves 'pg=Item&id=26' 'Wagyu aburi nigiri' && pass || fail "the Item page from the catalog file"
[ -f "$FILE" ] && pass || fail "no catalog file in the run directory"
first=$(inode)
for p in $(serve_pids); do
    grep -q "$FILE" "/proc/$p/maps" && pass || fail "worker $p does not map $FILE"
done
no_stray && pass || fail "a temporary file was left: $(ls -A "$TMP")"

echo "unchanged, a reload keeps the file"
old_workers=$(serve_pids | sort | tr '\n' ' ')
kill -HUP "$SPID"
replaced() { has_n 2 && [ "$(serve_pids | sort | tr '\n' ' ')" != "$old_workers" ] &&
             ! serve_pids | grep -qxF "$(echo $old_workers | cut -d' ' -f1)"; }
poll -- replaced && pass || fail "the reload did not replace the workers"
expect_eq "$(inode)" "$first" "a reload with the same TSV rebuilt the file"

echo "changed on disk, rebuilt and served after a reload"
sed -i 's/Wagyu aburi nigiri/Wagyu aburi nigiri royale/' "$TMP/catalog.tsv"
get 'pg=Item&id=26'
body_has 'Wagyu aburi nigiri royale' && fail "the new catalog was served before the reload" || pass
kill -HUP "$SPID"
poll -- serves 'pg=Item&id=26' 'Wagyu aburi nigiri royale' && pass || fail "the new catalog after a reload"
[ "$(inode)" != "$first" ] && pass || fail "the file was not rebuilt"
no_stray && pass || fail "a temporary file was left: $(ls -A "$TMP")"
serves 'pg=Search&q=royale' '1 dish matches' && pass || fail "the new name is in the index"

echo "a bad TSV at a reload: nothing half built, the old pages kept"
second=$(inode)
sed -i 's/^I\t26\t/I\tx26\t/' "$TMP/catalog.tsv"
kill -HUP "$SPID"
# The reload's test run names the line, then the supervisor refuses.
refused() { grep -q 'catalog.tsv:[0-9]*: bad item id' "$TMP/serve.log" &&
            grep -q 'reload refused' "$TMP/serve.log"; }
poll -- refused && pass || fail "the reload was not refused: $(tail -3 "$TMP/serve.log")"
expect_eq "$(inode)" "$second" "a refused build replaced the file"
no_stray && pass || fail "a temporary file was left: $(ls -A "$TMP")"
serves 'pg=Item&id=26' 'Wagyu aburi nigiri royale' && pass || fail "the old catalog after a refused reload"
kill -TERM "$SPID"; wait "$SPID" || true
sed -i 's/^I\tx26\t/I\t26\t/' "$TMP/catalog.tsv"

# refused_at_start WHAT: nori serve and nori check both exit 1 with one
# line naming the file.
refused_at_start() {
    local out rc cmd
    for cmd in "serve --listen unix:$TMP/refused.sock" check; do
        rc=0
        out=$(NORI_RUNDIR="$TMP" NORI_CATALOG="$TMP/catalog.tsv" timeout 30 "$NORI" $cmd \
              2>&1 >/dev/null) || rc=$?
        expect_eq "$rc" 1 "nori ${cmd%% *} with $1: exit status"
        expect_eq "$(printf '%s\n' "$out" | wc -l)" 1 "nori ${cmd%% *} with $1: one line ($out)"
        grep -q 'NORI_CATALOG=.*catalog\.mdb: corrupt or truncated' <<<"$out" && pass \
            || fail "nori ${cmd%% *} with $1: $out"
    done
}

echo "a truncated catalog file is refused at start"
size=$(stat -c %s "$FILE")
truncate -s $((size / 2)) "$FILE"
refused_at_start "half a file"
rm "$FILE"
NORI_RUNDIR="$TMP" NORI_CATALOG="$TMP/catalog.tsv" "$NORI" check && pass \
    || fail "a removed file was not built again"

echo "a corrupt catalog file is refused at start"
dd if=/dev/urandom of="$FILE" bs=4096 seek=0 count=2 conv=notrunc status=none
refused_at_start "its first pages overwritten"
rm "$FILE"

echo "a progress bar on a terminal, none into a pipe"
bash "$ROOT/bench/gen-catalog.sh" 20 150000 > "$TMP/big.tsv"
mkdir "$TMP/big-tty" "$TMP/big-pipe"
script -qec "env NORI_RUNDIR='$TMP/big-tty' NORI_CATALOG='$TMP/big.tsv' '$NORI' check" \
    /dev/null > "$TMP/tty.out" 2>&1 < /dev/null || fail "nori check on a terminal"
grep -q 'building the catalog \[#*  *\]  *[0-9]*% ' "$TMP/tty.out" && pass \
    || fail "no progress bar on a terminal: $(tr '\r' '\n' < "$TMP/tty.out" | tail -3)"
grep -q '150000 items, done' "$TMP/tty.out" && pass || fail "the bar does not end"
NORI_RUNDIR="$TMP/big-pipe" NORI_CATALOG="$TMP/big.tsv" "$NORI" check 2> "$TMP/pipe.err" \
    && pass || fail "nori check into a pipe"
[ ! -s "$TMP/pipe.err" ] && pass || fail "a progress bar into a pipe: $(head -c 200 "$TMP/pipe.err")"
NORI_RUNDIR="$TMP/big-pipe" NORI_CATALOG="$TMP/big.tsv" QUERY_STRING='pg=Search&q=dish&page=7500' \
    REQUEST_METHOD=GET SCRIPT_NAME=/shop REMOTE_ADDR=127.0.0.1 "$NORI" > "$TMP/last" 2>&1
grep -q 'Page 7500 of 7500' "$TMP/last" && pass || fail "the last page of a common word"
NORI_RUNDIR="$TMP/big-pipe" NORI_CATALOG="$TMP/big.tsv" QUERY_STRING='pg=Search&q=dish&page=7501' \
    REQUEST_METHOD=GET SCRIPT_NAME=/shop REMOTE_ADDR=127.0.0.1 "$NORI" > "$TMP/past" 2>&1
grep -q '^Status: 404' "$TMP/past" && pass || fail "a page past the last: $(head -1 "$TMP/past")"

finish
