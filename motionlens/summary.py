"""What the terminal shows of a session: one headline line, the top lift recommendations, and the
row of a batch's summary table/CSV."""

from __future__ import annotations

import os
from typing import Any

from pipeline.metrics.recommendations import LANGUAGES

_SEVERITY_MARK = {"critical": "critical: ", "warning": "warning: ", "info": ""}


def _fmt(value: Any, unit: str, scale: float = 1.0, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value * scale:.{digits}f} {unit}"


def headline(manifest: dict[str, Any]) -> str:
    m = manifest.get("metrics") or {}
    activity = manifest.get("activity")
    if activity == "jumping":
        heights = ", ".join(_fmt(j.get("jump_height_m"), "cm", 100, 1) for j in m.get("jumps") or [])
        return f"jumping: {m.get('jump_count', 0)} jump(s)" + (f" — heights {heights}" if heights else "")
    if activity == "running":
        return (f"running: {m.get('step_count', 0)} step(s), cadence {_fmt(m.get('cadence_spm'), 'steps/min', 1, 0)}, "
                f"ground contact {_fmt(m.get('ground_contact_time_s'), 'ms', 1000, 0)}")
    reps = m.get("reps") or []
    bottoms = ", ".join(_fmt(r.get("bottom_s"), "s", 1, 1) for r in reps)
    return f"weightlifting ({m.get('exercise')}): {m.get('rep_count', 0)} rep(s)" + (f", bottoms at {bottoms}" if bottoms else "")


def user_language(flag: str | None = None, environ: dict[str, str] | None = None) -> str:
    """`--lang`, else the locale (LC_ALL, LC_MESSAGES, LANG: `fr_FR.UTF-8` -> fr), else English."""
    env = os.environ if environ is None else environ
    for tag in (flag, env.get("LC_ALL"), env.get("LC_MESSAGES"), env.get("LANG")):
        primary = (tag or "").split(".")[0].replace("-", "_").split("_")[0].lower()
        if primary in LANGUAGES:
            return primary
    return "en"


def recommendations(manifest: dict[str, Any], lang: str, top: int = 3) -> list[str]:
    """The most severe lift recommendations (they come sorted), in `lang`."""
    recs = ((manifest.get("artifacts") or {}).get("lift_analysis") or {}).get("recommendations") or []
    out = []
    for r in recs[:top]:
        text = r.get("text") or {}
        out.append(_SEVERITY_MARK.get(r.get("severity"), "") + (text.get(lang) or text.get("en") or r.get("code", "")))
    return out


def bar_path_file(manifest: dict[str, Any]) -> str | None:
    charts = ((manifest.get("artifacts") or {}).get("lift_analysis") or {}).get("charts") or []
    return next((c.get("key") for c in charts if c.get("kind") == "bar_path"), None)


def table_row(source: str, manifest: dict[str, Any]) -> dict[str, Any]:
    """One row of a batch: the clip, its outcome and the headline numbers of its activity."""
    m = manifest.get("metrics") or {}
    err = manifest.get("error") or {}
    row: dict[str, Any] = {"clip": source, "session_id": manifest.get("session_id"),
                           "activity": manifest.get("activity"), "status": manifest.get("status"),
                           "error": err.get("code"), "count": None, "main": None, "main_unit": None}
    activity = manifest.get("activity")
    if activity == "jumping":
        row.update(count=m.get("jump_count"), main=m.get("best_jump_height_m"), main_unit="best jump height m")
    elif activity == "running":
        row.update(count=m.get("step_count"), main=m.get("cadence_spm"), main_unit="cadence steps/min")
    elif activity == "weightlifting":
        row.update(count=m.get("rep_count"), main=m.get("mean_concentric_velocity_m_s"),
                   main_unit="mean concentric velocity m/s")
    row["warnings"] = ";".join(w.get("code", "") for w in manifest.get("warnings") or [])
    return row
