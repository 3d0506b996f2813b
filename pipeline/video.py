"""Video I/O with PyAV: probe, decode (rotation applied, real timestamps), and an H.264 MP4 writer.

Phone videos are often rotated by metadata, variable frame rate, HEVC or VP9; OpenCV's reader
fails silently on bad files, PyAV raises, so every failure here becomes a specific PipelineError.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray

from pipeline.errors import (EmptyVideo, NotAVideo, NoVideoStream, TruncatedVideo, VideoNotFound,
                             VideoTooLarge, VideoTooLong)


@dataclass(frozen=True)
class VideoLimits:
    max_duration_s: float = 600.0
    max_pixels: int = 3840 * 2160
    max_bytes: int = 2 * 1024**3

    @classmethod
    def from_env(cls) -> "VideoLimits":
        """Limits overridable by MOTIONLENS_MAX_DURATION_S / _MAX_PIXELS / _MAX_BYTES."""
        d = cls()
        return cls(max_duration_s=float(os.environ.get("MOTIONLENS_MAX_DURATION_S", d.max_duration_s)),
                   max_pixels=int(os.environ.get("MOTIONLENS_MAX_PIXELS", d.max_pixels)),
                   max_bytes=int(os.environ.get("MOTIONLENS_MAX_BYTES", d.max_bytes)))


@dataclass(frozen=True)
class ProbeInfo:
    duration_s: float
    fps: float
    frame_count: int          # from the container header; the decoder's count is authoritative
    width: int                # displayed width (after rotation)
    height: int
    rotation: int             # degrees anticlockwise the decoder must turn the frame to display it
    codec: str
    pix_fmt: str
    has_audio: bool
    size_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Frame:
    index: int
    time_s: float
    image: NDArray[np.uint8]  # (H, W, 3) RGB, displayed orientation


@dataclass(frozen=True)
class TimeWindow:
    """The part of a clip analysed, in seconds from its first frame: frames with start_s <= t < end_s
    (end_s None: to the end). Every reader skips the frames outside it while decoding; times stay
    the clip's own."""

    start_s: float = 0.0
    end_s: float | None = None

    EPS = 1e-6   # frame times computed two ways (PyAV's float, pts x time base) agree to far better

    @property
    def whole(self) -> bool:
        return self.start_s <= 0 and self.end_s is None

    def contains(self, t: Any) -> Any:
        """Whether time(s) `t` fall in the window (a bool, or a bool array for an array)."""
        inside = np.asarray(t) >= self.start_s - self.EPS
        if self.end_s is not None:
            inside = inside & (np.asarray(t) < self.end_s - self.EPS)
        return inside if np.ndim(inside) else bool(inside)


WHOLE = TimeWindow()


# Leading bytes of the containers phones and cameras write (MP4/MOV, Matroska/WebM, AVI).
def looks_like_video_container(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(12)
    return head[4:8] == b"ftyp" or head[:4] == b"\x1a\x45\xdf\xa3" or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")


def _open(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise VideoNotFound(f"no such file: {path}")
    if path.is_dir():
        raise NotAVideo(f"{path} is a directory, not a video file")
    if path.stat().st_size == 0:
        raise EmptyVideo(f"{path.name} is empty (0 bytes)")
    try:
        return av.open(str(path))
    except av.error.InvalidDataError as exc:
        if looks_like_video_container(path):
            raise TruncatedVideo(f"{path.name} starts like a video file but is incomplete or damaged "
                                 f"({exc.strerror}); upload the whole file again") from exc
        raise NotAVideo(f"{path.name} is not a video file the decoder recognises ({exc.strerror})") from exc
    except av.error.FFmpegError as exc:
        raise NotAVideo(f"{path.name} could not be opened as a video: {exc}") from exc


def _rotation(stream: av.video.stream.VideoStream, container: av.container.InputContainer) -> int:
    """Display rotation from the first decoded frame (PyAV reports it; it does not rotate pixels)."""
    try:
        for frame in container.decode(stream):
            return int(frame.rotation) % 360
    except av.error.FFmpegError:
        return 0
    return 0


def probe(path: str | Path, limits: VideoLimits | None = None) -> ProbeInfo:
    """Facts about the video; raises a specific PipelineError for anything we cannot analyse."""
    path = Path(path)
    limits = limits or VideoLimits()
    size = path.stat().st_size if path.is_file() else 0
    if size > limits.max_bytes:
        raise VideoTooLarge(f"{path.name} is {size / 1e6:.0f} MB; the limit is {limits.max_bytes / 1e6:.0f} MB")
    with _open(path) as container:
        if not container.streams.video:
            raise NoVideoStream(f"{path.name} has no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        duration = _duration_s(container, stream)
        rotation = _rotation(stream, container)
        w, h = stream.codec_context.width, stream.codec_context.height
        if rotation in (90, 270):
            w, h = h, w
        info = ProbeInfo(
            duration_s=duration, fps=float(rate), frame_count=int(stream.frames or round(duration * float(rate))),
            width=w, height=h, rotation=rotation, codec=stream.codec_context.name,
            pix_fmt=str(stream.codec_context.pix_fmt), has_audio=bool(container.streams.audio), size_bytes=size,
        )
    if info.width * info.height > limits.max_pixels:
        raise VideoTooLarge(f"{path.name} is {info.width}x{info.height}; the limit is {limits.max_pixels} pixels")
    if info.duration_s > limits.max_duration_s:
        raise VideoTooLong(f"{path.name} lasts {info.duration_s:.0f} s; the limit is {limits.max_duration_s:.0f} s")
    return info


def check_complete(path: str | Path, min_share: float = 0.8) -> None:
    """TruncatedVideo for a file cut short (an interrupted upload or copy): its header still declares
    every frame and the decoder stops at the cut without an error, so count the packets really there
    (one demux pass, no decoding; the analysis' ingest does it once, not every `probe`). The share
    tolerated is that of `iter_frames` for a damaged tail."""
    path = Path(path)
    with _open(path) as container:
        if not container.streams.video:
            return  # probe has said so already
        stream = container.streams.video[0]
        declared = int(stream.frames or 0)
        if not declared:  # Matroska/WebM declare no count: the decoder's check is all there is
            return
        try:
            present = sum(1 for packet in container.demux(stream) if packet.size)
        except av.error.FFmpegError as exc:
            raise TruncatedVideo(f"{path.name} is damaged ({exc}); upload the whole file again") from exc
    if present < min_share * declared:
        raise TruncatedVideo(f"{path.name} is incomplete: {present} of its {declared} frames are in the file; "
                             "upload the whole file again")


def _duration_s(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def rotate_image(img: NDArray[np.uint8], rotation: int) -> NDArray[np.uint8]:
    """Turn the decoded picture by `rotation` degrees anticlockwise to its display orientation."""
    k = (rotation // 90) % 4
    # contiguous always: PyAV pads rows for some widths, and MediaPipe ignores strides
    return np.ascontiguousarray(img if k == 0 else np.rot90(img, k=k))


def iter_frames(path: str | Path, *, window: TimeWindow = WHOLE,
                min_readable_share: float = 0.8) -> Iterator[Frame]:
    """Decoded RGB frames in display orientation with their real presentation times (VFR-safe).

    Times are relative to the clip's first frame; only the frames inside `window` are converted and
    yielded, indexed from 0 (the index of the pose sequence) and decoding stops after its end. A decode error after most of the declared frames is
    tolerated (the caller sees fewer frames and should note it); earlier it raises TruncatedVideo.
    """
    path = Path(path)
    with _open(path) as container:
        if not container.streams.video:
            raise NoVideoStream(f"{path.name} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        expected = stream.frames or 0
        index, t0, kept = 0, None, 0
        try:
            for frame in container.decode(stream):
                t = frame.time if frame.time is not None else index / float(stream.average_rate or 30)
                t0 = t if t0 is None else t0
                if window.end_s is not None and not window.contains(t - t0) and t - t0 > window.start_s:
                    break
                if window.contains(t - t0):
                    yield Frame(kept, t - t0, rotate_image(frame.to_ndarray(format="rgb24"), frame.rotation))
                    kept += 1
                index += 1
        except av.error.FFmpegError as exc:
            if index == 0 or (expected and index < min_readable_share * expected):
                raise TruncatedVideo(f"{path.name} is damaged: decoding stopped after {index} of "
                                     f"{expected or '?'} frames ({exc})") from exc
        if index == 0:
            raise TruncatedVideo(f"{path.name} has a video stream but no decodable frame")


def grab_frames(video: Path, time_s: NDArray[np.float64], indices: Sequence[int]) -> dict[int, NDArray[np.uint8]]:
    """RGB images (display orientation) of the frames at `indices`, seeking instead of decoding everything.

    `time_s` are the frame times relative to the first frame, as `pipeline.video.iter_frames` gives them.
    """
    wanted = sorted(set(int(i) for i in indices))
    out: dict[int, NDArray[np.uint8]] = {}
    if not wanted:
        return out
    with av.open(str(video)) as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        first = next(c.decode(stream))
        t0 = float(first.time or 0.0)
        tb = stream.time_base
        pos: float | None = None        # time of the last decoded frame
        decoder = None
        for i in wanted:
            target = float(time_s[i])
            if decoder is None or pos is None or target < pos or target - pos > 2.0:
                c.seek(int((t0 + target) / tb), stream=stream, backward=True, any_frame=False)
                decoder = c.decode(stream)
            for frame in decoder:
                ft = float(frame.time or 0.0) - t0
                pos = ft
                if ft >= target - 1e-3:
                    out[i] = rotate_image(frame.to_ndarray(format="rgb24"), frame.rotation)
                    break
    return out


class Mp4Writer:
    """H.264 yuv420p MP4 with `+faststart`, each frame stamped with the source's time (VFR kept)."""

    TIME_BASE = Fraction(1, 90000)

    def __init__(self, path: str | Path, width: int, height: int, fps: float, *, crf: int = 20,
                 preset: str = "veryfast") -> None:
        self.path = Path(path)
        self.width, self.height = width - width % 2, height - height % 2
        self._container = av.open(str(self.path), "w", options={"movflags": "+faststart"})
        rate = Fraction(fps).limit_denominator(1001)
        self._stream = self._container.add_stream("libx264", rate=rate,
                                                  options={"preset": preset, "crf": str(crf), "profile": "high"})
        self._stream.width, self._stream.height = self.width, self.height
        self._stream.pix_fmt = "yuv420p"
        self._stream.time_base = self.TIME_BASE
        self._stream.codec_context.time_base = self.TIME_BASE
        self._last_pts = -1

    def write(self, image: NDArray[np.uint8], time_s: float) -> None:
        """Append an RGB frame shown at `time_s` (seconds from the start)."""
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[: self.height, : self.width]), format="rgb24")
        pts = max(int(round(time_s / self.TIME_BASE)), self._last_pts + 1)
        frame.pts, frame.time_base = pts, self.TIME_BASE
        self._last_pts = pts
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()

    def __enter__(self) -> "Mp4Writer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

