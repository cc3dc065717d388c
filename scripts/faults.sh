#!/usr/bin/env bash
# The fault campaign of docs/reliability.md: builds mambakit, breaks it in
# every way the campaign knows and checks each outcome; ends with a table of
# tried / held / failed cases per class. About 4 minutes on 2 cores. Run it
# as root for the disk-full cases (a small tmpfs); they are skipped, with a
# line saying so, otherwise.
#
#   scripts/faults.sh                          # everything
#   scripts/faults.sh -test.run TestSignals    # one class
#   scripts/faults.sh -faults.seed 42 -test.v  # replay the random moments of a run, with every case's log
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go test -tags faults -c -o "$tmp/faults.test" ./scripts/faults
cd scripts/faults # the campaign finds the repository from here
"$tmp/faults.test" -test.timeout 20m "$@"
