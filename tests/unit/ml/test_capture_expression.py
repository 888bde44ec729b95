"""The capture-expression classifier (ml/capture_expression.py): the shipped file, its inputs and
what it says about held-out generated faces."""

import json

import numpy as np
import pytest

from emotive.ml import capture_expression as ce
from emotive.ml import expression_data as ed
from emotive.ml.labels import EKMAN


@pytest.fixture(scope="module")
def model():
    return ce.CaptureExpressionModel.load()


@pytest.fixture(scope="module")
def eye_distance():
    from emotive.rigs.head_mesh import default_head_rig

    neutral = default_head_rig()[0]
    return float(np.linalg.norm(neutral[45] - neutral[36]))


def test_shipped_model_gives_seven_probabilities(model):
    rng = np.random.default_rng(0)
    windows = [rng.normal(0, 2e-3, (n, 70, 3)) for n in (1, 30, 121)]
    p = model.classify(windows)
    assert p.shape == (3, len(EKMAN)) and p.dtype == np.float32
    assert np.allclose(p.sum(axis=1), 1.0, atol=1e-5) and (p >= 0).all()
    # one window and a stacked batch are accepted too
    assert model.classify(windows[1]).shape == (1, 7)
    assert model.classify(np.stack([windows[1]] * 2)).shape == (2, 7)


def test_load_is_cached_and_checks_the_file(model, tmp_path):
    assert ce.CaptureExpressionModel.load() is model
    assert model.meta["format"] == ce.FORMAT and json.loads(model.meta["emotions"]) == list(EKMAN)
    with pytest.raises(FileNotFoundError, match="train_capture_expression"):
        ce.CaptureExpressionModel.load(tmp_path / "none.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="junk.safetensors"):
        ce.CaptureExpressionModel.load(junk)
    from safetensors.numpy import save_file
    other = tmp_path / "other.safetensors"
    save_file({"x": np.zeros(3, np.float32)}, str(other), metadata={"format": "something-else/1"})
    with pytest.raises(ValueError, match="not an Emotive capture-expression file"):
        ce.CaptureExpressionModel.load(other)


@pytest.mark.parametrize("bad", [
    np.zeros((10, 68, 3)), np.zeros((10, 70, 2)), np.zeros((0, 70, 3)), np.zeros((70, 3)),
    np.zeros((1, 2, 10, 70, 3)), [], [np.zeros((5, 70, 3)), np.zeros((5, 69, 3))],
    np.full((4, 70, 3), np.nan),
])
def test_bad_shapes_and_values_are_refused(model, bad):
    with pytest.raises(ValueError):
        model.classify(bad)


def test_held_out_joy_is_joy_and_a_still_face_neutral(model, eye_distance):
    s = ed.generate(ed.GeneratorConfig(seed=77, n_sequences=8, n_identities=4, identity_split="test",
                                       emotions=("joy",), intensity=(0.6, 1.0)))
    windows = []
    for i in range(len(s)):
        lm = s.landmarks[i, :s.lengths[i]].astype(np.float64)
        k = eye_distance / np.linalg.norm(lm[0, 45] - lm[0, 36])
        windows.append((lm - lm[0]) * k)
    p = model.classify(windows)
    assert (p.argmax(axis=1) == EKMAN.index("joy")).all(), p.round(2)
    still = np.random.default_rng(1).normal(0, 5e-5, (60, 70, 3))
    assert model.classify(still)[0].argmax() == EKMAN.index("neutral")
    row = ce.label_windows(still, [0.0, 59 / 30], 30.0, model)[0]
    assert row["emotion"] == "neutral" and row["confidence"] >= 0.5
    assert row["movement_mm"] < ce.NEUTRAL_MM


def test_label_windows_gives_top_three(model):
    rng = np.random.default_rng(2)
    motion = rng.normal(0, 3e-3, (120, 70, 3))
    rows = ce.label_windows(motion, [0.0, 1.0, 119 / 60], 60.0, model)
    assert len(rows) == 2
    for r in rows:
        assert [n for n, _ in r["labels"]][0] == r["emotion"] and len(r["labels"]) == 3
        assert all(n in EKMAN for n, _ in r["labels"])
        probs = [p for _, p in r["labels"]]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
        assert r["confidence"] == probs[0]


def test_rest_offsets_of_an_arkit_capture_start_from_its_least_active_frames():
    motion = np.zeros((10, 70, 3))
    motion[:, 20, 2] = np.arange(10) * 1e-3
    arkit = np.zeros((10, 52))
    arkit[:, 0] = np.arange(10) / 10
    out = ce.rest_offsets(motion, arkit)
    assert out[0, 20, 2] == 0.0 and out[9, 20, 2] == pytest.approx(9e-3)
    assert ce.rest_offsets(motion, None) is motion          # landmark captures already are
    assert ce.rest_offsets(motion, arkit, neutral_frame=5)[5, 20, 2] == 0.0


def test_cuts_move_to_where_the_face_is_still():
    motion = np.zeros((240, 70, 3))                    # 60 fps, 3.98 s: two windows, cut at 1.99 s
    ramp = np.clip((np.arange(240) - 100) / 40, 0, 1)  # the face moves over frames 100-140
    motion[:, 48:68, 2] = 5e-3 * ramp[:, None]
    edges = ce.segment_edges(motion, 60.0)
    assert len(edges) == 3 and edges[0] == 0.0 and edges[-1] == pytest.approx(239 / 60)
    assert edges[1] * 60 <= 100 or edges[1] * 60 >= 140
    assert np.allclose(ce.segment_edges(np.zeros((240, 70, 3)), 60.0), ce.window_edges(240, 60.0), atol=1 / 60)
