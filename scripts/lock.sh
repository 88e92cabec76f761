#!/usr/bin/env bash
# Regenerate requirements.lock: exact versions of every dependency (runtime and the dev extra) that
# `make setup` installs with `pip install -c requirements.lock -e '.[dev]'`.
#
# Run after changing `dependencies` or the `dev` extra in pyproject.toml, commit both files together:
#     bash scripts/lock.sh            # resolve within the current pins where possible
#     bash scripts/lock.sh --upgrade  # move every pin to the newest release that fits
# pip-tools (pip-compile) comes with the dev extra. Index URLs are left out of the lock on purpose: it
# pins versions, not a mirror, so it works against PyPI and against a local mirror alike.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
"$PY" -m piptools compile \
  --quiet \
  --extra dev \
  --extra video \
  --strip-extras \
  --no-emit-index-url \
  --no-emit-find-links \
  --no-emit-trusted-host \
  --output-file requirements.lock \
  "$@" \
  pyproject.toml
echo "requirements.lock: $(grep -cE '^[A-Za-z0-9]' requirements.lock) pinned packages"
