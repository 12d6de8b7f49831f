#!/usr/bin/env bash
# Report the tenant server's health: load, memory, disk, trytond, number of sites.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

STEPS="collect"

usage() {
    cat <<EOF
Usage: system_health_check.sh --root DIR [--port PORT]

  --root DIR   the Managely root (default $DEFAULT_ROOT)
  --port PORT  trytond's port (default: the one bootstrap recorded in DIR/etc/port)

Read-only. trytond is "up" when it answers common.server.version on 127.0.0.1:PORT.
Steps: $STEPS
Results: load1, mem_used_pct, disk_used_pct (of the file system holding DIR),
         trytond (up|down), sites (number of site databases)
EOF
}

PORT=
while (($#)); do
    case $1 in
        --port)
            need_value "$@"
            PORT=$2
            shift 2
            ;;
        *)
            parse_common "$@"
            shift "$PARSED"
            ;;
    esac
done
setup_root
[[ -z $PORT ]] || require port "$PORT"

step collect
read -r load1 _ </proc/loadavg
mem_used_pct=$(awk '
    /^MemTotal:/ { total = $2 }
    /^MemAvailable:/ { available = $2 }
    END { if (total > 0) printf "%.1f", (total - available) * 100 / total; else print "0" }
' /proc/meminfo)
path=$ROOT
while [[ ! -e $path ]]; do
    path=$(dirname "$path")
done
disk_used_pct=$(df -P -- "$path" | awk 'NR == 2 { sub("%", "", $5); print $5 }')
if [[ -z $PORT ]]; then
    PORT=$(read_port) || PORT=
fi
trytond=down
if [[ -n $PORT ]] && rpc --port "$PORT" version >/dev/null 2>&1; then
    trytond=up
fi
# Read-only and never failing: an unreachable PostgreSQL counts no sites.
sites=$(db_list_sites 2>/dev/null | grep -c .) || sites=0

result load1 "$load1"
result mem_used_pct "$mem_used_pct"
result disk_used_pct "$disk_used_pct"
result trytond "$trytond"
result sites "$sites"
progress 100
