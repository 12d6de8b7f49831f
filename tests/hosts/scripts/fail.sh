#!/usr/bin/env bash
# Test fixture: starts a step, reports why it fails, exits 3.
set -euo pipefail
echo "::step prepare"
echo "::step migrate"
echo "::error database is locked"
exit 3
