#!/usr/bin/env bash
# Test: `systemd-analyze security --offline=yes signerd.service` rates the unit's exposure at most <max>.
#   usage: security_score.sh <signerd.service> <max, e.g. 2.0>
set -euo pipefail
unit=$1 max=$2
out=$(systemd-analyze security --offline=yes "$unit" 2>&1) || true
score=$(printf '%s\n' "$out" | sed -nE 's/.*Overall exposure level for [^:]*: ([0-9]+\.[0-9]+).*/\1/p')
if [ -z "$score" ]; then
  echo "FAIL: no 'Overall exposure level' in the output:" >&2
  echo "$out" >&2
  exit 1
fi
printf '%s\n' "$out" | grep -E '✗' || true
if awk -v s="$score" -v m="$max" 'BEGIN { exit !(s > m) }'; then
  echo "FAIL: exposure $score > $max" >&2
  exit 1
fi
echo "PASS: exposure $score <= $max"
