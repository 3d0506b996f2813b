"""Coaching recommendations from a weightlifting summary: rules, evidence, texts in six languages.

Pure. Each rule compares one metric with thresholds; when it fires it yields
`{"code", "severity", "evidence": {"metric", "value", "threshold", "unit", "rep"}, "text": {lang: ...}}`.
Texts live in the message catalogs `pipeline/i18n/recommendations.{lang}.json` (one string per code,
placeholders `{rep}`, `{value}`, `{threshold}`, `{count}`); nothing is worded here. The rules, their
thresholds and sources are documented in docs/metrics/weightlifting.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

LANGUAGES = ("en", "es", "fr", "de", "pt", "it")
CATALOG_DIR = Path(__file__).resolve().parents[1] / "i18n"
Severity = Literal["info", "warning", "critical"]

SQUATS = frozenset({"back_squat", "front_squat"})
OLYMPIC = frozenset({"snatch", "clean", "clean_and_jerk"})
LEGS = SQUATS | OLYMPIC | {"deadlift"}
ALL = frozenset({*LEGS, "bench_press", "overhead_press"})
SIDE = frozenset({"side"})


@dataclass(frozen=True)
class Rule:
    """Fires when `metric` is beyond `threshold` (above or below) for an exercise in `exercises`.

    Per-rep rules read `summary["reps"][i][metric]` and report the worst rep; session rules read
    `summary[metric]`. `critical` escalates the severity; `views` limits the camera views.
    """

    code: str
    metric: str
    unit: str
    exercises: frozenset[str]
    threshold: float | Mapping[str, float]
    direction: Literal["above", "below"] = "above"
    severity: Severity = "warning"
    critical: float | Mapping[str, float] | None = None
    per_rep: bool = True
    views: frozenset[str] | None = None
    last_rep_only: bool = False

    def threshold_for(self, exercise: str) -> float:
        return self.threshold[exercise] if isinstance(self.threshold, Mapping) else self.threshold

    def critical_for(self, exercise: str) -> float | None:
        if self.critical is None:
            return None
        return self.critical[exercise] if isinstance(self.critical, Mapping) else self.critical


RULES: tuple[Rule, ...] = (
    Rule("squat_depth_above_parallel", "thigh_angle_deg", "deg", SQUATS, 5.0, critical=20.0, views=SIDE),
    Rule("excessive_trunk_lean", "trunk_lean_max_deg", "deg", SQUATS,
         {"back_squat": 50.0, "front_squat": 35.0}, critical={"back_squat": 60.0, "front_squat": 45.0}, views=SIDE),
    Rule("knee_asymmetry", "knee_asymmetry_deg", "deg", LEGS, 10.0, critical=20.0,
         views=frozenset({"front", "oblique"})),
    Rule("bar_path_deviation", "bar_horizontal_deviation_m", "m", ALL - OLYMPIC, 0.08, critical=0.15, views=SIDE),
    Rule("incomplete_hip_lockout", "lockout_hip_flexion_deg", "deg", frozenset({"deadlift"}), 15.0, critical=30.0,
         views=frozenset({"side", "oblique"})),
    Rule("incomplete_elbow_lockout", "lockout_elbow_flexion_deg", "deg",
         frozenset({"bench_press", "overhead_press"}), 15.0, critical=30.0),
    Rule("early_arm_bend", "early_arm_bend_deg", "deg", OLYMPIC, 20.0, critical=45.0, views=SIDE),
    Rule("bar_swings_forward", "bar_forward_in_turnover_m", "m", OLYMPIC, 0.10, critical=0.20, views=SIDE),
    Rule("power_catch", "catch_thigh_angle_deg", "deg", OLYMPIC, 5.0, severity="info", views=SIDE),
    Rule("near_failure_velocity", "mean_concentric_velocity_m_s", "m/s", SQUATS | {"deadlift", "bench_press",
         "overhead_press"}, {"back_squat": 0.30, "front_squat": 0.30, "deadlift": 0.15, "bench_press": 0.17,
                             "overhead_press": 0.20}, direction="below", severity="info", last_rep_only=True),
    Rule("velocity_loss_high", "velocity_loss_pct", "%", ALL, 20.0, critical=40.0, per_rep=False),
)
NO_ISSUES = "no_issues_found"
NO_REPS = "no_reps_found"
CODES: tuple[str, ...] = (*(r.code for r in RULES), NO_ISSUES, NO_REPS)


@cache
def catalog(lang: str) -> dict[str, Any]:
    """The message catalog of one language (code -> template; `_meta` holds formatting)."""
    with open(CATALOG_DIR / f"recommendations.{lang}.json", encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def _format_number(value: float, unit: str, lang: str) -> str:
    decimals = {"m": 2, "m/s": 2, "deg": 0, "%": 0}.get(unit, 1)
    sep = catalog(lang)["_meta"]["decimal_separator"]
    text = f"{value:.{decimals}f}".replace(".", sep)
    return f"{text}°" if unit == "deg" else f"{text} {unit}"


def render_text(code: str, evidence: Mapping[str, Any], count: int = 1) -> dict[str, str]:
    """The recommendation's sentence in every language, values formatted for each."""
    out = {}
    for lang in LANGUAGES:
        template = catalog(lang)[code]
        fields: dict[str, Any] = {"rep": "" if evidence.get("rep") is None else evidence["rep"] + 1, "count": count}
        for key in ("value", "threshold"):
            v = evidence.get(key)
            fields[key] = "" if v is None else _format_number(float(v), evidence.get("unit", ""), lang)
        out[lang] = template.format(**fields)
    return out


def _beyond(value: float, limit: float, direction: str) -> bool:
    return value > limit if direction == "above" else value < limit


def _recommendation(code: str, severity: Severity, metric: str | None, value: float | None,
                    threshold: float | None, unit: str | None, rep: int | None, count: int = 1) -> dict[str, Any]:
    evidence = {"metric": metric, "value": value, "threshold": threshold, "unit": unit, "rep": rep}
    return {"code": code, "severity": severity, "evidence": evidence, "text": render_text(code, evidence, count)}


def _apply(rule: Rule, exercise: str, summary: Mapping[str, Any]) -> dict[str, Any] | None:
    limit = rule.threshold_for(exercise)
    if rule.per_rep:
        reps = list(summary.get("reps") or [])
        if rule.last_rep_only:
            reps = reps[-1:]
        hits = [(r[rule.metric], r["index"]) for r in reps
                if r.get(rule.metric) is not None and _beyond(r[rule.metric], limit, rule.direction)]
        if not hits:
            return None
        value, rep = max(hits) if rule.direction == "above" else min(hits)
        count = len(hits)
    else:
        value = summary.get(rule.metric)
        if value is None or not _beyond(value, limit, rule.direction):
            return None
        rep, count = None, 1
    severity = rule.severity
    crit = rule.critical_for(exercise)
    if crit is not None and _beyond(value, crit, rule.direction):
        severity = "critical"
    return _recommendation(rule.code, severity, rule.metric, value, limit, rule.unit, rep, count)


def recommend(summary: Mapping[str, Any], view: str | None = None) -> list[dict[str, Any]]:
    """Recommendations for a weightlifting summary (`ActivityResult.summary`), most severe first."""
    exercise = summary.get("exercise") or "back_squat"
    view = view or summary.get("view")
    if not summary.get("rep_count"):
        return [_recommendation(NO_REPS, "info", "rep_count", 0.0, None, "count", None)]
    out = [rec for rule in RULES
           if exercise in rule.exercises and (rule.views is None or view in rule.views)
           for rec in [_apply(rule, exercise, summary)] if rec is not None]
    if not out:
        out.append(_recommendation(NO_ISSUES, "info", None, None, None, None, None))
    order = {"critical": 0, "warning": 1, "info": 2}
    return sorted(out, key=lambda r: order[r["severity"]])
