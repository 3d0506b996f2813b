"""Jump test material: stick-figure PoseSequences with exactly known jumps, and ground-truth clips.

- `stick_sequence(...)`: a side- or front-view figure (33 landmarks, image pixels, y down) standing,
  countermoving, flying on exact ballistic paths, landing with knee flexion; drops from a box;
  one-foot steps. No video, no pose model: physics tests.
- `make_clips(...)`: runs ../shared/tools/make_jump_clip.py (real footage moved along exact flights).
- `analyze_raw(raw, options)`: the pipeline's steps for jumping (clean at CUTOFF_HZ, facing, angles,
  view, `jumping.analyze` with the raw sequence).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeline.metrics import jumping
from pipeline.metrics.angles import compute_angles
from pipeline.metrics.result import ActivityResult
from pipeline.metrics.view import ViewInfo, detect_view, facing_sign
from pipeline.options import AnalysisOptions
from pipeline.pose.cleaning import clean
from pipeline.pose.landmarks import Landmark as L
from pipeline.pose.sequence import PoseSequence

G = 9.81
SHANK = THIGH = 0.44      # m
THETA0 = 0.04             # rad: half the knee flexion when standing (knee flexion = 2·theta)


@dataclass(frozen=True)
class Jump:
    takeoff_s: float
    flight_s: float
    cm_theta: float = 0.0     # extra knee half-angle at the bottom of the countermovement (rad)
    ecc_s: float = 0.5        # lowering
    con_s: float = 0.3        # pushing up to takeoff
    hold_s: float = 0.0       # still at the bottom (squat jump)
    land_theta: float = 0.35  # extra knee half-angle at the deepest point of the landing
    valgus_m: float = 0.0     # knees moving medially at the deepest point of the landing (front view)
    right_late_s: float = 0.0  # the right foot leaves and lands this much later (left-right asymmetry)
    hip_drop_m: float = 0.0   # the right hip sinks this much at the deepest point of the landing (front view)

    @property
    def landing_s(self) -> float:
        return self.takeoff_s + self.flight_s

    @property
    def height_m(self) -> float:
        return G * self.flight_s**2 / 8


def _ramp(t: NDArray[np.float64], t0: float, t1: float) -> NDArray[np.float64]:
    """0 before t0, 1 after t1, smooth (cosine) in between."""
    x = np.clip((t - t0) / max(t1 - t0, 1e-9), 0, 1)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def kinematics(t: NDArray[np.float64], jumps: list[Jump], drop: tuple[float, float] | None = None
               ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """theta(t) (knee half-angle), lift(t) (m, whole body up), valgus(t) (m)."""
    theta = np.full_like(t, THETA0)
    lift = np.zeros_like(t)
    valgus = np.zeros_like(t)
    if drop is not None:                     # (time stepping off, box height): fall from the box
        t_off, box = drop
        lift = np.where(t < t_off, box, np.maximum(box - G * (t - t_off) ** 2 / 2, 0.0))
        t_land = t_off + np.sqrt(2 * box / G)
        dip = _ramp(t, t_land, t_land + 0.1) - _ramp(t, t_land + 0.1, t_land + 0.3)
        theta = theta + 0.3 * np.clip(dip, 0, 1)
    for j in jumps:
        t0, t1 = j.takeoff_s, j.landing_s
        if j.cm_theta:
            start = t0 - j.con_s - j.hold_s - j.ecc_s
            down = _ramp(t, start, start + j.ecc_s)
            up = _ramp(t, t0 - j.con_s, t0)
            theta = theta + j.cm_theta * np.where(t < t0 - j.con_s, down, 1 - up) * (t < t0)
        tau = t - t0
        fly = (tau >= 0) & (tau <= j.flight_s)
        lift = np.where(fly, G * j.flight_s / 2 * tau - G * tau**2 / 2, lift)
        land = _ramp(t, t1, t1 + 0.15) - _ramp(t, t1 + 0.15, t1 + 0.5)
        land = np.clip(land, 0, 1) * (t >= t1)
        theta = theta + j.land_theta * land
        valgus = valgus + j.valgus_m * land
    return theta, lift, valgus


def stick_sequence(jumps: tuple[Jump, ...] | list[Jump] = (), duration: float = 3.0, fps: float = 120.0,
                   ppm: float = 300.0, view: str = "side", facing: int = 1, drop: tuple[float, float] | None = None,
                   noise_px: float = 0.0, seed: int = 0, width: int = 800, height: int = 1000,
                   one_foot_steps: tuple[tuple[list[int], tuple[float, float, float]], ...] = (),
                   land_shift_px: tuple[float, float] = (0.0, 0.0), sway_px: tuple[float, float, float] = (0.0, 0.0, 0.0),
                   crop_top_px: float = 0.0, arm_reach: bool = False) -> PoseSequence:
    # (a Jump's right_late_s: the right foot follows the same flight right_late_s later, so both feet
    # are up from takeoff_s + right_late_s to landing_s; its hip_drop_m lowers the right hip)
    """A person standing (side or front view) doing exactly the given jumps; image y down.

    `drop=(t_off, box_m)`: stands on a box until t_off, then falls ballistically to the floor.
    `one_foot_steps`: ((landmarks, (t0, t1, lift_m)), ...) lifts those points only (walking).
    What a phone sees (issue 14): `land_shift_px` (dx, dy) drifts each flight linearly from takeoff
    to landing and stays (landing forward/backward/sideways in perspective; signs alternate jump by
    jump; the path stays a parabola with the same g); `sway_px` (ax, ay, Hz) a hand-held camera;
    `crop_top_px` cuts the top of the picture: landmarks above it stick to the edge with low
    visibility, as MediaPipe's guesses do; `arm_reach` swings the arms back in the countermovement
    and straight up from takeoff to landing (jump-and-reach).
    Standing eye height 1.66 m: with the pipeline's anthropometry the stature reads 1.78 m.
    """
    t = np.arange(int(round(duration * fps))) / fps
    theta, lift, valgus = kinematics(t, list(jumps), drop)
    n = len(t)
    ankle_y = 0.08
    knee = np.stack([SHANK * np.sin(theta), ankle_y + SHANK * np.cos(theta)], -1)
    hip = np.stack([np.zeros(n), knee[:, 1] + THIGH * np.cos(theta)], -1)
    lean = 0.6 * theta
    sh = hip + 0.52 * np.stack([np.sin(lean), np.cos(lean)], -1)
    ear = sh + [0.0, 0.16]
    pts = np.zeros((n, 33, 2))           # x forward (side) or lateral (front), y up, metres

    def put(idx_l: int, idx_r: int, xy: Any, lateral: float = 0.0) -> None:
        pts[:, idx_l] = xy + [lateral, 0]
        pts[:, idx_r] = xy + [-lateral, 0]

    if view == "side":
        put(L.LEFT_ANKLE, L.RIGHT_ANKLE, np.array([0.0, ankle_y]))
        put(L.LEFT_HEEL, L.RIGHT_HEEL, np.array([-0.06, 0.02]))
        put(L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX, np.array([0.17, 0.02]))
        put(L.LEFT_KNEE, L.RIGHT_KNEE, knee)
        put(L.LEFT_HIP, L.RIGHT_HIP, hip)
        put(L.LEFT_SHOULDER, L.RIGHT_SHOULDER, sh)
        put(L.LEFT_ELBOW, L.RIGHT_ELBOW, sh + [0.03, -0.28])
        put(L.LEFT_WRIST, L.RIGHT_WRIST, sh + [0.06, -0.54])
        for a, b in ((L.LEFT_PINKY, L.RIGHT_PINKY), (L.LEFT_INDEX, L.RIGHT_INDEX), (L.LEFT_THUMB, L.RIGHT_THUMB)):
            put(a, b, sh + [0.08, -0.61])
        put(L.LEFT_EAR, L.RIGHT_EAR, ear)
        for a, b in ((L.LEFT_EYE, L.RIGHT_EYE), (L.LEFT_EYE_INNER, L.RIGHT_EYE_INNER),
                     (L.LEFT_EYE_OUTER, L.RIGHT_EYE_OUTER)):
            put(a, b, ear + [0.08, 0.02])
        put(L.MOUTH_LEFT, L.MOUTH_RIGHT, ear + [0.08, -0.07])
        pts[:, L.NOSE] = ear + [0.11, -0.02]
        far = [lm.value for lm in L if lm.name.startswith("RIGHT")] + [L.MOUTH_RIGHT]
        pts[:, far] += [0.03, 0.03]      # the far side: a little behind and higher in the picture
    else:                                # front view, facing the camera: the athlete's left on image right
        put(L.LEFT_ANKLE, L.RIGHT_ANKLE, np.array([0.0, ankle_y]), 0.11)
        put(L.LEFT_HEEL, L.RIGHT_HEEL, np.array([0.0, 0.03]), 0.11)
        put(L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX, np.array([0.0, 0.0]), 0.13)
        kn = knee.copy()
        kn[:, 0] = 0.0
        pts[:, L.LEFT_KNEE] = kn + np.stack([0.11 - valgus, np.zeros(n)], -1)
        pts[:, L.RIGHT_KNEE] = kn + np.stack([-(0.11 - valgus), np.zeros(n)], -1)
        put(L.LEFT_HIP, L.RIGHT_HIP, hip, 0.10)
        for j in jumps:
            land = _ramp(t, j.landing_s, j.landing_s + 0.15) - _ramp(t, j.landing_s + 0.15, j.landing_s + 0.5)
            pts[:, L.RIGHT_HIP, 1] -= j.hip_drop_m * np.clip(land, 0, 1) * (t >= j.landing_s)
        put(L.LEFT_SHOULDER, L.RIGHT_SHOULDER, hip + [0, 0.52], 0.19)
        put(L.LEFT_ELBOW, L.RIGHT_ELBOW, hip + [0, 0.24], 0.24)
        put(L.LEFT_WRIST, L.RIGHT_WRIST, hip + [0, -0.02], 0.25)
        for a, b in ((L.LEFT_PINKY, L.RIGHT_PINKY), (L.LEFT_INDEX, L.RIGHT_INDEX), (L.LEFT_THUMB, L.RIGHT_THUMB)):
            put(a, b, hip + [0, -0.09], 0.25)
        head = hip + [0, 0.68]
        put(L.LEFT_EAR, L.RIGHT_EAR, head, 0.075)
        for a, b in ((L.LEFT_EYE, L.RIGHT_EYE), (L.LEFT_EYE_INNER, L.RIGHT_EYE_INNER),
                     (L.LEFT_EYE_OUTER, L.RIGHT_EYE_OUTER)):
            put(a, b, head + [0, 0.02], 0.035)
        put(L.MOUTH_LEFT, L.MOUTH_RIGHT, head + [0, -0.07], 0.025)
        pts[:, L.NOSE] = head + [0, -0.02]
    for side_pts, (t0, t1, up) in one_foot_steps:   # lift one foot (walking): side_pts = landmark indices
        m = (t >= t0) & (t <= t1)
        pts[np.ix_(m, side_pts)] += np.array([0.0, up])
    if arm_reach:
        _reach(t, list(jumps), pts, view)
    pts[..., 1] += lift[:, None]
    for j in jumps:
        if j.right_late_s:                  # the right foot: the same flight, later (feet cannot go below the floor)
            late = kinematics(t - j.right_late_s, [Jump(j.takeoff_s, j.flight_s)])[1]
            fly = (t >= j.takeoff_s) & (t <= j.landing_s + j.right_late_s)
            feet_r = [L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX, L.RIGHT_ANKLE]
            pts[np.ix_(fly, feet_r)] += (late - lift)[fly, None, None] * np.array([0.0, 1.0])
    xy = np.empty_like(pts)
    xy[..., 0] = width / 2 + facing * pts[..., 0] * ppm
    xy[..., 1] = height - 60 - pts[..., 1] * ppm
    xy += _camera_offsets(t, list(jumps), land_shift_px, sway_px)[:, None, :]
    if noise_px:
        xy += np.random.default_rng(seed).normal(0, noise_px, xy.shape)
    vis = np.full((n, 33), 0.95, np.float32)
    if crop_top_px:
        xy[..., 1] -= crop_top_px
        height -= int(crop_top_px)
        out = xy[..., 1] < 0
        xy[..., 1] = np.where(out, np.random.default_rng(seed + 1).uniform(0, 6, out.shape), xy[..., 1])
        vis[out] = 0.1
    return PoseSequence(time_s=t, image_xy=xy.astype(np.float32), image_z=np.zeros((n, 33), np.float32),
                        world_xyz=np.zeros((n, 33, 3), np.float32), visibility=vis, presence=vis.copy(),
                        width=width, height=height, fps=fps)


def _camera_offsets(t: NDArray[np.float64], jumps: list[Jump], land_shift_px: tuple[float, float],
                    sway_px: tuple[float, float, float]) -> NDArray[np.float64]:
    """(T, 2) image shift of everything: landings on another row (perspective) and a swaying camera."""
    off = np.zeros((len(t), 2))
    for k, j in enumerate(jumps):
        frac = np.clip((t - j.takeoff_s) / max(j.flight_s, 1e-9), 0, 1)
        off += (-1) ** k * frac[:, None] * np.array(land_shift_px)
    ax, ay, f = sway_px
    off[:, 0] += ax * np.sin(2 * np.pi * f * t)
    off[:, 1] += ay * np.sin(2 * np.pi * f * 1.3 * t + 1.0)
    return off


def _reach(t: NDArray[np.float64], jumps: list[Jump], pts: NDArray[np.float64], view: str) -> None:
    """Arms back in the countermovement, straight up from takeoff to landing, down again after (in place)."""
    phi = np.zeros(len(t))                                   # arm angle from hanging, rad (forward and up > 0)
    for j in jumps:
        back = _ramp(t, j.takeoff_s - j.con_s - 0.3, j.takeoff_s - j.con_s) * (t < j.takeoff_s - j.con_s)
        swing = _ramp(t, j.takeoff_s - j.con_s, j.takeoff_s) * (t < j.landing_s)
        down = 1 - _ramp(t, j.landing_s, j.landing_s + 0.4)
        phi += -0.8 * back + np.where(t < j.landing_s, swing, down * (t >= j.landing_s)) * np.pi
    for sh, el, wr, hand in ((L.LEFT_SHOULDER, L.LEFT_ELBOW, L.LEFT_WRIST, (L.LEFT_PINKY, L.LEFT_INDEX, L.LEFT_THUMB)),
                             (L.RIGHT_SHOULDER, L.RIGHT_ELBOW, L.RIGHT_WRIST,
                              (L.RIGHT_PINKY, L.RIGHT_INDEX, L.RIGHT_THUMB))):
        lateral = pts[:, wr, 0] - pts[:, sh, 0] if view != "side" else np.zeros(len(t))
        d = np.stack([np.sin(phi) if view == "side" else np.zeros(len(t)), -np.cos(phi)], -1)
        pts[:, el] = pts[:, sh] + 0.28 * d + np.stack([lateral * 0.5, np.zeros(len(t))], -1)
        pts[:, wr] = pts[:, sh] + 0.54 * d + np.stack([lateral, np.zeros(len(t))], -1)
        for h in hand:
            pts[:, h] = pts[:, sh] + 0.61 * d + np.stack([lateral, np.zeros(len(t))], -1)


STATURE_M = 1.78   # what the pipeline reads from the stick figure's eye height


def analyze_raw(raw: PoseSequence, options: AnalysisOptions, view: ViewInfo | None = None) -> ActivityResult:
    """What the pipeline does for jumping: clean at jumping.CUTOFF_HZ, facing, angles, view, analyze(raw=...)."""
    seq = clean(raw, jumping.CUTOFF_HZ)
    angles = compute_angles(seq, facing_sign(seq))
    return jumping.analyze(seq, angles, view or detect_view(seq), options, raw=raw)


@dataclass(frozen=True)
class ClipSpec:
    """A ground-truth clip made from squat_side.mp4 by make_jump_clip.py."""

    name: str
    fps: float
    jumps: tuple[tuple[float, float], ...]      # (takeoff_s, flight_time_s)
    duration: float
    countermovement: bool = False
    mirror: bool = False

    def args(self, base: Path, out: Path) -> list[str]:
        a = [str(base), str(out), "--pixels-per-metre", "280", "--athlete-height", "1.75",
             "--fps", f"{self.fps:g}", "--duration", f"{self.duration:g}",
             "--jumps", *[f"{t0}:{ft}" for t0, ft in self.jumps]]
        a += (["--stand", "200:252", "--countermovement", "252:345", "--cm-speed", "3"] if self.countermovement
              else ["--stand", "0:60"])
        return a + (["--mirror"] if self.mirror else [])


def make_clips(specs: list[ClipSpec], tool: Path, base: Path, out_dir: Path, parallel: int = 2) -> dict[str, Path]:
    """Run the clip maker for every spec (`parallel` processes at a time); name -> clip path."""
    out: dict[str, Path] = {}
    pending = list(specs)
    running: list[tuple[ClipSpec, subprocess.Popen[bytes]]] = []
    while pending or running:
        while pending and len(running) < parallel:
            spec = pending.pop(0)
            path = out_dir / f"{spec.name}.mp4"
            cmd = [sys.executable, str(tool), *spec.args(base, path)]
            running.append((spec, subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)))
        spec, proc = running.pop(0)
        _, err = proc.communicate(timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"make_jump_clip.py failed for {spec.name}: {err.decode(errors='replace')}")
        out[spec.name] = out_dir / f"{spec.name}.mp4"
    return out


def truth_of(clip: Path) -> dict[str, Any]:
    return json.loads(clip.with_suffix(".truth.json").read_text())
