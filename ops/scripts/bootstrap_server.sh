#!/usr/bin/env bash
# Prepare a tenant server: directories, trytond, its configuration, and one running trytond
# process that serves every site database under the root.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

STEPS="prepare_dirs install_trytond write_config start_service check_service"

usage() {
    cat <<EOF
Usage: bootstrap_server.sh --root DIR --port PORT [--python PATH] [--modules LIST]
                           [--db-uri URI] [--listen] [--no-systemd]
       bootstrap_server.sh --root DIR --rollback | --stop

Prepares DIR (the Managely root, default $DEFAULT_ROOT) and runs trytond on PORT.

  --root DIR       absolute path of the Managely root
  --port PORT      port trytond listens on (1024-32767)
  --python PATH    use this existing interpreter, which must already have trytond (and the
                   --modules); it is recorded in DIR/etc/python. Without it, DIR/venv is
                   created with python3 -m venv and trytond is installed there with pip.
  --modules LIST   comma-separated trytond modules to install or check, e.g. sale,purchase
  --db-uri URI     the database backend of every site under DIR: sqlite:// (the default:
                   DIR/db/<site>.sqlite) or postgresql://USER@HOST:PORT/ (one database per
                   site on that cluster, named <prefix><site> with a prefix of this root;
                   no password in the URI: trust, peer or ~/.pgpass). Recorded in
                   DIR/etc/database, which every other script reads; without --db-uri the
                   recorded backend is kept. PostgreSQL needs psql, pg_dump and pg_restore,
                   and psycopg (3) in trytond's interpreter: installed into DIR/venv, checked
                   with --python. A root with sites cannot change its backend.
  --listen         listen on 0.0.0.0 (default: 127.0.0.1 only)
  --no-systemd     run trytond as a supervised background process even when systemd could
                   be used (pid DIR/run/trytond.pid, log DIR/run/trytond.log)
  --rollback, --stop
                   stop trytond (step stop_service); directories and sites are kept

Idempotent: a running trytond is left alone unless its configuration changed.
Steps: $STEPS (rollback: stop_service)
Results: tryton_version, port, python
EOF
}

PORT=
PYTHON_ARG=
MODULES=
DB_URI_ARG=
LISTEN_ALL=0
NO_SYSTEMD=0
while (($#)); do
    case $1 in
        --port)
            need_value "$@"
            PORT=$2
            shift 2
            ;;
        --python)
            need_value "$@"
            PYTHON_ARG=$2
            shift 2
            ;;
        --modules)
            need_value "$@"
            MODULES=$2
            shift 2
            ;;
        --db-uri)
            need_value "$@"
            DB_URI_ARG=$2
            shift 2
            ;;
        --listen)
            LISTEN_ALL=1
            shift
            ;;
        --no-systemd)
            NO_SYSTEMD=1
            shift
            ;;
        --stop)
            ROLLBACK=1
            shift
            ;;
        *)
            parse_common "$@"
            shift "$PARSED"
            ;;
    esac
done
setup_root

if ((ROLLBACK)); then
    step stop_service
    [[ ! -d $RUN_DIR ]] || lock server
    stop_trytond
    progress 100
    exit 0
fi

require_option --port port "$PORT"
[[ -z $PYTHON_ARG ]] || require root "$PYTHON_ARG"
MODULE_LIST=()
if [[ -n $MODULES ]]; then
    require modules "$MODULES"
    IFS=, read -r -a MODULE_LIST <<<"$MODULES"
fi
# The backend: --db-uri, else what the root recorded (sqlite when nothing is).
if [[ -z $DB_URI_ARG ]]; then
    NEW_BACKEND=$DB_BACKEND
    NEW_URI=$DB_URI
elif [[ $DB_URI_ARG == sqlite:// ]]; then
    NEW_BACKEND=sqlite
    NEW_URI=
else
    require db_uri "$DB_URI_ARG"
    NEW_BACKEND=postgresql
    NEW_URI=$DB_URI_ARG
fi
PG_DRIVER="psycopg[binary,pool]>=3.2,<4"

# Exit 0 when the interpreter $1 imports trytond and every module of MODULE_LIST (it must say
# so: anything that merely exits 0 is not a python with trytond).
has_trytond() {
    local out
    out=$("$1" - ${MODULE_LIST[@]+"${MODULE_LIST[@]}"} 2>&1 <<'EOF'
import importlib.util
import sys

import trytond

missing = [m for m in sys.argv[1:] if importlib.util.find_spec("trytond.modules." + m) is None]
if missing:
    print("missing trytond modules: " + ", ".join(missing))
    sys.exit(1)
print("trytond-ok " + trytond.__version__)
EOF
) || true
    if [[ $out != *"trytond-ok "* ]]; then
        printf '%s\n' "$out" | tail -n 3
        return 1
    fi
}

# Exit 0 when the interpreter $1 has trytond's PostgreSQL driver (psycopg 3 and its pool).
has_pg_driver() {
    "$1" -c 'import psycopg, psycopg_pool' >/dev/null 2>&1
}

# Sites exist under the root (a site directory, or a SQLite site database).
root_has_sites() {
    local dir
    for dir in "$SITES_DIR"/*; do
        [[ -d $dir ]] && valid_site "${dir##*/}" && return 0
    done
    [[ $DB_BACKEND == sqlite && -n $(db_list_sites) ]]
}

# --- prepare_dirs ---------------------------------------------------------------------------
step prepare_dirs
progress 5
mkdir -p "$ROOT"
chmod 0750 "$ROOT"
mkdir -p "$ETC" "$DB_DIR" "$SITES_DIR" "$TEMPLATES_DIR" "$BUILD_DIR" "$BACKUPS_DIR" "$RUN_DIR" \
    "$LOGS_DIR" "$ROOT/bin" "$ROOT/lib"
chmod 0700 "$DB_DIR" "$TEMPLATES_DIR" "$BUILD_DIR" "$BACKUPS_DIR"
# One bootstrap or stop at a time on this root.
lock server

# --- install_trytond ------------------------------------------------------------------------
step install_trytond
progress 15
if [[ -n $PYTHON_ARG ]]; then
    [[ -x $PYTHON_ARG ]] || fail "--python $PYTHON_ARG is not an executable"
    if ! out=$(has_trytond "$PYTHON_ARG" 2>&1); then
        log "$out"
        fail "$PYTHON_ARG cannot import trytond with the modules ${MODULES:-(none)}"
    fi
    if [[ $NEW_BACKEND == postgresql ]] && ! has_pg_driver "$PYTHON_ARG"; then
        fail "$PYTHON_ARG cannot import psycopg and psycopg_pool (trytond's PostgreSQL driver): pip install '$PG_DRIVER' into it"
    fi
    if [[ -x $ROOT/venv/bin/python ]]; then
        log "note: $ROOT/venv exists and takes precedence over --python"
    fi
    printf '%s\n' "$PYTHON_ARG" | write_atomic "$ETC/python" 0644
    log "using existing interpreter $PYTHON_ARG"
elif [[ -x $ROOT/venv/bin/python ]] && has_trytond "$ROOT/venv/bin/python" >/dev/null 2>&1; then
    log "trytond already installed in $ROOT/venv"
    if [[ $NEW_BACKEND == postgresql ]] && ! has_pg_driver "$ROOT/venv/bin/python"; then
        log "installing $PG_DRIVER"
        "$ROOT/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$PG_DRIVER" \
            || fail "pip install of $PG_DRIVER failed"
    fi
else
    command -v python3 >/dev/null 2>&1 || fail "python3 is required to create $ROOT/venv"
    [[ -x $ROOT/venv/bin/python ]] || python3 -m venv "$ROOT/venv" \
        || fail "python3 -m venv failed (is the python3-venv package installed?)"
    packages=("trytond>=8.2,<8.3")
    for module in ${MODULE_LIST[@]+"${MODULE_LIST[@]}"}; do
        packages+=("trytond_$module>=8.2,<8.3")
    done
    [[ $NEW_BACKEND != postgresql ]] || packages+=("$PG_DRIVER")
    log "installing ${packages[*]}"
    "$ROOT/venv/bin/python" -m pip install --quiet --disable-pip-version-check "${packages[@]}" \
        || fail "pip install of trytond failed"
    has_trytond "$ROOT/venv/bin/python" || fail "trytond is not importable after installing it"
    if [[ $NEW_BACKEND == postgresql ]] && ! has_pg_driver "$ROOT/venv/bin/python"; then
        fail "psycopg is not importable after installing it"
    fi
fi
need_python
if [[ -x $(dirname "$PY")/trytond ]]; then
    TRYTOND_CMD=("$(dirname "$PY")/trytond")
else
    TRYTOND_CMD=("$PY" -m trytond.cli)
fi
TRYTON_VERSION=$("$PY" -c 'import trytond; print(trytond.__version__)')

# --- write_config ---------------------------------------------------------------------------
step write_config
progress 35
CHANGED=0
# write_if_changed FILE MODE — replace FILE with stdin when the content differs.
write_if_changed() {
    local file=$1 mode=$2 content
    content=$(cat)
    if [[ -f $file ]] && [[ $(cat "$file") == "$content" ]]; then
        return 0
    fi
    printf '%s\n' "$content" | write_atomic "$file" "$mode"
    CHANGED=1
    log "wrote $file"
}

# The backend: a root with sites keeps the one they live in.
if [[ $NEW_BACKEND != "$DB_BACKEND" || $NEW_URI != "$DB_URI" ]] && root_has_sites; then
    fail "$ROOT has sites on ${DB_URI:-$DB_BACKEND}: its database backend cannot change to ${NEW_URI:-$NEW_BACKEND}"
fi
if [[ $NEW_BACKEND == postgresql ]]; then
    for tool in psql pg_dump pg_restore; do
        command -v "$tool" >/dev/null 2>&1 \
            || fail "$tool is required for the PostgreSQL backend (package postgresql-client)"
    done
    PREFIX=$DB_PREFIX
    if [[ -z $PREFIX ]]; then
        PREFIX=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
        PREFIX=m${PREFIX}_
    fi
    DB_BACKEND=postgresql
    DB_URI=$NEW_URI
    DB_PREFIX=$PREFIX
    export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10}
    # 13+: DROP DATABASE ... WITH (FORCE). The role creates, renames and drops databases.
    if ! info=$(pg_admin -c "SELECT current_setting('server_version_num')::int >= 130000, (SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user)"); then
        fail "PostgreSQL does not answer at $NEW_URI (connecting as its user, without a password)"
    fi
    case $info in
        "t|t") log "PostgreSQL at $NEW_URI, database prefix $PREFIX" ;;
        f\|*) fail "PostgreSQL 13 or later is required at $NEW_URI" ;;
        *) fail "the PostgreSQL user of $NEW_URI may not create databases (CREATEDB)" ;;
    esac
    DB_RECORD="backend=postgresql
uri=$NEW_URI
prefix=$PREFIX"
else
    DB_BACKEND=sqlite
    DB_URI=
    DB_PREFIX=
    DB_RECORD="backend=sqlite"
fi

if ((LISTEN_ALL)); then LISTEN_HOST=0.0.0.0; else LISTEN_HOST=127.0.0.1; fi
if [[ $DB_BACKEND == postgresql ]]; then
    write_if_changed "$CONF" 0640 <<EOF
# Written by Managely bootstrap_server.sh; rewritten on every bootstrap.
# One trytond serves every site database of this root: PostgreSQL databases ${DB_PREFIX}<site>.

[database]
uri = $DB_URI
# trytond's connections outside a site database go to this one, not to template1 (which every
# CREATE DATABASE without TEMPLATE copies, and which must stay free of sessions for that).
default_name = postgres
# Do not let one tenant list the other sites' database names.
list = False
language = en

[web]
listen = $LISTEN_HOST:$PORT

[session]
authentications = password

[managely]
# This root's site databases are ${DB_PREFIX}<site>: trytond lists only those (bin/trytond-run
# loads lib/managely_sites.py), not the other databases of the cluster.
db_prefix = $DB_PREFIX
EOF
    write_if_changed "$ROOT/lib/managely_sites.py" 0640 <"$SCRIPT_DIR/managely_sites.py"
else
    write_if_changed "$CONF" 0640 <<EOF
# Written by Managely bootstrap_server.sh; rewritten on every bootstrap.
# One trytond serves every site database: $DB_DIR/<site>.sqlite

[database]
uri = sqlite://
path = $DB_DIR
# Do not let one tenant list the other sites' database names.
list = False
language = en

[web]
listen = $LISTEN_HOST:$PORT

[session]
authentications = password
EOF
fi
write_if_changed "$ETC/port" 0644 <<<"$PORT"
# The backend every other script reads (lib.sh load_db_config). trytond.conf changes with it.
if [[ ! -f $DB_CONFIG || $(cat "$DB_CONFIG") != "$DB_RECORD" ]]; then
    printf '%s\n' "$DB_RECORD" | write_atomic "$DB_CONFIG" 0644
    log "wrote $DB_CONFIG"
fi

# The launcher loads every site database before trytond accepts requests: a login to a
# database trytond has not loaded breaks that database until trytond restarts.
if [[ $DB_BACKEND == postgresql ]]; then
    write_if_changed "$ROOT/bin/trytond-run" 0750 <<EOF
#!/usr/bin/env bash
# Written by Managely bootstrap_server.sh: start trytond with every site database preloaded.
set -euo pipefail
export LC_ALL=C
export PGCONNECT_TIMEOUT=\${PGCONNECT_TIMEOUT:-10}
# trytond lists only this root's site databases (lib/managely_sites.py).
export PYTHONPATH=$(printf '%q' "$ROOT/lib")\${PYTHONPATH:+:\$PYTHONPATH}
export TRYTOND_DATABASE__DATABASE_MIXINS=managely_sites.SiteDatabases
prefix=$(printf '%q' "$DB_PREFIX")
all=\$(psql -X -q -A -t -v ON_ERROR_STOP=1 -d $(printf '%q' "${DB_URI}postgres") \\
    -c 'SELECT datname FROM pg_database WHERE NOT datistemplate AND datallowconn ORDER BY 1')
names=()
while IFS= read -r name; do
    [[ \$name == "\$prefix"* ]] || continue
    if [[ \${name#"\$prefix"} =~ ^[a-z][a-z0-9-]{1,40}[a-z0-9]\$ ]]; then
        names+=("\$name")
    fi
done <<<"\$all"
args=()
if ((\${#names[@]})); then
    args=(-d "\${names[@]}")
fi
exec $(printf '%q ' "${TRYTOND_CMD[@]}")-c $(printf '%q' "$CONF") \${args[@]+"\${args[@]}"}
EOF
else
    write_if_changed "$ROOT/bin/trytond-run" 0750 <<EOF
#!/usr/bin/env bash
# Written by Managely bootstrap_server.sh: start trytond with every site database preloaded.
set -euo pipefail
export LC_ALL=C
db_dir=$(printf '%q' "$DB_DIR")
names=()
for file in "\$db_dir"/*.sqlite; do
    [[ -f \$file ]] || continue
    name=\${file##*/}
    name=\${name%.sqlite}
    [[ \$name =~ ^[a-z][a-z0-9-]{1,40}[a-z0-9]\$ ]] && names+=("\$name")
done
args=()
if ((\${#names[@]})); then
    args=(-d "\${names[@]}")
fi
exec $(printf '%q ' "${TRYTOND_CMD[@]}")-c $(printf '%q' "$CONF") \${args[@]+"\${args[@]}"}
EOF
fi

# --- start_service --------------------------------------------------------------------------
step start_service
progress 55
if systemd_usable && ((NO_SYSTEMD == 0)); then
    unit=/etc/systemd/system/$SERVICE_NAME.service
    write_if_changed "$unit" 0644 <<EOF
[Unit]
Description=Managely trytond (every site database under $ROOT)
After=network.target

[Service]
Type=simple
ExecStart=$ROOT/bin/trytond-run
Restart=on-failure
RestartSec=2
StandardOutput=append:$TRYTON_LOG
StandardError=append:$TRYTON_LOG

[Install]
WantedBy=multi-user.target
EOF
    printf 'systemd\n' | write_atomic "$ETC/service" 0644
    systemctl daemon-reload
    systemctl enable "$SERVICE_NAME" >/dev/null 2>&1
    if ((CHANGED)); then
        systemctl restart "$SERVICE_NAME"
        rm -f "$RETIRED_FILE"
        log "(re)started $SERVICE_NAME"
    elif ! systemctl is-active --quiet "$SERVICE_NAME"; then
        systemctl start "$SERVICE_NAME"
        rm -f "$RETIRED_FILE"
        log "started $SERVICE_NAME"
    else
        log "$SERVICE_NAME already running"
    fi
else
    if [[ $(service_mode) == systemd ]]; then
        stop_trytond
    fi
    printf 'process\n' | write_atomic "$ETC/service" 0644
    pid=$(trytond_pid)
    if [[ -n $pid ]] && ((CHANGED)); then
        log "configuration changed: restarting trytond"
        stop_trytond
        pid=
    fi
    if [[ -n $pid ]]; then
        log "trytond already running (pid $pid)"
    else
        if rpc --port "$PORT" ping >/dev/null 2>&1; then
            fail "port $PORT already answers HTTP but not from this root's trytond"
        fi
        rm -f "$RETIRED_FILE"
        setsid nohup "$ROOT/bin/trytond-run" >>"$TRYTON_LOG" 2>&1 </dev/null {LOCK_FD}>&- &
        printf '%s\n' "$!" | write_atomic "$PID_FILE" 0644
        log "started trytond (pid $!)"
    fi
fi

# --- check_service --------------------------------------------------------------------------
step check_service
progress 75
sites=$(db_list_sites | grep -c .) || sites=0
# 30 s, plus time to preload each site database at start.
deadline=$((SECONDS + 30 + sites))
while true; do
    if series=$(rpc --port "$PORT" version 2>/dev/null); then
        log "trytond $series answers on 127.0.0.1:$PORT"
        break
    fi
    if [[ $(service_mode) == process && -z $(trytond_pid) ]]; then
        log "last lines of $TRYTON_LOG:"
        tail -n 15 "$TRYTON_LOG" 2>/dev/null | while IFS= read -r line; do log "  $line"; done
        fail "trytond exited at start (see $TRYTON_LOG)"
    fi
    ((SECONDS < deadline)) || fail "trytond did not answer on port $PORT within $((30 + sites)) s"
    sleep 0.2
done

result tryton_version "$TRYTON_VERSION"
result port "$PORT"
result python "$PY"
progress 100
