"""Lip sync: visemes blended by dominance, lips closing on p/b/m, rounding ahead of rounded
vowels, the jaw following the voice, rest in silence; measured on the default head's lips."""

from dataclasses import dataclass

import numpy as np
import pytest

from emotive.pipeline.lipsync import lip_gap, lipsync
from emotive.rigs.arkit import ARKIT_INDEX
from emotive.rigs.visemes import PHONES, VISEMES, viseme_of

FPS = 30


@dataclass
class Phone:
    label: str
    start: float
    end: float


def phones(*spec, start=0.3):
    """('B', 0.08), ('AA', 0.15), … laid end to end after `start` s of silence."""
    out, t = [Phone("SIL", 0.0, start)], start
    for label, length in spec:
        out.append(Phone(label, t, t + length))
        t += length
    out.append(Phone("SIL", t, t + 0.5))
    return out


def frames_of(p: Phone) -> range:
    return range(int(np.ceil(p.start * FPS)), int(np.floor(p.end * FPS)) + 1)


@pytest.fixture(scope="module")
def rig():
    from emotive.rigs.head_mesh import default_head_rig

    return default_head_rig()


def mouth_opening_mm(weights, rig):
    """Outer-lip opening (upper 51 to lower 57) beyond the neutral head's, in mm."""
    neutral, signatures = rig
    marks = neutral + np.einsum("fk,kld->fld", weights, signatures)
    gap = np.linalg.norm(marks[:, 51] - marks[:, 57], axis=1)
    return (gap - np.linalg.norm(neutral[51] - neutral[57])) * 1000


def test_every_phone_has_a_viseme_and_unknown_sounds_rest():
    assert set(v for v, _ in PHONES.values()) <= set(VISEMES)
    assert viseme_of("AA1") == viseme_of("aa") == ("aa", 1.0)
    assert viseme_of("+BREATH+")[0] == viseme_of("NSN")[0] == "sil"


def test_silence_rests_and_open_vowels_open_the_jaw():
    seq = phones(("HH", 0.06), ("AA", 0.2))
    w = lipsync(seq, FPS, 40)
    assert np.abs(w[:3]).max() < 0.02 and np.abs(w[-3:]).max() < 0.02     # rest before and after
    vowel = frames_of(seq[2])
    assert w[list(vowel), ARKIT_INDEX["jawOpen"]].max() > 0.4


def test_bilabials_close_the_lips_between_open_vowels(rig):
    """'papa mama baba': every p/b/m closes within one frame of its phone, though both
    neighbours hold the jaw open."""
    seq = phones(("P", 0.07), ("AA", 0.14), ("P", 0.07), ("AA", 0.14), ("M", 0.08), ("AA", 0.14),
                 ("M", 0.08), ("AA", 0.14), ("B", 0.07), ("AA", 0.14), ("B", 0.07), ("AA", 0.2))
    w = lipsync(seq, FPS, 100)
    opening = mouth_opening_mm(w, rig)
    vowels = [p for p in seq if p.label == "AA"]
    assert min(opening[list(frames_of(v))].max() for v in vowels) > 6.0     # each vowel opens the mouth
    for p in (p for p in seq if p.label in ("P", "B", "M")):
        near = range(int(round(p.start * FPS)) - 1, int(round(p.end * FPS)) + 2)   # within one frame
        assert opening[list(near)].min() < 1.5, f"{p.label} at {p.start:.2f} s never closes"
        assert lip_gap(w)[list(near)].min() < 0.05


def test_rounding_starts_before_a_rounded_vowel():
    """Anticipatory co-articulation: 'sue' puckers during the s, 'see' does not."""
    sue = lipsync(phones(("S", 0.12), ("UW", 0.2)), FPS, 40)
    see = lipsync(phones(("S", 0.12), ("IY", 0.2)), FPS, 40)
    s_frames = list(frames_of(Phone("S", 0.3, 0.42)))
    pucker = ARKIT_INDEX["mouthPucker"]
    assert sue[s_frames, pucker].max() > 0.2
    assert see[s_frames, pucker].max() < 0.02


def test_blend_is_smooth_not_stepped():
    seq = phones(("HH", 0.05), ("EH", 0.1), ("L", 0.06), ("OW", 0.2), ("W", 0.07), ("ER", 0.15), ("L", 0.05),
                 ("D", 0.08))
    w = lipsync(seq, FPS, 60)
    step = np.abs(np.diff(w, axis=0)).max()
    assert step < 0.3                                # no jump from one held shape to the next
    held = (np.abs(np.diff(w, axis=0)).max(axis=1) < 1e-6)[12:28]
    assert not held.any()                            # and no frozen holds mid-speech


def test_jaw_follows_the_voice():
    seq = phones(("AA", 0.3))
    quiet = lipsync(seq, FPS, 40, energy=np.full(40, 0.1, np.float32))
    loud = lipsync(seq, FPS, 40, energy=np.full(40, 1.0, np.float32))
    jaw = ARKIT_INDEX["jawOpen"]
    assert loud[:, jaw].max() > 1.5 * quiet[:, jaw].max()


def test_long_takes_blend_in_chunks_like_short_ones(monkeypatch):
    import emotive.pipeline.lipsync as module

    rng = np.random.default_rng(0)
    labels = [k for k in PHONES if k != "SIL"]
    t, seq = 0.0, []
    for _ in range(200):
        d = float(rng.uniform(0.04, 0.2))
        seq.append(Phone(str(rng.choice(labels)), t, t + d))
        t += d
    n = int(t * FPS) + 10
    whole = lipsync(seq, FPS, n)
    monkeypatch.setattr(module, "CHUNK", 37)
    assert np.allclose(lipsync(seq, FPS, n), whole, atol=1e-6)
