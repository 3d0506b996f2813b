"""Track the bar end (the plate's hub) through the video with OpenCV's CSRT tracker (I/O: reads frames).

Seeding: at a frame where the hands are confidently seen, look for a plate near them
(`cv2.HoughCircles`, radius 10-16 % of the athlete's height: a 45 cm bumper plate is 13 %). In a
side view the bar axis projects onto the hands, so a disc found within `MAX_HUB_OFFSET` of them
is the bar end; the tracker follows the whole disc, and the disc found again near the tracked
point re-centres it (CSRT slides along a motion-blurred plate). On a reported loss, or a drift
farther than `MAX_DRIFT` athlete heights from the hands, it is seeded again.

Frames without a track are NaN, and so is everything when no plate is seen (no plates, a
front or rear view, or a "disc" that is seldom found again: a head, a shoulder). Where NaN,
`bar_path.bar_point` falls back to the hands. The pure metrics take the returned track's (T, 2)
`xy` (`weightlifting.analyze(..., bar_xy=...)`) and the plate's radius in pixels, their scale
for the bar's distances and velocities (`plate_radius_px=`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.metrics.bar_path import hands_point, standing_height_px
from pipeline.pose.landmarks import Landmark as L
from pipeline.pose.sequence import PoseSequence
from pipeline.video import WHOLE, TimeWindow, iter_frames

PLATE_RADIUS = (0.10, 0.16)      # share of the athlete's height
MAX_HUB_OFFSET = 0.15
MIN_HAND_VISIBILITY = 0.5
MAX_DRIFT = 0.25
SNAP = 0.1                       # re-centre on the plate when the tracker is off by 10 % of its radius
MIN_PLATE_SHARE = 0.5            # the disc must be found again in half the tracked frames
EARLY_VERDICT_FRAMES = 15


@dataclass(frozen=True)
class BarTrack:
    """The bar end through the clip and the size of the plate it is the hub of."""

    xy: NDArray[np.float64]            # (T, 2) image pixels, NaN where not tracked
    plate_radius_px: float | None      # median radius of the disc wherever it was found; None if never


def _create_tracker() -> Any:
    """CSRT from opencv-contrib (top-level in OpenCV >= 4.5.1, `cv2.legacy` in between)."""
    for owner in (cv2, getattr(cv2, "legacy", None)):
        make = getattr(owner, "TrackerCSRT_create", None)
        if make is not None:
            return make()
    raise RuntimeError("this OpenCV build has no CSRT tracker; install opencv-contrib-python")


def find_plate(gray: NDArray[np.uint8], near: NDArray[np.floating], height_px: float,
               within: float | None = None) -> tuple[float, float, float] | None:
    """(x, y, radius) of the plate circle whose centre is nearest `near`, no farther than `within`
    pixels (default `MAX_HUB_OFFSET` of the athlete's height)."""
    reach = int((MAX_HUB_OFFSET + PLATE_RADIUS[1]) * height_px)
    x0, y0 = max(0, int(near[0]) - reach), max(0, int(near[1]) - reach)
    roi = cv2.medianBlur(gray[y0:int(near[1]) + reach, x0:int(near[0]) + reach], 5)
    if min(roi.shape) < 16:
        return None
    circles = cv2.HoughCircles(roi, cv2.HOUGH_GRADIENT, dp=1.5, minDist=reach, param1=120, param2=40,
                               minRadius=int(PLATE_RADIUS[0] * height_px), maxRadius=int(PLATE_RADIUS[1] * height_px))
    if circles is None:
        return None
    c = circles[0] + np.array([x0, y0, 0.0])
    d = np.linalg.norm(c[:, :2] - np.asarray(near, dtype=np.float64), axis=1)
    best = int(np.argmin(d))
    limit = MAX_HUB_OFFSET * height_px if within is None else within
    return (float(c[best, 0]), float(c[best, 1]), float(c[best, 2])) if d[best] <= limit else None


def track_bar(video_path: str | Path, seq: PoseSequence, window: TimeWindow = WHOLE) -> BarTrack:
    """The bar end in every frame of `seq` (NaN where not tracked) and the plate's radius; `window`:
    the part of the clip `seq` covers (its frames are those of `iter_frames(window=...)`)."""
    n = len(seq)
    out = np.full((n, 2), np.nan)
    radii = np.full(n, np.nan)         # the disc's radius where it was found
    height = standing_height_px(seq) if n else float("nan")
    if not np.isfinite(height):
        return BarTrack(out, None)
    anchor = hands_point(seq)
    vis = seq.visibility[:, [L.LEFT_WRIST, L.RIGHT_WRIST]].max(axis=1)
    confident = np.isfinite(anchor).all(axis=1) & (vis >= MIN_HAND_VISIBILITY)
    tracker, offset, plate_r = None, np.zeros(2), None
    tracked = np.zeros(n, bool)        # frames followed from a plate seed
    seen = np.zeros(n, bool)           # ... where the disc was found again
    for frame in iter_frames(video_path, window=window):
        i = frame.index
        if i >= n:
            break
        bgr = cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR)
        if tracker is not None:
            ok, box = tracker.update(bgr)
            centre = np.array([box[0] + box[2] / 2, box[1] + box[3] / 2]) + offset
            if ok and (not confident[i] or np.linalg.norm(centre - anchor[i]) <= MAX_DRIFT * height):
                # the disc itself corrects the tracker's slow slide along a blurred plate
                found = find_plate(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), centre, height, within=0.5 * plate_r)
                if found is not None and np.hypot(found[0] - centre[0], found[1] - centre[1]) > SNAP * plate_r:
                    tracker, offset, centre = _start(bgr, np.array(found[:2]), found[2])
                # where the disc is found its own centre is the hub: CSRT's box, re-seeded only when
                # more than SNAP off, sat up to 7.5 px from it on the power clean
                out[i] = centre if found is None else found[:2]
                tracked[i], seen[i] = True, found is not None
                radii[i] = found[2] if found is not None else np.nan
                if tracked.sum() >= EARLY_VERDICT_FRAMES and seen[tracked].mean() < MIN_PLATE_SHARE:
                    break                      # not a plate: stop decoding now
                continue
            tracker = None
        if confident[i]:
            plate = find_plate(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), anchor[i], height)
            if plate is not None:
                tracker, offset, out[i] = _start(bgr, np.array(plate[:2]), plate[2])
                plate_r, tracked[i], seen[i], radii[i] = plate[2], True, True, plate[2]
    # a "plate" that is rarely a circle again was something else (a head, a shoulder)
    if not tracked.any() or seen[tracked].mean() < MIN_PLATE_SHARE:
        return BarTrack(np.full((n, 2), np.nan), None)
    return BarTrack(out, float(np.nanmedian(radii)))


def _start(bgr: NDArray[np.uint8], centre: NDArray[np.float64],
           half: float) -> tuple[Any, NDArray[np.float64], NDArray[np.float64]]:
    """A CSRT tracker on the square of half-side `half` around `centre`; the offset from the
    (edge-clipped) box's centre to `centre`; `centre` itself (NaN when the box does not fit)."""
    h, w = bgr.shape[:2]
    x0, y0 = int(max(0, centre[0] - half)), int(max(0, centre[1] - half))
    x1, y1 = int(min(w, centre[0] + half)), int(min(h, centre[1] + half))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None, np.zeros(2), np.full(2, np.nan)
    tracker = _create_tracker()
    tracker.init(bgr, (x0, y0, x1 - x0, y1 - y0))
    return tracker, centre - np.array([(x0 + x1) / 2, (y0 + y1) / 2]), centre
