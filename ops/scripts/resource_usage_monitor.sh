#!/usr/bin/env bash
# Usage of each site (database, directory, backups, active ERP users) and of the shared trytond.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

STEPS="measure"
ACTIVE_MINUTES=15

usage() {
    cat <<EOF
Usage: resource_usage_monitor.sh --root DIR [--site NAME ...]

Measures every site with a database (or only the --site names). Read-only.

  --root DIR     the Managely root (default $DEFAULT_ROOT)
  --site NAME    limit to this site (repeatable)

Steps: $STEPS
Results: sites, total_db_bytes, and per site NAME.db_bytes (database file with its -wal and
-shm; on PostgreSQL pg_database_size), NAME.dir_bytes (DIR/sites/NAME), NAME.backups_bytes
(DIR/backups/NAME), NAME.active_users (distinct users with an ERP session, ir_session, written
in the last $ACTIVE_MINUTES minutes), and site.NAME=db_bytes:N,disk_bytes:N,active_users:N (disk is
the directory plus the database).
The ERP server is one trytond process shared by every site: trytond_cpu_pct (its CPU use over
one second, percent of one core) and trytond_mem_bytes (its resident memory), 0 when it is not
running. A site's share of them is not measurable per site.
EOF
}

SITES=()
while (($#)); do
    case $1 in
        --site)
            need_value "$@"
            SITES+=("$2")
            shift 2
            ;;
        *)
            parse_common "$@"
            shift "$PARSED"
            ;;
    esac
done
setup_root
for site in ${SITES[@]+"${SITES[@]}"}; do
    require site "$site"
done

# Apparent size in bytes of a file or directory tree (0 when it does not exist).
bytes() {
    if [[ -e $1 ]]; then
        du -sb -- "$1" | awk '{ print $1 }'
    else
        printf '0'
    fi
}

# active_users_sqlite NAME... — "NAME COUNT" lines: distinct users whose ERP session was
# written in the last ACTIVE_MINUTES minutes (trytond stores UTC text timestamps; a database
# without sessions, or unreadable, counts 0).
active_users_sqlite() {
    local python
    python=$(rpc_python)
    [[ -n $python ]] || return 0
    "$python" - "$DB_DIR" "$ACTIVE_MINUTES" "$@" <<'PY'
import datetime
import sqlite3
import sys

db_dir, minutes = sys.argv[1], int(sys.argv[2])
cutoff = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=minutes)
cutoff_text = cutoff.strftime("%Y-%m-%d %H:%M:%S")
for name in sys.argv[3:]:
    count = 0
    try:
        con = sqlite3.connect(f"file:{db_dir}/{name}.sqlite?mode=ro", uri=True, timeout=5)
        try:
            count = con.execute(
                "SELECT count(DISTINCT create_uid) FROM ir_session"
                " WHERE coalesce(write_date, create_date) >= ?",
                (cutoff_text,),
            ).fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        pass
    print(name, count)
PY
}

# active_users_pg NAME — the same count from NAME's PostgreSQL database.
active_users_pg() {
    pg "$(db_name "$1")" -c "SELECT count(DISTINCT create_uid) FROM ir_session WHERE coalesce(write_date, create_date) >= (now() AT TIME ZONE 'UTC') - interval '$ACTIVE_MINUTES minutes'" 2>/dev/null \
        || printf '0\n'
}

# cpu_ticks PID — user+system clock ticks PID used so far (fields 14 and 15 of its stat).
cpu_ticks() {
    local stat fields
    IFS= read -r stat <"/proc/$1/stat" || return 1
    read -ra fields <<<"${stat##*) }"
    printf '%s' $((fields[11] + fields[12]))
}

# Resident memory of PID in bytes.
rss_bytes() {
    awk '/^VmRSS:/ { print $2 * 1024; found = 1 } END { if (!found) print 0 }' "/proc/$1/status"
}

step measure
if ((${#SITES[@]} == 0)); then
    sites=$(db_list_sites) || fail "cannot list the site databases"
    while IFS= read -r name; do
        [[ -z $name ]] || SITES+=("$name")
    done <<<"$sites"
fi
# Sizes first: reading a database with a -wal file may create its -shm, which db_size counts.
declare -A DB_BYTES=() DIR_BYTES=() ACTIVE=()
for site in ${SITES[@]+"${SITES[@]}"}; do
    DB_BYTES[$site]=$(db_size "$site") || fail "cannot measure the database of $site"
    DIR_BYTES[$site]=$(bytes "$(site_dir "$site")")
done
if ! is_pg && ((${#SITES[@]} > 0)); then
    while read -r name users; do
        [[ -n $name ]] && ACTIVE[$name]=$users
    done < <(active_users_sqlite "${SITES[@]}")
fi
total=0
count=0
for site in ${SITES[@]+"${SITES[@]}"}; do
    db_bytes=${DB_BYTES[$site]}
    dir_bytes=${DIR_BYTES[$site]}
    if is_pg; then
        users=$(active_users_pg "$site")
    else
        users=${ACTIVE[$site]:-0}
    fi
    valid_int "$users" || users=0
    result "$site.db_bytes" "$db_bytes"
    result "$site.dir_bytes" "$dir_bytes"
    result "$site.backups_bytes" "$(bytes "$BACKUPS_DIR/$site")"
    result "$site.active_users" "$users"
    result "site.$site" "db_bytes:$db_bytes,disk_bytes:$((dir_bytes + db_bytes)),active_users:$users"
    total=$((total + db_bytes))
    count=$((count + 1))
done
result sites "$count"
result total_db_bytes "$total"

cpu_pct=0
mem_bytes=0
pid=$(trytond_pid)
if [[ -n $pid ]] && before=$(cpu_ticks "$pid"); then
    sleep 1
    if after=$(cpu_ticks "$pid"); then
        # Ticks per second is the kernel's USER_HZ; percent of one core over the second.
        cpu_pct=$(((after - before) * 100 / $(getconf CLK_TCK)))
        mem_bytes=$(rss_bytes "$pid" 2>/dev/null || printf '0')
    fi
fi
result trytond_cpu_pct "$cpu_pct"
result trytond_mem_bytes "$mem_bytes"
progress 100
