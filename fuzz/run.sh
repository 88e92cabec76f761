#!/usr/bin/env bash
# Run every atheris fuzz target for a bounded time: bash fuzz/run.sh [SECONDS per target, default 20]
# Inputs that crash a target are saved in fuzz/crashes/ and make this script fail; the corpus each target
# grows is kept in fuzz/corpus/<target>/ (not committed) so later runs start from it.
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-20}"
PY="${PYTHON:-.venv/bin/python}"
if ! "$PY" -c "import atheris" 2>/dev/null; then
  echo "fuzz: atheris is not installed for $PY (it ships Linux x86-64 wheels only); skipped, see docs/security.md"
  exit 0
fi
mkdir -p fuzz/crashes
failed=0
for target in fuzz/fuzz_*.py; do
  name="$(basename "$target" .py)"
  corpus="fuzz/corpus/$name"
  mkdir -p "$corpus"
  log="$(mktemp)"
  if "$PY" "$target" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="fuzz/crashes/$name-" "$corpus" >"$log" 2>&1; then
    echo "fuzz: $name: $(grep -oE '#[0-9]+' "$log" | tail -1 | tr -d '#') runs in ${SECONDS_PER_TARGET} s, no crash"
  else
    failed=1
    echo "fuzz: $name: CRASH, input saved in fuzz/crashes/ ($(grep -m1 -E 'Error|Exception' "$log" || echo 'see log'))"
    tail -30 "$log"
  fi
  rm -f "$log"
done
exit "$failed"
