"""One naming rule for metric names across activities (the `metrics` table, the manifest).

A metric is named like its manifest key, with its unit as the name's last part: `flight_time_s`,
`jump_height_m`, `takeoff_velocity_m_s`, `trunk_lean_deg`, `cadence_spm`, `vertical_oscillation_cm`,
`velocity_loss_pct`. A name without a unit suffix is a count (`*_count`) or a ratio (`duty_factor`).
The `unit` column of the table repeats the unit in words a plotting library can print.
"""

from __future__ import annotations

# longest suffix first: `_m_s` before `_s`, `_pct_height` before ... `_height`
SUFFIX_UNITS: tuple[tuple[str, str], ...] = (
    ("_m_s", "m/s"), ("_pct_height", "%"), ("_pct", "%"), ("_spm", "steps/min"), ("_deg", "deg"),
    ("_cm", "cm"), ("_px", "px"), ("_hz", "Hz"), ("_w", "W"), ("_s", "s"), ("_m", "m"), ("_count", "count"),
)


def unit_of(name: str) -> str:
    """The unit a metric name states; `ratio` for a name without a unit suffix."""
    return next((unit for suffix, unit in SUFFIX_UNITS if name.endswith(suffix)), "ratio")
