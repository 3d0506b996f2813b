#!/usr/bin/env bash
# Sets up, then runs the whole test suite. The tests start the services they need themselves
# (GCS emulator, Prefect server, uvicorn) on 127.0.0.1 and stop them by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PREFECT_HOME="${PREFECT_HOME:-$(mktemp -d)}"
export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=120
exec .venv/bin/python -m pytest "$@"
