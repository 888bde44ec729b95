"""The expression sequence generator and the sequence file format (ml/expression_data.py)."""

import numpy as np
import pytest

from emotive.ml import expression_data as ed
from emotive.ml.labels import EKMAN

SMALL = ed.GeneratorConfig(seed=3, n_sequences=24, n_identities=6, n_frames=90)
# One clean face, no blinks / head motion / noise: only the expression moves the landmarks.
CLEAN = dict(identity_split="default", n_sequences=6, n_identities=1, blink_rate_hz=(1e-6, 1e-6),
             head_rotation_deg=0.0, head_translation_mm=0.0, jitter_mm=0.0, intensity=(1.0, 1.0),
             blend_probability=0.0, asymmetry=0.0)


@pytest.fixture(scope="module")
def small():
    return ed.generate(SMALL)


def test_deterministic_under_seed(small):
    again = ed.generate(SMALL)
    assert np.array_equal(small.landmarks, again.landmarks)
    assert np.array_equal(small.emotion, again.emotion)
    other = ed.generate(ed.GeneratorConfig(**{**SMALL.__dict__, "seed": 4}))
    assert not np.allclose(small.landmarks, other.landmarks)


def test_shapes_and_padding(small):
    n, T = SMALL.n_sequences, SMALL.n_frames
    assert small.landmarks.shape == (n, T, 70, 3) and small.landmarks.dtype == np.float32
    for a in (small.lengths, small.emotion, small.intensity, small.identity):
        assert a.shape == (n,)
    assert np.all((small.lengths >= 2) & (small.lengths <= T))
    assert np.all((small.emotion >= 0) & (small.emotion < len(EKMAN)))
    for lm, L in zip(small.landmarks, small.lengths):
        assert np.array_equal(lm[L:], np.repeat(lm[L - 1:L], T - L, axis=0))
    # Metres, a human-sized face: outer eye corners 6-12 cm apart.
    iod = np.linalg.norm(small.landmarks[:, 0, 45] - small.landmarks[:, 0, 36], axis=-1)
    assert np.all((iod > 0.06) & (iod < 0.12))


def test_displacements_round_trip(small):
    d = ed.to_displacements(small.landmarks)
    assert np.all(d[:, 0] == 0)
    back = ed.from_displacements(d, small.landmarks[:, 0])
    assert np.allclose(back, small.landmarks, atol=1e-6)


def test_identities_differ(small):
    neutral = {}
    for i, lm in zip(small.identity, small.landmarks[:, 0]):
        neutral.setdefault(int(i), lm)
    faces = list(neutral.values())
    assert len(faces) == SMALL.n_identities
    gaps = [np.abs(a - b).max() for k, a in enumerate(faces) for b in faces[k + 1:]]
    assert min(gaps) > 1e-3   # > 1 mm somewhere on every pair of faces


def _peak_offsets(emotion):
    s = ed.generate(ed.GeneratorConfig(**CLEAN, emotions=(emotion,)))
    off = s.landmarks - s.landmarks[:, :1]
    k = np.linalg.norm(off, axis=-1).mean(-1).argmax(1)
    return off[np.arange(len(s)), k]   # (N, 70, 3)


def test_joy_lifts_mouth_corners():
    peak = _peak_offsets("joy")
    assert np.all(peak[:, [48, 54], 2] > 1e-3)          # corners up by > 1 mm (Z up)
    assert np.all(peak[:, 54, 0] - peak[:, 48, 0] > 0)   # and wider


def test_surprise_raises_brows():
    peak = _peak_offsets("surprise")
    assert np.all(peak[:, 17:27, 2].mean(1) > 1e-3)
    assert np.all(peak[:, 8, 2] < 0)                      # jaw drops (AU26)


def test_takes_start_and_end_near_neutral():
    s = ed.generate(ed.GeneratorConfig(**CLEAN, emotions=("anger", "fear")))
    last = s.landmarks[np.arange(len(s)), s.lengths - 1]
    assert np.abs(last - s.landmarks[:, 0]).max() < 1e-4


def test_save_load_round_trip(tmp_path, small):
    path = tmp_path / "seq.npz"
    ed.save_sequences(path, small)
    back = ed.load_sequences(path)
    assert np.array_equal(back.landmarks, small.landmarks)
    assert np.array_equal(back.lengths, small.lengths)


def _save_raw(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("problem, match", [
    ("wrong_count", "68 landmarks"), ("nan", "NaN"), ("empty", "empty"),
    ("too_few", "at least"), ("bad_emotion", "unknown emotion"), ("bad_lengths", "lengths"),
])
def test_bad_sequences_raise(tmp_path, small, problem, match):
    a = dict(landmarks=small.landmarks[:10].copy(), lengths=small.lengths[:10].copy(),
             emotion=small.emotion[:10].copy(), intensity=small.intensity[:10].copy())
    min_n = 1
    if problem == "wrong_count":
        a["landmarks"] = a["landmarks"][:, :, :68]
    elif problem == "nan":
        a["landmarks"][2, 5, 7, 1] = np.nan
    elif problem == "empty":
        a = {k: v[:0] for k, v in a.items()}
    elif problem == "too_few":
        min_n = 20
    elif problem == "bad_emotion":
        a["emotion"][0] = 9
    elif problem == "bad_lengths":
        a["lengths"] = a["lengths"][:5]
    with pytest.raises(ValueError, match=match):
        ed.load_sequences(_save_raw(tmp_path / "bad.npz", **a), min_sequences=min_n)


def test_unreadable_file_raises(tmp_path):
    p = tmp_path / "junk.npz"
    p.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.npz"):
        ed.load_sequences(p)


def test_config_table_documented():
    names = {f for f in ed.GeneratorConfig.__dataclass_fields__}
    rows = ed.config_table()
    assert all(f"| {n} |" in rows for n in names)
