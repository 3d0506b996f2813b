"""Running (and walking) gait metrics from a side view: what a running coach reads.

Conventions: the first axis is time, NaN = missing; image y points down. Events come from
`gait_events` (foot strike / toe-off per side, sub-frame). Definitions, units and limitations of
every metric are in docs/metrics/running.md; the short form:

- step: one foot's contact, from its foot strike to the next strike of either foot;
  step time = FS(i) - FS(i-1) when the previous strike was the other foot's and none is missing;
- cadence = 60 / mean step time (steps/min); stride = same-foot FS to FS;
- ground contact time = TO - FS; flight time = FS(i) - TO(i-1) when positive (running), double
  support = TO(i-1) - FS(i) when positive (walking); duty factor = contact time / stride time;
- vertical oscillation: hip-centre peak-to-trough within each step (px; cm with athlete height);
- overstride: heel ahead of the hip centre at foot strike (px; cm with athlete height);
- foot strike angle: foot (heel->toe) angle at FS minus the same foot's angle at 35 % of stance
  (foot flat), pattern after Altman & Davis (2012): > 8 deg rearfoot, < -1.6 deg forefoot;
- knee flexion at FS and its peak in stance; hip extension at TO; trunk lean from vertical.
- steps only between alternating strikes in one shot (`shots`) and within 30 % of the local rhythm;
  leg-label exchanges found from the strikes' alternation are undone first (`gait_labels`);
- cadence: the events' when within 4 % of the feet's rhythm (spectral), else the rhythm
  (`cadence_source`, `cadence_reason`); beyond 10 % every value timed by or measured at the events
  is withheld.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeline.metrics.gait_events import SIDES, Contacts, detect_contacts, runs
from pipeline.metrics.naming import unit_of
from pipeline.metrics.result import ActivityResult, Event, Metric
from pipeline.metrics.gait_labels import exchange_angles, exchange_legs, swapped_frames
from pipeline.metrics.shots import Shots, detect_shots
from pipeline.metrics.view import ViewInfo, facing_sign
from pipeline.options import AnalysisOptions
from pipeline.pose.landmarks import Landmark as L
from pipeline.pose.sequence import PoseSequence

FloatArray = NDArray[np.float64]

# Low-pass cut-off for running clips: keeps the foot's impact corners sharp enough to time events
# within a few ms at 60 fps while removing pose jitter (zero phase; see pose.cleaning.lowpass).
CUTOFF_HZ = 10.0

BILATERAL_SHARE = 0.2       # strikes of both feet closer than this share of a stride: a jump, not a step
MISSED_STEP_RATIO = 1.6     # a step this much longer than the median hides a missed strike
STEP_TOLERANCE = 0.3        # a step time this share off the local rhythm is a missed or false strike ...
LOCAL_STEPS = 3             # ... the rhythm: the median of this many steps either side
CADENCE_AGREE = 0.04        # the event cadence is reported when within this share of the feet's rhythm
SPECTRAL_BAND_HZ = (0.3, 2.5)   # stride frequencies from slow walking to sprinting
CADENCE_MISMATCH = 0.1      # event and rhythm cadences further apart than this share: events unreliable
# per-step values timed by, or measured at, the foot strikes and toe-offs: blanked when those are unreliable
WITHHELD_WHEN_UNRELIABLE = frozenset({
    "contact_time_s", "flight_time_s", "double_support_s", "step_time_s", "stride_time_s", "duty_factor",
    "step_length_m", "stride_length_m", "vertical_oscillation_px", "vertical_oscillation_cm", "overstride_px",
    "overstride_cm", "foot_strike_angle_deg", "knee_flexion_at_contact_deg", "peak_knee_flexion_stance_deg",
    "hip_extension_at_toe_off_deg",
})
REARFOOT_DEG, FOREFOOT_DEG = 8.0, -1.6   # Altman & Davis (2012) foot strike angle thresholds
FLAT_FOOT_AT = 0.35         # share of stance at which the foot is flat (strike angle reference)
# Winter's segment fractions of body height: shank 0.246 + thigh 0.245 + trunk (hip-shoulder) 0.288
SHANK_THIGH_TRUNK_OF_HEIGHT = 0.779


def analyze(seq: PoseSequence, angles: dict[str, np.ndarray], view: ViewInfo,
            options: AnalysisOptions, shots: Shots | None = None) -> ActivityResult:
    """Gait metrics of a cleaned side-view sequence (swaps undone, low-passed at `CUTOFF_HZ`)."""
    facing = facing_sign(seq) if len(seq) else np.zeros(0)
    shots = shots if shots is not None else detect_shots(seq)
    rhythm_spm = spectral_cadence_spm(seq, shots)
    stride_s = 120.0 / rhythm_spm if np.isfinite(rhythm_spm) and rhythm_spm > 0 else None
    contacts = contacts_per_shot(seq, facing, stride_s, shots)
    warnings = _view_warnings(view)
    # strikes alternate: a leg-label exchange the cleaner could not see is undone, then looked at again
    swapped = swapped_frames(seq, contacts, stride_s / 2 if stride_s else _typical_step(contacts))
    if swapped.any():
        seq, angles = exchange_legs(seq, swapped), exchange_angles(angles, swapped)
        rhythm_spm = spectral_cadence_spm(seq, shots)          # the heels' separation flipped sign there
        stride_s = 120.0 / rhythm_spm if np.isfinite(rhythm_spm) and rhythm_spm > 0 else None
        contacts = contacts_per_shot(seq, facing, stride_s, shots)
        spans = runs(swapped)
        warnings.append({"code": "leg_labels_swapped",
                         "message": f"the pose model exchanged the legs' names in {len(spans[0])} stretch"
                                    f"{'es' if len(spans[0]) > 1 else ''} ({swapped.sum() / seq.fps:.1f} s in all, "
                                    f"from {seq.time_s[spans[0][0]]:.1f} s): undone, as left and right strikes "
                                    f"must alternate"})
    steps = gait_steps(contacts, shots.segment_at(seq.time_s, contacts.foot_strike_s))
    if not np.isfinite(steps.step_time_s).any():
        return _no_gait(contacts, steps, view, warnings)
    m_per_px = metres_per_pixel(seq, options.athlete_height_m)
    per_step = step_metrics(seq, angles, steps, facing, m_per_px, options.treadmill_speed_m_s)
    events_spm = event_cadence_spm(steps)
    unreliable = cadence_mismatch(events_spm, rhythm_spm)
    if steps.rejected:
        warnings.append({"code": "steps_off_rhythm",
                         "message": f"{steps.rejected} step time{'s' if steps.rejected > 1 else ''} more than "
                                    f"{STEP_TOLERANCE:.0%} off the local rhythm (a missed or false strike) "
                                    f"left out of the cadence and step times"})
    if unreliable:
        # the strikes and toe-offs are not the athlete's: nothing timed or measured at them is published
        per_step = {k: np.full(len(steps), np.nan) if k in WITHHELD_WHEN_UNRELIABLE else v
                    for k, v in per_step.items()}
        warnings.append({"code": "cadence_mismatch",
                         "message": f"cadence from foot strikes ({events_spm:.0f} steps/min) disagrees with the "
                                    f"rhythm of the feet ({rhythm_spm:.0f} steps/min), which is reported instead: "
                                    f"the foot strikes and toe-offs found are unreliable (jittery or occluded "
                                    f"feet), so contact and flight times, duty factor, step times and the values "
                                    f"measured at foot strike or toe-off are not reported"})
    summary = session_summary(steps, per_step, view, m_per_px, options, rhythm_spm)
    if len(steps) < 4:
        warnings.append({"code": "few_steps",
                         "message": f"only {len(steps)} steps found: the averages are rough"})
    return ActivityResult(
        activity="running", summary=summary, events=gait_event_rows(contacts, steps, seq.time_s),
        metrics=metric_rows(summary, steps, per_step), warnings=warnings,
    )


# --- steps ----------------------------------------------------------------------------------

class Steps:
    """Contacts with an observed foot strike, in time order, and their timing (NaN = undefined)."""

    def __init__(self, contacts: Contacts, keep: NDArray[np.bool_]) -> None:
        self.rows = np.flatnonzero(keep)              # index into `contacts`
        c = contacts[self.rows]
        self.side, self.fs, self.to, self.first, self.last = c.side, c.foot_strike_s, c.toe_off_s, c.first, c.last
        self.contact_time_s = self.to - self.fs
        self.step_time_s = np.full(len(self.rows), np.nan)
        self.stride_time_s = np.full(len(self.rows), np.nan)
        self.flight_time_s = np.full(len(self.rows), np.nan)
        self.next_fs = np.full(len(self.rows), np.nan)   # end of the step (next strike of either foot)
        self.rejected = 0                                 # step times left out: off the local rhythm

    def __len__(self) -> int:
        return len(self.rows)


def contacts_per_shot(seq: PoseSequence, facing: FloatArray, stride_s: float | None, shots: Shots) -> Contacts:
    """`detect_contacts` on each shot alone (a stance cut by a boundary has no strike or toe-off there)."""
    if len(shots) <= 1 and (len(shots) == 0 or (shots.first[0] == 0 and shots.last[0] == len(seq) - 1)):
        return detect_contacts(seq, facing, stride_s)
    parts = []
    for a, b in zip(shots.first.tolist(), shots.last.tolist()):
        c = detect_contacts(seq[a:b + 1], facing[a:b + 1] if len(facing) else facing, stride_s)
        parts.append(Contacts(c.side, c.foot_strike_s, c.toe_off_s, c.first + a, c.last + a))
    if not parts:
        return Contacts.empty()
    return Contacts(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                      ("side", "foot_strike_s", "toe_off_s", "first", "last")))


def _typical_step(contacts: Contacts) -> float:
    """Median time between consecutive strikes of opposite feet (NaN without any)."""
    fs, side = contacts.foot_strike_s, contacts.side
    ok = np.isfinite(fs)
    order = np.argsort(fs[ok])
    f, sd = fs[ok][order], side[ok][order]
    gap = np.diff(f)[sd[1:] != sd[:-1]]
    return float(np.median(gap)) if len(gap) else float("nan")


def _local_median(x: FloatArray, half: int) -> FloatArray:
    """Median of the finite values of x within `half` places either side, itself excluded."""
    n = len(x)
    if n == 0:
        return x.copy()
    pad = np.concatenate([np.full(half, np.nan), x, np.full(half, np.nan)])
    win = np.lib.stride_tricks.sliding_window_view(pad, 2 * half + 1).copy()
    win[:, half] = np.nan
    ok = np.isfinite(win).any(axis=1)
    out = np.full(n, np.nan)
    out[ok] = np.nanmedian(win[ok], axis=1)
    return out


def gait_steps(contacts: Contacts, segment: NDArray[np.int64] | None = None) -> Steps:
    """Steps of a gait: strikes that alternate between the feet, not both feet at once (a jump).

    `segment`: the shot of each contact's strike (`shots.Shots.segment_at`): no step spans a cut.
    A step whose time is more than `STEP_TOLERANCE` off the local rhythm (the median of the
    neighbouring steps) is a missed or a false strike: its time is not a step time."""
    has_fs = np.isfinite(contacts.foot_strike_s)
    if segment is not None:
        has_fs &= segment >= 0
    fs, side = contacts.foot_strike_s, contacts.side
    keep = has_fs.copy()
    # the nearest strike of the other foot; in a gait it is about half a stride away
    same_gap = _median_same_side_interval(fs[has_fs], side[has_fs])
    limit = BILATERAL_SHARE * same_gap if np.isfinite(same_gap) else 0.1
    for s in range(len(SIDES)):
        mine = has_fs & (side == s)
        other = np.sort(fs[has_fs & (side != s)])
        keep[mine] &= _nearest_distance(fs[mine], other) > limit
    steps = Steps(contacts, keep)
    n = len(steps)
    if n < 2:
        return steps
    seg = np.zeros(n, np.int64) if segment is None else segment[steps.rows]
    gap = np.diff(steps.fs)
    alternate = (steps.side[1:] != steps.side[:-1]) & (seg[1:] == seg[:-1])
    typical = np.median(gap[alternate]) if alternate.any() else np.nan
    plausible = alternate & (gap <= MISSED_STEP_RATIO * typical) & (gap >= typical / MISSED_STEP_RATIO)
    local = _local_median(np.where(plausible, gap, np.nan), LOCAL_STEPS)
    local = np.where(np.isfinite(local), local, typical)
    on_rhythm = np.abs(gap - local) <= STEP_TOLERANCE * local
    ok = plausible & on_rhythm
    steps.rejected = int((plausible & ~on_rhythm).sum())
    steps.step_time_s[1:] = np.where(ok, gap, np.nan)
    steps.next_fs[:-1] = np.where(ok, steps.fs[1:], np.nan)
    # flight: from the other foot's toe-off (the contact just before, in all contacts) to this strike
    prev_row = steps.rows - 1
    prev_ok = prev_row >= 0
    prev_row = np.maximum(prev_row, 0)
    prev_other = prev_ok & (contacts.side[prev_row] != steps.side)
    if segment is not None:
        prev_other &= segment[prev_row] == seg
    prev_to = np.where(prev_other, contacts.toe_off_s[prev_row], np.nan)
    near_enough = steps.fs - prev_to <= MISSED_STEP_RATIO * typical
    steps.flight_time_s[:] = np.where(near_enough, steps.fs - prev_to, np.nan)
    # stride: previous strike of the same foot, two steps back with the other foot's in between
    two_back = np.full(n, np.nan)
    two_back[2:] = np.where(ok[1:] & ok[:-1], steps.fs[2:] - steps.fs[:-2], np.nan)
    steps.stride_time_s[:] = two_back
    return steps


def _median_same_side_interval(fs: FloatArray, side: NDArray[np.int64]) -> float:
    gaps = [np.diff(np.sort(fs[side == s])) for s in range(len(SIDES))]
    gaps_all = np.concatenate(gaps) if gaps else np.zeros(0)
    return float(np.median(gaps_all)) if len(gaps_all) else float("nan")


def _nearest_distance(x: FloatArray, sorted_ref: FloatArray) -> FloatArray:
    """Distance from each x to the nearest value of `sorted_ref` (inf if it is empty)."""
    if len(sorted_ref) == 0:
        return np.full(len(x), np.inf)
    i = np.searchsorted(sorted_ref, x)
    below = sorted_ref[np.clip(i - 1, 0, len(sorted_ref) - 1)]
    above = sorted_ref[np.clip(i, 0, len(sorted_ref) - 1)]
    return np.minimum(np.abs(x - below), np.abs(above - x))


# --- cadence cross-check --------------------------------------------------------------------

def spectral_cadence_spm(seq: PoseSequence, shots: Shots | None = None) -> float:
    """Cadence from the rhythm of the feet, without events: the horizontal distance between the two
    heels swings once per stride, so its dominant frequency (0.3-2.5 Hz, zero-padded FFT of the
    longest stretch of seen frames, detrended) times 120 is steps/min. Cruder than event timing but
    immune to jittery heights: a disagreement flags unreliable events. NaN if under two strides.
    The stretch is taken within one shot (`shots`): another scene has another rhythm, or none."""
    if len(seq) < 8:
        return float("nan")
    xy = seq.image_xy
    sep = (xy[:, L.LEFT_HEEL, 0] - xy[:, L.RIGHT_HEEL, 0]).astype(np.float64)
    usable = np.isfinite(sep)
    if shots is not None:
        usable &= shots.segment_of(np.arange(len(seq))) >= 0
        usable[shots.first[1:]] = False                     # a stretch ends at every shot boundary
    starts, stops = runs(usable)
    if len(starts) == 0:
        return float("nan")
    longest = int(np.argmax(stops - starts))
    first, last = int(starts[longest]), int(stops[longest])
    t = seq.time_s[first:last + 1]
    x = sep[first:last + 1]
    if len(x) < 8:
        return float("nan")
    x = x - np.polyval(np.polyfit(t - t[0], x, 1), t - t[0])
    n = 8 * len(x)
    power = np.abs(np.fft.rfft(x * np.hanning(len(x)), n)) ** 2
    freqs = np.fft.rfftfreq(n, float(np.median(np.diff(t))))
    band = np.flatnonzero((freqs >= SPECTRAL_BAND_HZ[0]) & (freqs <= SPECTRAL_BAND_HZ[1]))
    k = band[np.argmax(power[band])]
    if (t[-1] - t[0]) * freqs[k] < 2 or k in (0, len(power) - 1):
        return float("nan")
    a, b, c = np.log(power[k - 1:k + 2] + 1e-300)           # parabolic peak on the log spectrum
    shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c != 0 else 0.0
    return float(120.0 * (freqs[k] + shift * (freqs[1] - freqs[0])))


def event_cadence_spm(steps: "Steps") -> float:
    """60 / mean step time between observed, alternating foot strikes (NaN without a step time)."""
    mean_step = _mean(steps.step_time_s)
    return 60.0 / mean_step if mean_step > 0 else float("nan")


def cadence_choice(events_spm: float, rhythm_spm: float) -> tuple[str | None, str | None]:
    """Which cadence is reported ("events" or "rhythm") and why: the foot strikes' when they agree
    with the feet's rhythm within `CADENCE_AGREE`, the rhythm's when they do not."""
    e, r = math.isfinite(events_spm), math.isfinite(rhythm_spm)
    if e and not r:
        return "events", "the rhythm of the feet could not be measured (under two strides seen in one stretch)"
    if r and not e:
        return "rhythm", "no step time between alternating foot strikes"
    if not (e or r):
        return None, None
    off = abs(events_spm - rhythm_spm) / rhythm_spm
    if off <= CADENCE_AGREE:
        return "events", (f"the foot strikes agree with the rhythm of the feet ({rhythm_spm:.1f} steps/min) "
                          f"within {CADENCE_AGREE:.0%}")
    return "rhythm", (f"the foot strikes ({events_spm:.1f} steps/min) are {off:.0%} off the rhythm of the feet: "
                      f"missed, false or mislabelled strikes")


def cadence_mismatch(events_spm: float, rhythm_spm: float) -> bool:
    """True when the event cadence is off the feet's rhythm by more than `CADENCE_MISMATCH`: the
    strikes found are fragments or misses, not the athlete's steps."""
    if not math.isfinite(rhythm_spm):
        return False
    return not math.isfinite(events_spm) or abs(events_spm - rhythm_spm) > CADENCE_MISMATCH * rhythm_spm


# --- per-step metrics -----------------------------------------------------------------------

def metres_per_pixel(seq: PoseSequence, athlete_height_m: float | None) -> float | None:
    """Image scale from the athlete's height: median shank + thigh + trunk in pixels is 0.779 of it.

    Segments rather than head-to-heel because a runner is never upright; medians over the clip
    because a segment shortens when it leaves the image plane."""
    if athlete_height_m is None or len(seq) == 0:
        return None
    xy = seq.image_xy.astype(np.float64)

    def length(a: list[int], b: list[int]) -> FloatArray:
        return np.linalg.norm(xy[:, a].mean(axis=1) - xy[:, b].mean(axis=1), axis=-1)

    parts = [
        np.nanmedian(np.concatenate([length([L[p + "KNEE"]], [L[p + "ANKLE"]]) for p in ("LEFT_", "RIGHT_")])),
        np.nanmedian(np.concatenate([length([L[p + "HIP"]], [L[p + "KNEE"]]) for p in ("LEFT_", "RIGHT_")])),
        np.nanmedian(length([L.LEFT_HIP, L.RIGHT_HIP], [L.LEFT_SHOULDER, L.RIGHT_SHOULDER])),
    ] if np.isfinite(xy).any() else [np.nan]
    body_px = float(np.sum(parts)) / SHANK_THIGH_TRUNK_OF_HEIGHT
    return athlete_height_m / body_px if np.isfinite(body_px) and body_px > 0 else None


def _at(t: FloatArray, x: FloatArray, when: FloatArray) -> FloatArray:
    """`x` linearly interpolated at times `when` (NaN where a neighbouring frame is NaN or out of range)."""
    if len(t) < 2 or len(when) == 0:
        return np.full(len(when), np.nan)
    i = np.clip(np.searchsorted(t, when) - 1, 0, len(t) - 2)
    frac = (when - t[i]) / (t[i + 1] - t[i])
    inside = np.isfinite(when) & (when >= t[0]) & (when <= t[-1])
    with np.errstate(invalid="ignore"):
        return np.where(inside, x[i] + np.clip(frac, 0, 1) * (x[i + 1] - x[i]), np.nan)


def _range_reduce(x: FloatArray, start: NDArray[np.int64], stop: NDArray[np.int64], how: str) -> FloatArray:
    """max / min / mean of x[start:stop] per row (NaN if empty or any NaN inside), vectorised."""
    n = len(x)
    out = np.full(len(start), np.nan)
    ok = (start < stop) & (start >= 0) & (stop <= n)
    if not ok.any() or n == 0:
        return out
    nan_count = np.concatenate([[0], np.cumsum(np.isnan(x))])
    clean = np.where(np.isnan(x), 0.0, x)
    s, e = start[ok], stop[ok]
    if how == "mean":
        csum = np.concatenate([[0.0], np.cumsum(clean)])
        vals = (csum[e] - csum[s]) / (e - s)
    else:
        # reduceat on the pairs (s, e) reduces x[s:e] for every pair (the odd entries are ignored);
        # an end at n is clipped to n - 1, so the last sample is folded back in
        ufunc = np.maximum if how == "max" else np.minimum
        idx = np.clip(np.stack([s, e], axis=1).ravel(), 0, n - 1)
        vals = ufunc.reduceat(clean, idx)[::2]
        vals = np.where(e == n, ufunc(vals, clean[n - 1]), vals)
    has_nan = nan_count[e] - nan_count[s] > 0
    out[ok] = np.where(has_nan, np.nan, vals)
    return out


def step_metrics(seq: PoseSequence, angles: dict[str, np.ndarray], steps: Steps, facing: FloatArray,
                 m_per_px: float | None, treadmill_speed: float | None) -> dict[str, FloatArray]:
    """Per-step arrays (NaN where undefined)."""
    t = seq.time_s
    n = len(steps)
    xy = seq.image_xy.astype(np.float64)
    nan = np.full(n, np.nan)

    def side_angle(name: str, when: FloatArray) -> FloatArray:
        out = nan.copy()
        for s, side in enumerate(SIDES):
            sel = steps.side == s
            series = angles.get(f"{side}_{name}")
            if series is not None and sel.any():
                out[sel] = _at(t, np.asarray(series, dtype=np.float64), when[sel])
        return out

    # foot strike angle: relative to the same foot when flat (removes camera roll, landmark offsets)
    strike_foot = side_angle("foot", steps.fs)
    flat_foot = side_angle("foot", steps.fs + FLAT_FOOT_AT * steps.contact_time_s)
    reference = nan.copy()
    for s in range(len(SIDES)):
        sel = steps.side == s
        if np.isfinite(flat_foot[sel]).any():
            reference[sel] = np.nanmedian(flat_foot[sel])
    strike_angle = strike_foot - np.where(np.isfinite(reference), reference, 0.0)
    # knee: at the strike and its peak over the contact's frames
    knee_fs = side_angle("knee_flexion", steps.fs)
    knee_peak = nan.copy()
    for s, side in enumerate(SIDES):
        sel = (steps.side == s) & np.isfinite(steps.to)
        series = angles.get(f"{side}_knee_flexion")
        if series is not None and sel.any():
            knee_peak[sel] = _range_reduce(np.asarray(series, np.float64), steps.first[sel], steps.last[sel] + 1, "max")
    hip_ext_to = -side_angle("hip_flexion", steps.to)
    # hip centre: height oscillation within each step; horizontal position for the overstride
    hip = xy[:, [L.LEFT_HIP, L.RIGHT_HIP]].mean(axis=1)
    start = np.searchsorted(t, steps.fs)
    stop = np.searchsorted(t, steps.next_fs, side="right")
    stop = np.where(np.isfinite(steps.next_fs), stop, start)
    vo_px = _range_reduce(hip[:, 1], start, stop, "max") - _range_reduce(hip[:, 1], start, stop, "min")
    heel_x = nan.copy()
    for s, side in enumerate(SIDES):
        sel = steps.side == s
        heel_x[sel] = _at(t, xy[:, L[side.upper() + "_HEEL"], 0], steps.fs[sel])
    fwd = _at(t, facing.astype(np.float64), steps.fs) if len(facing) else nan
    over_px = np.sign(fwd) * (heel_x - _at(t, hip[:, 0], steps.fs))
    trunk = angles.get("trunk")
    lean = 90.0 - _range_reduce(np.asarray(trunk, np.float64), start, stop, "mean") if trunk is not None else nan
    scale = m_per_px if m_per_px is not None else np.nan
    speed = treadmill_speed if treadmill_speed is not None else np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        duty = steps.contact_time_s / steps.stride_time_s
    gap = steps.flight_time_s             # < 0 when both feet are down (walking)
    return {
        "contact_time_s": steps.contact_time_s, "flight_time_s": np.where(np.isfinite(gap), np.maximum(gap, 0), np.nan),
        "double_support_s": np.where(np.isfinite(gap), np.maximum(-gap, 0), np.nan),
        "step_time_s": steps.step_time_s, "stride_time_s": steps.stride_time_s, "duty_factor": duty,
        "foot_strike_angle_deg": strike_angle, "knee_flexion_at_contact_deg": knee_fs,
        "peak_knee_flexion_stance_deg": knee_peak, "hip_extension_at_toe_off_deg": hip_ext_to,
        "vertical_oscillation_px": vo_px, "vertical_oscillation_cm": vo_px * scale * 100,
        "overstride_px": over_px, "overstride_cm": over_px * scale * 100, "trunk_lean_deg": lean,
        "step_length_m": steps.step_time_s * speed, "stride_length_m": steps.stride_time_s * speed,
    }


def strike_pattern(angle_deg: float) -> str | None:
    """rearfoot / midfoot / forefoot from the foot strike angle (Altman & Davis 2012); None if unknown."""
    if not math.isfinite(angle_deg):
        return None
    if angle_deg > REARFOOT_DEG:
        return "rearfoot"
    return "forefoot" if angle_deg < FOREFOOT_DEG else "midfoot"


# --- session summary and rows -----------------------------------------------------------------

def _num(x: float | np.floating | None, digits: int = 4) -> float | None:
    """JSON-safe number: None for NaN / inf."""
    if x is None:
        return None
    x = float(x)
    return round(x, digits) if math.isfinite(x) else None


def _mean(x: FloatArray) -> float:
    return float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")


def _asymmetry_pct(left: float, right: float) -> float:
    """Symmetry index: |L - R| over their mean, in %."""
    return 100.0 * abs(left - right) / ((left + right) / 2) if left + right > 0 else float("nan")


def session_summary(steps: Steps, per_step: dict[str, FloatArray], view: ViewInfo, m_per_px: float | None,
                    options: AnalysisOptions, rhythm_spm: float) -> dict[str, Any]:
    """The manifest's `metrics` block (DESIGN §10 keys first). `cadence_spm` is the event cadence,
    or the feet's rhythm when the two disagree (then the events are not to be trusted, and `analyze`
    has blanked the per-step values in `WITHHELD_WHEN_UNRELIABLE`)."""
    events_spm = event_cadence_spm(steps)
    source, reason = cadence_choice(events_spm, rhythm_spm)
    mean_step = _mean(per_step["step_time_s"])
    by_side = {name: {side: _mean(per_step[name][steps.side == s]) for s, side in enumerate(SIDES)}
               for name in ("step_time_s", "contact_time_s")}
    patterns = [strike_pattern(a) for a in per_step["foot_strike_angle_deg"]]
    counts = {p: patterns.count(p) for p in ("rearfoot", "midfoot", "forefoot")}
    majority = max(counts, key=counts.get) if any(counts.values()) else None
    stride = _mean(per_step["stride_time_s"])
    contact = _mean(per_step["contact_time_s"])
    duty = _mean(per_step["duty_factor"])
    if not math.isfinite(duty) and math.isfinite(mean_step) and math.isfinite(contact):
        duty = contact / (2 * mean_step)
    summary: dict[str, Any] = {
        "step_count": len(steps),
        "cadence_spm": _num(rhythm_spm if source == "rhythm" else events_spm, 2),
        "cadence_events_spm": _num(events_spm, 2),
        "cadence_rhythm_spm": _num(rhythm_spm, 2),
        "cadence_source": source,
        "cadence_reason": reason,
        "ground_contact_time_s": _num(contact),
        "flight_time_s": _num(_mean(per_step["flight_time_s"])),
        "double_support_time_s": _num(_mean(per_step["double_support_s"])),
        "duty_factor": _num(duty),
        "step_time_s": _num(mean_step),
        "stride_time_s": _num(stride),
        "step_time_by_side_s": {k: _num(v) for k, v in by_side["step_time_s"].items()},
        "step_time_asymmetry_pct": _num(_asymmetry_pct(*by_side["step_time_s"].values()), 2),
        "contact_time_by_side_s": {k: _num(v) for k, v in by_side["contact_time_s"].items()},
        "contact_time_asymmetry_pct": _num(_asymmetry_pct(*by_side["contact_time_s"].values()), 2),
        "vertical_oscillation_px": _num(_mean(per_step["vertical_oscillation_px"]), 2),
        "vertical_oscillation_cm": _num(_mean(per_step["vertical_oscillation_cm"]), 2),
        "overstride_px": _num(_mean(per_step["overstride_px"]), 2),
        "overstride_cm": _num(_mean(per_step["overstride_cm"]), 2),
        "foot_strike_pattern": majority,
        "foot_strike_pattern_counts": counts,
        "foot_strike_angle_deg": _num(_mean(per_step["foot_strike_angle_deg"]), 2),
        "knee_flexion_at_contact_deg": _num(_mean(per_step["knee_flexion_at_contact_deg"]), 2),
        "peak_knee_flexion_stance_deg": _num(_mean(per_step["peak_knee_flexion_stance_deg"]), 2),
        "hip_extension_at_toe_off_deg": _num(_mean(per_step["hip_extension_at_toe_off_deg"]), 2),
        "trunk_lean_deg": _num(_mean(per_step["trunk_lean_deg"]), 2),
        "speed_m_s": _num(options.treadmill_speed_m_s),
        "step_length_m": _num(_mean(per_step["step_length_m"]), 3),
        "stride_length_m": _num(_mean(per_step["stride_length_m"]), 3),
        "scale": {"m_per_px": _num(m_per_px, 6), "px_per_m": _num(1 / m_per_px if m_per_px else None, 2),
                  "source": "athlete_height" if m_per_px else None},
        "filter_cutoff_hz": CUTOFF_HZ,
        "view": view.view,
        "facing": view.facing,
        "steps": step_dicts(steps, per_step, patterns),
    }
    return summary


_STEP_KEYS = ("contact_time_s", "flight_time_s", "step_time_s", "duty_factor", "foot_strike_angle_deg",
              "knee_flexion_at_contact_deg", "peak_knee_flexion_stance_deg", "hip_extension_at_toe_off_deg",
              "vertical_oscillation_px", "vertical_oscillation_cm", "overstride_px", "overstride_cm",
              "trunk_lean_deg", "step_length_m", "stride_length_m")


def _json_column(x: FloatArray, digits: int = 4) -> list[float | None]:
    """Rounded values, None where not finite (vectorised: one pass per column, not per value)."""
    return [v if ok else None for v, ok in zip(np.round(x, digits).tolist(), np.isfinite(x).tolist())]


def step_dicts(steps: Steps, per_step: dict[str, FloatArray], patterns: list[str | None]) -> list[dict[str, Any]]:
    """One JSON-safe dict per step (a loop over steps, not frames)."""
    cols = {k: _json_column(per_step[k]) for k in _STEP_KEYS}
    fs, to = _json_column(steps.fs), _json_column(steps.to)
    side = steps.side.tolist()
    return [
        {"index": i, "side": SIDES[side[i]], "foot_strike_s": fs[i], "toe_off_s": to[i],
         **{k: cols[k][i] for k in _STEP_KEYS}, "foot_strike_pattern": patterns[i]}
        for i in range(len(steps))
    ]


def gait_event_rows(contacts: Contacts, steps: Steps, t: FloatArray) -> list[Event]:
    """foot_strike / toe_off rows; `index` is the step number (None for a toe-off whose strike was not seen)."""
    step_of = np.full(len(contacts), -1)
    step_of[steps.rows] = np.arange(len(steps))
    kinds = np.repeat([["foot_strike", "toe_off"]], len(contacts), axis=0).ravel()
    times = np.stack([contacts.foot_strike_s, contacts.toe_off_s], axis=1).ravel()
    sides = np.repeat(contacts.side, 2)
    index = np.repeat(step_of, 2)
    keep = np.isfinite(times) & ((kinds == "toe_off") | (index >= 0))
    order = np.flatnonzero(keep)[np.argsort(times[keep], kind="stable")]
    frames = _nearest_frame(t, times[order]).tolist()
    # Python values first: indexing NumPy arrays element by element costs more than the rows themselves
    kind, when, side, idx = (kinds[order].tolist(), times[order].tolist(), sides[order].tolist(),
                             index[order].tolist())
    return [Event(kind[r], when[r], frames[r], SIDES[side[r]], idx[r] if idx[r] >= 0 else None)
            for r in range(len(frames))]


def _nearest_frame(t: FloatArray, when: FloatArray) -> NDArray[np.int64]:
    if len(t) < 2:
        return np.zeros(len(when), np.int64)
    i = np.clip(np.searchsorted(t, when), 1, len(t) - 1)
    return np.where(when - t[i - 1] <= t[i] - when, i - 1, i)


def metric_rows(summary: dict[str, Any], steps: Steps, per_step: dict[str, FloatArray]) -> list[Metric]:
    """Session totals (index None, per side where split) and per-step values, named as in the manifest
    (`unit_of`: the unit suffix stays in the name). A distance in px is kept only where its cm value
    is missing (no athlete height): one row per (name, side, index), one unit per quantity."""
    rows: list[Metric] = []
    for key, value in summary.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if number and key != "filter_cutoff_hz" and not _calibrated_twin(key, summary.get(_cm_twin(key))):
            rows.append(Metric(key, float(value), unit_of(key)))
        elif key.endswith("_by_side_s") and isinstance(value, dict):
            name = key.replace("_by_side", "")
            rows.extend(Metric(name, float(v), "s", side) for side, v in value.items() if v is not None)
    skip = {"stride_time_s", "double_support_s"}
    sides = [SIDES[k] for k in steps.side.tolist()]
    for key, values in per_step.items():
        if key in skip:
            continue
        keep = np.isfinite(values)
        if key.endswith("_px") and _cm_twin(key) in per_step:
            keep &= ~np.isfinite(per_step[_cm_twin(key)])
        vals, unit = values.tolist(), unit_of(key)
        rows.extend(Metric(key, vals[i], unit, sides[i], i) for i in np.flatnonzero(keep).tolist())
    return rows


def _cm_twin(key: str) -> str:
    return key[:-3] + "_cm" if key.endswith("_px") else ""


def _calibrated_twin(key: str, cm_value: Any) -> bool:
    """A px summary whose cm twin is known: the cm row says it."""
    return key.endswith("_px") and isinstance(cm_value, (int, float)) and math.isfinite(cm_value)


# --- no gait / warnings ------------------------------------------------------------------------

def _view_warnings(view: ViewInfo) -> list[dict[str, str]]:
    if view.view == "side":
        return []
    seen = "the view could not be told" if view.view == "unknown" else f"this clip looks {view.view}"
    return [{"code": "not_side_view",
             "message": f"running metrics assume a side view; {seen}: heights and angles may be foreshortened"}]


def _no_gait(contacts: Contacts, steps: Steps, view: ViewInfo, warnings: list[dict[str, str]]) -> ActivityResult:
    if len(contacts) == 0:
        why = "no foot was seen leaving and touching the ground (standing, a lift, or feet out of view)"
    elif len(steps) == 0:
        why = "both feet touched down together (a jump), or no foot strike was seen"
    else:
        why = "foot strikes did not alternate between the feet"
    summary: dict[str, Any] = {
        "step_count": 0, "cadence_spm": None, "cadence_events_spm": None, "cadence_rhythm_spm": None,
        "cadence_source": None, "cadence_reason": None,
        "ground_contact_time_s": None, "flight_time_s": None,
        "double_support_time_s": None, "duty_factor": None, "step_time_s": None, "stride_time_s": None,
        "step_time_by_side_s": {"left": None, "right": None}, "step_time_asymmetry_pct": None,
        "contact_time_by_side_s": {"left": None, "right": None}, "contact_time_asymmetry_pct": None,
        "vertical_oscillation_px": None, "vertical_oscillation_cm": None, "overstride_px": None,
        "overstride_cm": None, "foot_strike_pattern": None,
        "foot_strike_pattern_counts": {"rearfoot": 0, "midfoot": 0, "forefoot": 0},
        "foot_strike_angle_deg": None, "knee_flexion_at_contact_deg": None, "peak_knee_flexion_stance_deg": None,
        "hip_extension_at_toe_off_deg": None, "trunk_lean_deg": None, "speed_m_s": None, "step_length_m": None,
        "stride_length_m": None, "scale": {"m_per_px": None, "px_per_m": None, "source": None},
        "filter_cutoff_hz": CUTOFF_HZ, "view": view.view, "facing": view.facing, "steps": [],
    }
    warnings = [*warnings, {"code": "no_gait_cycles", "message": f"no gait cycles found: {why}"}]
    return ActivityResult(activity="running", summary=summary, events=[], metrics=[], warnings=warnings)
