"""The speech source end to end (bpy-free): espeak-ng speaks known lines; the take is lip-synced
to them, coloured by their emotion, and every kind of bad recording gets a clear message or a
sensible result with a warning."""

import shutil
import subprocess

import numpy as np
import pytest

from emotive.errors import EmotiveError
from emotive.pipeline import make_take
from emotive.rigs.arkit import ARKIT_INDEX

sf = pytest.importorskip("soundfile")
pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

JAW = ARKIT_INDEX["jawOpen"]
LINE = "Maybe the baby wants more apple pie. You are so wonderful!"   # Whisper tiny hears it well


def speak(path, text, rate_wpm=150, sample_rate=None):
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", str(rate_wpm), "-w", str(path), text], check=True)
    if sample_rate:
        import soxr

        data, rate = sf.read(path, dtype="float32")
        sf.write(path, soxr.resample(data, rate, sample_rate), sample_rate)
    return path


@pytest.fixture(scope="module")
def line(tmp_path_factory):
    return speak(tmp_path_factory.mktemp("speech") / "line.wav", LINE)


def test_a_line_becomes_a_lip_synced_take_with_its_audio(line):
    take = make_take("speech", line, transcript=LINE, fps=30)
    assert take.audio == str(line.resolve()) and take.source == "speech"
    duration = sf.info(line).duration
    assert take.n_frames == int(np.ceil(duration * 30 - 1e-9)) + 1
    assert [s.text for s in take.segments] == ["maybe the baby wants more apple pie", "you are so wonderful"]
    words = take.details["words"]
    speaking = np.zeros(take.n_frames, bool)
    for w in words:
        speaking[int(w["start"] * 30):int(np.ceil(w["end"] * 30)) + 1] = True
    jaw = take.arkit[:, JAW]
    assert jaw[speaking].max() > 0.3
    assert jaw[~speaking].max() < 0.15          # rest before, between and after the sentences
    joy = take.segments[1]
    assert joy.details["transcript_emotion"] == "joy"
    assert set(joy.details["probabilities"]) == {"neutral", "calm", "happy", "sad", "angry", "fearful", "disgust",
                                                 "surprised"}


def test_attention_scales_the_emotion_not_the_articulation(line):
    """α1 = α2 = 0 keeps only the lip sync and the blinks; α = 1 adds the emotion, and the
    mouth's articulation stays the same shape."""
    from emotive.pipeline.take import life_weights

    n = int(np.ceil(sf.info(line).duration * 30 - 1e-9)) + 1
    blink = ARKIT_INDEX["eyeBlinkLeft"]
    seed = next(s for s in range(50) if blink in life_weights(n, 30, s)[1])     # a seed that blinks in time
    script = LINE
    full = make_take("speech", line, transcript=script, alpha_mouth=1.0, alpha_face=1.0, seed=seed)
    none = make_take("speech", line, transcript=script, alpha_mouth=0.0, alpha_face=0.0, seed=seed)
    smile = ARKIT_INDEX["mouthSmileLeft"]
    assert full.arkit[:, smile].max() > none.arkit[:, smile].max() + 0.05
    assert np.corrcoef(full.arkit[:, JAW], none.arkit[:, JAW])[0, 1] > 0.9
    weights, keys = life_weights(n, 30, seed)
    assert np.allclose(none.arkit[:, blink], weights[:, list(keys).index(blink)], atol=1e-5)
    assert none.arkit[:, blink].max() > 0.5     # blinks stay whatever the sliders say


def test_silence_gives_a_resting_face_and_a_warning(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(16_000 * 2, np.float32), 16_000)
    take = make_take("speech", path)
    assert take.segments == [] and any("silent" in w for w in take.warnings)
    mouth = [i for n, i in ARKIT_INDEX.items() if n.startswith(("jaw", "mouth"))]
    assert np.abs(take.arkit[:, mouth]).max() < 0.05


def test_telephone_audio_is_animated_with_a_warning(tmp_path):
    path = speak(tmp_path / "phone.wav", "Bob bought a map.", sample_rate=8000)
    # a timed script: aligned without the recogniser's check, which narrow-band espeak speech can fail
    take = make_take("speech", path, transcript=[(0.0, sf.info(path).duration, "Bob bought a map.")])
    assert any("telephone" in w for w in take.warnings)
    assert take.arkit[:, JAW].max() > 0.25


def test_music_without_words_rests_with_a_warning(tmp_path):
    rate = 16_000
    t = np.arange(rate * 3) / rate
    chords = sum(0.15 * np.sin(2 * np.pi * f * t) for f in (220, 277, 330)) * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t))
    path = tmp_path / "music.wav"
    sf.write(path, chords.astype(np.float32), rate)
    take = make_take("speech", path)
    if take.segments:            # a recogniser may hallucinate a word on music: then it must say so
        pytest.skip(f"recognised {take.details['transcript']!r} in pure tones")
    assert any("no speech" in w for w in take.warnings)


def test_a_transcript_that_does_not_match_is_refused(line):
    with pytest.raises(EmotiveError, match="does not fit"):
        make_take("speech", line, transcript="The quick brown fox jumps over the lazy dog near the river.")


@pytest.mark.parametrize("name, content", [("empty.wav", b""), ("text.mp3", b"hello"), ("cut.flac", b"fLaC\x00\x00")])
def test_unreadable_recordings_name_the_file(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(EmotiveError, match=name):
        make_take("speech", tmp_path / name)


def test_unsupported_format_is_named(tmp_path):
    path = tmp_path / "clip.m4a"
    path.write_bytes(b"\x00\x00\x00\x18ftypM4A \x00\x00\x02\x00isomiso2" + bytes(200))
    with pytest.raises(EmotiveError, match=r"clip\.m4a.*WAV, FLAC, OGG or MP3"):
        make_take("speech", path)
