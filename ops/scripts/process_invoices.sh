#!/usr/bin/env bash
# Draw the PDF of every issued invoice that has none yet, through the managely CLI.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

STEPS="process_invoices"
MANAGELY=${MANAGELY_BIN:-managely}
LIMIT=100

usage() {
    cat <<EOF
Usage: process_invoices.sh [--limit N] [--managely PATH]

Runs on the platform, not on a tenant server, with the platform's MANAGELY_* environment.
Calls \`managely invoices process\` (the pass the clock also runs, safe to repeat) and prints
::result drawn=<how many PDFs it drew>. The CLI from --managely or MANAGELY_BIN (default
managely on PATH).
Steps: $STEPS
EOF
}

valid_program() { [[ $1 =~ ^[A-Za-z0-9._/-]{1,255}$ ]]; }

while (($#)); do
    case $1 in
        --limit) need_value "$@"; LIMIT=$2; shift 2 ;;
        --managely) need_value "$@"; MANAGELY=$2; shift 2 ;;
        *) parse_common "$@"; shift "$PARSED" ;;
    esac
done
require int "$LIMIT"
require program "$MANAGELY"

step process_invoices
output=$("$MANAGELY" invoices process --limit "$LIMIT") || fail "managely invoices process failed"
log "$output"
result drawn "${output##*: }"
progress 100
