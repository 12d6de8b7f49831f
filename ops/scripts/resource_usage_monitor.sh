#!/usr/bin/env bash
# Disk used by each site: database (with its WAL), site directory, backups.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

STEPS="measure"

usage() {
    cat <<EOF
Usage: resource_usage_monitor.sh --root DIR [--site NAME ...]

Measures every site with a database (or only the --site names). Read-only.

  --root DIR     the Managely root (default $DEFAULT_ROOT)
  --site NAME    limit to this site (repeatable)

Steps: $STEPS
Results: sites, total_db_bytes, and per site NAME.db_bytes (database file with its -wal and
-shm; on PostgreSQL pg_database_size), NAME.dir_bytes (DIR/sites/NAME), NAME.backups_bytes
(DIR/backups/NAME)
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
for site in ${SITES[@]+"${SITES[@]}"}; do
    require site "$site"
done

# Apparent size in bytes of a file or directory tree (0 when it does not exist).
bytes() {
    if [[ -e $1 ]]; then
        du -sb -- "$1" | awk '{ print $1 }'
    else
        printf '0'
    fi
}

step measure
if ((${#SITES[@]} == 0)); then
    sites=$(db_list_sites) || fail "cannot list the site databases"
    while IFS= read -r name; do
        [[ -z $name ]] || SITES+=("$name")
    done <<<"$sites"
fi
total=0
count=0
for site in ${SITES[@]+"${SITES[@]}"}; do
    db_bytes=$(db_size "$site") || fail "cannot measure the database of $site"
    result "$site.db_bytes" "$db_bytes"
    result "$site.dir_bytes" "$(bytes "$(site_dir "$site")")"
    result "$site.backups_bytes" "$(bytes "$BACKUPS_DIR/$site")"
    total=$((total + db_bytes))
    count=$((count + 1))
done
result sites "$count"
result total_db_bytes "$total"
progress 100
