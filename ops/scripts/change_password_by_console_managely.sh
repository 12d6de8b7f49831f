#!/usr/bin/env bash
# Set a user's password on one site from the server console (no email, no old password).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

STEPS="check_site set_password verify_login"

usage() {
    cat <<EOF
Usage: change_password_by_console_managely.sh --root DIR --site NAME --login LOGIN [--rollback]
Standard input: NEW_PASSWORD=<password>

Stores the new password hash for LOGIN in the site's database (as trytond does: its sessions
and remembered devices are dropped, and its failed-login throttle is lifted), then logs in
with it.

  --root DIR     the Managely root (default $DEFAULT_ROOT)
  --site NAME    the site
  --login LOGIN  the user's login
  --rollback     accepted for the calling convention; does nothing (the old password is
                 not kept, so there is nothing to restore)

Idempotent: setting the same password twice is harmless.
Steps: $STEPS
EOF
}

SITE=
LOGIN=
while (($#)); do
    case $1 in
        --site)
            need_value "$@"
            SITE=$2
            shift 2
            ;;
        --login)
            need_value "$@"
            LOGIN=$2
            shift 2
            ;;
        *)
            parse_common "$@"
            shift "$PARSED"
            ;;
    esac
done
setup_root
require_option --site site "$SITE"
require_option --login login "$LOGIN"

if ((ROLLBACK)); then
    log "nothing to roll back: the previous password is not kept"
    progress 100
    exit 0
fi

read_secrets NEW_PASSWORD

step check_site
progress 10
need_bootstrap
lock "site-$SITE"
if [[ ! -f $(site_dir "$SITE")/site.env ]] || ! db_exists "$SITE"; then
    fail "site $SITE does not exist"
fi

step set_password
progress 40
printf '%s\n' "$NEW_PASSWORD" | db_set_password "$SITE" live "$LOGIN" || reported

step verify_login
progress 70
# Loading is a no-op when trytond has the database loaded already; it must never be skipped
# before a login (see tryton_rpc.py).
db_load "$SITE" || reported
printf '%s\n' "$NEW_PASSWORD" | rpc --port "$PORT" login "$(db_name "$SITE")" "$LOGIN" --timeout 30 \
    || reported
progress 100
