"""What an activity analysis returns: a JSON summary, event rows, metric rows and warnings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """A moment in the clip: takeoff, landing, foot_strike, toe_off, rep_start, rep_bottom, ..."""

    type: str
    time_s: float          # sub-frame where the method allows
    frame: int             # nearest frame index
    side: str | None = None  # "left" | "right" | None
    index: int | None = None  # jump / step / rep number (0-based)


@dataclass(frozen=True)
class Metric:
    """One number with its unit: per jump / step / rep (`index`) or for the session (`index=None`)."""

    name: str
    value: float
    unit: str
    side: str | None = None
    index: int | None = None


@dataclass
class ActivityResult:
    """`summary` is the manifest's `metrics` block (keys of DESIGN §10); rows feed the Parquet tables."""

    activity: str
    summary: dict[str, Any]
    events: list[Event] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)  # {code, message}
