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

CUTOFF_HZ = 2.0          # follows camera sway and a new landing row within ~0.3 s (flights: bridged by weights)
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

    Each column is its own curve (heel, toe and ankle of each foot move differently while the knees
    bend), all solved at once. `near_px`: how far above the level contact noise reaches (above that
    a frame counts as off the ground). Columns seen in fewer than 3 frames are NaN.
    """
    y = np.asarray(y, np.float64)
    if y.ndim == 1:
        return ground_levels(y[:, None], fps, near_px)[:, 0]
    n, k = y.shape
    seen = np.isfinite(y)
    cols = seen.sum(axis=0) >= 3
    if n < 3 or not cols.any():
        return np.full(y.shape, np.nan)
    out = np.full(y.shape, np.nan)
    out[:, cols] = envelope(y[:, cols].T.reshape(-1), fps, near_px, n)[0].reshape(-1, n).T
    return out


def envelope(y: NDArray[np.float64], fps: float, near_px: float, n: int | None = None
             ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The asymmetric Whittaker baseline of series of length `n` laid end to end in `y` (NaN = no data),
    in one banded solve per pass (the smoothness penalty does not cross from one series to the next);
    and the final weights."""
    n = len(y) if n is None else n
    base = _penalty_bands(n, whittaker_lambda(fps))
    base = np.tile(base, (1, len(y) // n))
    ab_cut = np.arange(len(y)) % n                            # no coupling across the joins
    base[1][ab_cut == 0] = 0.0
    base[0][ab_cut <= 1] = 0.0
    seen = np.isfinite(y)
    yc = np.where(seen, y, 0.0)
    w = np.where(seen, ON_GROUND, 0.0)
    z = yc
    for _ in range(ITERATIONS):
        ab = base.copy()
        ab[2] += w + 1e-9                                    # a series with a long gap stays solvable
        z = solveh_banded(ab, w * yc, check_finite=False)
        above = z - y                                        # > 0: higher in the picture than the level
        w_new = np.where(~seen, 0.0, np.where(above <= 0, ON_GROUND, np.where(above <= near_px, NEAR_GROUND, IN_AIR)))
        if np.array_equal(w_new, w):
            break
        w = w_new
    return z, w
