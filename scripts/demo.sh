#!/usr/bin/env bash
# Sets up (once: again only when pyproject.toml changes), then analyses the bundled multi-person
# clip as jumping into ./data (local storage, bundled model). Without a Prefect API the analysis
# runs in this process (logged in ~/.motionlens/runs.jsonl); after `motionlens server start` it
# runs as a Prefect flow run shown in the server's UI. Prints where the results are.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/motionlens-setup.sha256
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -x .venv/bin/motionlens ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  bash scripts/setup.sh
  echo "$want" > "$stamp"
fi
export PREFECT_HOME="${PREFECT_HOME:-$PWD/.prefect}"
.venv/bin/motionlens analyze fixtures/videos/sports2d_demo_multi_person.mp4 --activity jumping --storage ./data "$@"
echo "Open the annotated video with any player, e.g.: xdg-open data/sessions/*/analyzed.mp4"
echo "Read every session's tables: .venv/bin/python -c \"import pandas as pd; print(pd.read_parquet('data/exports/metrics'))\""
echo "See runs in Prefect's UI: .venv/bin/motionlens server start   (stop it with: .venv/bin/motionlens server stop)"
