"""`create_app(storage, settings)`: the retrieval API over one storage (DESIGN §6)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware

from api.auth import ApiKeyBackend, on_auth_error
from api.background import Background
from api.context import AppContext
from api.cors import cors_middleware
from api.errors import EXCEPTION_HANDLERS
from api.lifespan import lifespan
from api.links import Links
from api.quotas import Quota
from api.shutdown import Lifecycle
from api.rendering import RenderCoordinator, Renderer, default_renderer
from api.routes.docs import docs_routes
from api.routes.files import file_routes
from api.routes.listing import listing_routes
from api.routes.meta import meta_routes
from api.routes.sessions import session_routes
from api.routes.submit import submit_routes
from api.routes.videos import video_routes
from api.routes.viewer import viewer_routes
from api.routes.webhooks import webhook_routes
from api.session_index import SessionIndex
from api.security_headers import SecurityHeaders
from api.settings import ApiSettings
from api.submissions import Submissions, Submitter, default_submitter
from pipeline.storage import Storage


def create_app(storage: Storage, settings: ApiSettings | None = None, *, renderer: Renderer | None = None,
               submitter: Submitter | None = None) -> Starlette:
    """`renderer(storage, session_id)` renders analyzed.mp4 (blocking, run on a worker thread);
    `submitter(storage, activity, source, options, owner, session_id=...)` runs an analysis.
    Both default to the local pipeline; inject others to render/analyse elsewhere or in tests."""
    settings = settings or ApiSettings()
    background = Background()
    lifecycle = Lifecycle(settings.retry_after_s)
    ctx = AppContext(
        storage=storage,
        settings=settings,
        links=Links(storage, settings),
        renders=RenderCoordinator(storage, renderer or default_renderer, background,
                                  stale_after_s=settings.render_lock_stale_s,
                                  failure_cooldown_s=settings.render_failure_cooldown_s,
                                  max_parallel=settings.max_parallel_renders),
        submissions=Submissions(storage, submitter or default_submitter, background,
                                settings.max_parallel_analyses, lifecycle),
        background=background,
        lifecycle=lifecycle,
        submission_quota=Quota("submissions", settings.submissions_per_window, settings.quota_window_s),
        render_quota=Quota("renders", settings.renders_per_window, settings.quota_window_s),
    )
    app = Starlette(
        routes=[*meta_routes(), *docs_routes(), *listing_routes(), *session_routes(), *video_routes(), *viewer_routes(),
                *submit_routes(), *file_routes(), *webhook_routes()],
        middleware=[*cors_middleware(settings), Middleware(SecurityHeaders),
                    Middleware(AuthenticationMiddleware, backend=ApiKeyBackend(storage), on_error=on_auth_error)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,  # recovery at start-up, drain on stop; TestClient runs it only in a `with`
    )
    app.state.ctx = ctx
    app.state.session_index = SessionIndex(storage)
    return app
