"""Sparse keyframes: keep only the frames a linear curve needs to stay within a tolerance."""

from __future__ import annotations

import math

import numpy as np

_BIG = 1024  # candidates; above this an interval is never split lopsidedly alone


def reduce_keys(values, tolerance: float = 0.002) -> np.ndarray:
    """Indices of the frames to key so that linear interpolation stays within `tolerance`.

    Ramer-Douglas-Peucker on the vertical error, run breadth-first: each pass splits every
    still-too-coarse interval at once with vectorised numpy. Two things keep it fast on takes
    of 500k frames: only "kink" frames (non-zero second difference) are candidates, since on a
    straight run the error against any chord peaks at the run's ends (holds, zeros and linear
    stretches cost nothing); and among equal worst errors the frame nearest the middle wins,
    so a curve of many identical bumps splits in halves instead of one bump per pass (big
    intervals cut near an end are also cut in the middle, for the same reason).
    The first and last frames are always kept; the result is sorted.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    tol = float(tolerance)
    if not math.isfinite(tol) or tol < 0:
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance}")
    if not np.all(np.isfinite(v)):
        raise ValueError("values contain NaN or inf")
    n = len(v)
    if n <= 2:
        return np.arange(n)

    # Candidate frames x with values y; RDP below runs on positions into these arrays.
    x = np.flatnonzero(np.r_[True, np.diff(v, 2) != 0, True])
    y = v[x]
    xf = x.astype(np.float64)
    keep = np.zeros(len(x), dtype=bool)
    keep[[0, -1]] = True
    starts, ends = np.array([0]), np.array([len(x) - 1])
    while starts.size:
        inner = ends - starts - 1
        has = inner > 0
        starts, ends, inner = starts[has], ends[has], inner[has]
        if not starts.size:
            break
        # Every interior candidate of every open interval against its interval's chord
        # (per-interval numbers are spread with np.repeat, cheaper than gathers).
        first = np.cumsum(inner) - inner
        pos = np.arange(int(inner.sum())) + np.repeat(starts + 1 - first, inner)
        xs, xe = xf[starts], xf[ends]
        slope = (y[ends] - y[starts]) / (xe - xs)
        xp = xf[pos]
        err = np.abs(y[pos] - np.repeat(y[starts] - slope * xs, inner) - np.repeat(slope, inner) * xp)
        worst = np.maximum.reduceat(err, first)
        split = worst > tol
        if not split.any():
            break
        # Among (practically) equal worst errors take the one nearest the interval's middle.
        near = np.repeat(worst - np.where(worst > 0, max(0.01 * tol, 1e-6), 0.0), inner)
        off = np.where(err >= near, np.abs(2 * xp - np.repeat(xs + xe, inner)), np.inf)
        best = np.minimum.reduceat(off, first)
        hit = np.flatnonzero(off == np.repeat(best, inner))
        owner = np.searchsorted(first, hit, side="right")
        hit = hit[np.r_[True, owner[1:] != owner[:-1]]]
        cut = pos[hit][split]
        a, b = starts[split], ends[split]
        # A big interval cut near one end is also cut in the middle: a few extra keys, but
        # the number of passes stays logarithmic whatever the curve looks like.
        mid = (a + b) // 2
        lopsided = (b - a > _BIG) & (np.minimum(cut - a, b - cut) * 8 < b - a) & (mid != cut)
        lo = np.where(lopsided, np.minimum(cut, mid), cut)
        hi = np.where(lopsided, np.maximum(cut, mid), cut)
        keep[lo] = True
        keep[hi] = True
        starts = np.concatenate([a, lo[lopsided], hi])
        ends = np.concatenate([lo, hi[lopsided], b])
    return x[keep]
