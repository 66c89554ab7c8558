#!/usr/bin/env bash
# private-checkout.sh -- issue 21, item 1: a checkout under a directory
# only its owner may enter (a root newcomer's clone under /root, 0700)
# passes the suites whose servers run as another user (nginx's www-data,
# Apache's and mod_fcgid's, runuser -u nobody), because they stage what
# those users read (lib.sh, stage_for_others) instead of pointing them
# into the checkout. The checkout's files and its build are copied below
# a 0700 directory and those suites (nginx, Apache both ways, the sticky
# balancers) run from the copy. (The copied
# binary's compiled-in data paths still name this checkout; the suites
# give the staged ones, NORI_CATALOG and NORI_USERS, explicitly.)
source "$(dirname "$0")/lib.sh"

HOME0700=$TMP/home
mkdir -m 700 "$HOME0700"
COPY=$HOME0700/nori
mkdir "$COPY"
(cd "$ROOT" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -a -t "$COPY") \
    && pass || fail "cannot copy the checkout"
cp -a "$ROOT/build" "$COPY/build"
expect_eq "$(stat -c %a "$HOME0700")" 700 "the copy's parent is 0700"
# www-data may not enter it: what made the 23 failures of issue 21.
runuser -u www-data -- test -r "$COPY/static/nori.css" && fail "www-data can read the copy" || pass

for s in nginx.sh apache.sh sticky.sh; do
    if (cd "$COPY/tests/integration" && bash "$s") > "$TMP/$s.out" 2>&1; then pass; else
        fail "$s from a 0700 checkout: $(grep FAIL "$TMP/$s.out" | head -5)"
    fi
done
finish
