"""Filters and gap filling checked against physics; swap detection on a labelled exchange."""

import numpy as np
import pytest

from pipeline.pose.cleaning import clean, fill_gaps, lowpass, nan_run_lengths, swap_states
from pipeline.pose.landmarks import Landmark as L
from pipeline.pose.sequence import PoseSequence


def rms(x):
    return float(np.sqrt(np.mean(np.square(x))))


def test_sine_at_cutoff_loses_half_its_rms():
    fs, f = 100.0, 2.0
    t = np.arange(0, 20, 1 / fs)
    x = np.sin(2 * np.pi * f * t)
    y = lowpass(x, fs, cutoff_hz=f)
    mid = slice(200, -200)  # away from the edges
    assert rms(y[mid]) / rms(x[mid]) == pytest.approx(0.5, abs=0.02)


def test_slow_signal_passes_fast_is_removed_and_no_phase_shift():
    fs = 60.0
    t = np.arange(0, 10, 1 / fs)
    slow = np.sin(2 * np.pi * 0.5 * t)
    y = lowpass(slow + 0.3 * np.sin(2 * np.pi * 20 * t), fs, cutoff_hz=6.0)
    np.testing.assert_allclose(y[60:-60], slow[60:-60], atol=0.01)  # zero phase: no lag


def test_nan_kept_and_columns_independent():
    x = np.column_stack([np.sin(np.arange(100) / 5.0), np.ones(100)])
    x[40:45, 0] = np.nan
    y = lowpass(x, 30.0, 5.0)
    assert np.isnan(y[40:45, 0]).all() and np.isfinite(y[:40, 0]).all()
    np.testing.assert_allclose(y[:, 1], 1.0)


def test_short_signal_and_empty_do_not_crash():
    assert lowpass(np.zeros(0), 30.0, 5.0).shape == (0,)
    np.testing.assert_array_equal(lowpass(np.arange(5.0), 30.0, 5.0), np.arange(5.0))


def test_fill_gaps_short_filled_long_left():
    x = np.arange(20, dtype=float)
    x[3:5] = np.nan      # 2 missing: filled
    x[10:16] = np.nan    # 6 missing: left
    x[0] = np.nan        # edge: left
    y = fill_gaps(x, max_gap=3)
    np.testing.assert_allclose(y[3:5], [3, 4])
    assert np.isnan(y[10:16]).all() and np.isnan(y[0])


def test_nan_run_lengths():
    m = np.array([[1, 0], [1, 1], [0, 1], [1, 1]], bool)
    np.testing.assert_array_equal(nan_run_lengths(m), [[2, 0], [2, 3], [0, 3], [1, 3]])


def test_swap_states_finds_a_labelled_exchange():
    t = np.arange(60)
    a = np.stack([100 + 2.0 * t, np.full(60, 500.0)], axis=-1)[:, None, :]
    b = np.stack([300 - 2.0 * t, np.full(60, 520.0)], axis=-1)[:, None, :]
    a2, b2 = a.copy(), b.copy()
    a2[20:30], b2[20:30] = b[20:30], a[20:30]
    s = swap_states(a2, b2)
    np.testing.assert_array_equal(np.flatnonzero(s), np.arange(20, 30))


def test_clean_undoes_a_leg_swap():
    n = 90
    seq = PoseSequence.empty(n, width=640, height=960, fps=30.0)
    xy = np.zeros((n, 33, 2), np.float32)
    t = np.arange(n) / 30.0
    xy[:, :, 1] = np.linspace(100, 900, 33)[None, :]
    xy[:, :, 0] = 320
    for lm in (L.LEFT_KNEE, L.LEFT_ANKLE, L.LEFT_HEEL, L.LEFT_FOOT_INDEX):
        xy[:, lm, 0] = 250 + 5 * np.sin(t)
    for lm in (L.RIGHT_KNEE, L.RIGHT_ANKLE, L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX):
        xy[:, lm, 0] = 400 + 5 * np.cos(t)
    swapped = xy.copy()
    legs = [L.LEFT_KNEE, L.LEFT_ANKLE, L.LEFT_HEEL, L.LEFT_FOOT_INDEX]
    rlegs = [L.RIGHT_KNEE, L.RIGHT_ANKLE, L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX]
    swapped[40:50][:, legs], swapped[40:50][:, rlegs] = xy[40:50][:, rlegs], xy[40:50][:, legs]
    out = clean(seq.with_arrays(image_xy=swapped, visibility=np.ones((n, 33), np.float32)), cutoff_hz=8.0)
    assert np.all(out.image_xy[:, L.LEFT_ANKLE, 0] < 300)
    assert np.all(out.image_xy[:, L.RIGHT_ANKLE, 0] > 350)
