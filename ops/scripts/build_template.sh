#!/usr/bin/env bash
# Build a package's template database once (trytond-admin --all with the package's modules);
# sites are then cloned from it with a file copy.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

STEPS="check_template create_template"

usage() {
    cat <<EOF
Usage: build_template.sh --root DIR --package SLUG --modules LIST [--rollback]

Builds DIR/templates/SLUG.sqlite: a Tryton database with the modules LIST (comma-separated,
e.g. sale,purchase) and their dependencies activated. Built under DIR/templates-build, then
moved into place atomically. DIR/templates/SLUG.modules records the module list.

  --root DIR       the Managely root (default $DEFAULT_ROOT)
  --package SLUG   package slug: lowercase letters, digits, '-'
  --modules LIST   comma-separated trytond module names
  --rollback       remove the template, its marker and any unfinished build of SLUG

Idempotent: nothing is built when the template exists with the same modules; it is rebuilt
when the modules differ.
Steps: $STEPS
Results: template (path), modules
EOF
}

PACKAGE=
MODULES=
while (($#)); do
    case $1 in
        --package)
            need_value "$@"
            PACKAGE=$2
            shift 2
            ;;
        --modules)
            need_value "$@"
            MODULES=$2
            shift 2
            ;;
        *)
            parse_common "$@"
            shift "$PARSED"
            ;;
    esac
done
setup_root
require_option --package package "$PACKAGE"
TEMPLATE=$TEMPLATES_DIR/$PACKAGE.sqlite
MARKER=$TEMPLATES_DIR/$PACKAGE.modules

if ((ROLLBACK)); then
    step check_template
    lock "template-$PACKAGE"
    rm -f -- "$TEMPLATE" "$MARKER"
    rm -rf -- "${BUILD_DIR:?}/$PACKAGE.build"
    log "removed the template of $PACKAGE (if any)"
    progress 100
    exit 0
fi

require_option --modules modules "$MODULES"
IFS=, read -r -a MODULE_LIST <<<"$MODULES"
# The marker holds the sorted, de-duplicated module list.
WANTED=$(printf '%s\n' "${MODULE_LIST[@]}" | sort -u | paste -sd, -)

# --- check_template -------------------------------------------------------------------------
step check_template
progress 5
need_bootstrap
mkdir -p "$TEMPLATES_DIR" "$BUILD_DIR" "$LOGS_DIR"
lock "template-$PACKAGE"
if [[ -f $TEMPLATE && -f $MARKER ]] && [[ $(cat "$MARKER") == "$WANTED" ]]; then
    log "template $PACKAGE is up to date ($WANTED)"
    result template "$TEMPLATE"
    result modules "$WANTED"
    progress 100
    exit 0
fi
if [[ -f $TEMPLATE ]]; then
    log "template $PACKAGE exists with other modules ($(cat "$MARKER" 2>/dev/null || true)): rebuilding"
fi
if ! missing=$("$PY" - "${MODULE_LIST[@]}" <<'EOF'
import importlib.util
import sys

missing = [m for m in sys.argv[1:] if importlib.util.find_spec("trytond.modules." + m) is None]
print(" ".join(missing))
sys.exit(1 if missing else 0)
EOF
); then
    fail "trytond modules not installed: $missing"
fi
if [[ -x $(dirname "$PY")/trytond-admin ]]; then
    ADMIN_CMD=("$(dirname "$PY")/trytond-admin")
else
    ADMIN_CMD=("$PY" -m trytond.cli.admin)
fi

# --- create_template ------------------------------------------------------------------------
step create_template
progress 10
WORK=$BUILD_DIR/$PACKAGE.build
cleanup() { rm -rf -- "${WORK:?}"; }
rm -rf -- "$WORK"
mkdir -m 0700 "$WORK"
DB_NAME=tpl_${PACKAGE//-/_}
# trytond's SQLite backend opens <path>/<name>.sqlite and needs the file to exist.
: >"$WORK/$DB_NAME.sqlite"
printf '[database]\npath = %s\n' "$WORK" >"$WORK/build.conf"
# A random admin password nobody knows: each site gets its own at creation.
(umask 077 && "$PY" -c 'import secrets; print(secrets.token_urlsafe(32))' >"$WORK/pass")
BUILD_LOG=$LOGS_DIR/build-$PACKAGE.log
log "trytond-admin --all -u ${MODULE_LIST[*]} (log: $BUILD_LOG)"
started=$SECONDS
if ! TRYTONPASSFILE=$WORK/pass "${ADMIN_CMD[@]}" -c "$CONF" "$WORK/build.conf" -d "$DB_NAME" \
    --all -u "${MODULE_LIST[@]}" --activate-dependencies --email "admin@example.invalid" \
    </dev/null >"$BUILD_LOG" 2>&1; then
    tail -n 15 "$BUILD_LOG" | while IFS= read -r line; do log "  $line"; done
    fail "trytond-admin failed to build the template for $PACKAGE (see $BUILD_LOG)"
fi
progress 90
# Check what was built before publishing it.
if ! out=$("$PY" - "$WORK/$DB_NAME.sqlite" "${MODULE_LIST[@]}" 2>&1 <<'EOF'
import sqlite3
import sys

connection = sqlite3.connect(sys.argv[1])
# trytond uses WAL: fold everything into the main file, which is all that gets copied.
connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
active = {n for n, in connection.execute("SELECT name FROM ir_module WHERE state = 'activated'")}
admin = connection.execute("SELECT id FROM res_user WHERE login = 'admin'").fetchone()
connection.close()
missing = sorted(set(sys.argv[2:]) - active)
if missing or not admin:
    print("not activated: " + " ".join(missing) if missing else "no admin user")
    sys.exit(1)
print(f"{len(active)} modules activated")
EOF
); then
    fail "template for $PACKAGE is incomplete: $out"
fi
log "$out in $((SECONDS - started)) s"
if [[ -s $WORK/$DB_NAME.sqlite-wal ]]; then
    fail "template for $PACKAGE still has an unmerged write-ahead log"
fi
chmod 0600 "$WORK/$DB_NAME.sqlite"
mv -f "$WORK/$DB_NAME.sqlite" "$TEMPLATE"
printf '%s\n' "$WANTED" | write_atomic "$MARKER" 0644

result template "$TEMPLATE"
result modules "$WANTED"
progress 100
