#!/usr/bin/env bash
# Archive trytond's and the scripts' logs (gzip, then truncate) and prune old archives.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

STEPS="archive_logs prune_archives"

usage() {
    cat <<EOF
Usage: logs_archiving.sh --root DIR [--keep-days N]

Copies each non-empty log (DIR/run/trytond.log, DIR/logs/*.log) to
DIR/logs/archive/<name>-<UTC time>.log.gz and truncates it in place (trytond appends, so it
keeps writing to the same file), then removes archives older than N days (default 30).

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
ARCHIVE=$LOGS_DIR/archive

step archive_logs
mkdir -p "$ARCHIVE"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
archived=0
for file in "$TRYTON_LOG" "$LOGS_DIR"/*.log; do
    [[ -f $file && ! -L $file && -s $file ]] || continue
    name=${file##*/}
    target=$ARCHIVE/${name%.log}-$stamp.log.gz
    n=1
    while [[ -e $target ]]; do
        target=$ARCHIVE/${name%.log}-$stamp-$n.log.gz
        n=$((n + 1))
    done
    gzip -c -- "$file" >"$target.tmp"
    mv -f -- "$target.tmp" "$target"
    : >"$file"
    archived=$((archived + 1))
    log "archived $name to ${target##*/}"
done

step prune_archives
pruned=0
while IFS= read -r -d '' old; do
    rm -f -- "$old"
    pruned=$((pruned + 1))
done < <(find "$ARCHIVE" -mindepth 1 -maxdepth 1 -type f -name '*.log.gz' \
    -mtime +"$((10#$KEEP_DAYS))" -print0)
result archived "$archived"
result pruned "$pruned"
progress 100
