"""The expression LSTM: shipped weights (numpy inference), file checks, torch parity, training."""

import json

import numpy as np
import pytest

from emotive.ml import expression_data as ed
from emotive.ml.expression_inference import DEFAULT_WEIGHTS, ExpressionModel


@pytest.fixture(scope="module")
def model():
    return ExpressionModel.load()


@pytest.fixture(scope="module")
def neutral(model):
    return np.asarray(model.stats["neutral_mean"]).reshape(70, 3)


def test_shipped_file_small_and_described():
    assert DEFAULT_WEIGHTS.stat().st_size <= 10e6
    m = ExpressionModel.load()
    assert m.meta["landmark_set"] == "ibug70" and m.fps == 30
    assert json.loads(m.meta["emotions"])[-1] == "neutral"


def test_generate_shape_and_start(model, neutral):
    off = model.generate("joy", 0.8, 75, neutral, seed=1)
    assert off.shape == (75, 70, 3) and off.dtype == np.float32
    assert np.all(off[0] == 0)
    assert np.all(np.isfinite(off))
    assert 1e-3 < np.abs(off).max() < 0.05   # moves millimetres, not metres


def test_seeds(model, neutral):
    a = model.generate("surprise", 1.0, 90, neutral, seed=1)
    b = model.generate("surprise", 1.0, 90, neutral, seed=2)
    assert np.array_equal(a, model.generate("surprise", 1.0, 90, neutral, seed=1))
    assert np.abs(a - b).max() > 1e-4


EMOTIONS = ("anger", "disgust", "fear", "joy", "sadness", "surprise")


def _movement(off):
    """Per-frame mean offset of brows, nose, jaw and mouth (blinks left out), mm."""
    from emotive.ml.expression_model import _STYLE_POINTS
    return np.linalg.norm(off[:, _STYLE_POINTS], axis=-1).mean(-1) * 1000


def test_intensity_scales(model, neutral):
    peak = lambda i: np.mean([_movement(model.generate(e, i, 90, neutral, seed=s)).max()
                              for e in EMOTIONS for s in range(3)])
    assert peak(0.5) < peak(1.0)


@pytest.mark.parametrize("n", [2, 60, 120, 300])
def test_duration_honoured(model, neutral, n):
    offs = [model.generate(e, 1.0, n, neutral, seed=0) for e in EMOTIONS]
    assert all(o.shape == (n, 70, 3) and np.all(o[0] == 0) for o in offs)


def test_time_warp_stretches_the_take(model, neutral):
    """A longer segment is a slower take: the onset (half of the peak movement) comes later."""
    def onset(n):
        m = [_movement(model.generate(e, 1.0, n, neutral, seed=0)) for e in EMOTIONS]
        return np.mean([np.argmax(x >= 0.5 * x.max()) for x in m])
    assert onset(60) < onset(120) < onset(300)


def test_settle_ends_at_neutral(model, neutral):
    off = model.generate("joy", 1.0, 90, neutral, seed=0)
    assert np.all(off[-1] == 0) and np.all(off[0] == 0)


def test_placement_invariant(model, neutral):
    """A rig standing elsewhere, turned: the same take, turned the same way."""
    c, s = np.cos(0.3), np.sin(0.3)
    r = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    moved = neutral @ r.T + [1.0, 2.0, 0.5]
    a = model.generate("joy", 1.0, 60, neutral, seed=3)
    b = model.generate("joy", 1.0, 60, moved, seed=3)
    assert np.allclose(a @ r.T, b, atol=2e-5)


def test_probabilities_and_bad_input(model, neutral):
    p = np.zeros(7)
    p[3] = 1.0
    assert np.allclose(model.generate(p, 1.0, 30, neutral, seed=0),
                       model.generate("joy", 1.0, 30, neutral, seed=0))
    with pytest.raises(ValueError):
        model.generate("happy", 1.0, 30, neutral)
    with pytest.raises(ValueError):
        model.generate("joy", 1.0, 30, neutral[:68])


def _rewrite(tmp_path, name, meta_change=None, drop=None):
    from safetensors.numpy import load_file, save_file
    from safetensors import safe_open
    with safe_open(str(DEFAULT_WEIGHTS), "np") as f:
        meta = dict(f.metadata())
    t = load_file(str(DEFAULT_WEIGHTS))
    meta.update(meta_change or {})
    if drop:
        t = {k: v for k, v in t.items() if drop not in k}
    path = tmp_path / name
    save_file(t, str(path), metadata=meta)
    return path


def test_incompatible_files_raise(tmp_path):
    bad = _rewrite(tmp_path, "mp.safetensors", {"landmark_set": "mediapipe478"})
    with pytest.raises(ValueError, match="mp.safetensors.*landmark set"):
        ExpressionModel.load(bad)
    missing = _rewrite(tmp_path, "missing.safetensors", drop="lstm.weight_hh_l1")
    with pytest.raises(ValueError, match="missing.safetensors.*missing"):
        ExpressionModel.load(missing)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="junk.safetensors"):
        ExpressionModel.load(junk)
    other = _rewrite(tmp_path, "text.safetensors", {"format": "emotive-text-emotion/1"})
    with pytest.raises(ValueError, match="text.safetensors"):
        ExpressionModel.load(other)


def test_torch_parity(model, neutral):
    torch = pytest.importorskip("torch")
    from emotive.ml import expression_model as em
    models, cfg, stats, _ = em.load(DEFAULT_WEIGHTS)
    style = np.array([0.3, 0.7, 0.05], np.float32)
    a = model.generate("fear", 0.7, 80, neutral, style=style, settle=False)
    cond = em.condition(np.eye(7)[[2]], [0.7], [80 / cfg.T], style[None])
    b = em.rollout(next(iter(models.values())), em.normalise_neutral(neutral[None], stats).astype(np.float32),
                   cond, 80, stats)
    r = ed.rigid_align(neutral, np.asarray(stats["neutral_mean"]).reshape(70, 3))[1]
    b = b.reshape(80, 70, 3) @ r
    assert np.abs(a - b).max() < 1e-5 + 1e-3 * np.abs(b).max()


@pytest.fixture(scope="module")
def tiny():
    return ed.generate(ed.GeneratorConfig(seed=5, n_sequences=12, n_identities=3, n_frames=40))


def test_training_smoke(tmp_path, tiny):
    pytest.importorskip("torch")
    from emotive.ml import expression_model as em
    from emotive.ml import train_expressions as tr
    calls = []
    models, cfg, stats, rec = tr.fit(tiny, "multitask", 0, seed=0, steps=2,
                                     progress=lambda *a: calls.append(a) or True)
    assert rec["parts"]["all"]["steps"] == 2 and calls
    path = tmp_path / "tiny.safetensors"
    em.save(path, models, cfg, stats, rec)
    m = ExpressionModel.load(path)
    assert m.generate("anger", 1.0, 30, tiny.landmarks[0, 0], seed=0).shape == (30, 70, 3)


def test_training_cancel(tiny):
    pytest.importorskip("torch")
    from emotive.ml import train_expressions as tr
    _, _, _, rec = tr.fit(tiny, "plain", 0, seed=0, steps=50, progress=lambda *a: False)
    assert rec["cancelled"] and rec["parts"]["all"]["steps"] == 1


@pytest.mark.parametrize("problem", ["wrong_count", "nan", "empty", "too_few"])
def test_bad_training_data_raises_before_training(tmp_path, tiny, problem):
    pytest.importorskip("torch")
    from emotive.ml import train_expressions as tr
    s = tiny.subset(np.arange(len(tiny)))
    s.landmarks = s.landmarks.copy()
    if problem == "wrong_count":
        s.landmarks = s.landmarks[:, :, :68]
    elif problem == "nan":
        s.landmarks[1, 3, 4, 0] = np.inf
    elif problem == "empty":
        s = s.subset(np.arange(0))
    elif problem == "too_few":
        s = s.subset(np.arange(3))
    with pytest.raises(ValueError):
        tr.fit(s, "plain", 0, seed=0, steps=1,
               progress=lambda *a: pytest.fail("training started on bad data"))
    if problem not in ("empty", "too_few"):   # a few real takes may be mixed into generated ones
        path = tmp_path / "bad.npz"
        np.savez(path, landmarks=s.landmarks, lengths=s.lengths, emotion=s.emotion,
                 intensity=s.intensity)
        with pytest.raises(ValueError):
            tr.load_training_set(seed=0, data_paths=[path], n_sequences=10)


def test_batched_generation_equals_single_takes(model, neutral):
    emotions, powers, frames, seeds = ["joy", "anger", "surprise"], [0.9, 0.5, 1.0], [40, 95, 200], [1, 2, 3]
    batched = model.generate_many(emotions, powers, frames, neutral, seeds)
    for take, e, p, n, s in zip(batched, emotions, powers, frames, seeds):
        assert take.shape == (n, 70, 3)
        np.testing.assert_allclose(take, model.generate(e, p, n, neutral, seed=s), atol=1e-6)
