"""Pose on both cores: consecutive chunks of the video, each decoded (by seeking) and posed in its own thread.

MediaPipe's `detect_for_video` and PyAV's decoding release the GIL, so threads of one process
scale like processes here (measured: docs/performance.md) without their start-up, imports, model
copies or frame transfers. Each chunk opens its own container, seeks to the keyframe before its
first frame, decodes only its frames and runs its own landmarker (re-detection at its start, then
tracking). The chunks' `Detections` are concatenated in time order and the athlete is tracked and
selected on the whole clip by `tracking.select_athlete`, which links people across chunk borders
by box overlap like across any other frame.

Frames, indices and timestamps are those of `pipeline.video.iter_frames`: a demux pass (no
decoding) lists every frame's pts, and each chunk checks that it decoded exactly its share of them;
any surprise (no timestamps, a decode error, a frame count that does not add up) falls back to
the sequential path, which knows how to report damaged files.

Several people in view: MediaPipe keeps following a person its detector no longer finds (in
the multi-person demo the detector alone finds the second person in 6 of 230 frames, tracking
keeps him in 119), and that state cannot cross a chunk border, so such a clip is posed in one pass
(exactly `estimate_athlete`'s result). One person (the usual athlete clip): with num_poses > 1 the
landmarker runs its detector on every frame and has no memory, so the chunks give exactly the
sequential keypoints.

`num_poses="auto"` runs a census: on each chunk's first frame and then twice a second, an
IMAGE-mode landmarker (detection threshold 0.3) counts the people in view. While it never sees
more than one person the chunk is posed with `num_poses=1` (MediaPipe tracks the person from frame
to frame: ~35 % less CPU than num_poses=3, census included, and ~4x less jitter); as soon as any
census sees two, the clip is posed in one pass with `MAX_PEOPLE`. Tracking has memory: chunked and
one-pass num_poses=1 keypoints differ by ~1 px (median) after a border, the metrics do not.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray

from pipeline.errors import NoPersonFound
from pipeline.pose.estimate import MAX_PEOPLE, Detections, detect, frame_diff
from pipeline.pose.models import resolve_model
from pipeline.pose.sequence import PoseSequence
from pipeline.pose.tracking import select_athlete
from pipeline.video import WHOLE, Frame, TimeWindow, iter_frames, probe, rotate_image

CENSUS_INTERVAL_S = 0.5
CENSUS_DETECTION_CONFIDENCE = 0.3   # the detector alone finds a 2nd person far less often than tracking keeps him
DECODE_SHARE = 0.08      # cost of decoding a frame without using it, relative to posing one
MIN_CHUNK_FRAMES = 60    # shorter clips are not worth splitting

NumPoses = int | str     # an int, or "auto"


class PlanMismatch(RuntimeError):
    """A chunk did not decode the frames the plan expected: use the sequential path."""


class _MorePeople(Exception):
    """Raised inside a chunk's frame stream when the census sees more than one person."""


@dataclass(frozen=True)
class VideoIndex:
    """Every frame's presentation time (stream ticks, display order) and where decoding can start."""

    pts: NDArray[np.int64]           # (T,) sorted
    key_pts: NDArray[np.int64]       # pts of the keyframes, sorted
    key_dts: NDArray[np.int64]       # their decode timestamps (what seeking looks up)
    time_base: Fraction
    t0: float                        # time of the first decoded frame (iter_frames' origin)
    offset: int = 0                  # clip index of pts[0]: > 0 when the index covers a window of the clip

    def __len__(self) -> int:
        return len(self.pts)


@dataclass(frozen=True)
class Chunk:
    number: int
    start: int          # global index of its first frame
    stop: int           # one past its last frame
    seek_dts: int       # decode timestamp of the keyframe decoding starts from

    def __len__(self) -> int:
        return self.stop - self.start


def index_video(path: str | Path) -> VideoIndex:
    """One demux pass (packets only, no decoding) and the first frame's time. Raises PlanMismatch
    when the stream cannot be split safely (no timestamps, no keyframe flags)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pts, key_pts, key_dts = [], [], []
        for packet in container.demux(stream):
            if packet.size == 0 or packet.is_discard:
                continue
            if packet.pts is None or packet.dts is None:
                raise PlanMismatch("packets without timestamps")
            pts.append(packet.pts)
            if packet.is_keyframe:
                key_pts.append(packet.pts)
                key_dts.append(packet.dts)
        time_base = stream.time_base
    if not pts or not key_pts:
        raise PlanMismatch("no frames or no keyframes")
    t0 = _first_frame_time(path)
    order = np.argsort(key_pts)
    return VideoIndex(np.sort(np.asarray(pts, np.int64)), np.asarray(key_pts, np.int64)[order],
                      np.asarray(key_dts, np.int64)[order], time_base, t0)


def _first_frame_time(path: str | Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.time is None:
                raise PlanMismatch("frames without timestamps")
            return float(frame.time)
    raise PlanMismatch("no decodable frame")


def window_index(index: VideoIndex, window: TimeWindow) -> VideoIndex:
    """The frames of `index` inside `window` (the same frames `iter_frames(window=...)` yields)."""
    if window.whole:
        return index
    inside = np.flatnonzero(window.contains(index.pts * float(index.time_base) - index.t0))
    if not len(inside):
        raise PlanMismatch("no frame inside the window")
    return VideoIndex(index.pts[inside[0]:inside[-1] + 1], index.key_pts, index.key_dts, index.time_base, index.t0,
                      offset=int(inside[0]))


def _keyframe_before(index: VideoIndex, frame: int) -> int:
    """Position in `index.key_pts` of the last keyframe shown at or before global frame `frame`."""
    return max(int(np.searchsorted(index.key_pts, index.pts[frame], side="right")) - 1, 0)


def plan_chunks(index: VideoIndex, n_chunks: int, decode_share: float = DECODE_SHARE) -> list[Chunk]:
    """`n_chunks` consecutive chunks of about equal cost: a chunk costs its frames plus, at
    `decode_share` each, the frames decoded in vain from the keyframe before its first frame."""
    t = len(index)
    n_chunks = max(1, min(n_chunks, t // MIN_CHUNK_FRAMES or 1))
    frames = np.arange(t)
    key_frame = np.searchsorted(index.pts, index.key_pts)               # global index of each keyframe
    before = np.maximum(np.searchsorted(key_frame, frames, side="right") - 1, 0)
    lead = np.maximum(frames - key_frame[before], 0)                   # frames decoded in vain
    starts = [0]
    for left in range(n_chunks, 1, -1):                                # chunks still to place, this one included
        s = starts[-1]
        cand = frames[s + 1:]
        this = (cand - s) + decode_share * lead[s]
        rest = (t - cand) + decode_share * (lead[cand] + lead.mean() * (left - 2))
        b = int(cand[np.argmin(np.abs(this - rest / (left - 1)))]) if len(cand) else t
        if b >= t:
            break
        starts.append(b)
    bounds = [*starts, t]
    return [Chunk(k, a, b, int(index.key_dts[_keyframe_before(index, a)])) for k, (a, b) in
            enumerate(zip(bounds[:-1], bounds[1:]))]


def iter_chunk(path: str | Path, index: VideoIndex, chunk: Chunk,
               abort: threading.Event | None = None) -> Iterator[Frame]:
    """The chunk's frames, exactly as `iter_frames` yields them (same index, time and pixels).
    Stops with PlanMismatch when `abort` is set (another chunk failed)."""
    first_pts, last_pts = int(index.pts[chunk.start]), int(index.pts[chunk.stop - 1])
    expected = chunk.start
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if chunk.start > 0 or index.offset > 0:
            container.seek(chunk.seek_dts, stream=stream, backward=True, any_frame=False)
        try:
            for frame in container.decode(stream):
                if frame.pts is None or frame.time is None:
                    raise PlanMismatch("a frame without a timestamp")
                if frame.pts < first_pts:
                    continue
                if frame.pts > last_pts:
                    break
                if abort is not None and abort.is_set():
                    raise PlanMismatch(f"chunk {chunk.number}: another chunk failed")
                if expected >= chunk.stop or frame.pts != index.pts[expected]:
                    raise PlanMismatch(f"chunk {chunk.number}: frame {expected} has pts {frame.pts}, "
                                       f"expected {index.pts[min(expected, len(index) - 1)]}")
                image = rotate_image(frame.to_ndarray(format="rgb24"), frame.rotation)
                yield Frame(expected, float(frame.time) - index.t0, image)
                expected += 1
        except av.error.FFmpegError as exc:
            raise PlanMismatch(f"chunk {chunk.number}: {exc}") from exc
    if expected != chunk.stop:
        raise PlanMismatch(f"chunk {chunk.number}: decoded {expected - chunk.start} of {len(chunk)} frames")


# --- the people census (num_poses="auto") -----------------------------------------------------------

class Census:
    """Counts the people in some frames with an IMAGE-mode landmarker (the detector runs every time)."""

    def __init__(self, model_path: Path, interval_s: float = CENSUS_INTERVAL_S) -> None:
        from pipeline.pose.estimate import _frame_rows
        from pipeline.pose.quiet import native_stderr_silenced

        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions
        from mediapipe.tasks.python.vision import PoseLandmarker, PoseLandmarkerOptions, RunningMode

        self._mp, self._rows, self.interval_s = mp, _frame_rows, interval_s
        options = PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(model_path)),
                                        running_mode=RunningMode.IMAGE, num_poses=MAX_PEOPLE,
                                        min_pose_detection_confidence=CENSUS_DETECTION_CONFIDENCE,
                                        min_pose_presence_confidence=0.5)
        self._silenced = native_stderr_silenced
        with native_stderr_silenced():
            self._landmarker = PoseLandmarker.create_from_options(options)
        self._next_s = -np.inf
        self.frames_checked = 0

    def people(self, frame: Frame) -> int:
        """Distinct people in the frame (boxes overlapping > tracking.DUPLICATE_IOU count once)."""
        from pipeline.pose.tracking import DUPLICATE_IOU, boxes, iou

        h, w = frame.image.shape[:2]
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=frame.image)
        if self.frames_checked == 0:
            with self._silenced():
                result = self._landmarker.detect(image)
        else:
            result = self._landmarker.detect(image)
        xy = self._rows(result, w, h, MAX_PEOPLE)[0]
        b = boxes(xy)[~np.isnan(xy[:, 0, 0])]
        self.frames_checked += 1
        if len(b) < 2:
            return len(b)
        ov = iou(b, b)
        distinct = [i for i in range(len(b)) if not any(ov[i, j] > DUPLICATE_IOU for j in range(i))]
        return len(distinct)

    def watch(self, frames: Iterator[Frame], stop: threading.Event) -> Iterator[Frame]:
        """Pass `frames` through, checking one a second; raise _MorePeople when two people are seen
        (here or, through `stop`, in another chunk)."""
        for frame in frames:
            if stop.is_set():
                raise _MorePeople
            if frame.time_s >= self._next_s:
                self._next_s = frame.time_s + self.interval_s
                if self.people(frame) > 1:
                    stop.set()
                    raise _MorePeople
            yield frame

    def close(self) -> None:
        with self._silenced():
            self._landmarker.close()


# --- running the chunks ------------------------------------------------------------------------------

def _locked(on_frame: Callable[[Frame], None] | None) -> Callable[[Frame], None] | None:
    if on_frame is None:
        return None
    lock = threading.Lock()

    def call(frame: Frame) -> None:
        with lock:
            on_frame(frame)

    return call


def _pose_chunk(path: Path, index: VideoIndex, chunk: Chunk, model_path: Path, num_poses: NumPoses,
                on_frame: Callable[[Frame], None] | None, several: threading.Event,
                abort: threading.Event) -> Detections | None:
    """Detections of one chunk; None when a census saw several people (then the clip is posed in one
    pass). num_poses="auto" counts people twice a second; a number > 1 only on the chunk's first frame
    (a cheap early exit: the chunks' own detections are checked afterwards anyway)."""
    if num_poses != "auto" and int(num_poses) == 1:
        return detect(iter_chunk(path, index, chunk, abort), model_path, num_poses=1, on_frame=on_frame)
    census = Census(model_path, CENSUS_INTERVAL_S if num_poses == "auto" else math.inf)
    p = 1 if num_poses == "auto" else int(num_poses)
    try:
        return detect(census.watch(iter_chunk(path, index, chunk, abort), several), model_path, num_poses=p, on_frame=on_frame)
    except _MorePeople:
        return None
    finally:
        census.close()


def concat_detections(parts: list[Detections]) -> Detections:
    """Detections of consecutive chunks as one clip (time order kept; person axis padded to the widest)."""
    p = max(d.image_xy.shape[1] for d in parts)
    names = ("image_xy", "image_z", "world_xyz", "visibility", "presence")
    fill = {"image_xy": np.nan, "image_z": np.nan, "world_xyz": np.nan, "visibility": 0.0, "presence": 0.0}
    cols: dict[str, Any] = {}
    for name in names:
        arrays = []
        for d in parts:
            a = getattr(d, name)
            if a.shape[1] < p:
                pad = np.full((a.shape[0], p - a.shape[1], *a.shape[2:]), fill[name], a.dtype)
                a = np.concatenate([a, pad], axis=1)
            arrays.append(a)
        cols[name] = np.concatenate(arrays)
    thumbs = None if any(d.thumbs is None for d in parts) else np.concatenate([d.thumbs for d in parts])
    return Detections(np.concatenate([d.time_s for d in parts]), **cols,
                      width=parts[0].width, height=parts[0].height, thumbs=thumbs)


@dataclass(frozen=True)
class PoseRun:
    detections: Detections
    num_poses: int
    chunks: int            # 1: posed in one pass (several people in view, or a clip too short to split)


def several_people(det: Detections) -> bool:
    """More than one distinct person in some frame (after tracking's de-duplication)."""
    from pipeline.pose.tracking import deduplicate

    return det.image_xy.shape[1] > 1 and bool((deduplicate(det).sum(axis=1) > 1).any())


def detect_parallel(video: str | Path, model_path: Path, *, workers: int = 2, num_poses: NumPoses = MAX_PEOPLE,
                    on_frame: Callable[[Frame], None] | None = None, chunks: int | None = None,
                    window: TimeWindow = WHOLE) -> PoseRun:
    """Every person's landmarks in every frame, computed on `chunks` (default `workers`) chunks by
    `workers` threads. Raises PlanMismatch when the video cannot be split (use the sequential path).

    With several people in view the clip is posed again in one pass: MediaPipe keeps following a
    person its detector no longer finds, and that state cannot be handed across a chunk border (a
    re-detecting chunk loses such people for a while, and their tracks break at the border).
    """
    path = Path(video)
    index = window_index(index_video(path), window)
    plan = plan_chunks(index, chunks or workers)
    several, abort = threading.Event(), threading.Event()
    call = _locked(on_frame)

    def run(chunk: Chunk) -> Detections | None:
        try:
            return _pose_chunk(path, index, chunk, model_path, num_poses, call, several, abort)
        except BaseException:
            abort.set()
            raise

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="pose") as pool:
        results = list(pool.map(run, plan))
    p = MAX_PEOPLE if num_poses == "auto" else int(num_poses)
    if any(d is None for d in results):
        return PoseRun(detect(iter_frames(path, window=window), model_path, num_poses=p, on_frame=call), p, 1)
    det = concat_detections([d for d in results if d is not None])
    if len(plan) > 1 and several_people(det):
        return PoseRun(detect(iter_frames(path, window=window), model_path, num_poses=p, on_frame=call), p, 1)
    return PoseRun(det, 1 if num_poses == "auto" else p, len(plan))


# num_poses=1 tracks with MediaPipe's own smoothing, which lags: on the ground-truth jump clips it
# puts takeoff and landing 11-15 ms late (> 1/3 frame at 30 and 60 fps) and a jump 1.1-1.3 cm too
# high at 30 fps (docs/performance.md). Only the slow lifts, whose events are tenths of a second
# apart, take it: on power_clean_side it moved the clean's phase borders by up to 0.2 s (its second
# pull lasts 0.17 s), so the Olympic lifts are posed lag-free like jumps and runs.
AUTO_POSES_ACTIVITIES = ("weightlifting",)
FAST_EXERCISES = ("snatch", "clean", "clean_and_jerk")


def pose_settings(activity: str | None = None, exercise: str | None = None) -> tuple[int, NumPoses]:
    """(workers, num_poses) for an analysis: MOTIONLENS_WORKERS (default: the cores this process may
    use) and MOTIONLENS_NUM_POSES (a number, or "auto"; default "auto" for the slow lifts, else
    MAX_PEOPLE)."""
    env = os.environ.get("MOTIONLENS_WORKERS")
    if env:
        workers = max(1, int(env))
    else:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    slow_lift = activity in AUTO_POSES_ACTIVITIES and exercise not in FAST_EXERCISES
    default = "auto" if slow_lift else str(MAX_PEOPLE)
    n = os.environ.get("MOTIONLENS_NUM_POSES", default).strip().lower()
    return max(1, workers), ("auto" if n == "auto" else max(1, int(n)))


def estimate_athlete_parallel(video: str | Path, *, model: str = "full", select: str = "largest",
                              workers: int = 2, num_poses: NumPoses = MAX_PEOPLE,
                              on_frame: Callable[[Frame], None] | None = None,
                              window: TimeWindow = WHOLE) -> tuple[PoseSequence, dict[str, Any]]:
    """`pipeline.pose.athlete.estimate_athlete` on `workers` threads: the same frames, timestamps and
    athlete. With an integer `num_poses` > 1 every keypoint equals the sequential path's; with "auto"
    a clip where the census never sees two people is posed with tracking (num_poses=1), any other
    exactly as `estimate_athlete` poses it. Only the frames inside `window` are decoded and posed."""
    info = probe(video)
    model_path = resolve_model(model)
    try:
        run = detect_parallel(video, model_path, workers=workers, num_poses=num_poses, on_frame=on_frame,
                              window=window)
    except PlanMismatch:
        run = _sequential(video, model_path, num_poses, _locked(on_frame), window)
    if len(run.detections) == 0:
        raise NoPersonFound("the video has no frames to look for a person in")
    seq, people = select_athlete(run.detections, select, fps=info.fps)
    seq = seq.with_arrays(frame_diff=frame_diff(run.detections.thumbs))   # thumbnails joined across chunks
    return seq, {**people, "num_poses": run.num_poses, "pose_chunks": run.chunks}


def _sequential(video: str | Path, model_path: Path, num_poses: NumPoses,
                on_frame: Callable[[Frame], None] | None, window: TimeWindow = WHOLE) -> PoseRun:
    """One pass of `iter_frames` (videos that cannot be split: no timestamps, damaged...), census included."""
    if num_poses != "auto":
        return PoseRun(detect(iter_frames(video, window=window), model_path, num_poses=int(num_poses), on_frame=on_frame), int(num_poses), 1)
    several = threading.Event()
    census = Census(model_path)
    try:
        return PoseRun(detect(census.watch(iter_frames(video, window=window), several), model_path, num_poses=1, on_frame=on_frame), 1, 1)
    except _MorePeople:
        pass
    finally:
        census.close()
    return PoseRun(detect(iter_frames(video, window=window), model_path, num_poses=MAX_PEOPLE, on_frame=on_frame), MAX_PEOPLE, 1)
