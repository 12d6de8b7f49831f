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

# Remove every file of exactly one site (never a glob on the name).
remove_site_files() {
    local name=$1 db
    db=$(site_db "$name")
    rm -f -- "$db" "$db-journal" "$db-wal" "$db-shm"
    rm -rf -- "${SITES_DIR:?}/$name"
}
