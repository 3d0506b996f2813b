"""What the API does when it starts and stops (Starlette lifespan; `motionlens serve` runs it).

Start-up: remove the temp folders of dead runs, requeue or fail the sessions dead processes left
behind, then keep doing that (and renewing this process's leases) every `recovery_interval_s`.
Stop (SIGTERM): refuse new work (503 + Retry-After), let running work finish for
`shutdown_grace_s`, hand back what is still running (sessions back to `queued`, leases and render
locks released) so that the next process resumes it at once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator

import anyio.to_thread
from starlette.applications import Starlette

from api.context import AppContext
from api.recovery import recover
from pipeline import tempdirs

log = logging.getLogger("motionlens.api")


def sweep(ctx: AppContext) -> None:
    ctx.submissions.renew_leases()
    s = ctx.settings
    found = recover(ctx.storage, ctx.submissions, ttl_s=s.lease_ttl_s, max_attempts=s.max_attempts)
    if found.requeued or found.failed:
        log.warning("recovery: requeued %d session(s), failed %d as interrupted",
                    len(found.requeued), len(found.failed))


def _sweep_forever(ctx: AppContext, stop: threading.Event) -> None:
    while not stop.wait(ctx.settings.recovery_interval_s):
        try:
            sweep(ctx)
            tempdirs.clean_dead()
        except Exception:  # the store may be down for a while: try again next round
            log.exception("recovery sweep failed")


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    ctx: AppContext = app.state.ctx
    await anyio.to_thread.run_sync(tempdirs.clean_dead)
    try:
        await anyio.to_thread.run_sync(sweep, ctx)
    except Exception:  # serve anyway (/health says what is wrong); the sweeper retries
        log.exception("recovery at start-up failed")
    stop = threading.Event()
    sweeper = threading.Thread(target=_sweep_forever, args=(ctx, stop), name="recovery", daemon=True)
    sweeper.start()
    try:
        yield
    finally:
        stop.set()
        await anyio.to_thread.run_sync(drain, ctx)


def drain(ctx: AppContext) -> None:
    ctx.lifecycle.drain()
    # The grace period started with SIGTERM: uvicorn has meanwhile waited for open requests.
    ctx.background.wait(ctx.lifecycle.grace_left(ctx.settings.shutdown_grace_s))
    returned = ctx.submissions.hand_back()  # also the queued ones that never got a slot
    renders = ctx.renders.hand_back()
    if returned or renders:
        log.warning("shutdown: handed back %d analysis(es) and %d render(s) not done within %.0f s",
                    len(returned), len(renders), ctx.settings.shutdown_grace_s)
