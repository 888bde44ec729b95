"""The speech source's own rules: utterances from timed words, and how the voice's and the words'
emotions are fused (bpy-free, no models)."""

from dataclasses import dataclass

import numpy as np
import pytest

from emotive.errors import EmotiveError
from emotive.ml.labels import EKMAN, GOEMOTIONS
from emotive.pipeline import speech


@dataclass
class Word:
    text: str
    start: float
    end: float


def words(spec):
    """'hello 0.0 0.4 | world 0.45 0.9' -> Words."""
    return [Word(w, float(a), float(b)) for w, a, b in (part.split() for part in spec.split("|"))]


def ekman(**mass):
    v = np.zeros(len(EKMAN), np.float32)
    for name, p in mass.items():
        v[EKMAN.index(name)] = p
    return v / v.sum()


def test_utterances_split_at_pauses_and_sentence_ends():
    ws = words("I 0.0 0.1 | know 0.1 0.4 | it. 0.4 1.2 | Go 1.25 1.5 | now 1.5 1.8 | please 2.4 2.9")
    got = speech.group_utterances(ws)
    assert [(u.start, u.end) for u in got] == [(0.0, 1.2), (1.25, 1.8), (2.4, 2.9)]
    assert speech.utterance_text(got[0]) == "I know it."


def test_a_speaker_who_never_pauses_is_cut_below_the_maximum():
    ws = [Word(f"w{i}", i * 0.3, i * 0.3 + 0.28) for i in range(100)]      # 30 s, 20 ms gaps
    got = speech.group_utterances(ws)
    assert all(u.end - u.start <= speech.MAX_UTTERANCE_S for u in got)
    assert sum(len(u.words) for u in got) == 100 and len(got) >= 4


def test_neutral_words_leave_the_voice_alone():
    """RAVDESS's sentences are neutral: fusion must not change what the voice says."""
    voice = ekman(anger=0.6, neutral=0.3, sadness=0.1)
    fused = speech.fuse(voice, ekman(neutral=0.97, joy=0.03))
    assert EKMAN[int(np.argmax(fused))] == "anger"
    assert fused[EKMAN.index("anger")] > 0.55


def test_emotional_words_colour_a_flat_voice():
    voice = ekman(neutral=0.5, sadness=0.2, joy=0.15, anger=0.15)
    fused = speech.fuse(voice, ekman(anger=0.9, neutral=0.1))
    assert EKMAN[int(np.argmax(fused))] == "anger"


def test_words_the_model_does_not_know_have_no_say():
    voice = ekman(joy=0.5, neutral=0.5)
    assert np.allclose(speech.fuse(voice, ekman(anger=1.0), known=0.0), voice, atol=1e-6)


def test_fused_ekman_reads_back_as_goemotions():
    from emotive.rigs.facs import strength

    probs = speech.ekman_as_goemotions(ekman(fear=0.5, joy=0.2, neutral=0.3))
    assert probs.shape == (len(GOEMOTIONS),) and probs.sum() == pytest.approx(1.0)
    assert probs[GOEMOTIONS.index("fear")] == pytest.approx(2.5 * probs[GOEMOTIONS.index("joy")])
    # the voice keeps the strength it was tuned to: full at 70 % emotional, half at 50 %, none at 30 %
    # (the text model's mass ramp alone would give 0.29, 0 and 0)
    # ... and stays a probability distribution at the ends (a neutral voice stays neutral)
    for fear in (0.0, 0.01, 1.0):
        p = speech.ekman_as_goemotions(ekman(fear=fear, neutral=1 - fear))
        assert p.sum() == pytest.approx(1.0) and p[GOEMOTIONS.index("fear")] <= max(fear, 0.02)
    for fear, expected in ((0.7, 1.0), (0.5, 0.5), (0.3, 0.0)):
        assert float(strength(speech.ekman_as_goemotions(ekman(fear=fear, neutral=1 - fear)))) == \
            pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("kwargs, message", [
    (dict(transcript="   "), "transcript is empty"),
    (dict(transcript=42), "must be text"),
    (dict(fps=0), "fps must be"),
    (dict(intensity=float("nan")), "intensity must be"),
    (dict(alpha_mouth=3.0), "alpha_mouth must be"),
])
def test_options_are_checked_before_anything_loads(tmp_path, kwargs, message):
    options = dict(transcript=None, fps=30, intensity=1.0, alpha_mouth=0.3, alpha_face=1.0) | kwargs
    with pytest.raises(EmotiveError, match=message):
        speech.check_options(tmp_path / "line.wav", **options)


def test_key_attention_weights_the_mouth_apart():
    from emotive.pipeline.attention import key_attention
    from emotive.rigs.arkit import ARKIT_INDEX

    a = key_attention(0.25, 0.9)
    assert a[ARKIT_INDEX["jawOpen"]] == a[ARKIT_INDEX["mouthSmileLeft"]] == pytest.approx(0.25)
    assert a[ARKIT_INDEX["browInnerUp"]] == a[ARKIT_INDEX["eyeSquintLeft"]] == pytest.approx(0.9)


def test_pauses_are_taken_out_of_the_words_around_them():
    """An aligner stretches 'pie' over the breath before 'I': the mouth must not hold it open."""
    @dataclass
    class Phone:
        label: str
        start: float
        end: float

    ws = words("apple 1.6 1.9 | pie 1.9 2.7 | I 2.7 3.0 | am 3.0 3.2")
    fitted = speech.fit_to_pauses(ws, [(2.2, 2.6)])
    assert [(w.text, w.start, w.end) for w in fitted] == [("apple", 1.6, 1.9), ("pie", 1.9, 2.2), ("I", 2.7, 3.0),
                                                          ("am", 3.0, 3.2)]
    assert [(u.start, u.end) for u in speech.group_utterances(fitted)] == [(1.6, 2.2), (2.7, 3.2)]
    phones = speech.fit_to_pauses([Phone("AY", 1.95, 2.5), Phone("AY", 2.5, 2.9)], [(2.2, 2.6)],
                                  lambda a, b: Phone("SIL", a, b))
    assert [(p.label, p.start, p.end) for p in phones] == [("AY", 1.95, 2.2), ("SIL", 2.2, 2.6), ("AY", 2.6, 2.9)]
