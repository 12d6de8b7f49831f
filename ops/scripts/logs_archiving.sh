#!/usr/bin/env bash
# Archive the platform's logs (trytond's, the scripts') and each site's logs (gzip, then
# truncate), compress logs another tool already rotated, and prune old archives.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

STEPS="archive_logs prune_archives"

usage() {
    cat <<EOF
Usage: logs_archiving.sh --root DIR [--keep-days N]

Copies each non-empty log (DIR/run/trytond.log, DIR/logs/*.log) to
DIR/logs/archive/<name>-<UTC time>.log.gz and truncates it in place (trytond appends, so it
keeps writing to the same file); a site's logs (DIR/sites/SITE/logs/*.log) go the same way to
DIR/sites/SITE/logs/archive/. Logs already rotated by another tool (NAME.log.1,
NAME.log-20260101, not compressed) in those folders are gzipped into the archive once they
are more than a day old, and removed. Then archives older than N days (default 30) go.

  --root DIR       the Managely root (default $DEFAULT_ROOT)
  --keep-days N    archive retention in days (default 30)
  --rollback       accepted for the calling convention; does nothing

Idempotent: empty logs are not archived.
Steps: $STEPS
Results: archived, pruned
EOF
}

KEEP_DAYS=30
while (($#)); do
    case $1 in
        --keep-days)
            need_value "$@"
            KEEP_DAYS=$2
            shift 2
            ;;
        *)
            parse_common "$@"
            shift "$PARSED"
            ;;
    esac
done
setup_root
require int "$KEEP_DAYS"
if ((ROLLBACK)); then
    log "nothing to roll back"
    exit 0
fi
stamp=$(date -u +%Y%m%dT%H%M%SZ)
archived=0
ARCHIVES=()

# archive_to DIR FILE DROP — gzip FILE into DIR/<name>-<stamp>.log.gz; DROP=1 removes FILE
# (a log someone else rotated), else FILE is truncated in place (its writer keeps it open).
archive_to() {
    local dir=$1 file=$2 drop=$3 name target n=1
    name=${file##*/}
    name=${name%.gz}
    name=${name/.log/}
    target=$dir/$name-$stamp.log.gz
    while [[ -e $target ]]; do
        target=$dir/$name-$stamp-$n.log.gz
        n=$((n + 1))
    done
    gzip -c -- "$file" >"$target.tmp"
    mv -f -- "$target.tmp" "$target"
    if ((drop)); then
        rm -f -- "$file"
    else
        : >"$file"
    fi
    archived=$((archived + 1))
    log "archived ${file#"$ROOT"/} to ${target#"$ROOT"/}"
}

# archive_folder DIR LOG... — the live logs given, then DIR's rotated, day-old logs.
archive_folder() {
    local dir=$1 archive=$1/archive file
    shift
    [[ -d $dir && ! -L $dir ]] || return 0
    mkdir -p "$archive"
    ARCHIVES+=("$archive")
    for file in "$@"; do
        [[ -f $file && ! -L $file && -s $file ]] || continue
        archive_to "$archive" "$file" 0
    done
    while IFS= read -r -d '' file; do
        archive_to "$archive" "$file" 1
    done < <(find "$dir" -mindepth 1 -maxdepth 1 -type f \( -name '*.log.[0-9]*' -o -name '*.log-*' \) \
        ! -name '*.gz' -mmin +1440 -print0)
}

step archive_logs
mkdir -p "$LOGS_DIR"
archive_folder "$LOGS_DIR" "$TRYTON_LOG" "$LOGS_DIR"/*.log
if [[ -d $RUN_DIR ]]; then
    # trytond's own rotated files sit beside it; their archive is the platform's.
    while IFS= read -r -d '' file; do
        archive_to "$LOGS_DIR/archive" "$file" 1
    done < <(find "$RUN_DIR" -mindepth 1 -maxdepth 1 -type f -name 'trytond.log?*' \
        ! -name '*.gz' -mmin +1440 -print0)
fi
for dir in "$SITES_DIR"/*/logs; do
    site=${dir%/logs}
    valid_site "${site##*/}" && [[ ! -L $site ]] || continue
    archive_folder "$dir" "$dir"/*.log
done

step prune_archives
pruned=0
while IFS= read -r -d '' old; do
    rm -f -- "$old"
    pruned=$((pruned + 1))
done < <(find "${ARCHIVES[@]}" -mindepth 1 -maxdepth 1 -type f -name '*.log.gz' \
    -mtime +"$((10#$KEEP_DAYS))" -print0)
result archived "$archived"
result pruned "$pruned"
progress 100
