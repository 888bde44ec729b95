"""Landmark -> bone transforms: rigs/bone_rbf.py (bpy-free). The Rigify face round trip
(rigs/blender/rigify_face.py) is tests/blender/test_bone_rbf.py."""

import json

import numpy as np
import pytest

from emotive.rigs.bone_rbf import (BoneLayout, BoneRBF, quat_to_rotvec, rotation_angle_deg,
                                   rotvec_to_quat)


def test_quaternion_rotation_vector_round_trip():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(500, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    r = quat_to_rotvec(q)
    assert np.linalg.norm(r, axis=1).max() <= np.pi + 1e-12
    back = rotvec_to_quat(r)
    # q and -q are the same rotation: compare up to sign
    assert np.allclose(np.abs((back * q).sum(1)), 1.0, atol=1e-12)
    assert np.allclose(quat_to_rotvec(-q), r, atol=1e-12)
    # the other way, tiny and moderate angles included
    r2 = rng.normal(size=(300, 3))
    r2 *= (np.repeat([1e-12, 1e-6, 1e-2, 1.0, 3.0], 60) / np.linalg.norm(r2, axis=1))[:, None]
    assert np.allclose(quat_to_rotvec(rotvec_to_quat(r2)), r2, rtol=1e-10, atol=1e-15)
    assert np.allclose(quat_to_rotvec([1.0, 0, 0, 0]), 0.0)
    assert np.allclose(quat_to_rotvec([np.cos(0.3), np.sin(0.3), 0, 0]), [0.6, 0, 0])
    assert rotation_angle_deg([0, 0, 0.1], [0, 0, 0.1 + np.radians(2)]) == pytest.approx(2.0)


def _synthetic(n, rng, n_landmarks=70):
    """A smooth nonlinear 6-parameter family: each parameter moves the landmarks along a fixed
    direction by a monotonic nonlinear amount (like skinning's rotations); outputs = the
    parameters, so the inverse map x -> u is smooth but not affine."""
    mix = np.random.default_rng(42).normal(size=(6, n_landmarks * 3)) * 0.003
    u = rng.uniform(-1, 1, (n, 6))
    x = ((u + 0.4 * u ** 2 + 0.2 * u ** 3) @ mix).reshape(n, n_landmarks, 3)
    return x, u


def test_fit_interpolates_and_generalises():
    rng = np.random.default_rng(1)
    x, y = _synthetic(200, rng)
    xt, yt = _synthetic(100, rng)
    model = BoneRBF.fit(x, y, ridge=1e-8)
    assert model.n_components == 6
    # exact at the examples up to the ridge (error ~ ridge * |a_i|: measured 1.3e-5 here)
    assert np.abs(model.predict(x) - y).max() < 1e-4
    model = BoneRBF.fit(x, y)  # the default ridge 1e-4: measured 0.007 at the examples
    assert np.abs(model.predict(x) - y).max() < 0.02
    assert np.abs(model.predict(np.zeros((70, 3)))).max() < 0.02  # the added rest pose
    # held out, parameters in [-1, 1]: measured max 0.043 (at the cube's corners, where
    # 200 examples in 6-D are sparse), RMS 0.012; an affine least-squares fit gets 0.25 / 0.11
    err = model.predict(xt) - yt
    assert np.abs(err).max() < 0.1 and np.sqrt((err ** 2).mean()) < 0.025
    xa = np.hstack([np.ones((200, 1)), x.reshape(200, -1)])
    affine = np.linalg.lstsq(xa, y, rcond=None)[0]
    err_affine = np.hstack([np.ones((100, 1)), xt.reshape(100, -1)]) @ affine - yt
    assert np.sqrt((err ** 2).mean()) < 0.25 * np.sqrt((err_affine ** 2).mean())
    # batched == one at a time
    assert np.allclose(model.predict(xt[:5]), np.stack([model.predict(f) for f in xt[:5]]))


def test_affine_maps_are_reproduced_exactly():
    """The linear polynomial: an affine map from displacements to parameters is fitted exactly
    (kernel coefficients ~0), also away from the examples, within the examples' subspace."""
    rng = np.random.default_rng(2)
    basis = rng.normal(size=(8, 210)) * 0.01
    x = rng.normal(size=(60, 8)) @ basis
    a, c = rng.normal(size=(210, 4)), rng.normal(size=4)
    y = x @ a + c
    model = BoneRBF.fit(x.reshape(60, 70, 3), y, ridge=1e-2, include_rest=False)
    assert model.n_components == 8
    xt = rng.normal(size=(10, 8)) * 3.0 @ basis  # also well outside the examples
    assert np.allclose(model.predict(xt.reshape(10, 70, 3)), xt @ a + c, atol=1e-8)


def test_ridge_and_width_and_validation():
    rng = np.random.default_rng(3)
    x, y = _synthetic(80, rng)
    m = BoneRBF.fit(x, y)
    z = (x.reshape(80, -1) - m.mean) @ m.components.T
    z = np.vstack([z, -m.mean @ m.components.T])  # + the rest pose
    d = np.sqrt(((z[:, None] - z[None]) ** 2).sum(-1))[np.triu_indices(81, 1)]
    assert m.sigma == pytest.approx(np.median(d))
    rough = BoneRBF.fit(x, y, ridge=1.0)
    assert np.abs(rough.predict(x) - y).max() > np.abs(m.predict(x) - y).max()
    with pytest.raises(ValueError):
        BoneRBF.fit(x[:, :, :2], y)
    with pytest.raises(ValueError):
        BoneRBF.fit(x, y[:10])
    with pytest.raises(ValueError):
        m.predict(np.zeros((3, 69, 3)))


def test_save_load_json():
    rng = np.random.default_rng(4)
    x, y = _synthetic(50, rng)
    layout = BoneLayout(("a", "b"), ("location", "rotation"))
    assert layout.size == 12 and layout.columns("b", "location") == slice(6, 9)
    m = BoneRBF.fit(x, np.hstack([y, y]), layout=layout)
    back = BoneRBF.from_dict(json.loads(json.dumps(m.to_dict())))
    assert back.layout == layout
    assert np.array_equal(back.predict(x), m.predict(x))
    with pytest.raises(ValueError):
        BoneLayout(("a",), ("location", "euler"))
