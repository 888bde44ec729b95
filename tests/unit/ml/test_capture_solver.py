"""The learned correction of the FaceMesh capture solve (ml/capture_solver.py), NumPy inference."""

import json

import numpy as np
import pytest

from emotive.ml import capture_solver as cs
from emotive.rigs.arkit import ARKIT_INDEX, ARKIT_NAMES


def _random_model(rng, hidden=8):
    sizes = [cs.N_FEATURES, hidden, hidden, len(ARKIT_NAMES)]
    tensors = {"mean": rng.normal(size=cs.N_FEATURES), "std": rng.uniform(0.5, 2.0, cs.N_FEATURES),
               "head_mean": rng.normal(size=cs.N_HEAD_FEATURES), "head_std": rng.uniform(0.5, 2.0, cs.N_HEAD_FEATURES),
               "head_coef": rng.normal(scale=0.1, size=(cs.N_HEAD_FEATURES, 2))}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        tensors[f"w{i}"] = rng.normal(scale=0.3, size=(a, b))
        tensors[f"b{i}"] = rng.normal(scale=0.3, size=b)
    return tensors


def test_a_face_at_rest_stays_at_rest_and_weights_stay_in_range(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "m.safetensors"
    cs.save(path, _random_model(rng), {"seed": 0})
    model = cs.CaptureSolverModel.load(path)
    assert model.meta["landmark_set"] == "mediapipe478" and json.loads(model.meta["seed"]) == 0
    rest = model.correct(np.zeros((3, 70, 3)), np.zeros((3, 52)))
    assert np.abs(rest).max() < 1e-6
    linear = rng.uniform(0, 1, (5, 52))
    moved = model.correct(rng.normal(scale=0.005, size=(5, 70, 3)), linear)
    assert moved.shape == (5, 52) and moved.min() >= 0.0 and moved.max() <= 1.0
    # the correction reads the landmarks, not only the linear solve
    assert np.abs(moved - model.correct(rng.normal(scale=0.005, size=(5, 70, 3)), linear)).max() > 1e-3
    # the head: unchanged at rest, yaw and pitch corrected elsewhere, roll kept
    still = model.correct_head(np.zeros((2, 70, 3)), np.zeros((2, 52)), np.zeros((2, 3)))
    assert np.abs(still).max() < 1e-12
    head = rng.normal(scale=0.05, size=(5, 3))
    turned = model.correct_head(rng.normal(scale=0.005, size=(5, 70, 3)), moved, head)
    assert np.array_equal(turned[:, 2], head[:, 2]) and np.abs(turned[:, :2] - head[:, :2]).max() > 0


def test_keys_left_out_keep_the_linear_solve():
    rng = np.random.default_rng(4)
    tensors = _random_model(rng)
    tensors["keys"] = np.zeros(52)
    tensors["keys"][ARKIT_INDEX["mouthPucker"]] = 1.0
    model = cs.CaptureSolverModel(tensors)
    off, lin = rng.normal(scale=0.005, size=(4, 70, 3)), rng.uniform(0.1, 0.9, (4, 52))
    out = model.correct(off, lin)
    others = np.arange(52) != ARKIT_INDEX["mouthPucker"]
    assert np.array_equal(out[:, others], lin[:, others])
    assert np.abs(out[:, ARKIT_INDEX["mouthPucker"]] - lin[:, ARKIT_INDEX["mouthPucker"]]).max() > 0


def test_mirror_swaps_sides_and_twice_is_the_identity():
    rng = np.random.default_rng(1)
    off, lin = rng.normal(size=(4, 70, 3)), rng.uniform(size=(4, 52))
    m_off, m_lin, m_tru = cs.mirror(off, lin, lin)
    assert np.array_equal(m_lin[:, ARKIT_INDEX["mouthSmileLeft"]], lin[:, ARKIT_INDEX["mouthSmileRight"]])
    assert np.array_equal(m_lin[:, ARKIT_INDEX["jawOpen"]], lin[:, ARKIT_INDEX["jawOpen"]])
    back_off, back_lin = cs.mirror(m_off, m_lin)
    assert np.allclose(back_off, off) and np.array_equal(back_lin, lin) and np.array_equal(m_tru, m_lin)


def test_wrong_files_and_shapes_are_refused(tmp_path):
    from safetensors.numpy import save_file

    other = tmp_path / "other.safetensors"
    save_file({"x": np.zeros(3, np.float32)}, str(other), metadata={"format": "something-else"})
    with pytest.raises(ValueError, match="not an Emotive capture-solver file"):
        cs.CaptureSolverModel.load(other)
    tensors = _random_model(np.random.default_rng(2))
    tensors["w1"] = tensors["w1"][:, :3]
    with pytest.raises(ValueError, match="do not chain"):
        cs.CaptureSolverModel(tensors)
    model = cs.CaptureSolverModel(_random_model(np.random.default_rng(3)))
    with pytest.raises(ValueError, match="offsets"):
        model.correct(np.zeros((2, 68, 3)), np.zeros((2, 52)))


def test_the_shipped_model_loads_small_and_applies_to_facemesh_only():
    assert cs.DEFAULT_WEIGHTS.stat().st_size < 2 * 2**20
    assert cs.shipped("mediapipe478") is not None
    assert cs.shipped("openpose70") is None and cs.shipped("mediapipe468") is None
    metrics = json.loads(cs.DEFAULT_WEIGHTS.with_name("capture_solver.metrics.json").read_text())
    assert metrics["held_out"]["identity"] == "old_male"
    assert metrics["held_out_check"]["identity"] == "young_female_african"
    assert not {"old_male", "young_female_african"} & set(metrics["train"]["identities"])
    for split in ("held_out", "held_out_check"):   # better than the linear solve on faces it never saw
        mae = metrics[split]["mae_all_keys"]
        assert mae["corrected"] < 0.8 * mae["linear"], (split, mae)


def test_a_file_missing_a_tensor_is_refused_naming_it(tmp_path):
    tensors = _random_model(np.random.default_rng(2))
    del tensors["b1"]
    path = tmp_path / "broken.safetensors"
    cs.save(path, tensors, {"seed": 0})
    with pytest.raises(ValueError, match="broken.safetensors"):
        cs.CaptureSolverModel.load(path)
    tensors = _random_model(np.random.default_rng(2))
    del tensors["mean"]
    cs.save(path, tensors, {"seed": 0})
    with pytest.raises(ValueError, match="broken.safetensors.*mean"):
        cs.CaptureSolverModel.load(path)


def test_a_windowed_model_reads_the_frames_either_side_and_rest_stays_rest():
    rng = np.random.default_rng(6)
    window = (-3, 3)
    n_in = cs.N_FEATURES * (1 + len(window))
    tensors = _random_model(rng)
    tensors.update(window=np.array(window, np.float32), mean=rng.normal(size=n_in), std=rng.uniform(0.5, 2, n_in),
                   w0=rng.normal(scale=0.3, size=(n_in, 8)))
    model = cs.CaptureSolverModel(tensors)
    assert model.margin == 3 and np.abs(model.correct(np.zeros((9, 70, 3)), np.zeros((9, 52)))).max() < 1e-6
    off, lin = rng.normal(scale=0.005, size=(10, 70, 3)), rng.uniform(0.1, 0.9, (10, 52))
    later = off.copy()
    later[8] += 0.003                                   # frame 8 moves: frame 5 (3 before it) answers
    a, b = model.correct(off, lin), model.correct(later, lin)
    assert np.allclose(a[:5], b[:5]) and np.abs(a[5] - b[5]).max() > 1e-4
    with pytest.raises(ValueError, match="786"):       # a window's features need a mean of their own size
        cs.CaptureSolverModel({**tensors, "mean": np.zeros(cs.N_FEATURES)})
