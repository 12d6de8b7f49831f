#!/usr/bin/env bash
# Installs and starts what Managely needs from Debian/Ubuntu, and says what it did.
#   system_deps.sh run    what `make run` needs (Python venv, fonts and Pango for PDFs)
#   system_deps.sh test   plus PostgreSQL, Redis, OpenSSH and the tools the tests use
#   system_deps.sh lint   shellcheck, for `make lint`
#   system_deps.sh e2e    plus Chromium, which `make test-e2e` drives through Playwright
# As root it installs missing packages with apt-get; otherwise it prints the exact command.
set -euo pipefail

usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; }
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  run|test|lint|e2e) mode=$1 ;;
  *) usage >&2; exit 2 ;;
esac

packages=(python3-venv python3-dev libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-core)
if [ "$mode" = lint ]; then
  packages=(shellcheck)
elif [ "$mode" = test ]; then
  packages+=(postgresql redis-server openssh-server openssh-client shellcheck poppler-utils)
elif [ "$mode" = e2e ]; then
  packages+=(chromium)
fi

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "system_deps: installing missing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "system_deps: missing Debian packages: ${missing[*]}" >&2
    echo "system_deps: run: sudo apt-get install -y ${missing[*]}" >&2
    [ "$mode" = test ] || exit 1
  fi
fi

[ "$mode" = test ] || exit 0

# PostgreSQL on 127.0.0.1:5432, where the tests connect as user postgres without a password.
if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if [ "$(id -u)" -eq 0 ] && [ -d /etc/postgresql ]; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    echo "system_deps: starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  else
    echo "system_deps: PostgreSQL is not running on 127.0.0.1:5432" >&2
  fi
fi
if command -v psql >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432 \
   && ! psql -h 127.0.0.1 -U postgres -w -Atc 'select 1' >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    hba=/etc/postgresql/$version/main/pg_hba.conf
    echo "system_deps: allowing user postgres from 127.0.0.1 without a password (test machine) in $hba"
    sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  else
    echo "system_deps: PostgreSQL refuses user postgres from 127.0.0.1 without a password" >&2
  fi
fi

# Redis on 127.0.0.1:6379, nothing kept on disk.
if command -v redis-cli >/dev/null && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "system_deps: starting Redis on 127.0.0.1:6379"
  mkdir -p /tmp/managely-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/managely-redis --logfile /tmp/managely-redis/redis.log
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break
    sleep 0.3
  done
fi
exit 0
