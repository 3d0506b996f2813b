"""Shared fixtures: paths of the real clips and a per-run cache of their pose (pose is the slow part)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.pose.sequence import PoseSequence

ROOT = Path(__file__).resolve().parents[1]
SHARED_VIDEOS = (ROOT.parent / "shared" / "fixtures" / "videos").resolve()
BUNDLED_VIDEOS = ROOT / "fixtures" / "videos"
SHARED_TOOLS = (ROOT.parent / "shared" / "tools").resolve()

os.environ.setdefault("GLOG_minloglevel", "2")


def clip_path(name: str) -> Path:
    """A fixture clip: bundled in the repo if it may be, else from ../shared (never copied)."""
    for d in (BUNDLED_VIDEOS, SHARED_VIDEOS):
        if (d / name).is_file():
            return d / name
    raise FileNotFoundError(f"fixture clip {name} not found in {BUNDLED_VIDEOS} or {SHARED_VIDEOS}")


@pytest.fixture(scope="session")
def clip() -> Callable[[str], Path]:
    return clip_path


@pytest.fixture(scope="session")
def raw_pose(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., PoseSequence]:
    """raw_pose(path, model='full', select='largest') -> the athlete's raw PoseSequence, computed once per run."""
    from pipeline.pose.athlete import estimate_athlete

    cache_dir = tmp_path_factory.mktemp("pose-cache")
    memo: dict[tuple[str, str, str], PoseSequence] = {}

    def get(path: Path | str, model: str = "full", select: str = "largest") -> PoseSequence:
        key = (str(path), model, select)
        if key not in memo:
            f = cache_dir / f"{len(memo)}.npz"
            seq, _ = estimate_athlete(path, model=model, select=select)
            seq.save_npz(str(f))
            memo[key] = PoseSequence.load_npz(str(f))
        return memo[key]

    return get


@pytest.fixture(scope="session")
def prefect_harness():
    """A real Prefect engine and a throw-away API/database for the whole run."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
