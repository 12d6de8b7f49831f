#!/usr/bin/env bash
# Build a package's template database once (trytond-admin --all with the package's modules);
# sites are then cloned from it (a file copy, or CREATE DATABASE ... TEMPLATE on PostgreSQL).
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
On a PostgreSQL root (see bootstrap_server.sh --db-uri) the template is the database
<prefix>tpl_SLUG instead: built as <prefix>tplnew_SLUG, then renamed into place and marked
as a template nothing can connect to (trytond never lists or loads it).

  --root DIR       the Managely root (default $DEFAULT_ROOT)
  --package SLUG   package slug: lowercase letters, digits, '-'
  --modules LIST   comma-separated trytond module names
  --rollback       remove the template, its marker and any unfinished build of SLUG

Idempotent: nothing is built when the template exists with the same modules; it is rebuilt
when the modules differ.
Steps: $STEPS
Results: template (path, or database name on PostgreSQL), modules
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
MARKER=$TEMPLATES_DIR/$PACKAGE.modules

if ((ROLLBACK)); then
    step check_template
    lock "template-$PACKAGE"
    template_drop "$PACKAGE"
    rm -f -- "$MARKER"
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
TEMPLATE=$(template_ref "$PACKAGE")
if template_exists "$PACKAGE" && [[ -f $MARKER && $(cat "$MARKER") == "$WANTED" ]]; then
    log "template $PACKAGE is up to date ($WANTED)"
    result template "$TEMPLATE"
    result modules "$WANTED"
    progress 100
    exit 0
fi
if template_exists "$PACKAGE"; then
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
PUBLISHED=0
cleanup() {
    rm -rf -- "${WORK:?}"
    ((PUBLISHED)) || template_build_discard "$PACKAGE"
}
rm -rf -- "$WORK"
mkdir -m 0700 "$WORK"
# An empty database to build in: TPL_BUILD_DB, with the extra configuration TPL_BUILD_CONF.
template_build_start "$PACKAGE" "$WORK"
# A random admin password nobody knows: each site gets its own at creation.
(umask 077 && "$PY" -c 'import secrets; print(secrets.token_urlsafe(32))' >"$WORK/pass")
BUILD_LOG=$LOGS_DIR/build-$PACKAGE.log
log "trytond-admin --all -u ${MODULE_LIST[*]} (log: $BUILD_LOG)"
started=$SECONDS
if ! TRYTONPASSFILE=$WORK/pass "${ADMIN_CMD[@]}" -c "$CONF" \
    ${TPL_BUILD_CONF[@]+"${TPL_BUILD_CONF[@]}"} -d "$TPL_BUILD_DB" --all -u "${MODULE_LIST[@]}" --activate-dependencies --email "admin@example.invalid" \
    </dev/null >"$BUILD_LOG" 2>&1; then
    tail -n 15 "$BUILD_LOG" | while IFS= read -r line; do log "  $line"; done
    fail "trytond-admin failed to build the template for $PACKAGE (see $BUILD_LOG)"
fi
progress 90
# Check what was built before publishing it.
if ! out=$(template_build_check "$WORK" "${MODULE_LIST[@]}"); then
    fail "template for $PACKAGE is incomplete: $out"
fi
log "$out in $((SECONDS - started)) s"
template_publish "$PACKAGE" "$WORK"
PUBLISHED=1
printf '%s\n' "$WANTED" | write_atomic "$MARKER" 0644

result template "$TEMPLATE"
result modules "$WANTED"
progress 100
