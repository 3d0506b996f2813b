"""Adversarial variants of the ground-truth jump clips, each keeping its truth (issue 14).

A base clip comes from ../shared/tools/make_jump_clip.py (real footage on exact flights, any
frame rate incl. NTSC 29.97); a `Variant` then changes what the camera sees without changing the
jumps' timing:

- `crop_top`: the top rows are cut off, so the head leaves the frame in flight;
- `land_shift`: each flight drifts (dx, dy) pixels from takeoff to landing (linear in time, so the
  path stays a parabola with the same g), and the athlete stays there: landing a little forward
  (lower in the picture), backward or sideways. Signs alternate jump by jump;
- `pan`: a hand-held camera: a slow sway (amplitude px, frequency Hz) plus a filtered shake.

Clips, their truth and their pose are cached in `CACHE` (outside the repository: videos made
from the shared clips are never committed), keyed by everything that determines them.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.pose.sequence import PoseSequence

CACHE = Path(os.environ.get("MOTIONLENS_JUMP_CACHE", "/tmp/motionlens-jump-cache"))
NTSC = {29.97: Fraction(30000, 1001), 59.94: Fraction(60000, 1001), 23.976: Fraction(24000, 1001)}


@dataclass(frozen=True)
class Base:
    """Arguments of make_jump_clip.py (from squat_side.mp4 at 280 px/m, athlete 1.75 m)."""

    fps: float
    jumps: tuple[tuple[float, float], ...]
    duration: float
    countermovement: bool = False
    mirror: bool = False

    @property
    def made_fps(self) -> int:
        """The rate the clip maker runs at: an NTSC clip is made at the whole rate and played 0.1 % slower."""
        return round(self.fps)

    @property
    def rate(self) -> Fraction:
        return NTSC.get(round(self.fps, 3), Fraction(self.made_fps))

    def args(self, src: Path, out: Path) -> list[str]:
        a = [str(src), str(out), "--pixels-per-metre", "280", "--athlete-height", "1.75", "--fps", f"{self.made_fps}",
             "--duration", f"{self.duration:g}", "--jumps", *[f"{t0}:{ft}" for t0, ft in self.jumps]]
        a += (["--stand", "200:252", "--countermovement", "252:345", "--cm-speed", "3"] if self.countermovement
              else ["--stand", "0:60"])
        return a + (["--mirror"] if self.mirror else [])


@dataclass(frozen=True)
class Variant:
    name: str
    base: Base
    crop_top: int = 0
    land_shift: tuple[float, float] = (0.0, 0.0)      # (dx, dy) px per flight; y down: dy > 0 lands lower
    pan: tuple[float, float, float] = (0.0, 0.0, 0.0)  # (x amplitude px, y amplitude px, frequency Hz)
    shake_px: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def key(self) -> str:
        d = asdict(self)
        d.pop("extra")
        d.pop("name")
        return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


def _offsets(v: Variant, t: NDArray[np.float64], truth: dict[str, Any]) -> NDArray[np.float64]:
    """(T, 2) image shift of the content at each frame time."""
    off = np.zeros((len(t), 2))
    sign = 1.0
    for j in truth["jumps"]:
        frac = np.clip((t - j["takeoff_s"]) / (j["landing_s"] - j["takeoff_s"]), 0, 1)
        off += sign * frac[:, None] * np.array(v.land_shift)
        sign = -sign
    ax, ay, f = v.pan
    if f:
        off[:, 0] += ax * np.sin(2 * np.pi * f * t)
        off[:, 1] += ay * np.sin(2 * np.pi * f * 1.3 * t + 1.0)
    if v.shake_px:
        rng = np.random.default_rng(7)
        k = np.hanning(9)
        k /= np.sqrt((k * k).sum())
        for c in range(2):
            off[:, c] += np.convolve(rng.normal(0, v.shake_px, len(t)), k, mode="same")
    return off


def _make_base(b: Base, tool: Path, src: Path, out: Path) -> None:
    proc = subprocess.run([sys.executable, str(tool), *b.args(src, out)], capture_output=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"make_jump_clip.py failed: {proc.stderr.decode(errors='replace')}")


def _stretched(truth: dict[str, Any], b: Base) -> dict[str, Any]:
    """The truth of a clip made at `made_fps` and played at `rate`: every time x made_fps / rate (0.1 % for NTSC)."""
    k = b.made_fps / float(b.rate)
    jumps = [{"takeoff_s": j["takeoff_s"] * k, "landing_s": j["landing_s"] * k, "flight_time_s": j["flight_time_s"] * k,
              "jump_height_m": 9.81 * (j["flight_time_s"] * k) ** 2 / 8} for j in truth["jumps"]]
    return {**truth, "fps": float(b.rate), "duration_s": truth["duration_s"] * k,
            "countermovement_s": truth["countermovement_s"] * k, "jumps": jumps}


def build(v: Variant, tool: Path, src: Path) -> Path:
    """The variant's clip (made once; its .truth.json beside it)."""
    d = CACHE / v.key()
    out = d / f"{v.name}.mp4"
    if out.is_file() and out.with_suffix(".truth.json").is_file():
        return out
    d.mkdir(parents=True, exist_ok=True)
    base = d / "base.mp4"
    if not (base.is_file() and base.with_suffix(".truth.json").is_file()):
        _make_base(v.base, tool, src, base)
    truth = _stretched(json.loads(base.with_suffix(".truth.json").read_text()), v.base)
    rate = v.base.rate
    tmp = d / f"{v.name}.part.mp4"
    with av.open(str(base)) as inp, av.open(str(tmp), "w") as outc:
        frames = [f.to_ndarray(format="bgr24") for f in inp.decode(inp.streams.video[0])]
        t = np.arange(len(frames)) / float(rate)
        off = _offsets(v, t, truth)
        h, w = frames[0].shape[:2]
        h2 = h - v.crop_top
        h2 -= h2 % 2
        st = outc.add_stream("libx264", rate=rate, options={"preset": "veryfast", "crf": "20"})
        st.width, st.height, st.pix_fmt = w, h2, "yuv420p"
        for img, (dx, dy) in zip(frames, off):
            m = np.float32([[1, 0, dx], [0, 1, dy - v.crop_top]])
            img = cv2.warpAffine(img, m, (w, h2), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            for p in st.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                outc.mux(p)
        for p in st.encode():
            outc.mux(p)
    truth.update({"variant": v.name, "crop_top": v.crop_top, "land_shift": list(v.land_shift), "pan": list(v.pan),
                  "shake_px": v.shake_px, **v.extra})
    out.with_suffix(".truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    tmp.rename(out)
    return out


def cached_pose(clip: Path, model: str = "full", select: str = "largest") -> PoseSequence:
    """The athlete's raw pose of a clip, computed once: beside a derived clip, in CACHE/real for any other
    (never in the repository or in ../shared)."""
    f = clip.with_name(f"{clip.stem}.pose-{model}-{select}.npz")
    if CACHE.resolve() not in clip.resolve().parents:
        f = CACHE / "real" / f.name
        f.parent.mkdir(parents=True, exist_ok=True)
    if not f.is_file():
        from pipeline.pose.athlete import estimate_athlete

        seq, _ = estimate_athlete(clip, model=model, select=select)
        seq.save_npz(str(f.with_suffix(".part.npz")))
        f.with_suffix(".part.npz").rename(f)
    return PoseSequence.load_npz(str(f))


def truth_of(clip: Path) -> dict[str, Any]:
    return json.loads(clip.with_suffix(".truth.json").read_text())


CM = dict(countermovement=True)
VARIANTS: tuple[Variant, ...] = (
    Variant("head_cut_ntsc", Base(29.97, ((1.3123, 0.52), (3.4567, 0.44)), 4.6, **CM), crop_top=345),
    Variant("forward_ntsc", Base(29.97, ((1.2789, 0.50), (3.3011, 0.46)), 4.5, **CM), land_shift=(25.0, 40.0)),
    Variant("pan_shake_30", Base(30.0, ((1.4321, 0.48), (3.5432, 0.41)), 4.7, **CM),
            pan=(40.0, 25.0, 0.3), shake_px=2.0),
    Variant("head_cut_25_mirror", Base(25.0, ((1.3456, 0.47),), 2.8, mirror=True, **CM), crop_top=345),
    Variant("forward_24", Base(24.0, ((1.1111, 0.55), (3.2222, 0.43)), 4.4, **CM), land_shift=(-20.0, 35.0)),
    Variant("all_60", Base(60.0, ((1.2345, 0.51), (3.3456, 0.39)), 4.4, mirror=True, **CM), crop_top=345,
            land_shift=(20.0, 30.0), pan=(30.0, 20.0, 0.25), shake_px=1.5),
)
# the plain ground-truth clips of tests/test_jumping.py (no change), to compare against
PLAIN: tuple[Variant, ...] = (
    Variant("rigid_30", Base(30, ((0.9876, 0.45), (2.1234, 0.32), (3.3456, 0.58)), 4.5)),
    Variant("rigid_60_mirror", Base(60, ((0.6543, 0.36), (1.4321, 0.52), (2.4567, 0.30), (3.2109, 0.41)), 4.0,
                                    mirror=True)),
    Variant("rigid_120", Base(120, ((0.8765, 0.49), (1.9012, 0.34)), 2.8)),
    Variant("cm_30_mirror", Base(30, ((1.2121, 0.44), (3.0707, 0.53)), 4.5, mirror=True, **CM)),
    Variant("cm_60", Base(60, ((1.4444, 0.39), (3.1919, 0.58)), 4.3, **CM)),
    Variant("cm_120_mirror", Base(120, ((1.0987, 0.56),), 2.2, mirror=True, **CM)),
)
