#!/usr/bin/env bash
# Activate Tryton modules on one site, on the running shared trytond: the site sees them at
# once, and every other site keeps being served.
#
# How (see tryton_rpc.py `modules`): the modules are marked and the `ir.module.activate_upgrade`
# wizard is run through the site's JSON-RPC, i.e. inside the serving trytond, which rebuilds
# the pool of that one database (Pool.init with update) as part of the request. Running
# `trytond-admin -u` beside it updates the database but not the running process, which keeps
# serving the old module set until its cache sync (with SQLite: `[cache] clean_timeout`, 300 s,
# postponed by every cache-resetting commit) or a restart, and a restart interrupts every site.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

STEPS="check_site check_modules activate_modules verify"

usage() {
    cat <<EOF
Usage: install_addon.sh --root DIR --site NAME --modules LIST [--uninstall] [--rollback]
Standard input: not read. A short-lived console session of the site's admin is used (written
to the site's database, deleted after), so no password is needed; ADMIN_PASSWORD=… is ignored.

Activates the Tryton modules LIST (comma-separated, e.g. product,sale) and the modules they
depend on, on the site NAME, through the running trytond: no restart, the other sites stay up
(their requests wait while trytond rebuilds this site's module set: seconds).

  --root DIR       the Managely root (default $DEFAULT_ROOT)
  --site NAME      the site (it must exist and be ready; trytond must be running)
  --modules LIST   comma-separated module names, each ^[a-z][a-z0-9_]{0,63}\$. They and their
                   dependencies must be installed in the server's trytond before it started.
  --uninstall      refused, nothing changes: trytond 8.2 cannot deactivate a module cleanly
                   on a live site. Its removal deletes the module's records but leaves their
                   ir_model_data, after which the module can never be activated again on
                   that site ("in record '<module>.<id>'"); the running trytond keeps serving
                   the module until it restarts (load_modules never asks for the reload); and
                   for modules such as product the removal fails half-way (units of measure
                   still in use).
  --rollback       undo what an unfinished run with the same arguments left: its modules still
                   marked "to activate" but not applied are unmarked. Modules it did activate
                   stay activated (see --uninstall: deactivating them would break the site's
                   next attempt), and a finished run is not undone.

Idempotent: modules already activated -> nothing to do, exit 0. Module changes someone left
pending in Tryton (marked, not applied) are refused, never applied along.
Steps: $STEPS (rollback: rollback)
Results: modules (the site's activated modules, sorted), changed (the modules this run
activated, dependencies included; empty when there was nothing to do)
EOF
}

SITE=
MODULES=
UNINSTALL=0
while (($#)); do
    case $1 in
        --site)
            need_value "$@"
            SITE=$2
            shift 2
            ;;
        --modules)
            need_value "$@"
            MODULES=$2
            shift 2
            ;;
        --uninstall)
            UNINSTALL=1
            shift
            ;;
        *)
            parse_common "$@"
            shift "$PARSED"
            ;;
    esac
done
setup_root
require_option --site site "$SITE"
require_option --modules modules "$MODULES"
IFS=, read -r -a MODULE_LIST <<<"$MODULES"
# Sorted, de-duplicated: the form recorded in the journal and compared by --rollback.
WANTED=$(printf '%s\n' "${MODULE_LIST[@]}" | sort -u | paste -sd, -)

if ((UNINSTALL)); then
    if ((ROLLBACK)); then
        step rollback
        log "nothing to roll back: --uninstall never changes anything"
        progress 100
        exit 0
    fi
    fail "deactivating modules is not supported: trytond 8.2 cannot do it cleanly on a live site (the module could never be activated again there, and the running trytond keeps serving it until a restart); nothing was changed"
fi

DIR=$(site_dir "$SITE")
SITE_ENV=$DIR/site.env
# The last run on this site: modules (as asked), changed (what it marked), state.
JOURNAL=$DIR/addons.journal

# modules_rpc ACTION ARG... — tryton_rpc.py modules ACTION on this site's database.
modules_rpc() {
    local action=$1 backend=() target
    shift
    if is_pg; then
        backend=(--uri "$DB_URI")
        target=$DB_NAME
    else
        target=$(site_db "$SITE")
    fi
    "$PY" "$SCRIPT_DIR/tryton_rpc.py" --port "$PORT" modules "$action" "$DB_NAME" "$target" \
        "$@" --conf "$CONF" ${backend[@]+"${backend[@]}"}
}

# value KEY TEXT — the value of the line KEY=value in TEXT (empty when there is none).
value() {
    local line
    while IFS= read -r line; do
        if [[ $line == "$1="* ]]; then
            printf '%s' "${line#*=}"
            return 0
        fi
    done <<<"$2"
}

write_journal() {
    write_atomic "$JOURNAL" 0640 <<EOF
modules=$WANTED
changed=$2
state=$1
EOF
}

# The site, its admin login, and a running trytond that has the site loaded.
check_site() {
    need_bootstrap
    lock "site-$SITE"
    DB_NAME=$(db_name "$SITE")
    db_exists "$SITE" && [[ -f $SITE_ENV ]] || fail "site $SITE does not exist"
    ADMIN_LOGIN=$(env_get "$SITE_ENV" admin_login)
    ADMIN_LOGIN=${ADMIN_LOGIN:-admin}
    require login "$ADMIN_LOGIN"
}

need_trytond() {
    TRYTOND_PID=$(trytond_pid)
    [[ -n $TRYTOND_PID ]] || fail "trytond is not running: start it with bootstrap_server.sh"
    # A no-op when trytond has the database loaded already; never skipped before a request.
    db_load "$SITE" || reported
}

if ((ROLLBACK)); then
    step rollback
    if [[ -f $JOURNAL ]]; then
        check_site # the site's lock, before the journal is read
    fi
    if [[ ! -f $JOURNAL ]]; then
        log "no module activation recorded for $SITE: nothing to roll back"
    elif [[ $(env_get "$JOURNAL" modules) != "$WANTED" ]]; then
        log "the last activation on $SITE was of $(env_get "$JOURNAL" modules): nothing to roll back"
    elif [[ $(env_get "$JOURNAL" state) == finished ]]; then
        log "the last activation of $WANTED finished: nothing to roll back"
    else
        changed=$(env_get "$JOURNAL" changed)
        require modules "$changed"
        # Direct database statements only: works with trytond stopped, needs no secret.
        out=$(modules_rpc unmark "$changed") || {
            printf '%s\n' "$out"
            reported
        }
        printf '%s\n' "$out"
        log "modules the run activated stay activated (deactivation is not supported)"
        rm -f -- "$JOURNAL"
    fi
    progress 100
    exit 0
fi

# --- check_site -----------------------------------------------------------------------------
step check_site
progress 5
check_site
site_state=$(env_get "$SITE_ENV" state)
[[ $site_state == ready ]] || fail "site $SITE is not ready (state ${site_state:-unknown})"
need_trytond

# --- check_modules --------------------------------------------------------------------------
step check_modules
progress 15
# Read-only: every module and dependency installed in the server's trytond, and not changed
# since it started (it registers module code at start); no change left pending in Tryton by
# someone else; what is left to do.
plan=$(modules_rpc plan "$WANTED" --server-pid "$TRYTOND_PID") || {
    printf '%s\n' "$plan"
    reported
}
printf '%s\n' "$plan"
TODO=$(value todo "$plan")
UNLISTED=$(value unlisted "$plan")
if [[ -z $TODO ]]; then
    log "nothing to do: $WANTED already activated on $SITE"
    # A retry that finds the work of an interrupted run done finishes that run.
    if [[ -f $JOURNAL && $(env_get "$JOURNAL" modules) == "$WANTED" ]]; then
        write_journal finished "$(env_get "$JOURNAL" changed)"
    fi
    result modules "$(value activated "$plan")"
    result changed ""
    progress 100
    exit 0
fi

# --- activate_modules -----------------------------------------------------------------------
step activate_modules
progress 30
write_journal running "$TODO"
if [[ -n $UNLISTED ]]; then
    # Installed after the site's database last listed the modules: list them first (only the
    # ir_module rows change; the running trytond is not affected).
    if [[ -x $(dirname "$PY")/trytond-admin ]]; then
        ADMIN_CMD=("$(dirname "$PY")/trytond-admin")
    else
        ADMIN_CMD=("$PY" -m trytond.cli.admin)
    fi
    mkdir -p "$LOGS_DIR"
    log "updating the module list of $SITE (new: $UNLISTED)"
    "${ADMIN_CMD[@]}" -c "$CONF" -d "$DB_NAME" --update-modules-list </dev/null \
        >>"$LOGS_DIR/addons-$SITE.log" 2>&1 \
        || fail "trytond-admin --update-modules-list failed (see $LOGS_DIR/addons-$SITE.log)"
fi
log "activating $TODO on $SITE through the running trytond (pid $TRYTOND_PID)"
modules_rpc apply "$WANTED" --login "$ADMIN_LOGIN" --server-pid "$TRYTOND_PID" || reported

# --- verify ---------------------------------------------------------------------------------
step verify
progress 85
# The states in the database, and the modules' models served by the running trytond.
verified=$(modules_rpc verify "$WANTED" --login "$ADMIN_LOGIN") || {
    printf '%s\n' "$verified"
    reported
}
printf '%s\n' "$verified"
write_journal finished "$TODO"

result modules "$(value activated "$verified")"
result changed "$TODO"
progress 100
