#!/usr/bin/env bash
# run.sh -- the window shopper's speed: nori's Item page against the bare
# libfcgi floor (bench/floor.c, a prepared page of the same size) and the
# ceiling (lighttpd serving a static file of the same size), one lighttpd,
# one run. Issue 2's goal: Item at least 90 % of the floor.
source "$(dirname "$0")/lib.sh"

bench_start
$WRK "$BASE$ITEM" >/dev/null            # warm-up, not counted
for r in $(seq 1 "$ROUNDS"); do
    run item "$ITEM"
    run floor /floor
    run ceiling /ceiling.html
done
item=$(median item) floor=$(median floor) ceiling=$(median ceiling)
header_line "nori stateless benchmark ($FLOOR_BYTES-byte pages)"
printf '%-40s %12s\n' run "req/s"
printf '%-40s %12s\n' "Item page, nori (lazy, no session)" "$item"
printf '%-40s %12s\n' "floor: bare libfcgi, same size" "$floor"
printf '%-40s %12s\n' "ceiling: static file, same size" "$ceiling"
awk -v i="$item" -v f="$floor" -v c="$ceiling" 'BEGIN {
    printf "item/floor %.0f %%   item/ceiling %.0f %%   floor/ceiling %.0f %%\n",
           100 * i / f, 100 * i / c, 100 * f / c }'
for n in item floor ceiling; do printf '%s rounds: %s\n' "$n" "$(tr '\n' ' ' < "$DIR/rates/$n")"; done
