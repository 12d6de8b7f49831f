#!/usr/bin/env bash
# Remove old backups: keep each site's newest N, and drop anything older than D days; or remove
# exactly the named backups of one site (the platform's retention decides which).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

STEPS="cleanup_backups"

usage() {
    cat <<EOF
Usage: backup_cleanup.sh --root DIR [--site NAME ...] [--keep N] [--max-age-days D]
       backup_cleanup.sh --root DIR --site NAME --delete FILE [--delete FILE ...] [--replicas]

For each site (every directory of DIR/backups, or the --site names), keeps the newest N
backup files of DIR/backups/NAME (default 7) and removes the others; with --max-age-days,
also removes files older than D days. The newest backup of a site is never removed. Only
regular files directly in DIR/backups/NAME are considered.

  --root DIR          the Managely root (default $DEFAULT_ROOT)
  --site NAME         limit to this site (repeatable)
  --keep N            backups to keep per site, at least 1 (default 7)
  --max-age-days D    also remove backups older than D days
  --delete FILE       remove exactly this backup of the one --site (and its .sha256), by file
                      name: it must be NAME-<UTC timestamp>[-…].tar.gz, so a backup of
                      another site (even one whose name starts with NAME) is never matched
  --replicas          with --delete: in DIR/replicas/NAME (copies received from other servers)
  --rollback          accepted for the calling convention; removed backups are gone

Idempotent. Steps: $STEPS
Results: removed, kept
EOF
}

SITES=()
KEEP=7
MAX_AGE=
DELETE=()
REPLICAS=0
while (($#)); do
    case $1 in
        --delete)
            need_value "$@"
            DELETE+=("$2")
            shift 2
            ;;
        --replicas)
            REPLICAS=1
            shift
            ;;
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

# --delete: exactly the named archives of one site, nothing chosen here.
if ((${#DELETE[@]})); then
    ((${#SITES[@]} == 1)) || fail "--delete needs exactly one --site"
    site=${SITES[0]}
    name_re="^${site}-[0-9]{8}T[0-9]{6}Z(-[a-z0-9_]+)*\\.tar\\.gz\$"
    for file in "${DELETE[@]}"; do
        [[ $file =~ $name_re ]] || fail "--delete $(oneline "$file") is not a backup of site $site"
    done
    step cleanup_backups
    dir=$BACKUPS_DIR/$site
    ((REPLICAS == 0)) || dir=$ROOT/replicas/$site
    removed=0
    if [[ -d $dir && ! -L $dir ]]; then
        lock "backup-$site"
        for file in "${DELETE[@]}"; do
            for path in "$dir/$file" "$dir/$file.sha256"; do
                [[ -f $path && ! -L $path ]] || continue
                rm -f -- "$path"
                removed=$((removed + 1))
                log "removed $site/${path##*/}"
            done
        done
    fi
    kept=0
    if [[ -d $dir ]]; then
        kept=$(find "$dir" -mindepth 1 -maxdepth 1 -type f -name '*.tar.gz' -printf . | wc -c)
    fi
    result removed "$removed"
    result kept "$kept"
    progress 100
    exit 0
fi
((REPLICAS == 0)) || fail "--replicas goes with --delete"

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
