"""A Prefect flow shaped like `analyze-session` (5 tasks) that does nothing: what Prefect costs per run.

    python -m bench.trivial_flow      # prints one JSON line: import and run times
"""

from __future__ import annotations

import time

t0 = time.perf_counter()
from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

IMPORT_S = time.perf_counter() - t0


@task(cache_policy=NO_CACHE)
def step(x: int) -> int:
    return x + 1


@flow(name="bench-trivial")
def trivial() -> int:
    x = 0
    for _ in range(5):
        x = step(x)
    return x


if __name__ == "__main__":
    from bench.common import emit

    t = time.perf_counter()
    trivial()
    emit({"import_s": IMPORT_S, "flow_s": time.perf_counter() - t})
