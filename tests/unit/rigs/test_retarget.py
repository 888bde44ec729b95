"""Shape-key weights from landmark displacements (rigs/retarget.py)."""


import numpy as np
import pytest

from emotive.rigs.arkit import ARKIT_INDEX, ARKIT_NAMES
from emotive.rigs.head_mesh import default_head_binding, load_default_head
from emotive.rigs.retarget import ShapeKeySolver, signatures_from_shape_keys

# Keys the 70 landmarks barely see (or not at all): excluded from the accuracy goals.
HARD = ("tongueOut", "cheekPuff")


@pytest.fixture(scope="module")
def signatures():
    binding = default_head_binding()
    head = load_default_head()
    return signatures_from_shape_keys(binding, head.vertices, head.shape_keys, list(ARKIT_NAMES))


def sparse_weights(n, k, rng, active=(3, 8)):
    w = np.zeros((n, k))
    for f in range(n):
        m = rng.integers(active[0], active[1] + 1)
        w[f, rng.choice(k, m, replace=False)] = rng.uniform(0.1, 1.0, m)
    return w


def test_signatures_are_the_binding_of_the_deltas(signatures):
    binding = default_head_binding()
    head = load_default_head()
    base = head.vertices.astype(np.float64)
    k = ARKIT_INDEX["jawOpen"]
    direct = binding.evaluate(base + head.shape_keys["jawOpen"]) - binding.evaluate(base)
    assert np.allclose(signatures[k], direct, atol=1e-9)
    stacked = np.stack([head.shape_keys[n] for n in ARKIT_NAMES])
    assert np.allclose(signatures_from_shape_keys(binding, base, stacked), signatures)


def test_exact_recovery_well_conditioned():
    rng = np.random.default_rng(0)
    sig = rng.normal(size=(10, 30, 3)) * 0.01
    w = rng.uniform(0.0, 1.0, (200, 10))
    w[w < 0.4] = 0.0  # many keys on the lower bound
    solver = ShapeKeySolver(sig, regularisation=0.0)
    got = solver.solve(np.einsum("fk,kld->fld", w, sig))
    assert np.abs(got - w).max() < 1e-5
    assert solver.residual_mm(np.einsum("fk,kld->fld", w, sig), got).max() < 1e-3


def test_bounds_hold_and_kkt(signatures):
    rng = np.random.default_rng(1)
    disp = rng.normal(size=(300, 70, 3)) * 0.005  # not expressible: many keys hit bounds
    solver = ShapeKeySolver(signatures, lower=-0.2, upper=0.7)
    w = solver.solve(disp)
    assert w.min() >= -0.2 and w.max() <= 0.7
    # optimality: no feasible descent (projected gradient in weight units ~ 0)
    b = disp.reshape(300, -1) @ solver.A
    g = w @ solver.H - b
    step = w - np.clip(w - g / np.diag(solver.H), -0.2, 0.7)
    assert np.abs(step).max() < 1e-4


def test_regularisation_keeps_unobservable_keys_at_zero(signatures):
    assert np.abs(signatures[ARKIT_INDEX["tongueOut"]]).max() == 0.0
    rng = np.random.default_rng(2)
    w = sparse_weights(100, 52, rng)
    w[:, ARKIT_INDEX["tongueOut"]] = 0.7  # invisible: cannot be recovered, must not blow up
    solver = ShapeKeySolver(signatures)
    got = solver.solve(np.einsum("fk,kld->fld", w, signatures))
    assert np.abs(got[:, ARKIT_INDEX["tongueOut"]]).max() < 1e-9
    assert solver.condition_number == np.inf


def test_smoothness_reduces_jitter(signatures):
    f = 120
    t = np.linspace(0, 1, f)
    w = np.zeros((f, 52))
    w[:, ARKIT_INDEX["jawOpen"]] = 0.5 + 0.4 * np.sin(6 * t)
    w[:, ARKIT_INDEX["mouthSmileLeft"]] = 0.3 + 0.3 * np.cos(4 * t)
    noisy = np.einsum("fk,kld->fld", w, signatures)
    noisy += np.random.default_rng(3).normal(size=noisy.shape) * 0.001
    rough = ShapeKeySolver(signatures).solve(noisy)
    smooth = ShapeKeySolver(signatures, smoothness=1.0).solve(noisy)
    jitter = lambda x: np.abs(np.diff(x, 2, axis=0)).mean()
    assert jitter(smooth) < 0.2 * jitter(rough)
    assert np.abs(smooth - w).mean() < np.abs(rough - w).mean()
    assert smooth.min() >= 0.0 and smooth.max() <= 1.0


def test_round_trip_default_head(signatures):
    rng = np.random.default_rng(4)
    w = sparse_weights(500, 52, rng)
    disp = np.einsum("fk,kld->fld", w, signatures)
    solver = ShapeKeySolver(signatures)
    got = solver.solve(disp)
    keep = [i for i, n in enumerate(ARKIT_NAMES) if n not in HARD]
    assert np.abs(got - w)[:, keep].mean() <= 0.03
    assert np.sqrt((solver.residual_mm(disp, got) ** 2).mean()) <= 0.3


def test_input_errors(signatures):
    solver = ShapeKeySolver(signatures)
    with pytest.raises(ValueError, match=r"expected \(F, 70, 3\)"):
        solver.solve(np.zeros((5, 68, 3)))
    bad = np.zeros((4, 70, 3))
    bad[2, 5, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf in 1 frame\(s\), first \[2\]"):
        solver.solve(bad)
    with pytest.raises(ValueError, match="signatures"):
        ShapeKeySolver(np.zeros((52, 70)))
    assert solver.solve(np.zeros((70, 3))).shape == (1, 52)


def test_prior_settles_what_the_landmarks_cannot_tell_apart():
    # Two keys with opposite signatures on one landmark: their sum is invisible, so without a
    # prior the smallest solution in the box wins ((0.5, 0) for a motion of "0.5 of key a"); a
    # prior (1.0, 0.5) fills the invisible direction and keeps the visible one.
    from emotive.rigs.retarget import ShapeKeySolver

    sig = np.zeros((2, 1, 3))
    sig[0, 0, 2], sig[1, 0, 2] = 1.0, -1.0
    solver = ShapeKeySolver(sig, regularisation=1e-2)
    disp = 0.5 * sig[0]
    plain = solver.solve(disp)[0]
    pulled = solver.solve(disp, prior=np.array([1.0, 0.5]))[0]
    assert plain == pytest.approx([0.5, 0.0], abs=0.02)
    assert pulled == pytest.approx([1.0, 0.5], abs=0.02)
    with pytest.raises(ValueError, match="prior"):
        solver.solve(disp, prior=np.array([np.nan, 0.0]))


def test_key_regularisation_holds_a_noisy_key_back():
    """A key whose signature is known only to within its variance gives way to the keys measured
    well: with the variance as its own ridge, a residual like it no longer turns it on."""
    rng = np.random.default_rng(3)
    sig = rng.normal(size=(3, 20, 3))
    sig[2] *= 0.1                                       # a key the tracker barely sees
    y = np.einsum("k,kld->ld", [0.6, 0.3, 0.0], sig) + 0.05 * rng.normal(size=(20, 3))
    plain = ShapeKeySolver(sig, regularisation=1e-6).solve(y)[0]
    var = np.array([0.0, 0.0, 10.0 * (sig[2] ** 2).sum()])
    held = ShapeKeySolver(sig, regularisation=1e-6, key_regularisation=var)
    w = held.solve(y)[0]
    assert abs(w[2]) < 0.25 * max(abs(plain[2]), 1e-3) + 1e-3
    assert np.allclose(w[:2], [0.6, 0.3], atol=0.05)
    assert np.allclose(held.ridge, held.lam + var)
    # the prior is pulled toward with the same per-key ridge: ridge / (ridge + |s|^2) of it
    assert np.allclose(held.solve(np.zeros((20, 3)), prior=[0.0, 0.0, 0.5])[0, 2], 0.5 * 10 / 11, atol=0.01)
    with pytest.raises(ValueError, match="key_regularisation"):
        ShapeKeySolver(sig, key_regularisation=[1.0, -1.0, 0.0])
    with pytest.raises(ValueError, match="key_regularisation"):
        ShapeKeySolver(sig, key_regularisation=[1.0, 0.0])
