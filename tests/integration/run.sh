#!/usr/bin/env bash
# run.sh -- every integration suite, each against its own servers.
#
# A suite is a file here that starts with "#!": the shared helpers
# (lib.sh, port.sh, ...) do not, and are only sourced. A new suite
# needs no line anywhere else. NORI_SUITES="a.sh b.sh" runs only those.
set -uo pipefail
cd "$(dirname "$0")"
suites=${NORI_SUITES:-$(for f in *.sh; do
    [ "$f" != run.sh ] && head -1 "$f" | grep -q '^#!' && echo "$f"; done)}
status=0 passed=0 failed=0
out=$(mktemp)
for suite in $suites; do
    echo "== integration: $suite"
    bash "$suite" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    # each suite ends with "  N checks passed, M failed"
    read -r p f < <(sed -n 's/^  \([0-9]*\) checks passed, \([0-9]*\) failed$/\1 \2/p' "$out" | tail -1) \
        || p=0 f=0
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    # a suite that stopped before counting is one failure more
    [ "$rc" = 0 ] || { status=1; [ "${f:-0}" != 0 ] || failed=$((failed + 1)); }
done
rm -f "$out"
echo "integration: $passed passed, $failed failed"
exit $status
