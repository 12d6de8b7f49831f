#!/usr/bin/env bash
# Is a site name free on this server?
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

usage() {
    cat <<EOF
Usage: subdomain_check.sh --root DIR --site NAME

Prints ::result available=yes when NAME is a valid site name with no database, no site
directory, and was not deleted since trytond started (its database would still be loaded);
otherwise available=no. Exits 0 either way; an invalid NAME is an ::error and exit 1.
Read-only: no steps.
Results: available
EOF
}

SITE=
while (($#)); do
    case $1 in
        --site)
            need_value "$@"
            SITE=$2
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

if [[ -e $(site_dir "$SITE") ]] || db_exists "$SITE" || is_retired "$SITE"; then
    result available no
else
    result available yes
fi
