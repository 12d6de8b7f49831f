#!/usr/bin/env bash
# Test script: one step per argument, each sleeping that many seconds.
set -euo pipefail
n=0
for seconds in "$@"; do
    n=$((n + 1))
    echo "::step s$n"
    sleep "$seconds"
done
echo "::result steps=$n"
