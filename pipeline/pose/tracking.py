"""Following people across frames and choosing the athlete.

MediaPipe with several poses returns people in no stable order, sometimes the same person twice.
We de-duplicate by box overlap, link detections into tracks frame to frame (Hungarian assignment
on box IoU and centroid distance, tolerating short losses), then pick one track as the athlete:
the largest person, the one who moves the most (running), or the one at a point the user gave.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from pipeline.errors import NoPersonFound
from pipeline.pose.estimate import Detections
from pipeline.pose.landmarks import Landmark as L
from pipeline.pose.sequence import PoseSequence

DUPLICATE_IOU = 0.5
MAX_LOST_S = 1.0


def boxes(xy: NDArray[np.floating]) -> NDArray[np.float64]:
    """(..., 33, 2) landmarks -> (..., 4) boxes x0, y0, x1, y1 (NaN when absent)."""
    with np.errstate(invalid="ignore"), np.testing.suppress_warnings() as sup:
        sup.filter(RuntimeWarning)
        lo = np.nanmin(xy, axis=-2)
        hi = np.nanmax(xy, axis=-2)
    return np.concatenate([lo, hi], axis=-1).astype(np.float64)


def iou(a: NDArray[np.floating], b: NDArray[np.floating]) -> NDArray[np.float64]:
    """Pairwise IoU of boxes a (N, 4) and b (M, 4) -> (N, M)."""
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(inter / (area_a[:, None] + area_b[None, :] - inter))


def deduplicate(det: Detections) -> NDArray[np.bool_]:
    """(T, P) mask of detections to keep: of two boxes overlapping > DUPLICATE_IOU, the more present one."""
    present = ~np.isnan(det.image_xy[..., 0, 0])
    b = boxes(det.image_xy)
    score = det.presence.mean(axis=-1)
    keep = present.copy()
    p = present.shape[1]
    for i in range(p):
        for j in range(i + 1, p):
            both = keep[:, i] & keep[:, j]
            ov = _rowwise_iou(b[:, i], b[:, j])
            dup = both & (ov > DUPLICATE_IOU)
            drop_i = dup & (score[:, i] < score[:, j])
            keep[drop_i, i] = False
            keep[dup & ~drop_i, j] = False
    return keep


def _rowwise_iou(a: NDArray[np.floating], b: NDArray[np.floating]) -> NDArray[np.float64]:
    x0, y0 = np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])
    x1, y1 = np.minimum(a[:, 2], b[:, 2]), np.minimum(a[:, 3], b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(inter / union)


def _match_cost(track_boxes: NDArray[np.float64], new_boxes: NDArray[np.float64]) -> NDArray[np.float64]:
    """1 - IoU plus centroid distance in units of box height; large = no match."""
    ov = iou(track_boxes, new_boxes)
    ct = (track_boxes[:, None, :2] + track_boxes[:, None, 2:]) / 2
    cn = (new_boxes[None, :, :2] + new_boxes[None, :, 2:]) / 2
    h = np.maximum(track_boxes[:, None, 3] - track_boxes[:, None, 1], 1.0)
    dist = np.linalg.norm(ct - cn, axis=-1) / h
    return (1 - ov) + dist


@dataclass(frozen=True)
class Tracks:
    ids: NDArray[np.int64]  # (T, P) track id of each detection, -1 where none
    count: int


def link_tracks(det: Detections, keep: NDArray[np.bool_], max_cost: float = 1.2) -> Tracks:
    """Assign a track id to each kept detection, frame by frame (the association is sequential)."""
    t_len, p = keep.shape
    b = boxes(det.image_xy)
    ids = np.full((t_len, p), -1, np.int64)
    last_box: list[NDArray[np.float64]] = []
    last_seen: list[float] = []
    for t in range(t_len):
        cand = np.flatnonzero(keep[t])
        if len(cand) == 0:
            continue
        alive = [k for k in range(len(last_box)) if det.time_s[t] - last_seen[k] <= MAX_LOST_S]
        assigned: dict[int, int] = {}
        if alive:
            cost = _match_cost(np.array([last_box[k] for k in alive]), b[t, cand])
            rows, cols = linear_sum_assignment(cost)
            assigned = {int(cand[c]): alive[r] for r, c in zip(rows, cols) if cost[r, c] <= max_cost}
        for c in cand:
            k = assigned.get(int(c))
            if k is None:
                k = len(last_box)
                last_box.append(b[t, c])
                last_seen.append(det.time_s[t])
            last_box[k], last_seen[k] = b[t, c], det.time_s[t]
            ids[t, c] = k
    return Tracks(ids, len(last_box))


def stitch(tracks: Tracks, det: Detections, chosen: int, max_gap_s: float = 1.5,
           max_dist: float = 1.0) -> Tracks:
    """Merge into `chosen` the tracks that continue it: starting after it ends (or ending before it
    starts) within `max_gap_s`, near where it was (centroid within `max_dist` box heights).

    Fast movements (a backflip, a fall) break the frame-to-frame association; this re-joins the
    athlete's pieces without ever taking a track that overlaps it in time.
    """
    ids = tracks.ids.copy()
    b = boxes(det.image_xy)
    while True:
        mine = (ids == chosen).any(axis=1)
        first, last = np.flatnonzero(mine)[[0, -1]]
        best, best_d = None, max_dist
        for k in set(np.unique(ids[ids >= 0]).tolist()) - {chosen}:
            frames = np.flatnonzero((ids == k).any(axis=1))
            if frames[0] > last and det.time_s[frames[0]] - det.time_s[last] <= max_gap_s:
                a, c = b[last][ids[last] == chosen][0], b[frames[0]][ids[frames[0]] == k][0]
            elif frames[-1] < first and det.time_s[first] - det.time_s[frames[-1]] <= max_gap_s:
                a, c = b[first][ids[first] == chosen][0], b[frames[-1]][ids[frames[-1]] == k][0]
            else:
                continue
            h = max(a[3] - a[1], 1.0)
            d = float(np.hypot((a[0] + a[2] - c[0] - c[2]) / 2, (a[1] + a[3] - c[1] - c[3]) / 2)) / h
            if d < best_d:
                best, best_d = k, d
        if best is None:
            return Tracks(ids, tracks.count)
        ids[ids == best] = chosen


def track_arrays(det: Detections, tracks: Tracks, track_id: int) -> dict[str, NDArray[np.float32]]:
    """The (T, 33, ...) arrays of one track; NaN (zero visibility) where the track is absent."""
    mask = tracks.ids == track_id                        # (T, P), at most one True per row
    has = mask.any(axis=1)
    col = mask.argmax(axis=1)
    rows = np.arange(len(det))
    out = {}
    for name in ("image_xy", "image_z", "world_xyz", "visibility", "presence"):
        arr = getattr(det, name)[rows, col].copy()
        fill = 0.0 if name in ("visibility", "presence") else np.nan
        arr[~has] = fill
        out[name] = arr.astype(np.float32)
    return out


def _hip_centre(xy: NDArray[np.floating]) -> NDArray[np.float64]:
    return ((xy[:, L.LEFT_HIP] + xy[:, L.RIGHT_HIP]) / 2).astype(np.float64)


def _width_ratio(xy: NDArray[np.floating]) -> NDArray[np.float64]:
    shoulders = np.abs(xy[:, L.LEFT_SHOULDER, 0] - xy[:, L.RIGHT_SHOULDER, 0])
    trunk = np.linalg.norm((xy[:, L.LEFT_SHOULDER] + xy[:, L.RIGHT_SHOULDER] - xy[:, L.LEFT_HIP]
                            - xy[:, L.RIGHT_HIP]) / 2, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(shoulders / trunk, nan=1.0)


def track_scores(det: Detections, tracks: Tracks, mode: str) -> NDArray[np.float64]:
    """A score per track for `mode` = largest | moving (higher is more likely the athlete)."""
    scores = np.zeros(tracks.count)
    b = boxes(det.image_xy)
    for k in range(tracks.count):
        arrs = track_arrays(det, tracks, k)
        has = ~np.isnan(arrs["image_xy"][:, 0, 0])
        bk = b[tracks.ids == k]
        heights = bk[:, 3] - bk[:, 1]
        size = float(np.nansum((bk[:, 2] - bk[:, 0]) * heights))
        if mode == "largest":
            scores[k] = size
            continue
        # moving: net horizontal travel of the hips (body heights) plus the legs' crossings in a
        # side view (L/R ankles swap order every step; jumping jacks and squats never cross)
        xy = arrs["image_xy"][has]
        h = float(np.nanmedian(heights)) or 1.0
        hip_x = _hip_centre(xy)[:, 0]
        travel = abs(float(np.nanmax(hip_x) - np.nanmin(hip_x))) / h if np.isfinite(hip_x).any() else 0.0
        side_view = _width_ratio(xy) < 0.35   # frontal views flicker L/R: their crossings mean nothing
        order = np.sign(xy[:, L.LEFT_ANKLE, 0] - xy[:, L.RIGHT_ANKLE, 0])
        order = order[side_view & np.isfinite(order) & (order != 0)]
        crossings = int(np.count_nonzero(np.diff(order)))
        scores[k] = travel + 0.5 * crossings
    return scores


def _track_at_point(det: Detections, tracks: Tracks, x: float, y: float) -> int:
    """The track whose box in its first frames contains (x, y), else the nearest centre."""
    b = boxes(det.image_xy)
    first_t = int(np.flatnonzero((tracks.ids >= 0).any(axis=1))[0])
    best, best_d = -1, np.inf
    for t in range(first_t, min(first_t + 5, len(det))):
        for c in np.flatnonzero(tracks.ids[t] >= 0):
            x0, y0, x1, y1 = b[t, c]
            inside = x0 <= x <= x1 and y0 <= y <= y1
            d = -1.0 if inside else float(np.hypot((x0 + x1) / 2 - x, (y0 + y1) / 2 - y))
            if d < best_d:
                best, best_d = int(tracks.ids[t, c]), d
    return best


def select_athlete(det: Detections, mode: str = "largest", fps: float = 30.0) -> tuple[PoseSequence, dict]:
    """The athlete's `PoseSequence` and a summary of the people seen (for the manifest's quality block)."""
    keep = deduplicate(det)
    if not keep.any():
        raise NoPersonFound("no person was found in any frame of the video")
    tracks = link_tracks(det, keep)
    if "," in mode:
        x, y = (float(v) for v in mode.split(","))
        chosen = _track_at_point(det, tracks, x, y)
    else:
        chosen = int(np.argmax(track_scores(det, tracks, mode)))
    tracks = stitch(tracks, det, chosen)
    arrays = track_arrays(det, tracks, chosen)
    seq = PoseSequence(time_s=det.time_s, width=det.width, height=det.height, fps=fps, **arrays)
    people_per_frame = keep.sum(axis=1)
    info = {"tracks": tracks.count, "athlete_track": chosen, "selection": mode,
            "max_people_in_frame": int(people_per_frame.max()),
            "multi_person_share": float(np.mean(people_per_frame > 1))}
    return seq, info
