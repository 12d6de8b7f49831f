#!/usr/bin/env bash
# Stop the trytond that serves this root's sites.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

STEPS="stop_service"

usage() {
    cat <<EOF
Usage: stop_service.sh --root DIR

Stops trytond (the systemd unit $SERVICE_NAME, or the process in DIR/run/trytond.pid:
TERM, then KILL after 10 s). Start it again with bootstrap_server.sh.
Idempotent: stopping a stopped trytond is fine. --rollback is accepted and does the same.
Steps: $STEPS
EOF
}

while (($#)); do
    parse_common "$@"
    shift "$PARSED"
done
setup_root

step stop_service
[[ ! -d $RUN_DIR ]] || lock server
stop_trytond
progress 100
