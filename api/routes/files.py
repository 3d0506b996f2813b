"""`/files/{key}?exp=&sig=`: stored files behind HMAC-signed links; no API key, Range supported."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.context import context, storage_bound
from api.errors import ApiError
from api.etag import none_match, not_modified, stored_etag
from api.media import file_response, local_copy
from pipeline.storage import check_key

_SERVABLE = ("sessions/", "exports/")


@storage_bound
def signed_file(request: Request) -> Response:
    """A stored file (video, image, Parquet) behind a signed link; supports Range (206/416)."""
    ctx = context(request)
    key = request.path_params["key"]
    exp, sig = request.query_params.get("exp"), request.query_params.get("sig")
    refusal = ctx.links.signer.check(key, exp, sig)
    if refusal is not None:
        raise ApiError(403, "invalid_link", refusal)
    try:
        check_key(key)
    except ValueError:
        raise ApiError(404, "file_not_found", "no such file") from None
    # Only session artifacts and exports are ever linked; never keys, secrets or the inbox.
    if not key.startswith(_SERVABLE) or not ctx.storage.exists(key):
        raise ApiError(404, "file_not_found", "no such file")
    cache_s = int(exp or 0) - int(time.time())
    etag = stored_etag(ctx.storage, key)  # before copying: a 304 from a network store downloads nothing
    if etag and none_match(request, etag):
        return not_modified({"ETag": etag, "Cache-Control": f"private, max-age={max(cache_s, 0)}"})
    path, cleanup = local_copy(ctx.storage, key)
    return file_response(request, path, key, cache_s=cache_s, cleanup=cleanup, etag=etag)


def file_routes() -> list[Route]:
    return [Route("/files/{key:path}", signed_file, methods=["GET", "HEAD"], name="files")]
