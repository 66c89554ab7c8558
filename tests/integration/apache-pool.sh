#!/usr/bin/env bash
# apache-pool.sh -- mod_fcgid's fixed pool is full right after a cold
# start and after a graceful restart, not minutes into the traffic:
# deploy/apache/nori-fcgid-warm, run as the Apache guide says after each,
# leaves FcgidMaxProcessesPerClass workers running (a count, not a
# timing), and the pool is still whole after a burst of load. Without
# the warm-up, mod_fcgid has started one worker at most by then.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/apache-lib.sh"

apache_start_cold nori-fcgid.conf
pool=$(awk '$1 == "FcgidMaxProcessesPerClass" {print $2}' "$A_CONF")
echo "mod_fcgid, a pool of $pool, cold"
expect_eq "$(fcgid_noris | wc -l)" 0 "no worker before the first request"
warm() {
    env APACHE_RUN_USER=www-data APACHE_RUN_GROUP=www-data NORI_HOME="$(stage_for_others)" \
        NORI_RUNDIR="$RUNDIR" PORT="$PORT" \
        "$ROOT/deploy/apache/nori-fcgid-warm" "$A_CONF" 2>>"$TMP/warm.err"
}
warm && pass || fail "nori-fcgid-warm, cold: $(tail -n 1 "$TMP/warm.err")"
expect_eq "$(fcgid_noris | wc -l)" "$pool" "the pool is full after a cold start"
# Load does not change it: no worker is reaped or added.
wrk -t1 -c10 -d1s "$BASE/shop?pg=Item&id=26" >/dev/null 2>&1 || true
expect_eq "$(fcgid_noris | wc -l)" "$pool" "the pool after a second of -c10"
get 200 '/shop?pg=Item&id=26' "the Item page"

echo "after apachectl graceful"
old=$(fcgid_noris | sort)
env APACHE_RUN_USER=www-data APACHE_RUN_GROUP=www-data NORI_HOME="$(stage_for_others)" \
    NORI_RUNDIR="$RUNDIR" PORT="$PORT" apache2 -f "$A_CONF" -k graceful \
    && pass || fail "apache2 -k graceful"
warm && pass || fail "nori-fcgid-warm, after graceful: $(tail -n 1 "$TMP/warm.err")"
new=$(fcgid_noris | sort)
expect_eq "$(echo "$new" | grep -c .)" "$pool" "the pool is full after a graceful restart"
expect_eq "$(comm -12 <(echo "$old") <(echo "$new") | grep -c . || true)" 0 \
    "every worker is new after the graceful restart"
get 200 '/shop?pg=Item&id=26' "the Item page after graceful"

apache_stop
poll -- no_nori && pass || fail "nori processes outlived apache: $(fcgid_noris)"
finish
