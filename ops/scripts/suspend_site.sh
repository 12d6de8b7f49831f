#!/usr/bin/env bash
# Suspend a site (nobody can sign in) or resume it, without touching the running trytond.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

STEPS="check_site suspend resume verify"

usage() {
    cat <<EOF
Usage: suspend_site.sh --root DIR --site NAME [--resume] [--rollback]

Suspends NAME: in one transaction of the site's own database, every user who can sign in
(res_user.active, except Tryton's hidden root user) is deactivated, every session is ended
(ir_session emptied) and every validated application key is revoked. Who was active and which
keys were valid is recorded in the same transaction, in the site's table managely_suspension.
trytond reads res_user and ir_session on every login and request, so the site refuses
sign-ins at once; its database stays loaded and served (nothing is renamed or unloaded).

  --root DIR     the Managely root (default $DEFAULT_ROOT)
  --site NAME    the site: ^[a-z][a-z0-9-]{1,40}[a-z0-9]\$
  --resume       give back exactly what the record lists, then drop the record (one
                 transaction)
  --rollback     undo this invocation: a suspension is resumed, a --resume suspends again

Idempotent: suspending a suspended site deactivates only users activated since (and records
them); resuming a site that is not suspended changes nothing.
Steps: $STEPS (suspend or resume, not both)
Results: suspended (1 when the site ends suspended, else 0), users (users who cannot sign in
because of the suspension, or who were given back)
EOF
}

RESUME=0
SITE=
while (($#)); do
    case $1 in
        --site)
            need_value "$@"
            SITE=$2
            shift 2
            ;;
        --resume)
            RESUME=1
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

# What to do: a rollback does the opposite of the invocation it undoes.
ACTION=suspend
if ((RESUME != ROLLBACK)); then
    ACTION=resume
fi

# site_sql suspend|resume|status — one transaction of the site's database (a SQLite file, or
# <prefix>SITE on the cluster, through the psycopg of trytond's interpreter); prints
# "suspended=0|1" and "users=N" (the users the suspension record lists, before a resume).
site_sql() {
    local args=("$1")
    if is_pg; then
        pg_check_names "$(db_name "$SITE")"
        args+=(pg "$DB_URI" "$(db_name "$SITE")")
    else
        args+=(sqlite "$(site_db "$SITE")")
    fi
    "$PY" - "${args[@]}" <<'PY'
import sqlite3
import sys

MARK = "managely_suspension"
CREATE = (
    f"CREATE TABLE IF NOT EXISTS {MARK} (kind VARCHAR(16) NOT NULL, "
    "record_id INTEGER NOT NULL, PRIMARY KEY (kind, record_id))"
)
# Tryton's root user (id 0) never signs in: it is left as it is.
SUSPEND = [
    CREATE,
    f"INSERT INTO {MARK} (kind, record_id) SELECT 'user', id FROM res_user "
    f"WHERE active AND id > 0 AND id NOT IN (SELECT record_id FROM {MARK} WHERE kind = 'user')",
    f"UPDATE res_user SET active = FALSE "
    f"WHERE id IN (SELECT record_id FROM {MARK} WHERE kind = 'user')",
    "DELETE FROM ir_session",
]
SUSPEND_KEYS = [
    f"INSERT INTO {MARK} (kind, record_id) SELECT 'application', id FROM res_user_application "
    f"WHERE state = 'validated' "
    f"AND id NOT IN (SELECT record_id FROM {MARK} WHERE kind = 'application')",
    f"UPDATE res_user_application SET state = 'cancelled' WHERE state = 'validated' "
    f"AND id IN (SELECT record_id FROM {MARK} WHERE kind = 'application')",
]
RESUME = [
    f"UPDATE res_user SET active = TRUE "
    f"WHERE id IN (SELECT record_id FROM {MARK} WHERE kind = 'user')",
]
RESUME_KEYS = [
    f"UPDATE res_user_application SET state = 'validated' WHERE state = 'cancelled' "
    f"AND id IN (SELECT record_id FROM {MARK} WHERE kind = 'application')",
]


class Site:
    def __init__(self, backend, *target):
        self.pg = backend == "pg"
        if self.pg:
            import psycopg

            uri, name = target
            self.connection = psycopg.connect(uri + name, connect_timeout=10)
        else:
            self.connection = sqlite3.connect(target[0], timeout=60, isolation_level=None)
            # Writers queue behind each other (trytond's included) instead of failing.
            self.connection.execute("BEGIN IMMEDIATE")
        self.cursor = self.connection.cursor()

    def has_table(self, name):
        if self.pg:
            self.cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))
        else:
            self.cursor.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
            )
        return bool(self.cursor.fetchone()[0])

    def run(self, statements):
        for statement in statements:
            self.cursor.execute(statement)

    def count(self, sql):
        self.cursor.execute(sql)
        return self.cursor.fetchone()[0]

    def end(self, commit):
        if self.pg:
            self.connection.commit() if commit else self.connection.rollback()
        else:
            self.connection.execute("COMMIT" if commit else "ROLLBACK")
        self.connection.close()


def main(action, backend, *target):
    site = Site(backend, *target)
    try:
        if not site.has_table("res_user"):
            print("::error the site's database has no res_user table")
            sys.exit(1)
        keys = site.has_table("res_user_application")
        if action == "suspend":
            site.run(SUSPEND + (SUSPEND_KEYS if keys else []))
        marked = site.has_table(MARK)
        users = site.count(f"SELECT count(*) FROM {MARK} WHERE kind = 'user'") if marked else 0
        if action == "resume" and marked:
            site.run(RESUME + (RESUME_KEYS if keys else []) + [f"DROP TABLE {MARK}"])
            marked = False
        if action == "status" and marked:
            left = site.count("SELECT count(*) FROM res_user WHERE active AND id > 0")
            sessions = site.count("SELECT count(*) FROM ir_session")
            if left or sessions:
                print(f"::error still {left} active user(s) and {sessions} session(s)")
                sys.exit(1)
    except BaseException:
        site.end(commit=False)
        raise
    site.end(commit=action != "status")
    print(f"suspended={int(marked)}")
    print(f"users={users}")


main(*sys.argv[1:])
PY
}

# value KEY OUTPUT — the value of the line KEY=value in the helper's OUTPUT.
value() {
    local line
    while IFS= read -r line; do
        if [[ ${line%%=*} == "$1" ]]; then
            printf '%s' "${line#*=}"
            return 0
        fi
    done <<<"$2"
}

step check_site
progress 10
need_python
lock "site-$SITE"
db_exists "$SITE" || fail "site $SITE has no database"

step "$ACTION"
progress 40
out=$(site_sql "$ACTION") || { printf '%s\n' "$out"; reported; }
log "$ACTION: $(value users "$out") user(s)"

step verify
progress 80
status=$(site_sql status) || { printf '%s\n' "$status"; reported; }
suspended=$(value suspended "$status")
if [[ $ACTION == suspend && $suspended != 1 ]]; then
    fail "the site is not recorded as suspended"
elif [[ $ACTION == resume && $suspended != 0 ]]; then
    fail "the site is still recorded as suspended"
fi
result suspended "$suspended"
result users "$(value users "$out")"
progress 100
