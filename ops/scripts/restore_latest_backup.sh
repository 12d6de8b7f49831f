#!/usr/bin/env bash
# Restore a site's database from its latest backup (or a given one), into the site itself or,
# for a restore drill, into a scratch database.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

STEPS="find_backup verify_checksum restore_database check_database drop_scratch"

usage() {
    cat <<EOF
Usage: restore_latest_backup.sh --root DIR --site NAME [--backup PATH] [--into SCRATCH]
                                [--drop-scratch] [--rollback]

Finds the newest DIR/backups/NAME/NAME-*.tar.gz (or PATH, which must be a backup directly in
DIR/backups/NAME), checks it against its .sha256 file (written by backup_site.sh), and copies
its database into DIR/db/NAME.sqlite with SQLite's online backup API (the caller has stopped
using the site; the running trytond keeps serving the same file). With --into SCRATCH the
database goes to DIR/db/SCRATCH.sqlite instead (a drill; SCRATCH may not be a managed site).
Only the database is restored; the archive's site/ directory is left in the archive.
On a PostgreSQL root the archive's database.dump is restored with pg_restore into a fresh
database <prefix>rst_NAME, which then replaces <prefix>NAME (or <prefix>SCRATCH) in one
transaction of renames; sessions on the replaced database are cut (trytond reconnects).
Backups do not cross backends (a SQLite backup cannot be restored on a PostgreSQL root).

  --root DIR       the Managely root (default $DEFAULT_ROOT)
  --site NAME      the site whose backups are used
  --backup PATH    this backup instead of the latest
  --into SCRATCH   restore into this scratch database name instead of the site
  --drop-scratch   with --into: drop the scratch database once it was checked (a restore
                   drill: the backup is proven to open, and nothing is left behind)
  --rollback       with --into: remove the scratch database; otherwise nothing to undo

Idempotent: restoring the same backup again gives the same database.
Steps: $STEPS
Results: restored_from, sha256
EOF
}

SITE=
BACKUP=
INTO=
GIVEN=
DROP_SCRATCH=0
while (($#)); do
    case $1 in
        --drop-scratch)
            DROP_SCRATCH=1
            shift
            ;;
        --site)
            need_value "$@"
            SITE=$2
            shift 2
            ;;
        --backup)
            need_value "$@"
            BACKUP=$2
            GIVEN+=" backup"
            shift 2
            ;;
        --into)
            need_value "$@"
            INTO=$2
            GIVEN+=" into"
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
[[ $GIVEN != *backup* ]] || require root "$BACKUP"
[[ $GIVEN != *into* ]] || require site "$INTO"
[[ $INTO != "$SITE" ]] || INTO=
((DROP_SCRATCH == 0)) || [[ -n $INTO ]] || fail "--drop-scratch needs --into a scratch name"

SITE_BACKUPS=$BACKUPS_DIR/$SITE
TARGET_NAME=${INTO:-$SITE}

# A scratch name must not be a real site (nor one trytond still holds after a deletion).
check_scratch() {
    [[ -z $INTO ]] && return 0
    [[ ! -e $(site_dir "$INTO") ]] || fail "$INTO is a managed site, not a scratch name"
    if is_retired "$INTO"; then
        fail "$INTO was deleted while trytond kept its database loaded: restart trytond first"
    fi
}

if ((ROLLBACK)); then
    step restore_database
    if [[ -n $INTO ]]; then
        lock "site-$INTO"
        check_scratch
        db_drop "$INTO"
        log "removed scratch database $INTO"
    else
        log "nothing to roll back: a restored site keeps the restored database"
    fi
    progress 100
    exit 0
fi

# --- find_backup ----------------------------------------------------------------------------
step find_backup
progress 5
# Names this script accepts: NAME-<timestamp>[-n][-label].tar.gz, directly in the site's dir.
name_re="^${SITE}-[0-9]{8}T[0-9]{6}Z(-[a-z0-9_]+)*\\.tar\\.gz\$"
if [[ -n $BACKUP ]]; then
    [[ -f $BACKUP && ! -L $BACKUP ]] || fail "backup $BACKUP does not exist"
    real_dir=$(cd "$(dirname "$BACKUP")" && pwd -P)
    [[ -d $SITE_BACKUPS ]] || fail "no backups for site $SITE"
    site_real=$(cd "$SITE_BACKUPS" && pwd -P)
    [[ $real_dir == "$site_real" ]] || fail "--backup must be a file in $SITE_BACKUPS"
    [[ $(basename "$BACKUP") =~ $name_re ]] || fail "--backup is not a backup of site $SITE"
    ARCHIVE=$SITE_BACKUPS/$(basename "$BACKUP")
else
    [[ -d $SITE_BACKUPS ]] || fail "no backups for site $SITE"
    ARCHIVE=
    newest=
    while IFS= read -r -d '' line; do
        mtime=${line%% *}
        file=${line#* }
        [[ $(basename "$file") =~ $name_re ]] || continue
        # Newest by the UTC timestamp in the name, then by modification time.
        file_name=$(basename "$file")
        key="${file_name:${#SITE}+1:16} $mtime"
        if [[ -z $newest || $key > $newest ]]; then
            newest=$key
            ARCHIVE=$file
        fi
    done < <(find "$SITE_BACKUPS" -maxdepth 1 -type f -name '*.tar.gz' -printf '%T@ %p\0')
    [[ -n $ARCHIVE ]] || fail "no backups for site $SITE"
fi
log "backup: $ARCHIVE"

# --- verify_checksum ------------------------------------------------------------------------
step verify_checksum
progress 20
[[ -f $ARCHIVE.sha256 ]] || fail "no checksum file $(basename "$ARCHIVE").sha256 beside the backup"
expected=
read -r expected _ <"$ARCHIVE.sha256" || true
[[ $expected =~ ^[0-9a-f]{64}$ ]] || fail "unreadable checksum file $(basename "$ARCHIVE").sha256"
actual=$(sha256sum "$ARCHIVE")
actual=${actual%% *}
[[ $actual == "$expected" ]] || fail "checksum mismatch for $(basename "$ARCHIVE"): the backup is corrupt"
log "checksum ok"

# --- restore_database -----------------------------------------------------------------------
step restore_database
progress 40
lock "site-$TARGET_NAME"
check_scratch
if [[ -z $INTO ]]; then
    [[ -d $(site_dir "$SITE") ]] || db_exists "$SITE" \
        || fail "site $SITE does not exist: create it first, or restore --into a scratch name"
fi
mkdir -p "$DB_DIR"
STAGE=$(mktemp -d "$DB_DIR/.restore-XXXXXX")
cleanup() { rm -rf -- "$STAGE"; }
MEMBER=$(db_dump_member)
tar -xzf "$ARCHIVE" -C "$STAGE" "$MEMBER" \
    || fail "the backup has no $MEMBER (a backup does not cross the SQLite and PostgreSQL backends)"
[[ -f $STAGE/$MEMBER && ! -L $STAGE/$MEMBER ]] \
    || fail "the backup's $MEMBER is not a regular file"
if [[ -n $INTO ]]; then
    # SQLite: a fresh file, renamed into place (from a hidden directory: trytond lists *.sqlite
    # files). PostgreSQL: restored under another name, then renamed.
    db_restore "$STAGE/$MEMBER" "$INTO" scratch
else
    # SQLite: into the live file, page by page under SQLite's locks: trytond keeps the same file.
    db_restore "$STAGE/$MEMBER" "$SITE" live
fi
log "database restored into $(db_name "$TARGET_NAME")"

# --- check_database -------------------------------------------------------------------------
step check_database
progress 80
db_check "$TARGET_NAME" || reported

if ((DROP_SCRATCH)); then
    step drop_scratch
    progress 90
    db_drop "$INTO"
    log "removed scratch database $INTO"
fi

result restored_from "$ARCHIVE"
result sha256 "$actual"
progress 100
