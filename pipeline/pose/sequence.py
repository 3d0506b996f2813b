"""`PoseSequence`: one athlete's landmarks over a whole clip.

Convention (as everywhere in `pipeline/`): the first axis is time, NaN means missing.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeline.pose.landmarks import MIRROR_PERMUTATION, NUM_LANDMARKS

_SHAPES: dict[str, tuple[Any, ...]] = {
    "time_s": ("T",),
    "image_xy": ("T", NUM_LANDMARKS, 2),
    "image_z": ("T", NUM_LANDMARKS),
    "world_xyz": ("T", NUM_LANDMARKS, 3),
    "visibility": ("T", NUM_LANDMARKS),
    "presence": ("T", NUM_LANDMARKS),
}
_DTYPES = {"time_s": np.float64}


@dataclass(frozen=True)
class PoseSequence:
    """Landmarks of one person, frame by frame.

    `image_xy` is in pixels of the displayed (rotation-applied) frame, y down. `world_xyz` is in
    metres, hip-centred, as MediaPipe's world landmarks (y down). A frame with no detection has
    NaN landmarks and zero visibility/presence.
    """

    time_s: NDArray[np.float64]
    image_xy: NDArray[np.float32]
    image_z: NDArray[np.float32]
    world_xyz: NDArray[np.float32]
    visibility: NDArray[np.float32]
    presence: NDArray[np.float32]
    width: int
    height: int
    fps: float
    # (T,) change of a small grey thumbnail of the frame since the previous frame (median over its
    # pixels, 0-255; NaN for the first), measured while posing; None when the pose came without it
    # (older caches, synthetic sequences). Shot boundaries (pipeline.metrics.shots) read it.
    frame_diff: NDArray[np.float32] | None = None

    def __post_init__(self) -> None:
        n = len(self.time_s)
        if self.frame_diff is not None and (not isinstance(self.frame_diff, np.ndarray)
                                            or self.frame_diff.shape != (n,)):
            got = getattr(self.frame_diff, "shape", type(self.frame_diff).__name__)
            raise ValueError(f"PoseSequence.frame_diff: expected shape ({n},), got {got}")
        for name, shape in _SHAPES.items():
            arr = getattr(self, name)
            expected = tuple(n if d == "T" else d for d in shape)
            if not isinstance(arr, np.ndarray) or arr.shape != expected:
                got = getattr(arr, "shape", type(arr).__name__)
                raise ValueError(f"PoseSequence.{name}: expected shape {expected}, got {got}")
            dtype = _DTYPES.get(name, np.float32)
            if arr.dtype != dtype:
                raise ValueError(f"PoseSequence.{name}: expected dtype {np.dtype(dtype)}, got {arr.dtype}")
        if n > 1 and not np.all(np.diff(self.time_s) > 0):
            raise ValueError("PoseSequence.time_s must be strictly increasing")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"PoseSequence: frame size must be positive, got {self.width}x{self.height}")
        if not self.fps > 0:
            raise ValueError(f"PoseSequence.fps must be positive, got {self.fps}")

    @classmethod
    def empty(cls, n_frames: int = 0, *, width: int = 1, height: int = 1, fps: float = 30.0,
              time_s: NDArray[np.float64] | None = None) -> "PoseSequence":
        """A sequence of `n_frames` frames with nothing detected (all NaN)."""
        t = np.arange(n_frames) / fps if time_s is None else np.asarray(time_s, dtype=np.float64)
        n = len(t)
        nan = np.float32(np.nan)
        return cls(
            time_s=t.astype(np.float64),
            image_xy=np.full((n, NUM_LANDMARKS, 2), nan, np.float32),
            image_z=np.full((n, NUM_LANDMARKS), nan, np.float32),
            world_xyz=np.full((n, NUM_LANDMARKS, 3), nan, np.float32),
            visibility=np.zeros((n, NUM_LANDMARKS), np.float32),
            presence=np.zeros((n, NUM_LANDMARKS), np.float32),
            width=width, height=height, fps=fps,
        )

    def __len__(self) -> int:
        return len(self.time_s)

    @property
    def detected(self) -> NDArray[np.bool_]:
        """(T,) True where the person was detected in the frame."""
        return ~np.all(np.isnan(self.image_xy[..., 0]), axis=1)

    def __getitem__(self, index: slice | NDArray[np.bool_] | NDArray[np.integer]) -> "PoseSequence":
        """Frames selected by a slice, a boolean mask or indices, as a new sequence."""
        diff = None if self.frame_diff is None else self.frame_diff[index]
        return replace(self, **{name: getattr(self, name)[index] for name in _SHAPES}, frame_diff=diff)

    def with_arrays(self, **arrays: NDArray[Any]) -> "PoseSequence":
        """A copy with some arrays replaced (validated again)."""
        return replace(self, **arrays)

    def mirrored(self) -> "PoseSequence":
        """The same clip flipped left-right: x -> width - x, and left/right landmarks exchanged."""
        perm = list(MIRROR_PERMUTATION)
        xy = self.image_xy[:, perm].copy()
        xy[..., 0] = self.width - xy[..., 0]
        world = self.world_xyz[:, perm].copy()
        world[..., 0] = -world[..., 0]
        return replace(
            self, image_xy=xy, world_xyz=world, image_z=self.image_z[:, perm].copy(),
            visibility=self.visibility[:, perm].copy(), presence=self.presence[:, perm].copy(),
        )

    def arrays(self) -> dict[str, NDArray[Any]]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in _SHAPES}

    def save_npz(self, path: str) -> None:
        extra = {} if self.frame_diff is None else {"frame_diff": self.frame_diff}
        np.savez_compressed(path, **self.arrays(), **extra, meta=np.array([self.width, self.height, self.fps]))

    @classmethod
    def load_npz(cls, path: str) -> "PoseSequence":
        with np.load(path) as data:
            width, height, fps = data["meta"]
            diff = data["frame_diff"] if "frame_diff" in data.files else None
            return cls(**{name: data[name] for name in _SHAPES}, width=int(width), height=int(height),
                       fps=float(fps), frame_diff=diff)
