#!/usr/bin/env bash
# Creates .venv (Python >= 3.11) and installs MotionLens with its test extras. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "MotionLens needs Python >= 3.11")'
[ -x .venv/bin/python ] || "$PY" -m venv .venv
log=.venv/install.log
echo "setup: installing MotionLens and its dependencies into .venv (log: $log)" >&2
if ! { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e ".[test]"; } >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "setup: pip install failed (full log: $log)" >&2
  exit 1
fi
.venv/bin/python -c "import mediapipe, av, prefect, starlette, pyarrow, google.cloud.storage" \
  || { echo "setup: the install is incomplete" >&2; exit 1; }
