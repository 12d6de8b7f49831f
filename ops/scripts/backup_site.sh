#!/usr/bin/env bash
# Back up one site: a consistent copy of its database (SQLite online backup API, or pg_dump on
# PostgreSQL; safe while trytond runs) and its site directory, in one tar.gz with a sha256 file
# beside it.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

STEPS="check_site dump_database archive checksum"

usage() {
    cat <<EOF
Usage: backup_site.sh --root DIR --site NAME [--label LABEL] [--rollback]

Writes DIR/backups/NAME/NAME-<UTC timestamp>[-LABEL].tar.gz (members: database.sqlite, the
online-backup copy of DIR/db/NAME.sqlite, and site/, a copy of DIR/sites/NAME) and, beside
it, the same name + .sha256 (sha256sum format). The archive is written under a temporary
name and renamed when complete. On a PostgreSQL root the database member is database.dump,
pg_dump -Fc of the database <prefix>NAME.

  --root DIR      the Managely root (default $DEFAULT_ROOT)
  --site NAME     the site to back up: ^[a-z][a-z0-9-]{1,40}[a-z0-9]\$
  --label LABEL   optional tag in the file name: ^[a-z0-9][a-z0-9_]{0,31}\$
  --rollback      remove the temporary files an interrupted backup of NAME left

Idempotent: every run writes a new, complete backup (never overwrites one).
Steps: $STEPS
Results: path, size_bytes, sha256
EOF
}

valid_label() { [[ $1 =~ ^[a-z0-9][a-z0-9_]{0,31}$ ]]; }

SITE=
LABEL=
LABEL_GIVEN=0
while (($#)); do
    case $1 in
        --site)
            need_value "$@"
            SITE=$2
            shift 2
            ;;
        --label)
            need_value "$@"
            LABEL=$2
            LABEL_GIVEN=1
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
((LABEL_GIVEN == 0)) || require label "$LABEL"

DEST_DIR=$BACKUPS_DIR/$SITE
DIR=$(site_dir "$SITE")

if ((ROLLBACK)); then
    lock "backup-$SITE"
    if [[ -d $DEST_DIR ]]; then
        find "$DEST_DIR" -maxdepth 1 -name '.backup-*' -exec rm -rf -- {} +
    fi
    log "removed temporary backup files of $SITE (finished backups are kept)"
    progress 100
    exit 0
fi

# --- check_site -----------------------------------------------------------------------------
step check_site
progress 5
db_exists "$SITE" || fail "site $SITE does not exist (no database)"
lock "backup-$SITE"
mkdir -p "$DEST_DIR"
chmod 0750 "$DEST_DIR"
STAGE=$(mktemp -d "$DEST_DIR/.backup-XXXXXX")
cleanup() { rm -rf -- "$STAGE"; }

# --- dump_database --------------------------------------------------------------------------
step dump_database
progress 20
MEMBER=$(db_dump_member)
db_dump "$SITE" "$STAGE/$MEMBER"
chmod 0600 "$STAGE/$MEMBER"
log "database copied ($(stat -c %s "$STAGE/$MEMBER") bytes)"

# --- archive --------------------------------------------------------------------------------
step archive
progress 50
mkdir "$STAGE/site"
if [[ -d $DIR && ! -L $DIR ]]; then
    cp -a -- "$DIR/." "$STAGE/site/"
fi
stamp=$(date -u +%Y%m%dT%H%M%SZ)
base=$SITE-$stamp
n=1
name=$base${LABEL:+-$LABEL}.tar.gz
while [[ -e $DEST_DIR/$name ]]; do
    n=$((n + 1))
    name=$base-$n${LABEL:+-$LABEL}.tar.gz
done
ARCHIVE=$DEST_DIR/$name
tar -czf "$STAGE/archive.tar.gz" -C "$STAGE" "$MEMBER" site
chmod 0640 "$STAGE/archive.tar.gz"

# --- checksum -------------------------------------------------------------------------------
step checksum
progress 80
sum=$(sha256sum "$STAGE/archive.tar.gz")
sum=${sum%% *}
printf '%s  %s\n' "$sum" "$name" >"$STAGE/archive.sha256"
chmod 0640 "$STAGE/archive.sha256"
# The checksum first: an archive never appears without its .sha256.
mv -f -- "$STAGE/archive.sha256" "$ARCHIVE.sha256"
mv -f -- "$STAGE/archive.tar.gz" "$ARCHIVE"
log "backup of $SITE written to $ARCHIVE"

result path "$ARCHIVE"
result size_bytes "$(stat -c %s "$ARCHIVE")"
result sha256 "$sum"
progress 100
