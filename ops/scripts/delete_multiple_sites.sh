#!/usr/bin/env bash
# Delete sites: database, site directory and backups of exactly the names given.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

STEPS="check_sites delete_sites"

usage() {
    cat <<EOF
Usage: delete_multiple_sites.sh --root DIR --site NAME [--site NAME ...] [--rollback]

Removes DIR/db/NAME.sqlite (with its -wal/-shm/-journal files), DIR/sites/NAME and
DIR/backups/NAME for each NAME, and nothing else (no globbing on names). On a PostgreSQL
root the database <prefix>NAME is dropped instead (DROP DATABASE ... WITH (FORCE): trytond's
sessions on it are cut). Every name is validated before anything is deleted. trytond keeps a
deleted database loaded until it restarts, so a deleted name cannot be reused before that
(subdomain_check.sh says no).

  --root DIR     the Managely root (default $DEFAULT_ROOT)
  --site NAME    a site to delete (repeatable)
  --rollback     accepted for the calling convention; a deletion cannot be undone

Idempotent: names that do not exist are skipped.
Steps: $STEPS
Results: deleted (how many of the names existed)
EOF
}

SITES=()
while (($#)); do
    case $1 in
        --site)
            need_value "$@"
            SITES+=("$2")
            shift 2
            ;;
        *)
            parse_common "$@"
            shift "$PARSED"
            ;;
    esac
done
setup_root

if ((ROLLBACK)); then
    log "nothing to roll back: deleted sites are gone"
    progress 100
    exit 0
fi

step check_sites
progress 5
((${#SITES[@]})) || fail "at least one --site is required"
for site in "${SITES[@]}"; do
    require site "$site"
done

step delete_sites
progress 20
deleted=0
done_count=0
for site in "${SITES[@]}"; do
    lock "site-$site"
    has_db=0
    if db_exists "$site"; then has_db=1; fi
    if ((has_db)) || [[ -e $(site_dir "$site") || -e $BACKUPS_DIR/$site ]] \
        || db_pending_exists "$site"; then
        ((has_db == 0)) || retire_name "$site"
        remove_site_files "$site"
        rm -rf -- "${BACKUPS_DIR:?}/$site"
        deleted=$((deleted + 1))
        log "deleted site $site"
    else
        log "site $site does not exist"
    fi
    done_count=$((done_count + 1))
    progress $((20 + 80 * done_count / ${#SITES[@]}))
done
result deleted "$deleted"
