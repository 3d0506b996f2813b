"""The `motionlens` command line (the analysis itself lives in `pipeline/`, `flows/`, `api/`)."""
