"""One human line of the headline numbers of a session, for the terminal."""

from __future__ import annotations

from typing import Any


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
