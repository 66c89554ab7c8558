#!/usr/bin/env bash
# run.sh -- every integration suite, each against its own lighttpd.
set -uo pipefail
cd "$(dirname "$0")"
status=0
for suite in stateless.sh sessions.sh serve.sh authorizer.sh apache.sh nginx.sh spawn-fcgi.sh install.sh make-run.sh etag.sh frame.sh; do
    echo "== integration: $suite"
    bash "$suite" || status=1
done
exit $status
