"""Where the ground is under each foot point, frame by frame, in the image.

Conventions: the first axis is time, NaN = missing, image y points DOWN (pixels).

The feet stand on the ground most of the time, so the ground level of a foot point is a smooth
curve hugging the low side of its y (the largest values) and bridging the flights. It moves:
a hand-held camera sways, and after landing a little forward or backward the feet rest on
another row of the picture (perspective). A fixed row or a long running percentile does not
follow that; an asymmetrically weighted Whittaker smoother (Eilers 2003; "asymmetric least
squares" baseline, Eilers & Boelens 2005) does: frames on or below the curve weigh
`ON_GROUND`, frames a little above weigh `NEAR_GROUND` (so the level sits at the contact, as an
80 % expectile), frames clearly above it (in the air) almost nothing, iterated until the weights
settle. Its stiffness is set as a cut-off frequency (`CUTOFF_HZ`), the same at every frame rate.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import solveh_banded

CUTOFF_HZ = 2.0          # the level follows camera sway and a new landing row within ~0.3 s; flights are bridged by their weights
ON_GROUND = 0.8          # weight of a frame on or below the level (y down: y >= level)
NEAR_GROUND = 0.2        # ... a little above it (within `near_px`): contact noise
IN_AIR = 1e-3            # ... clearly above it: a flight or a raised foot, bridged by the smoother
ITERATIONS = 12


def whittaker_lambda(fps: float, cutoff_hz: float | None = None) -> float:
    """Penalty of the 2nd-order Whittaker smoother whose gain is 1/2 at `cutoff_hz`: 1 / (2 sin(π f / fs))^4."""
    f = CUTOFF_HZ if cutoff_hz is None else cutoff_hz
    return 1.0 / (2.0 * np.sin(np.pi * min(f / fps, 0.25))) ** 4


def _penalty_bands(n: int, lam: float) -> NDArray[np.float64]:
    """Upper bands (3, n) of λ·DᵀD, D the (n-2, n) second difference, for `solveh_banded`."""
    diag = np.full(n, 6.0)
    diag[[0, -1]], diag[[1, -2]] = 1.0, 5.0
    off1 = np.full(n, -4.0)
    off1[[1, -1]] = -2.0
    ab = np.zeros((3, n))
    ab[2], ab[1], ab[0, 2:] = diag, off1, 1.0
    return lam * ab


def ground_levels(y: NDArray[np.floating], fps: float, near_px: float) -> NDArray[np.float64]:
    """(T, K) ground level of each column of `y` (image y, down): the low-side envelope, bridged over flights.

    The K foot points share one ground motion (the camera's, a new landing row) plus their own
    fixed offsets (heel, toe, ankle, near and far foot): one curve is fitted to the lowest point
    relative to those offsets, the point in contact. `near_px`: how far above the level contact
    noise reaches (above that a frame counts as off the ground). Columns never seen are NaN.
    """
    y = np.asarray(y, np.float64)
    if y.ndim == 1:
        return ground_levels(y[:, None], fps, near_px)[:, 0]
    seen = np.isfinite(y)
    if len(y) < 3 or not seen.any():
        return np.full(y.shape, np.nan)
    with np.errstate(invalid="ignore"):
        ref = np.where(seen, y, 0.0).sum(axis=1) / seen.sum(axis=1)         # per-frame mean of the seen points
    both = seen & np.isfinite(ref)[:, None]
    offset = np.array([np.median((y[both[:, k], k] - ref[both[:, k]])) if both[:, k].any() else np.nan
                       for k in range(y.shape[1])])
    rel = y - offset
    lowest = np.where(np.isfinite(rel), rel, -np.inf).max(axis=1)
    lowest = np.where(np.isfinite(lowest), lowest, np.nan)
    return envelope(lowest, fps, near_px)[:, None] + offset[None, :]


def envelope(y: NDArray[np.float64], fps: float, near_px: float) -> NDArray[np.float64]:
    """(T,) the asymmetric Whittaker baseline of one series (NaN = no data); NaN if fewer than 3 values."""
    n = len(y)
    seen = np.isfinite(y)
    if n < 3 or seen.sum() < 3:
        return np.full(n, np.nan)
    base = _penalty_bands(n, whittaker_lambda(fps))
    yc = np.where(seen, y, 0.0)
    w = np.where(seen, ON_GROUND, 0.0)
    z = yc
    for _ in range(ITERATIONS):
        ab = base.copy()
        ab[2] += w
        z = solveh_banded(ab, w * yc, check_finite=False)
        above = z - y                            # > 0: the point is higher in the picture than the level
        w_new = np.where(~seen, 0.0, np.where(above <= 0, ON_GROUND, np.where(above <= near_px, NEAR_GROUND, IN_AIR)))
        if np.array_equal(w_new, w):
            break
        w = w_new
    return z
