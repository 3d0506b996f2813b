"""What the user asked for: activity and per-activity options (DESIGN §10).

`AnalysisOptions` is the one model of the options: the CLI builds it from its flags and the API
from a request body (`AnalysisOptions.from_client`), so both refuse the same things with the same
codes before any work starts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, get_type_hints

from pipeline.errors import InvalidOption
from pipeline.video import TimeWindow

ACTIVITIES = ("jumping", "running", "weightlifting")
EXERCISES = ("back_squat", "front_squat", "deadlift", "bench_press", "overhead_press", "snatch", "clean",
             "clean_and_jerk")
JUMP_TYPES = ("cmj", "squat_jump", "drop_jump", "hops")
MODELS = ("lite", "full", "heavy")

Activity = Literal["jumping", "running", "weightlifting"]

# options that only mean something for one activity: given for another, they are a mistake
_ONLY_FOR = {"exercise": "weightlifting", "jump_type": "jumping", "treadmill_speed_m_s": "running"}
_NOT_CLIENT_OPTIONS = ("activity", "owner")  # from the route and the API key, never from a request body
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


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
    start_s: float | None = None   # analyse only [start_s, end_s) of the clip (seconds, the clip's own time)
    end_s: float | None = None

    def __post_init__(self) -> None:
        _check_choice("activity", self.activity, ACTIVITIES)
        if self.exercise is not None:
            _check_choice("exercise", self.exercise, EXERCISES)
        if self.jump_type is not None:
            _check_choice("jump type", self.jump_type, JUMP_TYPES)
        if self.sex is not None:
            _check_choice("sex", self.sex, ("F", "M"))
        _check_model(self.model, allow_path=True)
        for name, activity in _ONLY_FOR.items():
            if getattr(self, name) is not None and self.activity != activity:
                raise InvalidOption(f"{name.replace('_', ' ')} applies to {activity} only, not to {self.activity}")
        _check_range("athlete height", self.athlete_height_m, 0.5, 2.6, "m")
        _check_range("body mass", self.body_mass_kg, 15, 300, "kg")
        _check_range("treadmill speed", self.treadmill_speed_m_s, 0.3, 12, "m/s")
        _check_range("age", self.age, 5, 110, "years")
        _check_select(self.select)
        _check_window(self.start_s, self.end_s)

    @property
    def window(self) -> TimeWindow:
        return TimeWindow(self.start_s or 0.0, self.end_s)

    def check_window(self, duration_s: float) -> None:
        """InvalidOption unless the window starts inside the clip (probed duration) and ends in it."""
        if self.start_s is not None and self.start_s >= duration_s:
            raise InvalidOption(f"start {self.start_s} s is not inside the clip, which lasts {duration_s:.3f} s")
        if self.end_s is not None and self.end_s > duration_s + 1e-3:
            raise InvalidOption(f"end {self.end_s} s is after the end of the clip, which lasts {duration_s:.3f} s")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AnalysisOptions":
        return cls(**data)

    @classmethod
    def from_client(cls, raw: Mapping[str, Any], activity: str, owner: str) -> "AnalysisOptions":
        """Options from an untrusted caller (form strings or JSON values): unknown names, wrong types
        and a `model` that is not a bundled name (a path on the server) are `InvalidOption`."""
        hints = get_type_hints(cls)
        allowed = {f.name for f in fields(cls)} - set(_NOT_CLIENT_OPTIONS)
        values: dict[str, Any] = {}
        for name, value in raw.items():
            if name not in allowed:
                raise InvalidOption(f"unknown option {name!r}; known: {', '.join(sorted(allowed))}")
            values[name] = _coerce(name, value, hints[name])
        if values.get("model") is not None:
            _check_model(values["model"], allow_path=False)
        return cls(activity=activity, owner=owner, **{k: v for k, v in values.items() if v is not None})


def _coerce(name: str, value: Any, hint: Any) -> Any:
    if value is None or value == "":
        return None
    kinds = getattr(hint, "__args__", (hint,))
    try:
        if bool in kinds:
            if isinstance(value, bool):
                return value
            if str(value).lower() in _TRUE + _FALSE:
                return str(value).lower() in _TRUE
            raise ValueError
        if float in kinds:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if not isinstance(value, str):
            raise ValueError
        return value
    except (TypeError, ValueError):
        raise InvalidOption(f"option {name!r} has an invalid value {value!r}") from None


def _check_choice(what: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidOption(f"unknown {what} {value!r}; expected one of {', '.join(allowed)}",
                            code="invalid_activity" if what == "activity" else "invalid_option")


def _check_model(model: str, *, allow_path: bool) -> None:
    """A bundled name; a local `.task` bundle only from a trusted caller (the CLI, a worker)."""
    if model in MODELS or (allow_path and isinstance(model, str) and model.endswith(".task")):
        return
    also = " or a .task file" if allow_path else ""
    raise InvalidOption(f"unknown model {model!r}; expected one of {', '.join(MODELS)}{also}")


def _check_range(what: str, value: float | None, lo: float, hi: float, unit: str) -> None:
    if value is not None and not (math.isfinite(value) and lo <= value <= hi):
        raise InvalidOption(f"{what} {value} {unit} is outside {lo}-{hi} {unit}")


def _check_window(start_s: float | None, end_s: float | None) -> None:
    for name, value in (("start", start_s), ("end", end_s)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise InvalidOption(f"{name} must be a finite number of seconds >= 0, got {value}")
    if end_s is not None and end_s <= (start_s or 0.0):
        raise InvalidOption(f"end ({end_s} s) must be after start ({start_s or 0.0} s)")


def _check_select(select: str) -> None:
    if select in ("auto", "largest", "moving"):
        return
    try:
        x, y = (float(v) for v in select.split(","))
    except ValueError:
        raise InvalidOption(f"select takes largest, moving or X,Y (pixels in the first frame), got {select!r}")
    if not (math.isfinite(x) and math.isfinite(y)) or x < 0 or y < 0:
        raise InvalidOption(f"select point must be finite, non-negative pixels, got {select!r}")
