#!/usr/bin/env bash
# Copy one backup (and its .sha256) to another server, or a local directory, and verify it.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

STEPS="copy verify_checksum"

usage() {
    cat <<EOF
Usage: sync_backup_to_another_server.sh --root DIR --site NAME --backup PATH --dest DIR
                                        [--dest-host USER@HOST [--dest-port N]] [--rollback]

Copies PATH (a backup directly in DIR/backups/NAME, with its .sha256 file beside it) to the
directory DIR on the destination, then recomputes its sha256 there and compares it with the
.sha256 file; on a mismatch the copy is removed. Without --dest-host the destination is a
local directory; with it, scp/ssh with -o BatchMode=yes (keys only, never a password).

  --root DIR             the Managely root (default $DEFAULT_ROOT)
  --site NAME            the site the backup belongs to
  --backup PATH          the backup archive (.tar.gz)
  --dest DIR             absolute destination directory
  --dest-host USER@HOST  copy to this server over SSH instead of a local directory
  --dest-port N          its SSH port (default 22)
  --rollback             remove the copy (and its .sha256) from the destination

Idempotent: a destination copy with the right checksum is kept, not copied again.
Steps: $STEPS
Results: dest_path, sha256
EOF
}

valid_ssh_port() { [[ $1 =~ ^[1-9][0-9]{0,4}$ ]] && ((10#$1 <= 65535)); }

valid_dest_host() {
    [[ $1 =~ ^[a-z_][a-z0-9_-]{0,31}@(.+)$ ]] && valid_host "${BASH_REMATCH[1]}"
}

SITE=
BACKUP=
DEST=
DEST_HOST=
DEST_PORT=22
while (($#)); do
    case $1 in
        --site)
            need_value "$@"
            SITE=$2
            shift 2
            ;;
        --backup)
            need_value "$@"
            BACKUP=$2
            shift 2
            ;;
        --dest)
            need_value "$@"
            DEST=$2
            shift 2
            ;;
        --dest-host)
            need_value "$@"
            DEST_HOST=$2
            shift 2
            ;;
        --dest-port)
            need_value "$@"
            DEST_PORT=$2
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
require_option --backup root "$BACKUP"
require_option --dest root "$DEST"
[[ -z $DEST_HOST ]] || require dest_host "$DEST_HOST"
require ssh_port "$DEST_PORT"

NAME=$(basename "$BACKUP")
[[ $NAME =~ ^${SITE}-[0-9]{8}T[0-9]{6}Z(-[a-z0-9_]+)*\.tar\.gz$ ]] \
    || fail "--backup is not a backup of site $SITE"
DEST_PATH=$DEST/$NAME
SSH_OPTS=(-o BatchMode=yes -o ConnectTimeout=20 -o "Port=$((10#$DEST_PORT))")

# remote CMD ARG... — run on the destination (arguments are validated plain paths).
remote() {
    if [[ -n $DEST_HOST ]]; then
        ssh "${SSH_OPTS[@]}" "$DEST_HOST" "$@"
    else
        "$@"
    fi
}

dest_sum() {
    local out
    out=$(remote sha256sum -- "$DEST_PATH" 2>/dev/null) || return 0
    printf '%s' "${out%% *}"
}

if ((ROLLBACK)); then
    step copy
    remote rm -f -- "$DEST_PATH" "$DEST_PATH.sha256" "$DEST/.$NAME.part"
    log "removed $DEST_PATH${DEST_HOST:+ on $DEST_HOST}"
    progress 100
    exit 0
fi

# --- copy -----------------------------------------------------------------------------------
step copy
progress 5
site_real=
[[ -d $BACKUPS_DIR/$SITE ]] && site_real=$(cd "$BACKUPS_DIR/$SITE" && pwd -P)
[[ -f $BACKUP && ! -L $BACKUP ]] || fail "backup $BACKUP does not exist"
[[ -n $site_real && $(cd "$(dirname "$BACKUP")" && pwd -P) == "$site_real" ]] \
    || fail "--backup must be a file in $BACKUPS_DIR/$SITE"
[[ -f $BACKUP.sha256 ]] || fail "no checksum file $NAME.sha256 beside the backup"
expected=
read -r expected _ <"$BACKUP.sha256" || true
[[ $expected =~ ^[0-9a-f]{64}$ ]] || fail "unreadable checksum file $NAME.sha256"
lock "sync-$SITE"
remote mkdir -p -- "$DEST"
if [[ $(dest_sum) == "$expected" ]]; then
    log "$DEST_PATH already there with the right checksum: kept"
else
    if [[ -n $DEST_HOST ]]; then
        scp -q "${SSH_OPTS[@]}" -- "$BACKUP" "$DEST_HOST:$DEST/.$NAME.part"
        remote mv -f -- "$DEST/.$NAME.part" "$DEST_PATH"
    else
        cp -- "$BACKUP" "$DEST/.$NAME.part"
        mv -f -- "$DEST/.$NAME.part" "$DEST_PATH"
    fi
    log "copied $NAME to ${DEST_HOST:+$DEST_HOST:}$DEST"
fi

# --- verify_checksum ------------------------------------------------------------------------
step verify_checksum
progress 70
actual=$(dest_sum)
if [[ $actual != "$expected" ]]; then
    remote rm -f -- "$DEST_PATH" "$DEST_PATH.sha256"
    fail "checksum mismatch at the destination for $NAME (got ${actual:-nothing}): the copy was removed"
fi
if [[ -n $DEST_HOST ]]; then
    scp -q "${SSH_OPTS[@]}" -- "$BACKUP.sha256" "$DEST_HOST:$DEST_PATH.sha256"
else
    cp -- "$BACKUP.sha256" "$DEST_PATH.sha256"
fi
log "checksum ok at the destination"

result dest_path "${DEST_HOST:+$DEST_HOST:}$DEST_PATH"
result sha256 "$actual"
progress 100
