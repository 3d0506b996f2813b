#!/usr/bin/env bash
# Creates .venv (Python >= 3.11) and installs MotionLens with its test extras. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "MotionLens needs Python >= 3.11")'
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install -q -e ".[test]" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import mediapipe, av, prefect, starlette, pyarrow, google.cloud.storage" \
  || { echo "setup: the install is incomplete" >&2; exit 1; }
