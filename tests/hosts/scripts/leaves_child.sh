#!/usr/bin/env bash
# Test fixture: exits at once but leaves a background child holding its stdout open.
set -euo pipefail
sleep "${1:-30}" &
echo "::result child_pid=$!"
echo "exiting, child still running"
