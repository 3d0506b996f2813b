"""What the user asked for: activity and per-activity options (DESIGN §10)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from pipeline.errors import InvalidOption

ACTIVITIES = ("jumping", "running", "weightlifting")
EXERCISES = ("back_squat", "front_squat", "deadlift", "bench_press", "overhead_press", "snatch", "clean",
             "clean_and_jerk")
JUMP_TYPES = ("cmj", "squat_jump", "drop_jump", "hops")
MODELS = ("lite", "full", "heavy")

Activity = Literal["jumping", "running", "weightlifting"]


@dataclass(frozen=True)
class AnalysisOptions:
    activity: str
    exercise: str | None = None
    athlete_height_m: float | None = None
    body_mass_kg: float | None = None
    treadmill_speed_m_s: float | None = None
    model: str = "full"
    jump_type: str | None = None
    sex: str | None = None
    age: float | None = None
    level: str | None = None
    select: str = "auto"
    owner: str = "local"
    render: bool = True

    def __post_init__(self) -> None:
        _check_choice("activity", self.activity, ACTIVITIES)
        if self.exercise is not None:
            _check_choice("exercise", self.exercise, EXERCISES)
        if self.jump_type is not None:
            _check_choice("jump type", self.jump_type, JUMP_TYPES)
        if self.sex is not None:
            _check_choice("sex", self.sex, ("F", "M"))
        _check_range("athlete height", self.athlete_height_m, 0.5, 2.6, "m")
        _check_range("body mass", self.body_mass_kg, 15, 300, "kg")
        _check_range("treadmill speed", self.treadmill_speed_m_s, 0.3, 12, "m/s")
        _check_range("age", self.age, 5, 110, "years")
        _check_select(self.select)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AnalysisOptions":
        return cls(**data)


def _check_choice(what: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidOption(f"unknown {what} {value!r}; expected one of {', '.join(allowed)}",
                            code="invalid_activity" if what == "activity" else "invalid_option")


def _check_range(what: str, value: float | None, lo: float, hi: float, unit: str) -> None:
    if value is not None and not lo <= value <= hi:
        raise InvalidOption(f"{what} {value} {unit} is outside {lo}-{hi} {unit}")


def _check_select(select: str) -> None:
    if select in ("auto", "largest", "moving"):
        return
    try:
        x, y = (float(v) for v in select.split(","))
    except ValueError:
        raise InvalidOption(f"--select takes largest, moving or X,Y (pixels in the first frame), got {select!r}")
    if x < 0 or y < 0:
        raise InvalidOption(f"--select point must be non-negative pixels, got {select!r}")
