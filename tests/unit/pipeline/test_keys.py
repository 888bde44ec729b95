import time

import numpy as np
import pytest

from emotive.pipeline.keys import reduce_keys


def smooth_curve(rng, n):
    knots = rng.uniform(0, 1, n // 120 + 2)
    x = np.linspace(0, len(knots) - 1, n)
    i = np.minimum(x.astype(int), len(knots) - 2)
    u = x - i
    u = u * u * (3 - 2 * u)
    return knots[i] * (1 - u) + knots[i + 1] * u + 0.02 * np.sin(x * 5.0)


def max_error(v, keys):
    return np.abs(np.interp(np.arange(len(v)), keys, v[keys]) - v).max()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("tol", [0.0005, 0.002, 0.02])
def test_error_bound_on_random_smooth_curves(seed, tol):
    rng = np.random.default_rng(seed)
    v = smooth_curve(rng, int(rng.integers(50, 5000)))
    keys = reduce_keys(v, tol)
    assert keys[0] == 0 and keys[-1] == len(v) - 1 and np.all(np.diff(keys) > 0)
    assert max_error(v, keys) <= tol + 1e-12
    assert len(keys) < len(v) / 2


def test_bound_holds_on_rough_and_stepped_data():
    rng = np.random.default_rng(9)
    for v in (rng.normal(size=500), np.repeat(rng.uniform(size=20), 25), np.cumsum(rng.normal(size=800))):
        for tol in (0.0, 0.01, 0.3):
            assert max_error(v, reduce_keys(v, tol)) <= tol + 1e-12


def test_simple_shapes():
    assert reduce_keys(np.zeros(1000)).tolist() == [0, 999]
    assert reduce_keys(np.linspace(0, 1, 1000)).tolist() == [0, 999]
    step = np.r_[np.zeros(10), np.ones(10)]
    assert reduce_keys(step).tolist() == [0, 9, 10, 19]
    assert reduce_keys([]).tolist() == []
    assert reduce_keys([0.5]).tolist() == [0]
    assert reduce_keys([0.5, 0.7]).tolist() == [0, 1]
    tri = np.r_[np.linspace(0, 1, 50), np.linspace(1, 0, 50)[1:]]
    assert reduce_keys(tri).tolist() == [0, 49, 98]


def test_bad_input():
    with pytest.raises(ValueError):
        reduce_keys([0.0, np.nan, 1.0])
    with pytest.raises(ValueError):
        reduce_keys([0.0, 1.0, 2.0], tolerance=-1)


def test_long_takes_are_fast():
    # 300k frames of repeated identical bumps (the worst case for plain RDP) plus a noisy channel.
    t = np.arange(300_000)
    bumps = np.clip(np.sin(t / 20.0), 0, None) ** 2
    noise = smooth_curve(np.random.default_rng(0), 300_000) * 0.05
    start = time.perf_counter()
    for v in (bumps, noise, np.zeros_like(bumps)):
        keys = reduce_keys(v)
        assert max_error(v, keys) <= 0.002 + 1e-12
    assert time.perf_counter() - start < 5
