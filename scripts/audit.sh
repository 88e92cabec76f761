#!/usr/bin/env bash
# Audit the pinned dependencies (requirements.lock) for known vulnerabilities with pip-audit.
#
#   bash scripts/audit.sh        # exit 1 when a pinned version has a known vulnerability
#
# pip-audit asks PyPI's JSON API (or OSV with POSBON_AUDIT_SERVICE=osv) about each pinned version. Where that
# service cannot be reached, or answers for no package (a mirror without the per-version JSON API), this
# step says so in one line and passes: run it where the service is reachable (docs/security.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
LOCK="${1:-requirements.lock}"
SERVICE="${POSBON_AUDIT_SERVICE:-pypi}"
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
status=0
# --no-deps --disable-pip: the lock already pins every package, nothing is resolved or installed.
"$PY" -m pip_audit -r "$LOCK" --no-deps --disable-pip --vulnerability-service "$SERVICE" \
  --progress-spinner off --format json --output "$report" 2>/dev/null || status=$?
"$PY" - "$report" "$status" "$SERVICE" <<'PYEOF'
import json
import sys

path, status, service = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    with open(path, encoding="utf-8") as f:
        deps = json.load(f).get("dependencies", [])
except (OSError, ValueError):
    print(f"audit: pip-audit could not reach the {service} vulnerability service from here (exit {status}); "
          "not audited: run scripts/audit.sh where it is reachable")
    sys.exit(0)
audited = [d for d in deps if not d.get("skip_reason")]
vulnerable = [d for d in audited if d.get("vulns")]
for dep in vulnerable:
    for vuln in dep["vulns"]:
        fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
        print(f"audit: {dep['name']} {dep['version']}: {vuln['id']} (fixed in: {fixes})")
if vulnerable:
    sys.exit(1)
if not audited:
    print(f"audit: the {service} vulnerability service answered for none of {len(deps)} pinned packages "
          "(unreachable or a mirror without its data); not audited: run scripts/audit.sh where it is reachable")
    sys.exit(0)
skipped = len(deps) - len(audited)
print(f"audit: {len(audited)} pinned packages, no known vulnerabilities"
      + (f" ({skipped} could not be audited)" if skipped else ""))
PYEOF
