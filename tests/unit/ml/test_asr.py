"""Speech to timed words and phones (ml/asr.py) on espeak-ng speech, whose phoneme timings are known
(bench/espeak_reference.py). bpy-free; ~20 s (Whisper tiny.en, pocketsphinx)."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from emotive.ml import asr
from emotive.ml.pronunciation import Lexicon, words as normalise

ROOT = Path(__file__).resolve().parents[3]


def _espeak():
    spec = importlib.util.spec_from_file_location("espeak_reference", ROOT / "bench" / "espeak_reference.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("espeak_reference", mod)        # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


E = _espeak()
needs_espeak = pytest.mark.skipif(not E.available(), reason="libespeak-ng.so.1 not installed (apt-get install espeak-ng)")
TEXT = "Please bring me a bowl of warm soup."


@pytest.fixture(scope="module")
def ref():
    return E.synthesize(TEXT)


@needs_espeak
def test_recognize_words_in_order_with_increasing_times(ref):
    words = asr.recognize(ref.audio)
    heard = normalise(" ".join(w.text for w in words))
    assert heard == normalise(TEXT)
    starts = [w.start for w in words]
    assert starts == sorted(starts) and all(w.end > w.start for w in words)
    assert words[-1].end <= len(ref.audio) / asr.SAMPLE_RATE + 0.05


@needs_espeak
def test_align_puts_words_near_the_reference_and_phones_cover_speech(ref):
    al = asr.align(ref.audio, TEXT, verify=False)
    assert al.source == "given" and al.transcript == "please bring me a bowl of warm soup" and al.oov == []
    assert [w.text for w in al.words] == [w.label.lower() for w in ref.words]
    for got, want in zip(al.words, ref.words):
        assert abs(got.start - want.start) < 0.08 and abs(got.end - want.end) < 0.08, (got, want)
    labels = [p.label for p in al.phones if p.label != "SIL"]
    assert labels[:4] == ["P", "L", "IY", "Z"] and "OW" in labels and "UW" in labels
    speech = [p for p in al.phones if p.label != "SIL"]
    assert speech[0].start <= ref.words[0].start + 0.08 and speech[-1].end >= ref.words[-1].end - 0.08
    assert all(a.end <= b.start + 1e-6 for a, b in zip(al.phones, al.phones[1:]))


@needs_espeak
def test_out_of_vocabulary_word_is_guessed_and_reported():
    r = E.synthesize("Bob kept the zorbly map.")
    al = asr.align(r.audio, "Bob kept the zorbly map.", verify=False)
    assert al.oov == ["zorbly"]
    assert [w.text for w in al.words] == ["bob", "kept", "the", "zorbly", "map"]
    zorbly = al.words[3]
    want = next(w for w in r.words if w.label == "zorbly")
    assert abs(zorbly.start - want.start) < 0.1 and abs(zorbly.end - want.end) < 0.1


def test_pronunciation_guesses_and_normalisation():
    lex = asr.lexicon()
    assert lex.pronounce("soup") == ("S UW P", False)
    assert lex.pronounce("tsars'")[1] and lex.pronounce("soupbowls") == ("S UW P B OW L Z", True)
    assert lex.pronounce("qxz") == ("K Y UW EH K S Z IY", True)
    assert normalise("It’s 42 Degrees—isn't it?") == ["it's", "forty", "two", "degrees", "isn't", "it"]
    assert normalise("1,200 cats") == ["one", "thousand", "two", "hundred", "cats"]
    assert isinstance(lex, Lexicon)


@needs_espeak
def test_mismatched_transcript_raises(ref):
    with pytest.raises(ValueError, match="does not fit the audio"):
        asr.align(ref.audio, "The judge was pleased with the measured answer.")
    with pytest.raises(ValueError, match="does not fit the audio"):
        asr.transcribe(ref.audio, "Dogs are sitting by the door")


@needs_espeak
def test_transcribe_recognised_has_phones_and_progress(ref):
    seen = []
    al = asr.transcribe(ref.audio, progress=lambda f, m: seen.append((f, m)))
    assert al.source == "recognised" and al.warnings == []
    assert [w.text for w in al.words] == normalise(TEXT)
    assert any(p.label == "OW" for p in al.phones)
    assert seen[-1][0] == 1.0 and [f for f, _ in seen] == sorted(f for f, _ in seen)


def test_silence_gives_no_words():
    assert asr.recognize(np.zeros(2 * asr.SAMPLE_RATE, np.float32)) == []
    al = asr.transcribe(np.zeros(2 * asr.SAMPLE_RATE, np.float32))
    assert al.words == [] and all(p.label == "SIL" for p in al.phones)


def test_long_audio_is_cut_at_silences():
    rng = np.random.default_rng(0)
    burst = rng.normal(0, 0.1, 5 * asr.SAMPLE_RATE).astype(np.float32)
    pause = np.zeros(asr.SAMPLE_RATE, np.float32)
    audio = np.concatenate([burst, pause] * 10)                 # 60 s
    pieces = asr.chunks(audio)
    assert pieces[0][0] == 0 and pieces[-1][1] == len(audio)
    assert all(b - a <= asr.MAX_CHUNK_S * asr.SAMPLE_RATE for a, b in pieces) and len(pieces) >= 3
    for (_, end), (start, _) in zip(pieces, pieces[1:]):
        assert end == start and not np.any(audio[end - 100:end + 100])    # cut inside a pause


@pytest.mark.parametrize("audio, sample_rate, message", [
    (np.zeros(0, np.float32), 16000, "empty"),
    (np.array([0.0, np.nan, 0.1], np.float32), 16000, "NaN"),
    (np.zeros((16000, 2), np.float32), 16000, "mono"),
    (np.zeros(16000, np.float32), 44100, "16000 Hz"),
    (np.zeros(16000, np.int16), 16000, "floating point"),
])
def test_bad_input_raises_clear_value_error(audio, sample_rate, message):
    for call in (lambda: asr.recognize(audio, sample_rate),
                 lambda: asr.align(audio, "hello", sample_rate),
                 lambda: asr.transcribe(audio, None, sample_rate)):
        with pytest.raises(ValueError, match=message):
            call()


def test_empty_transcript_raises():
    with pytest.raises(ValueError, match="no words"):
        asr.align(np.zeros(16000, np.float32), " ?! ", verify=False)
