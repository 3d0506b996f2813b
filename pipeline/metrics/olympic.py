"""Phases of an Olympic lift (snatch, clean, clean & jerk) inside one repetition.

Convention: the first axis is time, NaN = missing; heights are in pixels above the ground, y UP.
Everything is found on whole arrays restricted to the rep's frames; no per-frame loops.

Key positions, in this order (each at least one frame after the previous when the rep allows):

    liftoff -> knee_pass -> power_position -> full_extension -> peak_bar -> catch -> recovery

The pull follows the knee-angle definitions used in weightlifting biomechanics (Enoka 1979;
Gourgoulis et al. 2000; Campos et al. 2006):

- liftoff: the bar leaves the floor (the rep's start);
- knee_pass: first maximal knee extension (the bar passes the knees) = end of the first pull;
- power_position: maximal knee re-bend of the double knee bend = end of the transition;
- full_extension: second maximal knee extension = end of the second pull.

When the knees show no re-bend of at least `MIN_REBEND_DEG`, knee_pass is where the bar reaches
knee height and power_position where it reaches mid-thigh; without knee angles, full_extension
is the bar's fastest upward speed. Then:

- peak_bar: the first clear maximum of the bar height after the pull (end of the turnover);
- catch: the lifter's lowest hip position after the peak, i.e. the receiving position (end of the
  catch phase); the largest knee flexion when hips are not seen;
- recovery: the hips back up 80 % of the way from the catch to full extension (or the rep end);
- jerk (clean & jerk only): the bar's highest point after recovery, and the dip before it.

Phases: first_pull [liftoff, knee_pass], transition [knee_pass, power_position], second_pull
[power_position, full_extension], turnover [full_extension, peak_bar], catch [peak_bar, catch],
recovery [catch, recovery], jerk [recovery, jerk_lockout]. Authors differ on where turnover ends
and catch begins; docs/metrics/weightlifting.md says why this split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pipeline.metrics.reps import bridge_nans

FloatArray = NDArray[np.float64]

PEAK_LEVEL = 0.6           # the pull's peak is the first maximum above 60 % of the rep's bar rise
PEAK_DROP = 0.03           # ... confirmed once the bar drops 3 % of the rise below it
CATCH_RISE = 0.05          # the catch is the first hip minimum followed by a 5 %-of-height rise
RECOVERY_SHARE = 0.8
MIN_REBEND_DEG = 3.0       # a double knee bend smaller than this is noise
MIN_FIRST_EXTENSION_DEG = 10.0  # ... and it comes after the knees extended this much off the floor
JERK_MIN_RISE = 0.10       # the jerk lifts the bar >= 10 % of the athlete's height above the rack


@dataclass(frozen=True)
class OlympicKeyFrames:
    liftoff: int
    knee_pass: int
    power_position: int
    full_extension: int
    peak_bar: int
    catch: int
    recovery: int
    jerk_dip: int | None = None
    jerk_lockout: int | None = None
    double_knee_bend: bool = False
    recovered: bool = False          # the lifter stood up from the catch within the clip

    def phases(self) -> dict[str, tuple[int, int]]:
        """Phase name -> (first frame, last frame), in time order."""
        out = {
            "first_pull": (self.liftoff, self.knee_pass),
            "transition": (self.knee_pass, self.power_position),
            "second_pull": (self.power_position, self.full_extension),
            "turnover": (self.full_extension, self.peak_bar),
            "catch": (self.peak_bar, self.catch),
        }
        if self.recovered:
            out["recovery"] = (self.catch, self.recovery)
        if self.jerk_lockout is not None:
            out["jerk"] = (self.recovery, self.jerk_lockout)
        return out


def _first(mask: NDArray[np.bool_]) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


def _ok(x: FloatArray) -> bool:
    return bool(np.isfinite(x).mean() >= 0.5) if len(x) else False


def _first_peak(h: FloatArray, level: float, drop: float) -> int:
    """Index of the first maximum of h above `level` (confirmed by a fall of `drop`)."""
    j = _first(h >= level)
    if j is None:
        return int(np.argmax(h))
    run_max = np.maximum.accumulate(h[j:])
    k = _first(run_max - h[j:] >= max(drop, 1e-9))
    stop = len(h) if k is None else j + max(k, 1)
    return j + int(np.argmax(h[j:stop]))


def _first_trough(h: FloatArray, rise: float) -> int:
    """Index of the first minimum of h that is followed by a rise of `rise` (else the global min)."""
    run_min = np.minimum.accumulate(h)
    k = _first(h - run_min >= max(rise, 1e-9))
    stop = len(h) if k is None else max(k, 1)
    return int(np.argmin(h[:stop]))


def find_key_frames(time_s: FloatArray, bar_h: FloatArray, hip_h: FloatArray, knee_h: FloatArray,
                    knee_flexion: FloatArray, start: int, stop: int, height_px: float,
                    jerk: bool = False) -> OlympicKeyFrames:
    """Key frames of the lift whose bar leaves the floor at `start`; `stop` is the last frame to look at.

    Arrays are (T,) over the whole clip (NaN = missing); returned indices are clip frames.
    """
    sl = slice(start, stop + 1)
    bar = bridge_nans(bar_h[sl])
    hip, knee_y, kf = hip_h[sl], knee_h[sl], knee_flexion[sl]
    t = np.asarray(time_s[sl], dtype=np.float64)
    n = len(bar)
    rise = float(np.nanmax(bar) - bar[0]) if n else 0.0

    peak = _first_peak(bar, bar[0] + PEAK_LEVEL * rise, PEAK_DROP * rise)
    knee_pass = power = None
    rebend = False
    if _ok(kf[:peak + 1]):
        k = bridge_nans(kf[:peak + 1])
        full_ext = int(np.argmin(k))
        seg = k[:full_ext + 1]
        run_min = np.minimum.accumulate(seg)
        # re-bend since the last extension, once the knees have extended in the first pull
        bend = np.where(run_min <= seg[0] - MIN_FIRST_EXTENSION_DEG, seg - run_min, 0.0)
        j = int(np.argmax(bend))
        if bend[j] >= MIN_REBEND_DEG:
            knee_pass, power, rebend = int(np.argmin(seg[:j + 1])), j, True
    else:
        v = np.gradient(bar, t) if n > 1 else np.zeros(n)
        full_ext = int(np.argmax(v[:peak + 1]))
    if knee_pass is None:
        # no double knee bend seen: the bar at knee height, then at mid-thigh (typical heights
        # over the pull, so a leg hidden by the plates for a few frames does not matter)
        knee_lvl = float(np.nanmedian(knee_y[:full_ext + 1])) if _ok(knee_y[:full_ext + 1]) else np.nan
        hip_lvl = float(np.nanmedian(hip[:full_ext + 1])) if _ok(hip[:full_ext + 1]) else np.nan
        hit = _first(bar[:full_ext + 1] >= knee_lvl) if np.isfinite(knee_lvl) else None
        knee_pass = hit if hit is not None else full_ext // 3
        hit = _first(bar[knee_pass:full_ext + 1] >= (knee_lvl + hip_lvl) / 2) if np.isfinite(hip_lvl) else None
        power = knee_pass + hit if hit is not None else (knee_pass + 2 * full_ext) // 3

    after = slice(peak, n)
    if _ok(hip[after]):
        catch = peak + _first_trough(bridge_nans(hip[after]), CATCH_RISE * height_px)
    elif _ok(kf[after]):
        catch = peak + int(np.nanargmax(np.where(np.isfinite(kf[after]), kf[after], -np.inf)))
    else:
        catch = peak + int(np.argmin(bar[after]))

    recovery, recovered = n - 1, False
    if _ok(hip[catch:]) and np.isfinite(hip[full_ext]):
        h = bridge_nans(hip[catch:])
        up = _first(h >= h[0] + RECOVERY_SHARE * (hip[full_ext] - h[0]))
        if up is not None and up > 0:
            recovery, recovered = catch + up, True

    jerk_dip = jerk_lockout = None
    if jerk and recovery < n - 1:
        top = recovery + int(np.argmax(bar[recovery:]))
        if bar[top] - bar[recovery] >= JERK_MIN_RISE * height_px:
            jerk_lockout = top
            jerk_dip = recovery + (int(np.nanargmin(hip[recovery:top + 1])) if _ok(hip[recovery:top + 1]) else 0)

    if not recovered:
        catch = min(catch, n - 1)
        keys = _ordered([0, knee_pass, power, full_ext, peak, catch], n) + [n - 1]
    else:
        keys = _ordered([0, knee_pass, power, full_ext, peak, catch, recovery], n)
    shift = start
    return OlympicKeyFrames(
        *(k + shift for k in keys),
        jerk_dip=None if jerk_dip is None else jerk_dip + shift,
        jerk_lockout=None if jerk_lockout is None else max(jerk_lockout, keys[-1]) + shift,
        double_knee_bend=rebend,
        recovered=recovered,
    )


def _ordered(keys: list[int], n: int) -> list[int]:
    """Non-decreasing key frames, one frame apart where the rep is long enough."""
    out = np.asarray(keys, dtype=np.int64)
    if n >= len(keys):
        out = np.maximum.accumulate(out - np.arange(len(keys))) + np.arange(len(keys))
        out = np.minimum(out, n - len(keys) + np.arange(len(keys)))
    else:
        out = np.minimum(np.maximum.accumulate(out), n - 1)
    return [int(k) for k in out]
