# shellcheck shell=bash disable=SC2034  # layout variables are used by the scripts sourcing this
# Shared helpers for the scripts that run on tenant servers. Source it, never run it:
#   source "$(dirname "$0")/lib.sh"
# Output protocol (stdout): ::step, ::progress, ::result, ::error — see README.md.

# Character ranges in the validators below must mean ASCII, whatever the server's locale.
export LC_ALL=C
umask 027

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEFAULT_ROOT=/srv/managely
ROOT=$DEFAULT_ROOT
ROLLBACK=0
CURRENT_STEP=start
PY=
SERVICE_NAME=managely-trytond

# --- output protocol ------------------------------------------------------------------------

# Make a value safe for a one-line protocol item (no newline, no control characters).
oneline() {
    local value=${1//$'\n'/ }
    printf '%s' "${value//[[:cntrl:]]/?}"
}

step() {
    CURRENT_STEP=$1
    printf '::step %s\n' "$1"
}

progress() {
    printf '::progress %s\n' "$1"
}

result() {
    printf '::result %s=%s\n' "$1" "$(oneline "$2")"
}

log() {
    printf '%s\n' "$(oneline "$*")"
}

fail() {
    printf '::error %s\n' "$(oneline "$*")"
    ERROR_PRINTED=1
    exit 1
}

# `cmd || reported` — cmd already printed its own ::error line (tryton_rpc.py does).
reported() {
    ERROR_PRINTED=1
    exit 1
}

# A command failing under `set -e` still ends with a readable reason. Scripts that need
# their own clean-up define a function `cleanup`; it runs on every exit.
ERROR_PRINTED=0
_on_exit() {
    local status=$?
    if declare -F cleanup >/dev/null; then
        cleanup || true
    fi
    if ((status != 0 && ERROR_PRINTED == 0)); then
        printf '::error step %s failed (exit status %s)\n' "$CURRENT_STEP" "$status"
    fi
    exit "$status"
}
trap _on_exit EXIT

# --- secrets --------------------------------------------------------------------------------

# read_secrets NAME... — read NAME=value lines from stdin into the variables NAME (only those
# names; other lines are ignored). Every NAME is required and must be non-empty. Never echoes.
read_secrets() {
    local line key value name
    local -A wanted=()
    for name in "$@"; do
        wanted[$name]=1
        printf -v "$name" '%s' ''
    done
    if [[ -t 0 ]]; then
        fail "secrets ($*) are read from standard input as NAME=value lines, not a terminal"
    fi
    while IFS= read -r line || [[ -n $line ]]; do
        line=${line%$'\r'}
        [[ $line == *=* ]] || continue
        key=${line%%=*}
        value=${line#*=}
        [[ $key =~ ^[A-Za-z_][A-Za-z0-9_]{0,63}$ ]] || continue
        if [[ -n ${wanted[$key]:-} ]]; then
            printf -v "$key" '%s' "$value"
        fi
    done
    for name in "$@"; do
        [[ -n ${!name} ]] || fail "missing secret $name on standard input"
    done
}

# --- validators (predicates: return 0 when valid) -------------------------------------------

valid_site() { [[ $1 =~ ^[a-z][a-z0-9-]{1,40}[a-z0-9]$ ]]; }
valid_package() { [[ $1 =~ ^[a-z][a-z0-9-]{0,38}[a-z0-9]$ ]]; }
valid_module() { [[ $1 =~ ^[a-z][a-z0-9_]{0,63}$ ]]; }
valid_login() { [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$ ]]; }
valid_host() { [[ $1 =~ ^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$ ]]; }
valid_int() { [[ $1 =~ ^[0-9]{1,9}$ ]]; }

valid_port() {
    [[ $1 =~ ^[1-9][0-9]{3,4}$ ]] && ((10#$1 >= 1024 && 10#$1 <= 32767))
}

# Absolute, plain characters only, no `.` or `..` component, no trailing slash.
valid_root() {
    [[ $1 =~ ^(/[A-Za-z0-9._+@-]{1,128}){1,32}$ ]] || return 1
    [[ ! $1 =~ /\.\.?(/|$) ]]
}

# Comma-separated module names, e.g. sale,purchase
valid_modules() {
    local module
    [[ -n $1 && $1 != *,,* && $1 != ,* && $1 != *, ]] || return 1
    local -a list
    IFS=, read -r -a list <<<"$1"
    for module in "${list[@]}"; do
        valid_module "$module" || return 1
    done
}

# require KIND VALUE — fail with a readable reason unless valid_KIND VALUE.
require() {
    local kind=$1 value=$2 shown
    if ! "valid_$kind" "$value"; then
        shown=${value:0:80}
        shown=${shown//[^A-Za-z0-9._\/-]/?}
        fail "invalid $kind: '$shown' (${#value} characters)"
    fi
}

# A mandatory option: present, then valid.   require_option --site site "$SITE"
require_option() {
    [[ -n $3 ]] || fail "$1 is required"
    require "$2" "$3"
}

# --- arguments ------------------------------------------------------------------------------

# Inside a script's argument loop:  *) parse_common "$@"; shift "$PARSED" ;;
# Handles --root DIR, --rollback, --help; anything else is an error.
PARSED=0
parse_common() {
    case $1 in
        --root)
            need_value "$@"
            ROOT=$2
            PARSED=2
            ;;
        --rollback)
            ROLLBACK=1
            PARSED=1
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            local shown=${1:0:40}
            fail "unknown argument: '${shown//[^A-Za-z0-9._=-]/?}' (see --help)"
            ;;
    esac
}

need_value() {
    [[ $# -ge 2 ]] || fail "$1 needs a value"
}

# After parsing: validate the root and derive the layout.
setup_root() {
    require root "$ROOT"
    ETC=$ROOT/etc
    DB_DIR=$ROOT/db
    SITES_DIR=$ROOT/sites
    TEMPLATES_DIR=$ROOT/templates
    BUILD_DIR=$ROOT/templates-build
    BACKUPS_DIR=$ROOT/backups
    RUN_DIR=$ROOT/run
    LOGS_DIR=$ROOT/logs
    CONF=$ETC/trytond.conf
    PID_FILE=$RUN_DIR/trytond.pid
    TRYTON_LOG=$RUN_DIR/trytond.log
    RETIRED_FILE=$RUN_DIR/retired-names
    DB_CONFIG=$ETC/database
    load_db_config
}

# --- trytond environment --------------------------------------------------------------------

# The interpreter that has trytond: $ROOT/venv/bin/python, else the one bootstrap recorded.
find_python() {
    local recorded
    if [[ -x $ROOT/venv/bin/python ]]; then
        PY=$ROOT/venv/bin/python
        return 0
    fi
    if [[ -f $ETC/python ]]; then
        IFS= read -r recorded <"$ETC/python" || true
        if valid_root "$recorded" && [[ -x $recorded ]]; then
            PY=$recorded
            return 0
        fi
    fi
    return 1
}

need_python() {
    find_python || fail "no trytond interpreter under $ROOT: run bootstrap_server.sh first"
}

# A python for the stdlib-only tryton_rpc.py calls: the trytond one, else python3.
rpc_python() {
    if find_python; then
        printf '%s' "$PY"
    else
        command -v python3 || true
    fi
}

rpc() {
    local python
    python=$(rpc_python)
    [[ -n $python ]] || fail "no python interpreter found"
    "$python" "$SCRIPT_DIR/tryton_rpc.py" "$@"
}

# The port trytond listens on, recorded by bootstrap in $ETC/port.
read_port() {
    local port=
    [[ -f $ETC/port ]] && IFS= read -r port <"$ETC/port"
    valid_port "$port" || return 1
    printf '%s' "$port"
}

need_bootstrap() {
    [[ -f $CONF ]] || fail "$ROOT is not bootstrapped (no etc/trytond.conf): run bootstrap_server.sh"
    PORT=$(read_port) || fail "no valid port recorded in $ETC/port: run bootstrap_server.sh"
    need_python
}

# Write a file atomically (content from stdin), same directory, then rename.
write_atomic() {
    local target=$1 mode=${2:-0640} tmp
    tmp=$(mktemp "$(dirname "$target")/.$(basename "$target").XXXXXX")
    cat >"$tmp"
    chmod "$mode" "$tmp"
    mv -f "$tmp" "$target"
}

# Read KEY from a KEY=value file without sourcing it.
env_get() {
    local file=$1 key=$2 line
    [[ -f $file ]] || return 0
    while IFS= read -r line || [[ -n $line ]]; do
        if [[ ${line%%=*} == "$key" ]]; then
            printf '%s' "${line#*=}"
            return 0
        fi
    done <"$file"
}

# --- locking --------------------------------------------------------------------------------

# lock NAME — hold an exclusive lock on $RUN_DIR/locks/NAME.lock until the script exits.
# LOCK_FD is the last lock's descriptor (close it for long-lived children: {LOCK_FD}>&-).
LOCK_FD=
lock() {
    local name=$1
    mkdir -p "$RUN_DIR/locks"
    exec {LOCK_FD}>"$RUN_DIR/locks/$name.lock"
    command -v flock >/dev/null 2>&1 || return 0
    flock -w 120 "$LOCK_FD" \
        || fail "timed out waiting for the lock $name (another operation is running)"
}

# --- the trytond process --------------------------------------------------------------------

systemd_usable() {
    [[ $(cat /proc/1/comm 2>/dev/null) == systemd ]] && [[ $EUID -eq 0 ]] \
        && command -v systemctl >/dev/null 2>&1
}

service_mode() {
    local mode=
    [[ -f $ETC/service ]] && IFS= read -r mode <"$ETC/service"
    printf '%s' "${mode:-process}"
}

# A process that exists and is not a zombie (a detached trytond that exited stays a zombie
# until PID 1 reaps it).
pid_alive() {
    local stat
    kill -0 "$1" 2>/dev/null || return 1
    IFS= read -r stat 2>/dev/null <"/proc/$1/stat" || return 0
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# The pid of the running trytond (empty when it is not running).
trytond_pid() {
    local pid=
    if [[ $(service_mode) == systemd ]]; then
        pid=$(systemctl show -p MainPID --value "$SERVICE_NAME" 2>/dev/null || true)
        [[ $pid == 0 ]] && pid=
    elif [[ -f $PID_FILE ]]; then
        IFS= read -r pid <"$PID_FILE" || true
        if ! [[ $pid =~ ^[0-9]+$ ]] || ! pid_alive "$pid" \
            || ! grep -qa trytond "/proc/$pid/cmdline" 2>/dev/null; then
            pid=
        fi
    fi
    printf '%s' "$pid"
}

stop_trytond() {
    local pid i
    if [[ $(service_mode) == systemd ]]; then
        if systemd_usable; then
            systemctl disable --now "$SERVICE_NAME" >/dev/null 2>&1 || true
            log "stopped and disabled $SERVICE_NAME"
        fi
        return 0
    fi
    pid=$(trytond_pid)
    if [[ -z $pid ]]; then
        log "trytond is not running"
        rm -f "$PID_FILE"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
        pid_alive "$pid" || break
        sleep 0.05
    done
    if pid_alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        log "trytond (pid $pid) did not stop within 10 s: killed"
    else
        log "stopped trytond (pid $pid)"
    fi
    rm -f "$PID_FILE"
}

# --- sites ----------------------------------------------------------------------------------

site_db() { printf '%s' "$DB_DIR/$1.sqlite"; }
site_dir() { printf '%s' "$SITES_DIR/$1"; }

# A deleted site's database stays loaded in the running trytond (it has no API to unload one),
# with its module set and its caches, so the name is not reused until trytond restarts (the
# start preloads what exists then). Lines: "<name> <trytond pid> <package or *>": `*` after a
# deletion (no reuse at all), a package after a rollback of a creation that had already been
# loaded (reuse only for the same package).
retire_name() {
    local name=$1 package=${2:-*} pid
    pid=$(trytond_pid)
    [[ -n $pid ]] || return 0
    mkdir -p "$RUN_DIR"
    printf '%s %s %s\n' "$name" "$pid" "$package" >>"$RETIRED_FILE"
}

# is_retired NAME [PACKAGE] — true when NAME may not be (re)created now (for PACKAGE; without
# PACKAGE, only names deleted since trytond started count).
is_retired() {
    local name=$1 package=${2:-} pid rname rpid rpackage
    [[ -f $RETIRED_FILE ]] || return 1
    pid=$(trytond_pid)
    [[ -n $pid ]] || return 1
    while read -r rname rpid rpackage; do
        [[ $rname == "$name" && $rpid == "$pid" ]] || continue
        [[ $rpackage == "*" || ( -n $package && $rpackage != "$package" ) ]] && return 0
    done <"$RETIRED_FILE"
    return 1
}

# Remove the database (and any unfinished clone) and the directory of exactly one site (never
# a glob on the name).
remove_site_files() {
    local name=$1
    db_drop "$name"
    rm -rf -- "${SITES_DIR:?}/$name"
}

# --- database backend -----------------------------------------------------------------------
#
# One backend per root, chosen by bootstrap_server.sh (--db-uri) and recorded in $ETC/database
# (KEY=value lines; no file means sqlite, the default):
#   backend=postgresql
#   uri=postgresql://USER@HOST:PORT/   the cluster, also trytond's [database] uri (no password
#                                      in it: use trust, peer or ~/.pgpass)
#   prefix=m1a2b3c4d_                  this root's database name prefix (random, kept for good)
#
# SQLite: a site's database is DIR/db/<site>.sqlite, a template DIR/templates/<pkg>.sqlite.
# PostgreSQL: a site's database is "<prefix><site>", the name trytond serves (so the url is
# http://HOST:PORT/<prefix><site>/ and db_name is <prefix><site>); a template is
# "<prefix>tpl_<pkg>", marked IS_TEMPLATE with connections refused (CREATE DATABASE ...
# TEMPLATE fails while anything is connected to it). Transient databases: "<prefix>new_<site>"
# (a clone waiting for its admin password), "<prefix>tplnew_<pkg>"/"<prefix>tplold_<pkg>"
# (a template build), "<prefix>rst_<name>"/"<prefix>old_<name>" (a restore). Several roots may
# share a cluster: a root lists, touches and serves only names with its own prefix, and since a
# site name has no '_', no transient name is ever taken for a site (bin/trytond-run and
# trytond's own database list, see managely_sites.py, accept only <prefix><valid site name>).
#
# The scripts call only the db_* and template_* functions; the backend is picked here.

DB_BACKEND=sqlite
DB_URI=
DB_PREFIX=
DB_CONFIG=

valid_db_prefix() { [[ $1 =~ ^[a-z][a-z0-9]{1,15}_$ ]]; }
# Every name put between double quotes in SQL is checked with this first.
valid_db_name() { [[ $1 =~ ^[a-z][a-z0-9_-]{0,62}$ ]]; }

# postgresql://[USER@]HOST[:PORT]/ — nothing else (no password, path or options).
valid_db_uri() {
    local re='^postgresql://([A-Za-z0-9._-]{1,63}@)?([A-Za-z0-9.-]{1,253})(:([0-9]{1,5}))?/$'
    local host port
    [[ $1 =~ $re ]] || return 1
    host=${BASH_REMATCH[2]}
    port=${BASH_REMATCH[4]}
    valid_host "$host" || return 1
    [[ -z $port ]] || ((10#$port >= 1 && 10#$port <= 65535))
}

# Read $DB_CONFIG (setup_root does it).
load_db_config() {
    DB_BACKEND=sqlite
    DB_URI=
    DB_PREFIX=
    [[ -f $DB_CONFIG ]] || return 0
    DB_BACKEND=$(env_get "$DB_CONFIG" backend)
    case $DB_BACKEND in
        sqlite) ;;
        postgresql)
            DB_URI=$(env_get "$DB_CONFIG" uri)
            DB_PREFIX=$(env_get "$DB_CONFIG" prefix)
            if ! valid_db_uri "$DB_URI" || ! valid_db_prefix "$DB_PREFIX"; then
                fail "$DB_CONFIG has no valid uri and prefix for the postgresql backend"
            fi
            # A cluster that does not answer is an error within seconds, not a hang.
            export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10}
            ;;
        *) fail "$DB_CONFIG names an unknown database backend" ;;
    esac
}

is_pg() { [[ $DB_BACKEND == postgresql ]]; }

# unlock_last — release the lock the last `lock` took (earlier ones stay held).
unlock_last() {
    [[ -n $LOCK_FD ]] || return 0
    exec {LOCK_FD}>&-
    LOCK_FD=
}

# --- PostgreSQL primitives ---

# pg DBNAME PSQL-ARG... — psql on DBNAME: no psqlrc, quiet, unaligned tuples only, stopping at
# the first error (psql -c SQL -c SQL... runs each -c in its own transaction; -1 wraps them in
# one).
pg() {
    local db=$1
    shift
    valid_db_name "$db" || return 1
    # Without the NOTICEs (e.g. DROP DATABASE IF EXISTS of a database that does not exist).
    PGOPTIONS="-c client_min_messages=warning" \
        psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$DB_URI$db" "$@"
}

# The maintenance database, where CREATE/ALTER/DROP DATABASE run. Never template1: every
# CREATE DATABASE without TEMPLATE copies it, and fails while anything is connected to it.
pg_admin() { pg postgres "$@"; }

pg_check_names() {
    local name
    for name in "$@"; do
        valid_db_name "$name" || fail "refusing the database name '${name//[^a-z0-9_-]/?}'"
    done
}

# pg_exists NAME — the database exists (an unreachable cluster is an error, not a "no").
pg_exists() {
    local out
    pg_check_names "$1"
    out=$(pg_admin -c "SELECT 1 FROM pg_database WHERE datname = '$1'") \
        || fail "PostgreSQL does not answer at $DB_URI"
    [[ $out == 1 ]]
}

# pg_drop NAME... — drop these (non-template) databases if they exist, cutting their sessions.
pg_drop() {
    local name args=()
    pg_check_names "$@"
    for name in "$@"; do
        args+=(-c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)")
    done
    pg_admin "${args[@]}" || fail "could not drop the database(s) $*"
}

# pg_drop_template NAME — drop a database that may be marked as a template.
pg_drop_template() {
    pg_exists "$1" || return 0
    pg_admin -c "ALTER DATABASE \"$1\" IS_TEMPLATE false" \
        -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" || fail "could not drop the database $1"
}

pg_pending_name() { printf '%snew_%s' "$DB_PREFIX" "$1"; }
pg_template_name() { printf '%stpl_%s' "$DB_PREFIX" "$1"; }

# --- sites' databases ---

# db_name SITE — the database trytond serves for SITE (or for a scratch name): the url path.
db_name() {
    if is_pg; then
        printf '%s%s' "$DB_PREFIX" "$1"
    else
        printf '%s' "$1"
    fi
}

# db_exists SITE — SITE's database exists.
db_exists() {
    if is_pg; then
        pg_exists "$(db_name "$1")"
    else
        [[ -e $(site_db "$1") ]]
    fi
}

# db_pending_exists SITE — an unfinished clone for SITE exists.
db_pending_exists() {
    if is_pg; then
        pg_exists "$(pg_pending_name "$1")"
    else
        [[ -e $DB_DIR/.$1.clone ]]
    fi
}

# db_list_sites — the names of the sites that have a database, one per line.
db_list_sites() {
    local file name out
    if is_pg; then
        out=$(pg_admin -c "SELECT datname FROM pg_database WHERE NOT datistemplate AND left(datname, ${#DB_PREFIX}) = '$DB_PREFIX' ORDER BY 1") \
            || return 1
        while IFS= read -r name; do
            [[ -n $name && $name == "$DB_PREFIX"* ]] || continue
            name=${name#"$DB_PREFIX"}
            if valid_site "$name"; then printf '%s\n' "$name"; fi
        done <<<"$out"
    else
        for file in "$DB_DIR"/*.sqlite; do
            [[ -f $file ]] || continue
            name=${file##*/}
            name=${name%.sqlite}
            if valid_site "$name"; then printf '%s\n' "$name"; fi
        done
    fi
    return 0
}

# db_size SITE — bytes used by SITE's database (0 without one).
db_size() {
    local db part bytes=0
    if is_pg; then
        db=$(db_name "$1")
        valid_db_name "$db" || return 1
        pg_admin -c "SELECT coalesce(sum(pg_database_size(oid)), 0) FROM pg_database WHERE datname = '$db'"
        return
    fi
    db=$(site_db "$1")
    for part in "$db" "$db-wal" "$db-shm"; do
        if [[ -f $part ]]; then
            bytes=$((bytes + $(stat -c %s -- "$part")))
        fi
    done
    printf '%s\n' "$bytes"
}

# db_clone SITE PACKAGE — a fresh copy of PACKAGE's template under SITE's pending name (an
# earlier unfinished clone is replaced). The caller checked that the template exists.
#
# Why a pending name: nothing may log in to a new site, or make trytond load it, before its
# admin password is set. SQLite: the copy is db/.SITE.clone (trytond lists only *.sqlite).
# PostgreSQL: the copy is "<prefix>new_SITE", renamed to "<prefix>SITE" (ALTER DATABASE ...
# RENAME, atomic) once the password is stored. That name is not a site name of this root, so
# neither bin/trytond-run nor trytond's database list (managely_sites.py) accepts it, and
# nothing would ask for it: no url points there.
db_clone() {
    local site=$1 package=$2 pending template
    if is_pg; then
        pending=$(pg_pending_name "$site")
        template=$(pg_template_name "$package")
        pg_check_names "$pending" "$template"
        pg_drop "$pending"
        # build_template.sh swaps a rebuilt template in under the same lock.
        lock "template-db-$package"
        pg_admin -c "CREATE DATABASE \"$pending\" TEMPLATE \"$template\"" \
            || fail "could not clone the template of $package into $pending"
        unlock_last
    else
        pending=$DB_DIR/.$site.clone
        rm -f -- "$pending" "$pending-wal" "$pending-shm"
        cp -- "$TEMPLATES_DIR/$package.sqlite" "$pending"
        chmod 0600 "$pending"
    fi
}

# db_set_password SITE live|pending LOGIN [--rename-from OLD] — store the password read from
# standard input for LOGIN in SITE's database or its pending clone (tryton_rpc.py prints its
# own ::error line; use `|| reported`).
db_set_password() {
    local site=$1 which=$2 target
    shift 2
    if is_pg; then
        if [[ $which == pending ]]; then
            target=$(pg_pending_name "$site")
        else
            target=$(db_name "$site")
        fi
        "$PY" "$SCRIPT_DIR/tryton_rpc.py" set-password --uri "$DB_URI" "$target" "$@"
    else
        if [[ $which == pending ]]; then
            target=$DB_DIR/.$site.clone
        else
            target=$(site_db "$site")
        fi
        "$PY" "$SCRIPT_DIR/tryton_rpc.py" set-password "$target" "$@"
    fi
}

# db_publish SITE — SITE's pending clone becomes its database, in one rename.
db_publish() {
    local site=$1 pending db
    if is_pg; then
        pending=$(pg_pending_name "$site")
        db=$(db_name "$site")
        pg_check_names "$pending" "$db"
        # PostgreSQL waits up to 5 s for the set-password session to finish closing.
        pg_admin -c "ALTER DATABASE \"$pending\" RENAME TO \"$db\"" \
            || fail "could not rename $pending to $db"
    else
        pending=$DB_DIR/.$site.clone
        db=$(site_db "$site")
        # SQLite folds its write-ahead log back into the file when the last connection closes.
        [[ ! -s $pending-wal ]] || fail "the new database still has an unmerged write-ahead log"
        rm -f -- "$pending-wal" "$pending-shm"
        mv -f -- "$pending" "$db"
    fi
}

# db_discard_pending SITE — remove SITE's unfinished clone; never fails (for cleanup traps).
db_discard_pending() {
    local pending
    if is_pg; then
        pending=$(pg_pending_name "$1")
        valid_db_name "$pending" || return 0
        pg_admin -c "DROP DATABASE IF EXISTS \"$pending\" WITH (FORCE)" >/dev/null 2>&1 || true
    else
        pending=$DB_DIR/.$1.clone
        rm -f -- "$pending" "$pending-wal" "$pending-shm"
    fi
}

# db_drop NAME — remove the database of exactly this site (or scratch name), with what an
# unfinished creation or restore of it left.
db_drop() {
    local name=$1 db
    if is_pg; then
        pg_drop "$(db_name "$name")" "$(pg_pending_name "$name")" \
            "${DB_PREFIX}rst_$name" "${DB_PREFIX}old_$name"
    else
        db=$(site_db "$name")
        rm -f -- "$db" "$db-journal" "$db-wal" "$db-shm" \
            "$DB_DIR/.$name.clone" "$DB_DIR/.$name.clone-wal" "$DB_DIR/.$name.clone-shm"
    fi
}

# db_load SITE — make trytond load SITE's database before anything logs in to it (see
# tryton_rpc.py load; it prints its own ::error line).
db_load() {
    if is_pg; then
        rpc --port "$PORT" load "$(db_name "$1")" --timeout 30
    else
        rpc --port "$PORT" load "$1" --dbfile "$(site_db "$1")" --timeout 30
    fi
}

# The member of a backup archive that holds the database (a SQLite file, or pg_dump -Fc).
db_dump_member() {
    if is_pg; then
        printf 'database.dump'
    else
        printf 'database.sqlite'
    fi
}

# db_dump SITE FILE — a consistent copy of SITE's database into FILE while trytond runs:
# SQLite's online backup API, or pg_dump's custom format (one snapshot).
db_dump() {
    local site=$1 file=$2 db python
    if is_pg; then
        db=$(db_name "$site")
        pg_check_names "$db"
        pg_dump -Fc -f "$file" -d "$DB_URI$db" || fail "pg_dump of $db failed"
        return 0
    fi
    db=$(site_db "$site")
    [[ -f $db && ! -L $db ]] || fail "$db is not a regular file"
    python=$(rpc_python)
    [[ -n $python ]] || fail "no python interpreter found"
    "$python" - "$db" "$file" <<'PY'
import sqlite3
import sys

src = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=60)
dst = sqlite3.connect(sys.argv[2])
try:
    src.backup(dst)
    dst.execute("PRAGMA journal_mode=DELETE")
finally:
    dst.close()
    src.close()
PY
}

# db_restore FILE NAME live|scratch — FILE (from db_dump) becomes NAME's database.
# SQLite, live: copied into the live file page by page under SQLite's locks (trytond keeps the
# same file); scratch: FILE is renamed into place. PostgreSQL: pg_restore into a fresh
# "<prefix>rst_NAME", then swapped in (see pg_restore_swap).
db_restore() {
    local file=$1 name=$2 mode=$3 target python
    if is_pg; then
        pg_restore_swap "$file" "$name"
        return 0
    fi
    target=$(site_db "$name")
    if [[ $mode == scratch ]]; then
        rm -f -- "$target-journal" "$target-wal" "$target-shm"
        chmod 0600 "$file"
        mv -f -- "$file" "$target"
        return 0
    fi
    python=$(rpc_python)
    [[ -n $python ]] || fail "no python interpreter found"
    "$python" - "$file" "$target" <<'PY'
import sqlite3
import sys

src = sqlite3.connect(sys.argv[1])
dst = sqlite3.connect(sys.argv[2], timeout=60)
try:
    src.backup(dst)
finally:
    dst.close()
    src.close()
PY
}

# The restored database takes the live name in one transaction (RENAME live -> old, RENAME
# restored -> live), then the old one is dropped. A rename needs the database free of
# sessions: connections to the live database are refused and its sessions (trytond's pool)
# cut first; trytond's pool reconnects to the restored database by name.
pg_restore_swap() {
    local file=$1 name=$2 target work old
    target=$(db_name "$name")
    work=${DB_PREFIX}rst_$name
    old=${DB_PREFIX}old_$name
    pg_check_names "$target" "$work" "$old"
    pg_drop "$work" "$old"
    pg_admin -c "CREATE DATABASE \"$work\" TEMPLATE template0 ENCODING 'UTF8'" \
        || fail "could not create the database $work"
    if ! pg_restore --no-owner --no-privileges --exit-on-error -d "$DB_URI$work" "$file"; then
        pg_drop "$work"
        fail "pg_restore could not restore the backup's database"
    fi
    if ! pg_exists "$target"; then
        pg_admin -c "ALTER DATABASE \"$work\" RENAME TO \"$target\"" \
            || fail "could not rename $work to $target"
        return 0
    fi
    pg_admin -c "ALTER DATABASE \"$target\" ALLOW_CONNECTIONS false" \
        -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$target' AND pid <> pg_backend_pid()" \
        >/dev/null || fail "could not close the sessions on $target"
    if ! pg_admin -1 -c "ALTER DATABASE \"$target\" RENAME TO \"$old\"" \
        -c "ALTER DATABASE \"$work\" RENAME TO \"$target\""; then
        pg_admin -c "ALTER DATABASE \"$target\" ALLOW_CONNECTIONS true" || true
        pg_drop "$work"
        fail "could not swap the restored database in for $target (sessions still open?)"
    fi
    pg_drop "$old"
}

# db_check NAME — NAME's database is sound: one log line, or an ::error line and status 1.
db_check() {
    local users python
    if is_pg; then
        if ! users=$(pg "$(db_name "$1")" -c "SELECT count(*) FROM res_user"); then
            printf '::error the restored database has no readable res_user table\n'
            return 1
        fi
        if ! ((users > 0)); then
            printf '::error the restored database has no users\n'
            return 1
        fi
        printf 'database check: ok (%s users)\n' "$users"
        return 0
    fi
    python=$(rpc_python)
    [[ -n $python ]] || fail "no python interpreter found"
    "$python" - "$(site_db "$1")" <<'PY'
import sqlite3
import sys

con = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=60)
try:
    check = con.execute("PRAGMA integrity_check").fetchone()[0]
    has_user = con.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'res_user'"
    ).fetchone()
finally:
    con.close()
if check != "ok":
    print(f"::error integrity check failed: {check}".replace("\n", " "))
    sys.exit(1)
if not has_user:
    print("::error the restored database has no res_user table")
    sys.exit(1)
print("integrity_check: ok")
PY
}

# --- package templates ---

# template_ref PACKAGE — the template as the `template` result names it (file or database).
template_ref() {
    if is_pg; then
        pg_template_name "$1"
    else
        printf '%s' "$TEMPLATES_DIR/$1.sqlite"
    fi
}

template_exists() {
    if is_pg; then
        pg_exists "$(pg_template_name "$1")"
    else
        [[ -f $TEMPLATES_DIR/$1.sqlite ]]
    fi
}

# template_drop PACKAGE — remove PACKAGE's template and what an unfinished build left.
template_drop() {
    if is_pg; then
        pg_drop_template "$(pg_template_name "$1")"
        pg_drop_template "${DB_PREFIX}tplold_$1"
        pg_drop "${DB_PREFIX}tplnew_$1"
    else
        rm -f -- "$TEMPLATES_DIR/$1.sqlite"
    fi
}

# template_build_start PACKAGE WORK — an empty database for trytond-admin to build PACKAGE's
# template in. Sets TPL_BUILD_DB (its name) and TPL_BUILD_CONF (extra trytond config files).
TPL_BUILD_DB=
TPL_BUILD_CONF=()
template_build_start() {
    local package=$1 work=$2
    if is_pg; then
        TPL_BUILD_DB=${DB_PREFIX}tplnew_$package
        TPL_BUILD_CONF=()
        pg_drop "$TPL_BUILD_DB"
        pg_admin -c "CREATE DATABASE \"$TPL_BUILD_DB\" TEMPLATE template0 ENCODING 'UTF8'" \
            || fail "could not create the database $TPL_BUILD_DB"
    else
        TPL_BUILD_DB=tpl_${package//-/_}
        # trytond's SQLite backend opens <path>/<name>.sqlite and needs the file to exist.
        : >"$work/$TPL_BUILD_DB.sqlite"
        printf '[database]\npath = %s\n' "$work" >"$work/build.conf"
        TPL_BUILD_CONF=("$work/build.conf")
    fi
}

# template_build_discard PACKAGE — drop an unfinished build database; never fails (cleanup).
template_build_discard() {
    local build=${DB_PREFIX}tplnew_$1
    is_pg || return 0
    valid_db_name "$build" || return 0
    pg_admin -c "DROP DATABASE IF EXISTS \"$build\" WITH (FORCE)" >/dev/null 2>&1 || true
}

# template_build_check WORK MODULE... — the build has every MODULE activated and an admin:
# prints "<n> modules activated", or why not (and returns 1).
template_build_check() {
    local work=$1 active admin module absent=()
    shift
    if is_pg; then
        active=$(pg "$TPL_BUILD_DB" -c "SELECT name FROM ir_module WHERE state = 'activated'") \
            || { printf 'cannot read ir_module'; return 1; }
        admin=$(pg "$TPL_BUILD_DB" -c "SELECT count(*) FROM res_user WHERE login = 'admin'") \
            || { printf 'cannot read res_user'; return 1; }
        for module in "$@"; do
            grep -qxF -- "$module" <<<"$active" || absent+=("$module")
        done
        if ((${#absent[@]})); then
            printf 'not activated: %s' "${absent[*]}"
            return 1
        fi
        ((admin > 0)) || { printf 'no admin user'; return 1; }
        printf '%s modules activated' "$(grep -c . <<<"$active")"
        return 0
    fi
    "$PY" - "$work/$TPL_BUILD_DB.sqlite" "$@" 2>&1 <<'PY' || return 1
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
PY
    if [[ -s $work/$TPL_BUILD_DB.sqlite-wal ]]; then
        printf 'the template still has an unmerged write-ahead log'
        return 1
    fi
}

# template_publish PACKAGE WORK — the checked build replaces PACKAGE's template atomically.
template_publish() {
    local package=$1 work=$2 template old swap=()
    if is_pg; then
        template=$(pg_template_name "$package")
        old=${DB_PREFIX}tplold_$package
        pg_check_names "$template" "$old" "$TPL_BUILD_DB"
        lock "template-db-$package"
        pg_drop_template "$old"
        if pg_exists "$template"; then
            swap=(-c "ALTER DATABASE \"$template\" IS_TEMPLATE false"
                -c "ALTER DATABASE \"$template\" RENAME TO \"$old\"")
        fi
        # A template nothing can connect to: CREATE DATABASE ... TEMPLATE fails while a
        # session is open on it (trytond's database list skips templates, too).
        pg_admin -1 ${swap[@]+"${swap[@]}"} \
            -c "ALTER DATABASE \"$TPL_BUILD_DB\" RENAME TO \"$template\"" \
            -c "ALTER DATABASE \"$template\" IS_TEMPLATE true ALLOW_CONNECTIONS false" \
            || fail "could not put the new template $template in place"
        pg_drop_template "$old"
        unlock_last
    else
        template=$TEMPLATES_DIR/$package.sqlite
        chmod 0600 "$work/$TPL_BUILD_DB.sqlite"
        mv -f "$work/$TPL_BUILD_DB.sqlite" "$template"
    fi
}
