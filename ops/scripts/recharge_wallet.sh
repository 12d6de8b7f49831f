#!/usr/bin/env bash
# Start a wallet top-up through the JSON API (POST /api/v1/wallet/recharge).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

STEPS="recharge_wallet"
API_URL=${MANAGELY_API_URL:-http://127.0.0.1:5000}
AMOUNT=
CURRENCY=
KEY=

usage() {
    cat <<EOF
Usage: recharge_wallet.sh --amount 25.00 --currency USD [--key IDEMPOTENCY_KEY] [--api URL]

Runs on the platform, not on a tenant server. Opens a PayPal top-up for the token's owner and
prints ::result payment=<code> and ::result approve_url=<url> (the payer approves there; the
wallet is credited when PayPal confirms). The token (scope write) comes from the environment
variable MANAGELY_API_TOKEN, never from the command line; the API from --api or
MANAGELY_API_URL (default $API_URL). The same --key sent again answers the first top-up
instead of opening a second one.
Steps: $STEPS
EOF
}

valid_amount() { [[ $1 =~ ^[0-9]{1,9}([.][0-9]{1,3})?$ ]]; }
valid_currency() { [[ $1 =~ ^[A-Za-z]{3}$ ]]; }
valid_key() { [[ $1 =~ ^[A-Za-z0-9_.:-]{1,128}$ ]]; }
valid_url() { [[ $1 =~ ^https?://[A-Za-z0-9.:-]+(/[A-Za-z0-9._/-]*)?$ ]]; }

while (($#)); do
    case $1 in
        --amount) need_value "$@"; AMOUNT=$2; shift 2 ;;
        --currency) need_value "$@"; CURRENCY=$2; shift 2 ;;
        --key) need_value "$@"; KEY=$2; shift 2 ;;
        --api) need_value "$@"; API_URL=$2; shift 2 ;;
        *) parse_common "$@"; shift "$PARSED" ;;
    esac
done
require_option --amount amount "$AMOUNT"
require_option --currency currency "$CURRENCY"
require url "$API_URL"
[[ -z $KEY ]] || require key "$KEY"
[[ -n ${MANAGELY_API_TOKEN:-} ]] || fail "MANAGELY_API_TOKEN is not set"
# Checked before it goes into curl's config: a quote or newline must not add an option.
[[ $MANAGELY_API_TOKEN =~ ^[A-Za-z0-9._-]{1,2000}$ ]] || fail "MANAGELY_API_TOKEN is not a token"

step recharge_wallet
# The token goes to curl on its standard input (a config line), so no process list shows it.
headers=("header = \"Authorization: Bearer $MANAGELY_API_TOKEN\"")
[[ -z $KEY ]] || headers+=("header = \"Idempotency-Key: $KEY\"")
body=$(printf '{"amount": "%s", "currency": "%s"}' "$AMOUNT" "$CURRENCY")
answer=$(printf '%s\n' "${headers[@]}" | curl --silent --show-error --config - \
    --fail-with-body --max-time 60 --proto '=http,https' \
    -H 'Content-Type: application/json' --data "$body" \
    "${API_URL%/}/api/v1/wallet/recharge") || fail "the API refused the top-up: $answer"
payment=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["payment"])' <<<"$answer")
approve=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["approve_url"])' <<<"$answer")
result payment "$payment"
result approve_url "$approve"
progress 100
