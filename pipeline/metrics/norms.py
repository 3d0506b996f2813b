"""Normative ranges for jump metrics, and what a value means against them.

Every range names its source (`SOURCES`), the population it was measured on and the method;
`docs/metrics/jumping.md` lists the same table. A rating is only given when the athlete's sex
is known (jump performance differs by ~30 % between men and women) and the population fits
the age and level given; otherwise the reason is returned instead of a rating.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SOURCES: dict[str, str] = {
    "haugen2021": (
        "Haugen TA, Breitschädel F, Wiig H, Seiler S. Countermovement jump height in national-team athletes "
        "of various sports: a framework for practical decision-making. Int J Sports Physiol Perform. "
        "2021;16(2):184-189. doi:10.1123/ijspp.2019-0964"),
    "larkin2024": (
        "Larkin J, Myre P, Larkin L. Vertical jump assessment and norms for college students using a "
        "low-cost system. 2024 (n = 4,467 students aged 18-30+; countermovement jump-and-reach)"),
    "cruvinel2018": (
        "Cruvinel-Cabral RM, Oliveira-Silva I, Medeiros AR, Claudino JG, Jiménez-Reyes P, Boullosa DA. "
        "The validity and reliability of the 'My Jump App' for measuring jump height of the elderly. "
        "PeerJ. 2018;6:e5804. doi:10.7717/peerj.5804"),
    "herrington2010": (
        "Herrington L, Munro A. Drop jump landing knee valgus angle; normative data in a physically "
        "active population. Phys Ther Sport. 2010;11(2):56-59. doi:10.1016/j.ptsp.2009.11.004"),
    "padua2009": (
        "Padua DA, Marshall SW, Boling MC, Thigpen CA, Garrett WE, Beutler AI. The Landing Error Scoring "
        "System (LESS) is a valid and reliable clinical assessment tool of jump-landing biomechanics: "
        "the JUMP-ACL study. Am J Sports Med. 2009;37(10):1996-2002"),
}

# Levels as users type them -> the population a norm was measured on.
LEVELS: dict[str, str] = {
    "elite": "elite", "national": "elite", "international": "elite", "professional": "elite", "pro": "elite",
    "olympic": "elite",
    "recreational": "general", "active": "general", "amateur": "general", "general": "general",
    "untrained": "general", "beginner": "general", "novice": "general", "college": "general",
    "student": "general", "intermediate": "general",
    "trained": "trained", "competitive": "trained", "advanced": "trained", "club": "trained",
}


@dataclass(frozen=True)
class NormRange:
    """Typical values of `metric` for one population. `low`..`high` is the 'within' band."""

    metric: str
    low: float
    high: float
    unit: str
    sex: str | None            # "F" | "M" | None (both)
    levels: tuple[str, ...]    # populations from LEVELS' values; () = any level
    age: tuple[float, float]   # years, inclusive
    population: str
    method: str
    source: str                # key of SOURCES


NORMS: tuple[NormRange, ...] = (
    # CMJ height, national-team athletes (force plate; 989 men, 588 women, 44 sports): the band
    # spans the sport-category means (precision sports ... strength/power sports).
    NormRange("jump_height_m", 0.35, 0.52, "m", "M", ("elite",), (16, 40),
              "national-team athletes, 44 sports (men)", "force plate, flight of the centre of mass",
              "haugen2021"),
    NormRange("jump_height_m", 0.24, 0.40, "m", "F", ("elite",), (16, 40),
              "national-team athletes, 44 sports (women)", "force plate, flight of the centre of mass",
              "haugen2021"),
    # College students: mean ± ~15 % around the reported means (men 49.8 cm, women 30.0 cm);
    # jump-and-reach with arm swing reads higher than a flight-time CMJ with hands on hips.
    NormRange("jump_height_m", 0.42, 0.57, "m", "M", ("general", "trained"), (18, 35),
              "college students (men)", "jump-and-reach, arm swing", "larkin2024"),
    NormRange("jump_height_m", 0.25, 0.35, "m", "F", ("general", "trained"), (18, 35),
              "college students (women)", "jump-and-reach, arm swing", "larkin2024"),
    # Older adults: best CMJ 10.8 ± 5.2 cm (contact mat = flight time), both sexes.
    NormRange("jump_height_m", 0.056, 0.160, "m", None, (), (60, 110),
              "older adults (n = 41)", "contact mat, flight time", "cruvinel2018"),
    # Frontal-plane projection angle at maximal knee flexion of a drop-jump landing, 18-28 y.
    NormRange("knee_valgus_deg", 3.0, 8.0, "deg", "M", (), (16, 40),
              "physically active adults 18-28 y (men)", "2-D video, FPPA at peak knee flexion", "herrington2010"),
    NormRange("knee_valgus_deg", 7.0, 13.0, "deg", "F", (), (16, 40),
              "physically active adults 18-28 y (women)", "2-D video, FPPA at peak knee flexion",
              "herrington2010"),
    # LESS item 1: knee flexion at initial contact above 30° is scored as no error.
    NormRange("landing_knee_flexion_deg", 30.0, 90.0, "deg", None, (), (10, 110),
              "LESS screening criterion (any population)", "knee flexion at initial contact", "padua2009"),
)


def level_group(level: str | None) -> str | None:
    return LEVELS.get(level.strip().lower()) if level else None


def find_norm(metric: str, sex: str | None, age: float | None, level: str | None) -> NormRange | None:
    """The best-matching range for the athlete, or None when no population fits."""
    group = level_group(level)
    fits = []
    for n in NORMS:
        if n.metric != metric:
            continue
        if n.sex is not None and n.sex != sex:
            continue
        if age is not None and not n.age[0] <= age <= n.age[1]:
            continue
        if age is None and n.age[0] >= 60:          # older-adult norms only when the age says so
            continue
        if n.levels and (group is None and "general" not in n.levels or group is not None and group not in n.levels):
            continue
        fits.append(n)
    if not fits:
        return None
    # prefer a range measured on exactly this sex, then on this level
    return sorted(fits, key=lambda n: (n.sex is None, not n.levels))[0]


def interpret(metric: str, value: float | None, sex: str | None, age: float | None,
              level: str | None) -> dict[str, Any] | None:
    """Where `value` sits against the athlete's normative range, with the source; None without a value."""
    if value is None:
        return None
    needs_sex = any(n.metric == metric and n.sex is not None for n in NORMS)
    norm = find_norm(metric, sex, age, level)
    if norm is None:
        why = ("give the athlete's sex" if needs_sex and sex is None
               else "no normative range for this sex, age and level")
        return {"metric": metric, "value": value, "rating": None, "reason": why}
    rating = "below" if value < norm.low else "above" if value > norm.high else "within"
    return {
        "metric": metric, "value": value, "rating": rating,
        "range": [norm.low, norm.high], "unit": norm.unit,
        "population": norm.population, "method": norm.method,
        "source": norm.source, "reference": SOURCES[norm.source],
    }
