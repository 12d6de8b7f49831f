#!/usr/bin/env bash
# Test fixture: starts a child in a session of its own (out of reach of a process group
# kill) that keeps stdout open, then sleeps SECONDS (default 30).
set -euo pipefail
setsid sleep 30 &
echo "::result escaped_pid=$!"
sleep "${1:-30}"
