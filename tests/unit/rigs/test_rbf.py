"""RBF landmark -> mesh deformation (rigs/rbf.py) on the default head and synthetic points."""


import numpy as np
import pytest

from emotive.rigs.head_mesh import default_head_rig
from emotive.rigs.head_mesh import load_default_head
from emotive.rigs.rbf import RBFWarp, naive_rbf_deform



@pytest.fixture(scope="module")
def head():
    rest, keys = default_head_rig()  # landmarks and per-key landmark signatures
    verts = load_default_head().vertices.astype(np.float64)
    return verts, rest, keys, RBFWarp(rest, verts)


def _smooth_field(rest, seed=0):
    """A smooth displacement field over the face (a few mm), like an expression's."""
    rng = np.random.default_rng(seed)
    c = rest.mean(0)
    return 0.004 * np.sin((rest - c) @ rng.normal(size=(3, 3)) * 30.0 + rng.normal(size=3))


def test_interpolates_landmarks():
    rng = np.random.default_rng(1)
    rest = rng.uniform(-0.05, 0.05, (40, 3))
    disp = rng.normal(size=(40, 3)) * 0.003
    warp = RBFWarp(rest, rest, ridge=1e-9, falloff=None, dtype=np.float64)
    assert np.abs(warp.deform(disp) - disp).max() < 1e-7
    # with the default ridge, a smooth field is still met to a fraction of a percent
    rest_f = rng.uniform(-0.05, 0.05, (40, 3))
    field = _smooth_field(rest_f)
    err = np.abs(RBFWarp(rest_f, rest_f, falloff=None).deform(field) - field).max()
    assert err < 0.02 * np.abs(field).max()


def test_zero_and_translation(head):
    verts, rest, _, warp = head
    assert np.abs(warp.deform(np.zeros((70, 3)))).max() == 0.0
    t = np.array([0.002, -0.001, 0.003])
    moved = warp.deform(np.broadcast_to(t, (70, 3)))
    dist = np.linalg.norm(verts[:, None] - rest[None], axis=2).min(1)
    face = dist <= 0.02  # inside the falloff's inner radius
    assert face.sum() > 1000
    assert np.allclose(moved[face], t, atol=1e-6)  # the constant polynomial term (float32 W)


def test_falloff_keeps_far_vertices_still_and_no_explosion(head):
    verts, rest, keys, warp = head
    far = (verts[:, 2] < 0.01) | (verts[:, 1] > 0.03)  # neck base, back of the skull
    assert far.sum() > 100
    rng = np.random.default_rng(2)
    for disp in list(keys[:51]) + [rng.normal(size=(70, 3)) * 0.003 for _ in range(3)]:
        out = np.linalg.norm(warp.deform(disp), axis=1)
        assert out[far].max() == 0.0
        # measured worst: ~2x for key-like fields, ~3.2x for independent noise per landmark
        assert out.max() <= 4.0 * np.linalg.norm(disp, axis=1).max()


def test_matches_naive_and_batched_and_chunked(head):
    verts, rest, keys, warp = head
    frames = keys[[24, 43, 8, 31]]  # jawOpen, mouthSmileLeft, eyeBlinkLeft, mouthFunnel
    naive = naive_rbf_deform(rest, frames[0], verts)
    assert np.abs(warp.deform(frames[0]) - naive).max() < 1e-6  # float32 W, float64 naive
    batched = warp.deform(frames)
    assert batched.shape == (4, len(verts), 3)
    # One frame and a batch of frames go through different BLAS kernels, which agree to float32
    # rounding (measured: <= 5e-9 m), not bit for bit on every CPU; 1e-7 m is 0.1 micrometre.
    for f in range(4):
        np.testing.assert_allclose(batched[f], warp.deform(frames[f]), rtol=0, atol=1e-7)
    streamed = np.concatenate(list(warp.iter_deform(frames, frames_per_block=3)))
    np.testing.assert_allclose(streamed, batched, rtol=0, atol=1e-7)
    out = np.empty_like(batched)
    assert warp.deform(frames, out=out) is out
    np.testing.assert_allclose(out, batched, rtol=0, atol=1e-7)
    small = RBFWarp(rest, verts, chunk=777)
    assert np.abs(small.W - warp.W).max() < 1e-7


def test_shape_errors(head):
    verts, rest, _, warp = head
    with pytest.raises(ValueError, match="disp"):
        warp.deform(np.zeros((69, 3)))
    with pytest.raises(ValueError, match="NaN"):
        RBFWarp(np.full((5, 3), np.nan), verts)
