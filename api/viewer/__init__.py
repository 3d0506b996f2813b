"""The session viewer page: annotated video, an angle chart that follows playback, the metrics.

One self-contained HTML document (CSS and JS inlined, data embedded as JSON; no CDN, no build
step), so a single signed link serves everything and it works offline once loaded:

    page = viewer_page(manifest, video_url=..., angles=load_angles(storage, manifest),
                       image_urls={"contact_sheet": ...})
    HTMLResponse(page.html, headers=page.headers)

`page.headers` carries a Content-Security-Policy that allows exactly the inlined script and style
(by hash) and media/images from the given URLs' origins.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).parent
MAX_POINTS = 3000

# The angle columns each activity's chart shows (others are in the export).
VIEWER_ANGLES: dict[str, tuple[str, ...]] = {
    "jumping": ("left_knee_flexion", "right_knee_flexion", "left_hip_flexion", "right_hip_flexion",
                "left_ankle_dorsiflexion", "right_ankle_dorsiflexion"),
    "running": ("left_knee_flexion", "right_knee_flexion", "left_hip_flexion", "right_hip_flexion", "trunk"),
    "weightlifting": ("left_knee_flexion", "right_knee_flexion", "left_hip_flexion", "right_hip_flexion",
                      "left_elbow_flexion", "right_elbow_flexion", "trunk"),
}
ELBOW_EXERCISES = {"bench_press", "overhead_press", "clean", "snatch", "clean_and_jerk"}


@dataclass(frozen=True)
class ViewerPage:
    html: str
    content_security_policy: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Security-Policy": self.content_security_policy, "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer", "Cache-Control": "private, no-store"}


@lru_cache(maxsize=1)
def _assets() -> tuple[str, str, str]:
    return ((HERE / "viewer.html").read_text(encoding="utf-8"), (HERE / "viewer.css").read_text(encoding="utf-8"),
            (HERE / "viewer.js").read_text(encoding="utf-8"))


def angle_columns(activity: str, exercise: str | None = None) -> tuple[str, ...]:
    cols = VIEWER_ANGLES.get(activity, VIEWER_ANGLES["jumping"])
    if activity == "weightlifting" and exercise not in ELBOW_EXERCISES:
        cols = tuple(c for c in cols if "elbow" not in c)
    return cols


def angles_payload(time_s: Sequence[float], angles: Mapping[str, Sequence[float]], columns: Sequence[str],
                   max_points: int = MAX_POINTS) -> dict[str, Any]:
    """{"time_s": [...], "series": {name: [...]}}, decimated to <= `max_points`, NaN -> null, 0.1° precision."""
    n = len(time_s)
    step = max(1, math.ceil(n / max_points)) if max_points > 0 else 1
    idx = range(0, n, step)

    def clean(v: Any, nd: int) -> float | None:
        try:
            f = float(v)
        except (TypeError, ValueError):
            return None
        return round(f, nd) if math.isfinite(f) else None

    series = {}
    for name in columns:
        if name in angles:
            vals = angles[name]
            series[name] = [clean(vals[i], 1) if i < len(vals) else None for i in idx]
    return {"time_s": [clean(time_s[i], 4) for i in idx], "series": series}


def load_angles(storage: Any, manifest: Mapping[str, Any], max_points: int = MAX_POINTS) -> dict[str, Any] | None:
    """The chart's data from the session's `angles` Parquet export (None when there is none)."""
    key = ((manifest.get("artifacts") or {}).get("exports") or {}).get("angles")
    if not key or not storage.exists(key):
        return None
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(storage.read_bytes(key)))
    exercise = (manifest.get("metrics") or {}).get("exercise") or (manifest.get("options") or {}).get("exercise")
    cols = [c for c in angle_columns(manifest.get("activity", ""), exercise) if c in table.column_names]
    if "time_s" not in table.column_names:
        return None
    data = {c: table.column(c).to_pylist() for c in ["time_s", *cols]}
    return angles_payload(data["time_s"], data, cols, max_points)


TOP_RECOMMENDATIONS = 3


def lift_recommendations(manifest: Mapping[str, Any], lang: str, top: int = TOP_RECOMMENDATIONS) -> list[dict[str, Any]]:
    """The most severe lift recommendations (stored sorted) as {code, severity, text} in `lang`."""
    lift = (manifest.get("artifacts") or {}).get("lift_analysis") or {}
    out = []
    for rec in (lift.get("recommendations") or [])[:top]:
        if isinstance(rec, Mapping):
            text = rec.get("text") or {}
            out.append({"code": rec.get("code"), "severity": rec.get("severity"),
                        "text": text.get(lang) or text.get("en") or rec.get("code")})
    return out


def bar_path_key(manifest: Mapping[str, Any]) -> str | None:
    """Storage key of the lift's bar-path chart, if the session has one."""
    lift = (manifest.get("artifacts") or {}).get("lift_analysis") or {}
    return next((c["key"] for c in lift.get("charts") or []
                 if isinstance(c, Mapping) and c.get("kind") == "bar_path" and isinstance(c.get("key"), str)), None)


def viewer_data(manifest: Mapping[str, Any], *, video_url: str, angles: Mapping[str, Any] | None = None,
                image_urls: Mapping[str, str] | None = None, lang: str = "en") -> dict[str, Any]:
    """What the page's script reads: session facts, metrics, events, quality, angles, image URLs and,
    for lifts, the top recommendations in `lang`."""
    q = manifest.get("quality") or {}
    probe = manifest.get("probe") or {}
    size = [probe.get("width"), probe.get("height")] if probe.get("width") and probe.get("height") else []
    return {
        "frame_size": size,
        "session": {k: manifest.get(k) for k in ("session_id", "activity", "status", "created_at")},
        "video_url": video_url,
        "metrics": manifest.get("metrics") or {},
        "events": manifest.get("events") or [],
        "quality": {"view": q.get("view"), "facing": q.get("facing")},
        "warnings": [w for w in manifest.get("warnings") or [] if isinstance(w, Mapping)],
        "angles": dict(angles) if angles else {"time_s": [], "series": {}},
        "images": dict(image_urls or {}),
        "pipeline_version": manifest.get("pipeline_version"),
        "recommendations": lift_recommendations(manifest, lang), "lang": lang,
    }


def page_title(manifest: Mapping[str, Any]) -> str:
    activity = str(manifest.get("activity") or "session")
    exercise = (manifest.get("metrics") or {}).get("exercise") or (manifest.get("options") or {}).get("exercise")
    what = str(exercise).replace("_", " ").capitalize() if activity == "weightlifting" and exercise else \
        {"jumping": "Jumps", "running": "Running", "weightlifting": "Lift"}.get(activity, activity.capitalize())
    return f"{what} — MotionLens"


def _json_for_script(data: Any) -> str:
    """JSON safe inside <script>: no '</script>', no '<!--', no U+2028/9 surprises."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return "'self'"


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def viewer_page(manifest: Mapping[str, Any], *, video_url: str, angles: Mapping[str, Any] | None = None,
                image_urls: Mapping[str, str] | None = None, lang: str = "en") -> ViewerPage:
    """The viewer for one session. `video_url` must be playable by the browser (signed, Range-capable)."""
    template, css, js = _assets()
    data = viewer_data(manifest, video_url=video_url, angles=angles, image_urls=image_urls, lang=lang)
    title = page_title(manifest)
    values = {"TITLE": escape(title), "STYLE": css, "SCRIPT": js, "DATA": _json_for_script(data), "LANG": escape(lang),
              "VIDEO_URL": escape(video_url, quote=True)}
    html = re.sub(r"\{\{([A-Z_]+)\}\}", lambda m: values[m.group(1)], template)   # one pass: data cannot inject
    media = " ".join(sorted({_origin(video_url)}))
    imgs = " ".join(sorted({_origin(u) for u in (image_urls or {}).values()} | {"'self'", "data:"}))
    csp = (f"default-src 'none'; script-src {_sha256(js)}; style-src {_sha256(css)}; media-src {media}; "
           f"img-src {imgs}; connect-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return ViewerPage(html, csp)
