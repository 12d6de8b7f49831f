#!/usr/bin/env bash
# Test fixture: sleeps SECONDS (default 30) in a child process whose pid it reports first.
set -euo pipefail
sleep "${1:-30}" &
echo "::result child_pid=$!"
wait
