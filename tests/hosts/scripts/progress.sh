#!/usr/bin/env bash
# Test fixture: walks through two steps, pausing PAUSE seconds (default 0) between them, and
# prints the DB_PASSWORD it reads from stdin in a log line, on stderr and in a result.
set -euo pipefail
pause="${1:-0}"
DB_PASSWORD=none
while IFS='=' read -r name value; do
  if [[ "$name" == DB_PASSWORD ]]; then DB_PASSWORD="$value"; fi
done
echo "::step prepare"
echo "::progress 10"
echo "connecting with password $DB_PASSWORD (${#DB_PASSWORD} characters)"
sleep "$pause"
echo "::step install"
echo "::progress 60"
echo "warning: password $DB_PASSWORD is on stderr" >&2
sleep "$pause"
echo "::result url=http://example.test/site/"
echo "::result db_password=$DB_PASSWORD"
echo "::progress 100"
