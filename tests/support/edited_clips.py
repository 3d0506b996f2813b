"""Real clips edited as users' videos are: trimmed, resampled to 24/25 fps, zoomed in, captioned,
ending in a cross-fade or a hard cut to another scene. Each keeps the truth of its source (the
reps of the original part), so the analysis can be scored on it.

Derived videos and their pose are written to a cache dir (`MOTIONLENS_TEST_CACHE`, default
/tmp/motionlens-test-cache), never to the repository (fixtures/SOURCES.md: clips made from the
shared fixtures are not committed). Pose is the slow part: it is computed once per edited file
(keyed by its bytes) and kept there.
"""

from __future__ import annotations

import hashlib
from fractions import Fraction
import os
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.pose.sequence import PoseSequence

CACHE = Path(os.environ.get("MOTIONLENS_TEST_CACHE", "/tmp/motionlens-test-cache"))


@dataclass(frozen=True)
class Edit:
    start_s: float = 0.0
    end_s: float | None = None
    fps: float | None = None                  # resample (nearest earlier frame) to this rate
    zoom: tuple[float, float] = (1.0, 1.0)    # centre zoom at the first and the last frame of the main part
    caption: str | None = None                # text burnt in, with a running timer
    tail: Path | None = None                  # another clip spliced on at the end ...
    fade_s: float = 0.0                       # ... through a cross-fade this long (0: a hard cut)
    tail_s: float = 1.5                       # ... and shown alone this long after it

    def tag(self) -> str:
        return hashlib.sha1(repr(self).encode()).hexdigest()[:10]


def _frames(path: Path) -> tuple[list[NDArray[np.uint8]], NDArray[np.float64], float]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        imgs, times = [], []
        for f in c.decode(s):
            imgs.append(f.to_ndarray(format="rgb24"))
            times.append(float(f.time))
        fps = float(s.average_rate)
    return imgs, np.asarray(times) - times[0], fps


def _fit(img: NDArray[np.uint8], w: int, h: int) -> NDArray[np.uint8]:
    """Centre-crop to the aspect of (w, h), then resize: another scene filling the frame."""
    ih, iw = img.shape[:2]
    if iw * h > w * ih:
        cw = ih * w // h
        img = img[:, (iw - cw) // 2:(iw - cw) // 2 + cw]
    else:
        ch = iw * h // w
        img = img[(ih - ch) // 2:(ih - ch) // 2 + ch]
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


def _zoomed(img: NDArray[np.uint8], z: float) -> NDArray[np.uint8]:
    if z <= 1.0:
        return img
    h, w = img.shape[:2]
    cw, ch = int(round(w / z)), int(round(h / z))
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    return cv2.resize(img[y0:y0 + ch, x0:x0 + cw], (w, h), interpolation=cv2.INTER_LINEAR)


def _captioned(img: NDArray[np.uint8], text: str, t: float) -> NDArray[np.uint8]:
    out = img.copy()
    h, w = out.shape[:2]
    scale = w / 600
    cv2.rectangle(out, (0, int(0.02 * h)), (w, int(0.02 * h + 50 * scale)), (20, 20, 20), -1)
    cv2.putText(out, f"{text}  {t:5.2f}s", (int(0.03 * w), int(0.02 * h + 35 * scale)), cv2.FONT_HERSHEY_SIMPLEX,
                scale, (255, 230, 0), max(1, int(2 * scale)), cv2.LINE_AA)
    return out


def edited_clip(source: Path, edit: Edit) -> Path:
    """The edited video (made once, cached by source name and edit)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    dst = CACHE / f"{source.stem}-{edit.tag()}.mp4"
    if dst.exists():
        return dst
    imgs, t, fps = _frames(source)
    out_fps = edit.fps or fps
    end = edit.end_s if edit.end_s is not None else t[-1] + 0.5 / fps
    grid = np.arange(edit.start_s, end, 1.0 / out_fps)
    idx = np.clip(np.searchsorted(t, grid + 1e-6, side="right") - 1, 0, len(imgs) - 1)
    h, w = imgs[0].shape[:2]
    zooms = np.linspace(*edit.zoom, len(idx))
    main = [_zoomed(imgs[i], z) for i, z in zip(idx, zooms)]
    if edit.caption:
        main = [_captioned(m, edit.caption, k / out_fps) for k, m in enumerate(main)]
    frames = main
    if edit.tail is not None:
        other, t_o, _ = _frames(edit.tail)
        n_fade = int(round(edit.fade_s * out_fps))
        n_tail = n_fade + int(round(edit.tail_s * out_fps))
        j = np.clip(np.searchsorted(t_o, np.arange(n_tail) / out_fps + 1e-6, side="right") - 1, 0, len(other) - 1)
        tail = [_fit(other[k], w, h) for k in j]
        alpha = (np.arange(1, n_fade + 1) / (n_fade + 1))[:, None, None, None]
        faded = [np.round((1 - a) * m + a * o).astype(np.uint8)
                 for a, m, o in zip(alpha, main[len(main) - n_fade:], tail[:n_fade])]
        frames = main[:len(main) - n_fade] + faded + tail[n_fade:]
    tmp = dst.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as out:
        st = out.add_stream("libx264", rate=Fraction(out_fps).limit_denominator(1001),
                            options={"preset": "ultrafast", "crf": "20"})
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        for img in frames:
            for p in st.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                out.mux(p)
        for p in st.encode():
            out.mux(p)
    tmp.rename(dst)
    return dst


def main_part_s(source: Path, edit: Edit) -> float:
    """Seconds of the edited clip that still show the source alone (before the fade or cut)."""
    _, t, fps = _frames(source)
    end = edit.end_s if edit.end_s is not None else t[-1] + 0.5 / fps
    return end - edit.start_s - (edit.fade_s if edit.tail is not None else 0.0)


def cached_pose(video: Path, *, select: str = "largest", parallel: bool = False) -> PoseSequence:
    """The raw athlete pose of `video`, computed once per file content (sequential path by default,
    as the `raw_pose` fixture; `parallel=True` goes through the pipeline's chunked pose stage)."""
    digest = hashlib.sha256(video.read_bytes()).hexdigest()[:16]
    f = CACHE / f"pose-{digest}-{select}-{'par' if parallel else 'seq'}.npz"
    if not f.exists():
        if parallel:
            from pipeline.pose.parallel import estimate_athlete_parallel

            seq, _ = estimate_athlete_parallel(video, select=select, workers=2, num_poses="auto")
        else:
            from pipeline.pose.athlete import estimate_athlete

            seq, _ = estimate_athlete(video, select=select)
        seq.save_npz(str(f.with_suffix(".part.npz")))
        f.with_suffix(".part.npz").rename(f)
    return PoseSequence.load_npz(str(f))
