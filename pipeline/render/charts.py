"""Lift-analysis charts (matplotlib, Agg canvas, no pyplot state): bar path, angles, bar velocity.

Each function takes plain arrays and the rep dicts of a weightlifting summary, writes one PNG and
returns its path. The first axis of every array is time; NaN = missing (left as gaps).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
REP_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
PHASE_COLOURS = {"first_pull": "#c6dbef", "transition": "#fdd0a2", "second_pull": "#fcbba1", "turnover": "#dadaeb",
                 "catch": "#c7e9c0", "recovery": "#f0f0f0", "jerk": "#fee391"}


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, format="png")
    return path


def _frame_range(t: FloatArray, start_s: float | None, end_s: float | None) -> slice:
    lo = 0 if start_s is None else int(np.searchsorted(t, start_s))
    hi = len(t) if end_s is None else int(np.searchsorted(t, end_s, side="right"))
    return slice(lo, max(lo + 1, hi))


def bar_path_chart(path: Path, t: FloatArray, forward: FloatArray, height: FloatArray,
                   reps: Sequence[Mapping[str, Any]], unit: str, title: str) -> Path:
    """Bar height against its horizontal position (forward of the mid-foot), one colour per rep."""
    fig = _figure(5.5, 6.5)
    ax = fig.add_subplot()
    ax.axvline(0.0, color="0.6", lw=1, ls="--", label="mid-foot")
    if reps:
        for k, rep in enumerate(reps):
            end = rep.get("end_s") or rep.get("lockout_s")
            sl = _frame_range(t, rep.get("start_s"), end)
            c = REP_COLOURS[k % len(REP_COLOURS)]
            ax.plot(forward[sl], height[sl], color=c, lw=2, label=f"rep {k + 1}")
            for key, marker in (("start_s", "o"), ("bottom_s", "v"), ("lockout_s", "^")):
                if rep.get(key) is not None:
                    i = min(len(t) - 1, int(np.searchsorted(t, rep[key])))
                    ax.plot(forward[i], height[i], marker, color=c, ms=7)
    else:
        ax.plot(forward, height, color=REP_COLOURS[0], lw=1.5, label="whole clip")
    ax.set_xlabel(f"horizontal position, forward of mid-foot ({unit})")
    ax.set_ylabel(f"bar height above the floor ({unit})")
    ax.set_title(title)
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def angles_chart(path: Path, t: FloatArray, series: Mapping[str, FloatArray], reps: Sequence[Mapping[str, Any]],
                 title: str) -> Path:
    """Angles over time with the reps shaded, bottoms marked and Olympic phases as bands."""
    fig = _figure(10, 4.5)
    ax = fig.add_subplot()
    shown: set[str] = set()
    for k, rep in enumerate(reps):
        phases = rep.get("phases")
        if phases:
            for name, span in phases.items():
                label = None if name in shown else name.replace("_", " ")
                shown.add(name)
                ax.axvspan(span["start_s"], span["end_s"], color=PHASE_COLOURS.get(name, "0.9"), alpha=0.8, lw=0,
                           label=label)
        else:
            end = rep.get("end_s") or t[-1]
            ax.axvspan(rep["start_s"], end, color=REP_COLOURS[k % len(REP_COLOURS)], alpha=0.08, lw=0)
        if rep.get("bottom_s") is not None:
            ax.axvline(rep["bottom_s"], color="0.3", lw=0.8, ls=":")
    for name, values in series.items():
        ax.plot(t, values, lw=1.6, label=name)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("angle (deg)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return _save(fig, path)


def velocity_chart(path: Path, t: FloatArray, velocity: FloatArray, reps: Sequence[Mapping[str, Any]],
                   title: str) -> Path:
    """Vertical bar velocity over time; the concentric part of each rep highlighted."""
    fig = _figure(10, 3.5)
    ax = fig.add_subplot()
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.plot(t, velocity, color="0.35", lw=1.2, label="bar vertical velocity")
    for k, rep in enumerate(reps):
        lo, hi = rep.get("concentric_start_s"), rep.get("concentric_end_s")
        if lo is None or hi is None:
            continue
        sl = _frame_range(t, lo, hi)
        ax.plot(t[sl], velocity[sl], color=REP_COLOURS[k % len(REP_COLOURS)], lw=2.2,
                label=f"rep {k + 1} concentric")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("velocity (m/s)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    return _save(fig, path)
