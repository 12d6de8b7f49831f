#!/usr/bin/env bash
# Map a domain to a site: DIR/sites/NAME/domains and the reverse-proxy map DIR/etc/domains.map.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

STEPS="check_site write_domain"

usage() {
    cat <<EOF
Usage: domain_change_script.sh --root DIR --site NAME --domain DOMAIN [--rollback]

Records DOMAIN in DIR/sites/NAME/domains (one per line) and the line "DOMAIN NAME" in
DIR/etc/domains.map (the reverse proxy's map). A domain maps to one site only: a domain
another site has is refused.

  --root DIR        the Managely root (default $DEFAULT_ROOT)
  --site NAME       the site: ^[a-z][a-z0-9-]{1,40}[a-z0-9]\$
  --domain DOMAIN   lowercase DNS name: labels of 1-63 [a-z0-9-] (no leading/trailing
                    hyphen), at least two labels, at most 253 characters
  --rollback        remove the mapping of DOMAIN to NAME (nothing else)

Idempotent: no duplicate lines, whatever the number of runs.
Steps: $STEPS (rollback: write_domain)
Results: domain
EOF
}

valid_domain() {
    local label='[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?'
    ((${#1} <= 253)) && [[ $1 =~ ^($label\.)+$label$ ]]
}

SITE=
DOMAIN=
while (($#)); do
    case $1 in
        --site)
            need_value "$@"
            SITE=$2
            shift 2
            ;;
        --domain)
            need_value "$@"
            DOMAIN=$2
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
require_option --domain domain "$DOMAIN"

DIR=$(site_dir "$SITE")
SITE_DOMAINS=$DIR/domains
MAP=$ETC/domains.map

# drop_line FILE LINE — rewrite FILE without the exact line LINE (atomically).
drop_line() {
    local file=$1 line=$2
    [[ -f $file ]] || return 0
    grep -qxF -- "$line" "$file" || return 0
    { grep -vxF -- "$line" "$file" || true; } | write_atomic "$file" 0640
}

# add_line FILE LINE — append LINE unless FILE has it (atomically).
add_line() {
    local file=$1 line=$2
    if [[ -f $file ]] && grep -qxF -- "$line" "$file"; then
        return 0
    fi
    { [[ ! -f $file ]] || cat -- "$file"; printf '%s\n' "$line"; } | write_atomic "$file" 0640
}

if ((ROLLBACK)); then
    step write_domain
    lock domains
    drop_line "$MAP" "$DOMAIN $SITE"
    drop_line "$SITE_DOMAINS" "$DOMAIN"
    log "removed the mapping $DOMAIN -> $SITE (if there was one)"
    result domain "$DOMAIN"
    progress 100
    exit 0
fi

# --- check_site -----------------------------------------------------------------------------
step check_site
progress 10
[[ -d $DIR ]] || db_exists "$SITE" || fail "site $SITE does not exist"
lock domains
if [[ -f $MAP ]]; then
    while read -r map_domain map_site _; do
        if [[ $map_domain == "$DOMAIN" && $map_site != "$SITE" ]]; then
            fail "domain $DOMAIN is already mapped to site $map_site"
        fi
    done <"$MAP"
fi

# --- write_domain ---------------------------------------------------------------------------
step write_domain
progress 50
mkdir -p "$ETC" "$DIR"
add_line "$SITE_DOMAINS" "$DOMAIN"
add_line "$MAP" "$DOMAIN $SITE"
log "$DOMAIN -> $SITE recorded in $MAP"

result domain "$DOMAIN"
progress 100
