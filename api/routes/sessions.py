"""Session detail, export and lift analysis: `/{activity}/sessions/{session_id}/...`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.auth import current_user, scoped
from api.context import context, storage_bound
from api.errors import ApiError
from api.etag import none_match, not_modified
from api.exports import CSV_TABLES, FILE_FORMATS, JSON_TABLES, export_file, export_json
from api.i18n import DEFAULT_LANGUAGE, negotiate
from api.routes import GZIP
from api.sessions import detail_etag, load_session, require_completed, session_detail
from pipeline.options import ACTIVITIES


def _detail(activity: str) -> Callable[[Request], Awaitable[Response]]:
    @scoped("sessions:read")
    @storage_bound
    def session(request: Request) -> Response:
        ctx = context(request)
        manifest = load_session(ctx.storage, current_user(request), request.path_params["session_id"], activity)
        headers = {"ETag": detail_etag(request, ctx, manifest), "Cache-Control": "no-store"}
        if none_match(request, headers["ETag"]):
            return not_modified(headers)
        return Response(session_detail(request, ctx, manifest), media_type="application/json", headers=headers)

    session.__doc__ = f"Detail of a {activity} session: status, video URLs, metrics, angles, events, links."
    return session


def _export(activity: str) -> Callable[[Request], Response]:
    @scoped("exports:read")
    def export(request: Request) -> Response:
        ctx = context(request)
        manifest = load_session(ctx.storage, current_user(request), request.path_params["session_id"], activity)
        require_completed(manifest, ctx.settings.retry_after_s)
        exports: dict[str, str] = (manifest.get("artifacts") or {}).get("exports") or {}
        if not exports:
            raise ApiError(404, "export_unavailable", "this session has no exported tables")
        fmt = request.query_params.get("format", "json")
        if fmt == "parquet":
            return JSONResponse(_parquet_links(request, manifest, exports))
        if fmt in FILE_FORMATS:
            return _export_file(ctx.storage, manifest, exports, fmt, request.query_params.get("table"))
        if fmt != "json":
            raise ApiError(400, "invalid_parameter", f"format must be one of json, parquet, {', '.join(FILE_FORMATS)}")
        tables = _requested_tables(request.query_params.get("tables"))
        return Response(export_json(ctx.storage, manifest, exports, tables), media_type="application/json")

    export.__doc__ = (f"Export of a {activity} session: keypoints, angles, timestamps, events and metrics as "
                      "column-oriented JSON (gzip when accepted); ?format=parquet gives signed download URLs; "
                      "?tables=angles,events selects tables; ?format=trc (OpenSim markers), mot (OpenSim angles) or "
                      "csv (&table=angles|keypoints|events|metrics) gives one file to download.")
    return export


def _export_file(storage: Any, manifest: dict[str, Any], exports: dict[str, str], fmt: str,
                 table: str | None) -> Response:
    if fmt == "csv" and table is not None and table not in CSV_TABLES:
        raise ApiError(400, "invalid_parameter", f"table must be one of {', '.join(CSV_TABLES)}")
    needed = {"trc": "keypoints", "mot": "angles"}.get(fmt) or table or "angles"
    if needed not in exports:
        raise ApiError(404, "export_unavailable", f"this session has no {needed} table")
    body, media_type, filename = export_file(storage, manifest, exports, fmt, table)
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _requested_tables(param: str | None) -> list[str]:
    if not param:
        return list(JSON_TABLES)
    names = [t.strip() for t in param.split(",") if t.strip()]
    unknown = [t for t in names if t not in JSON_TABLES]
    if unknown or not names:
        raise ApiError(400, "invalid_parameter", f"tables must be a comma-separated subset of {','.join(JSON_TABLES)}")
    return names


def _parquet_links(request: Request, manifest: dict[str, Any], exports: dict[str, str]) -> dict[str, Any]:
    ctx = context(request)
    tables = {name: {"url": ctx.links.file(request, key), "size_bytes": ctx.storage.size(key),
                     "filename": f"{name}-{manifest['session_id']}.parquet"}
              for name, key in exports.items() if isinstance(key, str)}
    return {"session_id": manifest["session_id"], "activity": manifest["activity"], "format": "parquet",
            "urls_expire_in_s": ctx.settings.link_ttl_s, "tables": tables}


@scoped("sessions:read")
@storage_bound
def lift_analysis(request: Request) -> Response:
    """Key-position images and recommendations of a lift, in the language of ?lang= or Accept-Language."""
    ctx = context(request)
    manifest = load_session(ctx.storage, current_user(request), request.path_params["session_id"], "weightlifting")
    require_completed(manifest, ctx.settings.retry_after_s)
    analysis = (manifest.get("artifacts") or {}).get("lift_analysis")
    if not analysis:
        raise ApiError(404, "lift_analysis_unavailable", "this session has no lift analysis")
    recommendations = analysis.get("recommendations") or []
    available = sorted({lang for rec in recommendations for lang in (rec.get("text") or {})} or {DEFAULT_LANGUAGE})
    lang = negotiate(request.query_params.get("lang"), request.headers.get("accept-language"), available)
    body = {
        "session_id": manifest["session_id"],
        "activity": "weightlifting",
        "exercise": (manifest.get("options") or {}).get("exercise"),
        "language": lang,
        "available_languages": available,
        "images": [_media(request, item) for item in analysis.get("images") or []],
        "charts": [_media(request, item) for item in analysis.get("charts") or []],
        "recommendations": [_recommendation(rec, lang) for rec in recommendations],
        "urls_expire_in_s": ctx.settings.link_ttl_s,
    }
    return JSONResponse(body, headers={"Content-Language": lang, "Vary": "Accept-Language"})


def _media(request: Request, item: str | dict[str, Any]) -> dict[str, Any]:
    # Images are listed as bare keys (older manifests) or as {"key", "rep", "position", ...}.
    entry = {"key": item} if isinstance(item, str) else dict(item)
    key = entry.pop("key")
    return {"url": context(request).links.file(request, key), **entry}


def _recommendation(rec: dict[str, Any], lang: str) -> dict[str, Any]:
    texts: dict[str, str] = rec.get("text") or {}
    chosen = lang if lang in texts else DEFAULT_LANGUAGE if DEFAULT_LANGUAGE in texts else next(iter(texts), lang)
    return {"code": rec.get("code"), "severity": rec.get("severity"), "evidence": rec.get("evidence"),
            "language": chosen, "text": texts.get(chosen), "translations": texts}


def session_routes() -> list[Route]:
    routes = []
    for activity in ACTIVITIES:
        routes += [
            Route(f"/{activity}/sessions/{{session_id}}/", _detail(activity), name=f"{activity}_session"),
            Route(f"/{activity}/sessions/{{session_id}}/export/", _export(activity), name=f"{activity}_export",
                  middleware=GZIP),
        ]
    routes.append(Route("/weightlifting/sessions/{session_id}/lift-analysis/", lift_analysis,
                        name="weightlifting_lift_analysis"))
    return routes
