#!/usr/bin/env bash
# Remove old backups: keep each site's newest N, and drop anything older than D days.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

STEPS="cleanup_backups"

usage() {
    cat <<EOF
Usage: backup_cleanup.sh --root DIR [--site NAME ...] [--keep N] [--max-age-days D]

For each site (every directory of DIR/backups, or the --site names), keeps the newest N
backup files of DIR/backups/NAME (default 7) and removes the others; with --max-age-days,
also removes files older than D days. The newest backup of a site is never removed. Only
regular files directly in DIR/backups/NAME are considered.

  --root DIR          the Managely root (default $DEFAULT_ROOT)
  --site NAME         limit to this site (repeatable)
  --keep N            backups to keep per site, at least 1 (default 7)
  --max-age-days D    also remove backups older than D days
  --rollback          accepted for the calling convention; removed backups are gone

Idempotent. Steps: $STEPS
Results: removed, kept
EOF
}

SITES=()
KEEP=7
MAX_AGE=
while (($#)); do
    case $1 in
        --site)
            need_value "$@"
            SITES+=("$2")
            shift 2
            ;;
        --keep)
            need_value "$@"
            KEEP=$2
            shift 2
            ;;
        --max-age-days)
            need_value "$@"
            MAX_AGE=$2
            shift 2
            ;;
        *)
            parse_common "$@"
            shift "$PARSED"
            ;;
    esac
done
setup_root
require int "$KEEP"
((10#$KEEP >= 1)) || fail "--keep must be at least 1"
[[ -z $MAX_AGE ]] || require int "$MAX_AGE"
for site in ${SITES[@]+"${SITES[@]}"}; do
    require site "$site"
done
if ((ROLLBACK)); then
    log "nothing to roll back"
    exit 0
fi

step cleanup_backups
if ((${#SITES[@]} == 0)) && [[ -d $BACKUPS_DIR ]]; then
    for dir in "$BACKUPS_DIR"/*/; do
        name=${dir%/}
        name=${name##*/}
        valid_site "$name" && SITES+=("$name")
    done
fi
now=$(date +%s)
removed=0
kept=0
for site in ${SITES[@]+"${SITES[@]}"}; do
    dir=$BACKUPS_DIR/$site
    [[ -d $dir && ! -L $dir ]] || continue
    index=0
    # Newest first: "<mtime> <name>", NUL-separated, names taken verbatim.
    while IFS= read -r -d '' entry; do
        mtime=${entry%% *}
        mtime=${mtime%.*}
        file=$dir/${entry#* }
        if ((index > 0)) && { ((index >= 10#$KEEP)) \
            || { [[ -n $MAX_AGE ]] && ((now - mtime > 10#$MAX_AGE * 86400)); }; }; then
            rm -f -- "$file"
            removed=$((removed + 1))
            log "removed $site/${entry#* }"
        else
            kept=$((kept + 1))
        fi
        index=$((index + 1))
    done < <(find "$dir" -mindepth 1 -maxdepth 1 -type f -printf '%T@ %f\0' | sort -z -rn)
done
result removed "$removed"
result kept "$kept"
progress 100
