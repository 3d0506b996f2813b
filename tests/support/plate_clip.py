"""A plate with a known path: ground truth for the bar tracker.

The real plate of `power_clean_side.mp4` (its first frame, hub at (354, 925), radius 76 px) is cut
out and moved, motion-blurred over a 1/60 s exposure, across the first frame of `squat_side.mp4`
(a gym with no plate in view) along an exact clean-like path: at rest on the floor, pulled to
1.35 m in 0.8 s (peak 2.6 m/s), held, lowered, at rest. The clip is H.264 like a phone's; the pose
is a standing stick figure whose hands hold the hub. Sizes follow a 1.75 m athlete who is 42 % of
the picture's height, so the plate's radius is 5.4 % of it (69 px at 1280, 104 px at 1920).

    truth = make_plate_clip(path, width=720, height=1280)
    truth.hub_xy          # (T, 2) the hub in the middle of each frame's exposure, pixels
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.pose.landmarks import NUM_LANDMARKS, Landmark as L
from pipeline.pose.sequence import PoseSequence
from pipeline.video import iter_frames
from tests.conftest import clip_path

FloatArray = NDArray[np.float64]
SOURCE_PLATE = ("power_clean_side.mp4", (354.0, 925.0), 76.0)   # clip, hub, radius (px)
BACKGROUND = "squat_side.mp4"
ATHLETE_M = 1.75
ATHLETE_SHARE = 0.42          # of the picture's height
PLATE_M = 0.225               # radius
REST_M, TOP_M = 0.225, 1.35   # hub above the floor
EXPOSURE_S, SUBSTEPS = 1 / 60, 6


@dataclass(frozen=True)
class PlateTruth:
    path: Path
    time_s: FloatArray
    hub_xy: FloatArray        # (T, 2) pixels
    height_m: FloatArray      # (T,) hub above the floor
    velocity_m_s: FloatArray  # (T,) d(height)/dt, exact
    radius_px: float
    m_per_px: float
    seq: PoseSequence


def _quintic(u: FloatArray) -> FloatArray:
    u = np.clip(u, 0.0, 1.0)
    return u ** 3 * (10 - 15 * u + 6 * u * u)


def hub_height(t: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Height (m) and its exact derivative: rest to 1.0 s, pull 1.0-1.8 s, hold to 2.8 s, lower to 3.6 s."""
    def leg(t0: float, t1: float) -> tuple[FloatArray, FloatArray]:
        u = (t - t0) / (t1 - t0)
        inside = (u > 0) & (u < 1)
        du = np.where(inside, 30 * u * u * (1 - u) ** 2 / (t1 - t0), 0.0)
        return _quintic(u), du
    up, dup = leg(1.0, 1.8)
    down, ddown = leg(2.8, 3.6)
    span = TOP_M - REST_M
    return REST_M + span * (up - down), span * (dup - ddown)


def _first_frame(video: Path) -> NDArray[np.uint8]:
    with closing(iter_frames(video)) as frames:
        return next(frames).image


def _sprite(radius: float) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """The real plate cut out (RGB float) and its soft-edged disc mask, scaled to `radius` px."""
    clip, (cx, cy), r = SOURCE_PLATE
    image = _first_frame(clip_path(clip)).astype(np.float32)
    half = int(np.ceil(r)) + 3
    patch = image[int(cy) - half:int(cy) + half, int(cx) - half:int(cx) + half]
    yy, xx = np.mgrid[0:2 * half, 0:2 * half] + 0.5
    mask = np.clip(r + 0.5 - np.hypot(xx - half - (cx - int(cx)), yy - half - (cy - int(cy))), 0, 1).astype(np.float32)
    size = 2 * int(np.ceil(radius * half / r))
    return (cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA),
            cv2.resize(mask, (size, size), interpolation=cv2.INTER_AREA))


def _paste(canvas: NDArray[np.float32], sprite: NDArray[np.float32], mask: NDArray[np.float32],
           centre: FloatArray) -> NDArray[np.float32]:
    """A copy of `canvas` with the sprite's centre at `centre` (sub-pixel, by an affine warp of the
    window around it)."""
    out = canvas.copy()
    s = sprite.shape[0]
    x0, y0 = int(np.floor(centre[0] - s / 2)) - 1, int(np.floor(centre[1] - s / 2)) - 1
    size = s + 3
    m = np.float32([[1, 0, centre[0] - s / 2 - x0], [0, 1, centre[1] - s / 2 - y0]])
    a = cv2.warpAffine(mask, m, (size, size), flags=cv2.INTER_LINEAR)[..., None]
    p = cv2.warpAffine(sprite, m, (size, size), flags=cv2.INTER_LINEAR)
    window = out[y0:y0 + size, x0:x0 + size]          # the plate stays inside the picture
    window[:] = window * (1 - a) + p * a
    return out


def _figure(hub: FloatArray, floor_y: float, athlete_px: float, width: int, height: int, fps: float) -> PoseSequence:
    """A standing stick figure (side view, facing +x) whose hands hold the hub."""
    t = len(hub)
    xy = np.full((t, NUM_LANDMARKS, 2), np.nan, np.float32)
    body_x = float(hub[0, 0]) - 0.06 * athlete_px
    rows = {L.NOSE: 0.93, L.LEFT_EAR: 0.92, L.RIGHT_EAR: 0.92, L.LEFT_SHOULDER: 0.82, L.RIGHT_SHOULDER: 0.82,
            L.LEFT_HIP: 0.53, L.RIGHT_HIP: 0.53, L.LEFT_KNEE: 0.29, L.RIGHT_KNEE: 0.29, L.LEFT_ANKLE: 0.04,
            L.RIGHT_ANKLE: 0.04, L.LEFT_HEEL: 0.0, L.RIGHT_HEEL: 0.0, L.LEFT_FOOT_INDEX: 0.0, L.RIGHT_FOOT_INDEX: 0.0}
    for lm, share in rows.items():
        ahead = 0.02 * athlete_px if lm in (L.NOSE, L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX) else 0.0
        back = -0.03 * athlete_px if lm in (L.LEFT_HEEL, L.RIGHT_HEEL, L.LEFT_EAR, L.RIGHT_EAR) else 0.0
        xy[:, lm] = (body_x + ahead + back, floor_y - share * athlete_px)
    for lm in (L.LEFT_WRIST, L.RIGHT_WRIST, L.LEFT_INDEX, L.RIGHT_INDEX, L.LEFT_PINKY, L.RIGHT_PINKY):
        xy[:, lm] = hub + (0.0, 0.01 * athlete_px)
    for a, b in ((L.LEFT_ELBOW, L.LEFT_WRIST), (L.RIGHT_ELBOW, L.RIGHT_WRIST)):
        xy[:, a] = (xy[:, b] + xy[:, L.LEFT_SHOULDER]) / 2
    seen = np.isfinite(xy[..., 0])
    return PoseSequence(time_s=np.arange(t) / fps, image_xy=xy, image_z=np.zeros((t, NUM_LANDMARKS), np.float32),
                        world_xyz=np.zeros((t, NUM_LANDMARKS, 3), np.float32),
                        visibility=np.where(seen, 0.9, 0.0).astype(np.float32),
                        presence=np.where(seen, 0.9, 0.0).astype(np.float32), width=width, height=height, fps=fps)


def make_plate_clip(path: Path, *, width: int = 720, height: int = 1280, fps: float = 30.0,
                    duration_s: float = 4.4) -> PlateTruth:
    athlete_px = ATHLETE_SHARE * height
    m_per_px = ATHLETE_M / athlete_px
    radius = PLATE_M / m_per_px
    floor_y, x0 = 0.85 * height, 0.55 * width
    t = np.arange(int(round(duration_s * fps))) / fps

    def hub_at(times: FloatArray) -> FloatArray:
        h, _ = hub_height(times)
        return np.stack([x0 + 0.02 * width * (h - REST_M), floor_y - h / m_per_px], axis=-1)

    height_m, velocity = hub_height(t)
    hub = hub_at(t)
    background = cv2.resize(_first_frame(clip_path(BACKGROUND)), (width, height),
                            interpolation=cv2.INTER_AREA).astype(np.float32)
    sprite, mask = _sprite(radius)
    offsets = (np.arange(SUBSTEPS) + 0.5) / SUBSTEPS * EXPOSURE_S - EXPOSURE_S / 2
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001),
                                options={"preset": "veryfast", "crf": "23"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i, ti in enumerate(t):
            frame = np.mean([_paste(background, sprite, mask, c) for c in hub_at(ti + offsets)], axis=0)
            video_frame = av.VideoFrame.from_ndarray(np.clip(frame + 0.5, 0, 255).astype(np.uint8), format="rgb24")
            video_frame.pts = i
            for packet in stream.encode(video_frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    seq = _figure(hub, floor_y, athlete_px, width, height, fps)
    return PlateTruth(path, t, hub, height_m, velocity, radius, m_per_px, seq)
