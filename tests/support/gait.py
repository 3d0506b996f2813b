"""A kinematic runner / walker seen from the side, with exactly known gait events.

World frame: metres, x forward (the direction of travel), y up, ground at y = 0; time in seconds.
Each foot follows a fixed schedule of stance (foot strike FS -> toe-off TO) and swing:

- stance: the contact point never slides. A rearfoot strike lands on the heel, toes up, and rolls
  about the heel to flat; a forefoot strike lands on the toes and lowers the heel about them; the
  foot then stays flat until the heel rises about the toe, which is the last point on the ground.
- swing (TO -> next FS): the ankle follows a clamped cubic spline through a mid-swing point (knee
  well flexed). The end velocities come from the contacts: the toe leaves the ground with
  `toe_off_velocity`; the strike point hits it with `strike_velocity` and stops dead (an impact).
- the hip centre moves forward at `speed_m_s` and oscillates vertically (lowest at mid-stance when
  running, highest when walking); knees come from two-link inverse kinematics, bending forward.

Segment lengths are Winter's fractions of body height. Overground, the camera is fixed and the
figure runs across the frame (entering and leaving: frames without the hip are not detected,
landmarks outside the image are NaN); on a treadmill the belt carries the stance foot backwards
and the hip stays put. Event times are exact (not frame-quantised), so detectors can be scored
at any fps.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from scipy.interpolate import CubicSpline

from pipeline.pose.landmarks import NUM_LANDMARKS, Landmark as L
from pipeline.pose.sequence import PoseSequence

Array = NDArray[np.float64]
SIDES = ("left", "right")

# Fractions of body height (Winter 2009, segment lengths).
THIGH, SHANK, TRUNK = 0.245, 0.246, 0.288
FOOT, ANKLE_HEIGHT, ANKLE_FROM_HEEL = 0.152, 0.039, 0.038
UPPER_ARM, FOREARM, HAND = 0.186, 0.146, 0.06
EAR_ABOVE_SHOULDER = 0.10


@dataclass(frozen=True)
class GaitSpec:
    cadence_spm: float
    contact_s: float
    speed_m_s: float
    hip_height: float                 # mean hip-centre height / body height
    vertical_oscillation_m: float     # hip centre, peak to trough within each step
    low_at_midstance: bool            # running (spring-mass); walking vaults: highest at mid-stance
    strike_angle_deg: float           # foot vs ground at FS: > 0 toes up (heel first), < 0 toes first
    toe_off_angle_deg: float          # foot vs ground at TO (< 0: heel up)
    overstride_m: float               # heel ahead of the hip centre at FS
    flat_at: float                    # stance fraction at which the foot is flat
    heel_rise_at: float               # stance fraction at which the heel starts to rise
    strike_velocity: tuple[float, float]    # strike point (vx, vy) m/s just before FS
    toe_off_velocity: tuple[float, float]   # toe (vx, vy) m/s just after TO
    # swing waypoints: (share of swing, ankle - hip centre x and y / body height, foot angle deg)
    swing_path: tuple[tuple[float, float, float, float], ...]
    trunk_lean_deg: float             # forward from vertical
    elbow_flexion_deg: float
    arm_swing_deg: float              # amplitude of the upper arm about the vertical
    step_ratio: float = 0.5           # right FS = left FS + step_ratio * stride
    height_m: float = 1.75

    @property
    def stride_s(self) -> float:
        return 120.0 / self.cadence_spm

    @property
    def step_s(self) -> dict[str, float]:
        """Step time per side: from the other foot's strike to this one's."""
        return {"left": (1 - self.step_ratio) * self.stride_s, "right": self.step_ratio * self.stride_s}


RUNNING = GaitSpec(
    cadence_spm=170.0, contact_s=0.24, speed_m_s=3.2, hip_height=0.497, vertical_oscillation_m=0.07,
    low_at_midstance=True, strike_angle_deg=15.0, toe_off_angle_deg=-45.0, overstride_m=0.20,
    flat_at=0.15, heel_rise_at=0.5, strike_velocity=(0.3, -0.8), toe_off_velocity=(0.3, 0.6),
    swing_path=((0.4, -0.23, -0.19, -95.0),), trunk_lean_deg=7.0,
    elbow_flexion_deg=90.0, arm_swing_deg=30.0,
)
WALKING = GaitSpec(
    cadence_spm=110.0, contact_s=0.66, speed_m_s=1.3, hip_height=0.508, vertical_oscillation_m=0.035,
    low_at_midstance=False, strike_angle_deg=20.0, toe_off_angle_deg=-50.0, overstride_m=0.27,
    flat_at=0.12, heel_rise_at=0.6, strike_velocity=(0.4, -0.3), toe_off_velocity=(0.3, 0.5),
    # toe up after toe-off, then minimum toe clearance (~2 cm) at mid-swing, then the heel leads
    swing_path=((0.25, -0.22, -0.37, -40.0), (0.55, 0.02, -0.42, -20.0)), trunk_lean_deg=2.0,
    elbow_flexion_deg=20.0, arm_swing_deg=18.0,
)
# a shuffling walk: the swing foot passes ~1 cm above the ground for ~0.1 s at mid-swing
LOW_CLEARANCE_WALKING = replace(WALKING, swing_path=((0.25, -0.22, -0.37, -40.0), (0.55, 0.02, -0.435, -20.0)))
FOREFOOT_RUNNING = replace(RUNNING, strike_angle_deg=-10.0, overstride_m=0.10, contact_s=0.21,
                           strike_velocity=(0.3, -0.7))
MIDFOOT_RUNNING = replace(RUNNING, strike_angle_deg=3.0, overstride_m=0.12, contact_s=0.22)


@dataclass(frozen=True)
class GaitTruth:
    """Ground truth of a synthetic clip. Event times per side, sorted; `expected_*` marks events
    whose whole neighbourhood is visible, which a detector must find."""

    spec: GaitSpec
    model: "GaitModel"
    facing: str
    treadmill: bool
    px_per_m: float
    foot_strikes: dict[str, Array]
    toe_offs: dict[str, Array]
    expected_fs: dict[str, NDArray[np.bool_]]
    expected_to: dict[str, NDArray[np.bool_]]

    def pose_at(self, times: Array) -> PoseSequence:
        """The exact, noise-free pose at any `times` (facing right), to compute true angles."""
        t = np.asarray(times, dtype=np.float64)
        xy = _project(self.model.world(t), 0.0, 1.0, self.px_per_m, 1000.0)
        return _sequence(t, xy, self.model.world(t), np.ones(xy.shape[:2], bool), 4000, 2000, 1000.0)

    @property
    def cadence_spm(self) -> float:
        return self.spec.cadence_spm

    @property
    def contact_time_s(self) -> float:
        return self.spec.contact_s

    @property
    def flight_time_s(self) -> float:
        return float(np.mean([max(0.0, s - self.spec.contact_s) for s in self.spec.step_s.values()]))

    @property
    def duty_factor(self) -> float:
        return self.spec.contact_s / self.spec.stride_s


def _rot(angle: Array, v: Array) -> Array:
    """Rotate 2-D vectors `v` (..., 2) anticlockwise by `angle` (radians, broadcast over ...)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1]], axis=-1)


def _knee(hip: Array, ankle: Array, thigh: float, shank: float) -> Array:
    """Two-link inverse kinematics, knee bending forward (+x)."""
    d_vec = ankle - hip
    d = np.linalg.norm(d_vec, axis=-1)
    if np.any(d >= thigh + shank) or np.any(d <= abs(thigh - shank)):
        raise ValueError(f"leg cannot reach the ankle: hip-ankle {d.min():.3f}..{d.max():.3f} m, "
                         f"leg {thigh + shank:.3f} m")
    u = d_vec / d[:, None]
    a = (thigh**2 - shank**2 + d**2) / (2 * d)
    b = np.sqrt(thigh**2 - a**2)
    n = np.stack([-u[:, 1], u[:, 0]], axis=-1)
    n *= np.sign(n[:, :1] + 1e-12)            # the perpendicular that points forward
    return hip + a[:, None] * u + b[:, None] * n


class GaitModel:
    """Continuous-time kinematics of `spec`; `world(t)` gives every landmark in metres."""

    def __init__(self, spec: GaitSpec, first_strike_s: float = 0.1, span_s: tuple[float, float] = (-2.0, 60.0)):
        self.spec = spec
        h = spec.height_m
        self.thigh, self.shank = THIGH * h, SHANK * h
        self.foot_len = FOOT * h
        # foot frame: heel at the origin, toe at (foot, 0) on the sole line, ankle above the heel
        self.ankle_in_foot = np.array([ANKLE_FROM_HEEL * h, ANKLE_HEIGHT * h])
        stride = spec.stride_s
        ks = np.arange(np.floor((span_s[0] - first_strike_s) / stride) - 1,
                       np.ceil((span_s[1] - first_strike_s) / stride) + 2)
        self.fs = {"left": first_strike_s + ks * stride,
                   "right": first_strike_s + (ks + spec.step_ratio) * stride}
        self.to = {s: self.fs[s] + spec.contact_s for s in SIDES}
        if spec.contact_s >= stride:
            raise ValueError("contact time must be shorter than the stride")
        mids = np.sort(np.concatenate([self.fs[s] + spec.contact_s / 2 for s in SIDES]))
        self._mids = mids

    # --- hip -------------------------------------------------------------------------------
    def hip(self, t: Array) -> Array:
        s = self.spec
        i = np.clip(np.searchsorted(self._mids, t, side="right") - 1, 0, len(self._mids) - 2)
        frac = (t - self._mids[i]) / (self._mids[i + 1] - self._mids[i])
        sign = -1.0 if s.low_at_midstance else 1.0
        y = s.hip_height * s.height_m + sign * s.vertical_oscillation_m / 2 * np.cos(2 * np.pi * frac)
        return np.stack([s.speed_m_s * t, y], axis=-1)

    def hip_velocity(self, t: float, dt: float = 1e-5) -> Array:
        return (self.hip(np.array([t + dt])) - self.hip(np.array([t - dt])))[0] / (2 * dt)

    # --- stance ----------------------------------------------------------------------------
    def _stance(self, side: str, k: int, t: Array) -> tuple[Array, Array]:
        """(ankle (n, 2), foot angle (n,)) during stance k of `side`."""
        s = self.spec
        tf = self.fs[side][k]
        u = (t - tf) / s.contact_s
        phi_fs, phi_to = np.radians(s.strike_angle_deg), np.radians(s.toe_off_angle_deg)
        phi = np.where(u < s.flat_at, phi_fs * (1 - u / s.flat_at) ** 2, 0.0)
        late = np.clip((u - s.heel_rise_at) / (1 - s.heel_rise_at), 0, None)
        phi = np.where(u > s.heel_rise_at, phi_to * late**2, phi)
        heel_fs_x = self.hip(np.array([tf]))[0, 0] + s.overstride_m
        # toes first: the toe stays where it touched and the heel comes down a little behind
        heel_flat_x = heel_fs_x if phi_fs >= 0 else heel_fs_x + self.foot_len * (np.cos(phi_fs) - 1)
        heel = np.array([heel_flat_x, 0.0])
        toe = heel + np.array([self.foot_len, 0.0])
        pivot_early = heel if phi_fs >= 0 else toe
        pivot = np.where((u > s.heel_rise_at)[:, None] | (phi_fs < 0), toe, pivot_early)
        pivot_in_foot = np.where((u > s.heel_rise_at)[:, None] | (phi_fs < 0), [self.foot_len, 0.0], [0.0, 0.0])
        ankle = pivot + _rot(phi, np.broadcast_to(self.ankle_in_foot, pivot.shape) - pivot_in_foot)
        return ankle, phi

    def _contact_rates(self) -> tuple[float, float]:
        """Foot angular velocity (rad/s) just after FS and just before TO."""
        s = self.spec
        w_fs = -2 * np.radians(s.strike_angle_deg) / (s.flat_at * s.contact_s)
        w_to = 2 * np.radians(s.toe_off_angle_deg) / ((1 - s.heel_rise_at) * s.contact_s)
        return float(w_fs), float(w_to)

    # --- swing -----------------------------------------------------------------------------
    def _swing(self, side: str, k: int, t: Array) -> tuple[Array, Array]:
        """(ankle, foot angle) between TO of stance k and FS of stance k + 1."""
        s = self.spec
        t0, t1 = self.to[side][k], self.fs[side][k + 1]
        w_fs, w_to = self._contact_rates()
        a0, p0 = (v[0] for v in self._stance(side, k, np.array([t0])))
        a1, p1 = (v[0] for v in self._stance(side, k + 1, np.array([t1])))
        toe0 = a0 + _rot(p0, np.array([self.foot_len, 0.0]) - self.ankle_in_foot)
        strike_pt = np.array([0.0, 0.0]) if s.strike_angle_deg >= 0 else np.array([self.foot_len, 0.0])
        c1 = a1 + _rot(p1, strike_pt - self.ankle_in_foot)

        def spin(w: float, r: Array) -> Array:
            return w * np.array([-r[1], r[0]])

        v0 = np.array(s.toe_off_velocity) + spin(w_to, a0 - toe0)
        v1 = np.array(s.strike_velocity) + spin(w_fs, a1 - c1)
        way = np.array(s.swing_path)
        tm = t0 + way[:, 0] * (t1 - t0)
        am = self.hip(tm) + way[:, 1:3] * s.height_m
        knots = np.concatenate([[t0], tm, [t1]])
        ankle = CubicSpline(knots, np.vstack([a0, am, a1]), bc_type=((1, v0), (1, v1)))(t)
        phis = np.concatenate([[p0], np.radians(way[:, 3]), [p1]])
        phi = CubicSpline(knots, phis, bc_type=((1, w_to), (1, w_fs)))(t)
        return ankle, phi

    # --- whole body ------------------------------------------------------------------------
    def foot(self, side: str, t: Array) -> tuple[Array, Array, Array]:
        """(ankle, heel, toe), each (n, 2)."""
        ankle = np.full((len(t), 2), np.nan)
        phi = np.full(len(t), np.nan)
        fs, to = self.fs[side], self.to[side]
        k_all = np.searchsorted(fs, t, side="right") - 1
        for k in np.unique(k_all):              # a handful of gait cycles, vectorised inside
            sel = k_all == k
            stance = sel & (t <= to[k])
            swing = sel & (t > to[k])
            if stance.any():
                ankle[stance], phi[stance] = self._stance(side, k, t[stance])
            if swing.any():
                ankle[swing], phi[swing] = self._swing(side, k, t[swing])
        heel = ankle + _rot(phi, -np.broadcast_to(self.ankle_in_foot, ankle.shape))
        toe = ankle + _rot(phi, np.array([self.foot_len, 0.0]) - self.ankle_in_foot)
        return ankle, heel, toe

    def world(self, t: Array) -> Array:
        """(n, 33, 2) landmarks in metres (x forward, y up)."""
        s, h = self.spec, self.spec.height_m
        t = np.asarray(t, dtype=np.float64)
        out = np.zeros((len(t), NUM_LANDMARKS, 2))
        hip = self.hip(t)
        lean = np.radians(s.trunk_lean_deg)
        up = np.array([np.sin(lean), np.cos(lean)])
        shoulder = hip + TRUNK * h * up
        for side in SIDES:
            p = side.upper() + "_"
            ankle, heel, toe = self.foot(side, t)
            out[:, L[p + "HIP"]] = hip
            out[:, L[p + "KNEE"]] = _knee(hip, ankle, self.thigh, self.shank)
            out[:, L[p + "ANKLE"]] = ankle
            out[:, L[p + "HEEL"]] = heel
            out[:, L[p + "FOOT_INDEX"]] = toe
            # arms swing with the opposite leg: forward at the other foot's strike
            other = "right" if side == "left" else "left"
            phase = 2 * np.pi * (t - self.fs[other][0]) / s.stride_s
            arm = np.radians(s.arm_swing_deg) * np.cos(phase) + lean
            elbow = shoulder + UPPER_ARM * h * np.stack([np.sin(arm), -np.cos(arm)], axis=-1)
            fore = arm + np.radians(s.elbow_flexion_deg)
            fdir = np.stack([np.sin(fore), -np.cos(fore)], axis=-1)
            wrist = elbow + FOREARM * h * fdir
            out[:, L[p + "SHOULDER"]] = shoulder
            out[:, L[p + "ELBOW"]] = elbow
            out[:, L[p + "WRIST"]] = wrist
            out[:, L[p + "INDEX"]] = wrist + HAND * h * fdir
            out[:, L[p + "PINKY"]] = wrist + 0.8 * HAND * h * fdir - [0.0, 0.01]
            out[:, L[p + "THUMB"]] = wrist + 0.5 * HAND * h * fdir + [0.01, 0.0]
        ear = shoulder + EAR_ABOVE_SHOULDER * h * up
        head = {"NOSE": (0.10, -0.01), "LEFT_EYE_INNER": (0.085, 0.025), "LEFT_EYE": (0.075, 0.025),
                "LEFT_EYE_OUTER": (0.065, 0.025), "MOUTH_LEFT": (0.085, -0.045), "LEFT_EAR": (0.0, 0.0)}
        for name, off in head.items():
            out[:, L[name]] = ear + off
            out[:, L[name.replace("LEFT", "RIGHT")]] = ear + off
        return out


def _project(world: Array, origin_x: float, facing: float, px_per_m: float, ground_px: float) -> Array:
    x = origin_x + facing * px_per_m * world[..., 0]
    y = ground_px - px_per_m * world[..., 1]
    return np.stack([x, y], axis=-1)


def synth_gait(spec: GaitSpec = RUNNING, *, fps: float = 60.0, duration_s: float = 6.0, facing: str = "right",
               treadmill: bool = True, noise_px: float = 0.0, drop_frac: float = 0.0, seed: int = 0,
               width: int = 1280, height: int = 720, px_per_m: float | None = None,
               first_strike_s: float = 0.13) -> tuple[PoseSequence, GaitTruth]:
    """A side-view clip of `spec` and its ground truth.

    Treadmill: the hip stays in the middle of the frame. Overground: the figure enters on one side
    and leaves on the other. `noise_px` adds Gaussian noise to every landmark; `drop_frac` loses
    that share of frames at random (NaN, as when the detector misses the person).
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(duration_s * fps))) / fps
    model = GaitModel(spec, first_strike_s=first_strike_s, span_s=(-2.0, duration_s + 2.0))
    world = model.world(t)
    sign = 1.0 if facing == "right" else -1.0
    if px_per_m is None:
        px_per_m = 0.7 * height / spec.height_m if treadmill else 0.35 * height / spec.height_m
    if treadmill:          # the belt carries everything back at the running speed; hip stays put
        world[..., 0] -= spec.speed_m_s * t[:, None]
        origin = width / 2
    else:                  # the hip crosses the frame from 8 % outside to 8 % outside
        span = spec.speed_m_s * duration_s * px_per_m
        origin = width / 2 - sign * span / 2
    xy = _project(world, origin, sign, px_per_m, ground_px=0.92 * height)
    inside = (xy[..., 0] >= 0) & (xy[..., 0] < width) & (xy[..., 1] >= 0) & (xy[..., 1] < height)
    hip_x = xy[:, [L.LEFT_HIP, L.RIGHT_HIP], 0].mean(axis=1)
    detected = (hip_x >= 0) & (hip_x < width)
    if drop_frac > 0:
        detected &= rng.random(len(t)) >= drop_frac
    if noise_px > 0:
        xy = xy + rng.normal(0.0, noise_px, xy.shape)
    visible = inside & detected[:, None]
    xy[~visible] = np.nan
    seq = _sequence(t, xy, world, visible, width, height, fps)

    expected_fs, expected_to = {}, {}
    for side in SIDES:
        p = side.upper() + "_"
        foot_vis = visible[:, [L[p + "HEEL"], L[p + "FOOT_INDEX"], L[p + "ANKLE"], L[p + "KNEE"]]].all(axis=1)
        expected_fs[side] = _covered(t, foot_vis, model.fs[side] - 0.15, model.fs[side] + 0.10)
        expected_to[side] = _covered(t, foot_vis, model.to[side] - 0.10, model.to[side] + 0.15)
    in_clip = {s: (model.fs[s] >= 0) & (model.fs[s] <= t[-1]) for s in SIDES}
    in_clip_to = {s: (model.to[s] >= 0) & (model.to[s] <= t[-1]) for s in SIDES}
    truth = GaitTruth(
        spec=spec, model=model, facing=facing, treadmill=treadmill, px_per_m=px_per_m,
        foot_strikes={s: model.fs[s][in_clip[s]] for s in SIDES},
        toe_offs={s: model.to[s][in_clip_to[s]] for s in SIDES},
        expected_fs={s: expected_fs[s][in_clip[s]] for s in SIDES},
        expected_to={s: expected_to[s][in_clip_to[s]] for s in SIDES},
    )
    return seq, truth


def _covered(t: Array, ok: NDArray[np.bool_], start: Array, stop: Array) -> NDArray[np.bool_]:
    """For each window [start, stop]: inside the clip and every frame in it `ok`."""
    bad = np.concatenate([[0], np.cumsum(~ok)])
    i0 = np.searchsorted(t, start, side="left")
    i1 = np.searchsorted(t, stop, side="right")
    inside = (start >= t[0]) & (stop <= t[-1])
    return inside & (bad[np.clip(i1, 0, len(t))] - bad[np.clip(i0, 0, len(t))] == 0)


def _sequence(t: Array, xy: Array, world: Array, visible: NDArray[np.bool_], width: int, height: int,
              fps: float) -> PoseSequence:
    n = len(t)
    hip = world[:, [L.LEFT_HIP, L.RIGHT_HIP]].mean(axis=1, keepdims=True)
    rel = world - hip
    depth = np.zeros((n, NUM_LANDMARKS))
    left = [lm.value for lm in L if lm.name.startswith("LEFT")]
    right = [lm.value for lm in L if lm.name.startswith("RIGHT")]
    depth[:, left], depth[:, right] = 0.1, -0.1
    wxyz = np.stack([rel[..., 0], -rel[..., 1], depth], axis=-1)
    wxyz[~visible] = np.nan
    vis = visible.astype(np.float32)
    return PoseSequence(
        time_s=t.astype(np.float64), image_xy=xy.astype(np.float32),
        image_z=np.where(visible, depth, np.nan).astype(np.float32), world_xyz=wxyz.astype(np.float32),
        visibility=vis, presence=vis.copy(), width=width, height=height, fps=fps,
    )


def synth_standing(*, fps: float = 30.0, duration_s: float = 4.0, hops: list[tuple[float, float]] | None = None,
                   height_m: float = 1.75, width: int = 1280, height: int = 720, facing: str = "right",
                   noise_px: float = 0.0, seed: int = 0) -> PoseSequence:
    """A person standing still, swaying a little; with `hops` [(takeoff_s, flight_s)], both feet leave
    and land together along ballistic flights (a jump clip, not a gait)."""
    t = np.arange(int(round(duration_s * fps))) / fps
    # a frozen instant of mid-stance walking, both feet put flat on the ground under the hip
    model = GaitModel(WALKING, first_strike_s=0.0)
    pose = model.world(np.array([0.5 * WALKING.contact_s]))[0]
    for side in SIDES:
        p = side.upper() + "_"
        idx = [L[p + n] for n in ("KNEE", "ANKLE", "HEEL", "FOOT_INDEX")]
        other = "RIGHT_" if side == "left" else "LEFT_"
        pose[[L[other + n] for n in ("KNEE", "ANKLE", "HEEL", "FOOT_INDEX")]] = pose[idx]
    world = np.repeat(pose[None], len(t), axis=0)
    world[..., 0] += 0.01 * np.sin(2 * np.pi * 0.3 * t)[:, None]
    for takeoff, flight in hops or []:
        tau = t - takeoff
        up = np.where((tau > 0) & (tau < flight), 9.81 * tau * (flight - tau) / 2, 0.0)
        world[..., 1] += up[:, None]
    sign = 1.0 if facing == "right" else -1.0
    px_per_m = 0.7 * height / height_m
    xy = _project(world, width / 2, sign, px_per_m, 0.92 * height)
    rng = np.random.default_rng(seed)
    if noise_px > 0:
        xy = xy + rng.normal(0.0, noise_px, xy.shape)
    visible = np.ones(xy.shape[:2], bool)
    return _sequence(t, xy, world, visible, width, height, fps)
