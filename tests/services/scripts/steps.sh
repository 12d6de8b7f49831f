#!/usr/bin/env bash
# Test script: walks three steps, leaving a marker file per step under --root; --fail-at STEP
# makes it fail there; --rollback removes the markers; --sleep S pauses in each step.
set -euo pipefail
root="" fail_at="" rollback=0 pause=0
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=$2; shift 2 ;;
    --fail-at) fail_at=$2; shift 2 ;;
    --sleep) pause=$2; shift 2 ;;
    --rollback) rollback=1; shift ;;
    *) echo "::error unknown argument"; exit 2 ;;
  esac
done
read -r secret_line || true
if [ "$rollback" = 1 ]; then
  rm -f "$root"/step-*
  echo "rolled back"
  exit 0
fi
mkdir -p "$root"
n=0
for step in first second third; do
  echo "::step $step"
  echo "working on $step with ${secret_line#*=}"
  sleep "$pause"
  if [ "$step" = "$fail_at" ]; then
    echo "::error $step broke"
    exit 4
  fi
  touch "$root/step-$step"
  n=$((n + 1))
  echo "::progress $((n * 33))"
done
echo "::result marker=$root/step-third"
