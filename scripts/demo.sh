#!/usr/bin/env bash
# Sets up, then analyses the bundled multi-person clip as jumping into ./data (local storage,
# ephemeral Prefect, bundled model). Prints where the results are.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PREFECT_HOME="${PREFECT_HOME:-$PWD/.prefect}"
.venv/bin/motionlens analyze fixtures/videos/sports2d_demo_multi_person.mp4 --activity jumping --storage ./data "$@"
echo "Open the annotated video with any player, e.g.: xdg-open data/sessions/*/analyzed.mp4"
echo "Read every session's tables: .venv/bin/python -c \"import pandas as pd; print(pd.read_parquet('data/exports/metrics'))\""
