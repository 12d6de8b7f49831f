#!/usr/bin/env bash
# Test fixture: one 100 000-character line, then LINES numbered lines (default 20000).
set -euo pipefail
printf 'x%.0s' {1..100000}
echo
seq -f 'line %.0f' 1 "${1:-20000}"
