#!/usr/bin/env bash
# Create one isolated Tryton site: its own database cloned from the package template, its own
# admin credentials, served by the shared trytond at http://HOST:PORT/<site>/.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

STEPS="check_site clone_database set_admin_password write_site load_site verify_login"

usage() {
    cat <<EOF
Usage: create_site_in_isolated.sh --root DIR --site NAME --package SLUG
                                  [--admin-login LOGIN] [--host HOST] [--rollback]
Standard input: ADMIN_PASSWORD=<password>   (not read with --rollback)

Creates DIR/db/NAME.sqlite from DIR/templates/SLUG.sqlite and DIR/sites/NAME/site.env, sets
the admin password (and login), makes trytond load the database and logs in to prove it.
On a PostgreSQL root (see bootstrap_server.sh --db-uri) the database is <prefix>NAME,
created with CREATE DATABASE ... TEMPLATE <prefix>tpl_SLUG; db_name and the url use that name.

  --root DIR           the Managely root (default $DEFAULT_ROOT)
  --site NAME          site and database name: ^[a-z][a-z0-9-]{1,40}[a-z0-9]\$
  --package SLUG       the package whose template is cloned
  --admin-login LOGIN  the admin's login (default admin)
  --host HOST          host name or address used in the url result (default 127.0.0.1)
  --rollback           remove what a failed creation of NAME left (database, site dir); a
                       site that finished creating (state=ready) or belongs to another
                       package is left alone: delete it with delete_multiple_sites.sh

Idempotent: running it again for an existing site of the same package keeps the database,
sets the password again and checks the login.
Steps: $STEPS (rollback: rollback)
Results: db_name, url, admin_login
EOF
}

SITE=
PACKAGE=
ADMIN_LOGIN="admin"
HOST=127.0.0.1
while (($#)); do
    case $1 in
        --site)
            need_value "$@"
            SITE=$2
            shift 2
            ;;
        --package)
            need_value "$@"
            PACKAGE=$2
            shift 2
            ;;
        --admin-login)
            need_value "$@"
            ADMIN_LOGIN=$2
            shift 2
            ;;
        --host)
            need_value "$@"
            HOST=$2
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
require_option --package package "$PACKAGE"
require login "$ADMIN_LOGIN"
require host "$HOST"

DB_NAME=$(db_name "$SITE")
DIR=$(site_dir "$SITE")
SITE_ENV=$DIR/site.env

# The package this site belongs to, from its marker (empty when there is none).
existing_package() {
    local package=
    [[ -f $DIR/package ]] && IFS= read -r package <"$DIR/package"
    [[ -n $package ]] || package=$(env_get "$SITE_ENV" package)
    printf '%s' "$package"
}

if ((ROLLBACK)); then
    step rollback
    lock "site-$SITE"
    package=$(existing_package)
    if [[ -n $package && $package != "$PACKAGE" ]]; then
        log "site $SITE belongs to package $package: left alone"
    elif [[ -z $package ]] && db_exists "$SITE"; then
        log "database $DB_NAME exists but is not a managed site: left alone"
    elif [[ $(env_get "$SITE_ENV" state) == ready ]]; then
        log "site $SITE finished creating earlier: left alone (use delete_multiple_sites.sh)"
    elif [[ -e $DIR ]] || db_exists "$SITE" || db_pending_exists "$SITE"; then
        if [[ -e $DIR/loaded ]]; then
            retire_name "$SITE" "$PACKAGE"
        fi
        # The database, any unfinished clone, and the site directory.
        remove_site_files "$SITE"
        log "removed site $SITE"
    else
        log "nothing to remove for $SITE"
    fi
    progress 100
    exit 0
fi

read_secrets ADMIN_PASSWORD

# --- check_site -----------------------------------------------------------------------------
step check_site
progress 5
need_bootstrap
lock "site-$SITE"
if is_retired "$SITE" "$PACKAGE"; then
    fail "site name $SITE was deleted while trytond kept its database loaded: restart trytond (bootstrap_server.sh --stop, then bootstrap_server.sh) before reusing it"
fi
package=$(existing_package)
if [[ -n $package && $package != "$PACKAGE" ]]; then
    fail "site $SITE already exists for package $package"
fi
if [[ -z $package ]] && db_exists "$SITE"; then
    fail "database $DB_NAME exists but is not a managed site"
fi
login=$(env_get "$SITE_ENV" admin_login)
if [[ -n $login && $login != "$ADMIN_LOGIN" ]]; then
    fail "site $SITE exists with the admin login $login"
fi
if [[ -n $package ]]; then
    log "site $SITE exists for package $package: continuing"
fi

# --- clone_database -------------------------------------------------------------------------
step clone_database
progress 15
# A new database stays under a pending name until its admin password is set, so that nothing
# can log in to it, or make trytond touch it, before load_site (see db_clone in lib.sh).
CLONED=0
cleanup() {
    if ((CLONED)); then db_discard_pending "$SITE"; fi
}
if db_exists "$SITE"; then
    log "database $DB_NAME exists: kept"
    TARGET=live
else
    template_exists "$PACKAGE" || fail "no template for package $PACKAGE: run build_template.sh first"
    mkdir -p "$DIR"
    chmod 0750 "$DIR"
    printf '%s\n' "$PACKAGE" | write_atomic "$DIR/package" 0640
    CLONED=1
    started=$EPOCHREALTIME
    db_clone "$SITE" "$PACKAGE"
    log "cloned the template of $PACKAGE for $SITE in $(((${EPOCHREALTIME/./} - ${started/./}) / 1000)) ms"
    TARGET=pending
fi

# --- set_admin_password ---------------------------------------------------------------------
step set_admin_password
progress 30
rename=()
[[ $ADMIN_LOGIN == admin ]] || rename=(--rename-from admin)
started=$EPOCHREALTIME
printf '%s\n' "$ADMIN_PASSWORD" \
    | db_set_password "$SITE" "$TARGET" "$ADMIN_LOGIN" ${rename[@]+"${rename[@]}"} \
    || reported
log "admin password stored in $(((${EPOCHREALTIME/./} - ${started/./}) / 1000)) ms"
if [[ $TARGET == pending ]]; then
    db_publish "$SITE"
    CLONED=0
    log "database $DB_NAME in place"
fi

# --- write_site -----------------------------------------------------------------------------
step write_site
progress 45
created=$(env_get "$SITE_ENV" created)
[[ -n $created ]] || created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
state=$(env_get "$SITE_ENV" state)
[[ $state == ready ]] || state=creating
write_site_env() {
    write_atomic "$SITE_ENV" 0640 <<EOF
site=$SITE
package=$PACKAGE
admin_login=$ADMIN_LOGIN
created=$created
state=$1
EOF
}
write_site_env "$state"

# --- load_site ------------------------------------------------------------------------------
step load_site
progress 60
: >"$DIR/loaded"
db_load "$SITE" || reported

# --- verify_login ---------------------------------------------------------------------------
step verify_login
progress 80
printf '%s\n' "$ADMIN_PASSWORD" | rpc --port "$PORT" login "$DB_NAME" "$ADMIN_LOGIN" --timeout 30 \
    || reported
write_site_env ready

result db_name "$DB_NAME"
result url "http://$HOST:$PORT/$DB_NAME/"
result admin_login "$ADMIN_LOGIN"
progress 100
