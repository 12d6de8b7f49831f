#!/usr/bin/env bash
# Test fixture: prints its arguments one per line; `--marker FILE` first creates FILE, which
# proves the script ran.
set -euo pipefail
if [[ "${1:-}" == --marker ]]; then
  touch "$2"
  shift 2
fi
for arg in "$@"; do
  printf '%s\n' "$arg"
done
