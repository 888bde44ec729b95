"""Audio in for the speech path: formats, rates and channels to 16 kHz mono; bad files named."""

import numpy as np
import pytest

sf = pytest.importorskip("soundfile")

from emotive.errors import EmotiveError  # noqa: E402
from emotive.pipeline import audio  # noqa: E402


def tone(seconds=1.0, rate=44_100, channels=2, level=0.3):
    t = np.arange(int(seconds * rate)) / rate
    mono = level * np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return np.stack([mono] * channels, axis=1).astype(np.float32), rate


@pytest.mark.parametrize("suffix, subtype", [(".wav", "PCM_16"), (".flac", "PCM_24"), (".ogg", "VORBIS"),
                                             (".mp3", "MPEG_LAYER_III")])
def test_any_format_rate_and_channels_become_16k_mono(tmp_path, suffix, subtype):
    data, rate = tone(1.5, 44_100, 2)
    path = tmp_path / f"line{suffix}"
    sf.write(path, data, rate, subtype=subtype)
    got = audio.load(path)
    assert got.samples.ndim == 1 and got.samples.dtype == np.float32
    assert abs(got.duration - 1.5) < 0.06              # MP3 and Vorbis pad a little
    assert got.source_rate == 44_100 and got.channels == 2
    # the tone's level survives the resampler (a real one: no aliasing blow-up, no silence)
    assert 0.1 < np.sqrt(np.mean(got.samples ** 2)) < 0.3
    assert got.warnings == []


def test_long_file_is_read_in_blocks_with_progress(tmp_path):
    data, rate = tone(70, 22_050, 1)
    path = tmp_path / "long.wav"
    sf.write(path, data, rate)
    steps = audio.iter_load(path)
    fractions = []
    try:
        while True:
            fractions.append(next(steps))
    except StopIteration as done:
        got = done.value
    assert len(fractions) >= 3 and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert abs(got.duration - 70) < 0.01


@pytest.mark.parametrize("content, message", [
    (b"", "cannot read"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt garbage here", "cannot read"),
    (b"just some text, not audio\n" * 40, "cannot read"),
])
def test_corrupt_or_foreign_files_are_named(tmp_path, content, message):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(EmotiveError, match=message) as err:
        audio.load(path)
    assert "bad.wav" in str(err.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(EmotiveError, match="not found"):
        audio.load(tmp_path / "nope.wav")
    with pytest.raises(EmotiveError, match="folder"):
        audio.load(tmp_path)


def test_empty_audio_and_nan_samples(tmp_path):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1), np.float32), 16_000)
    with pytest.raises(EmotiveError, match="holds no audio"):
        audio.load(empty)
    data, rate = tone(1.0, 16_000, 1)
    data[8000] = np.nan
    nan = tmp_path / "nan.wav"
    sf.write(nan, data, rate, subtype="FLOAT")
    with pytest.raises(EmotiveError, match=r"NaN .*0\.500 s"):
        audio.load(nan)


def test_silence_and_telephone_audio_warn(tmp_path):
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, np.zeros((16_000, 1), np.float32), 16_000)
    got = audio.load(quiet)
    assert audio.is_silent(got) and any("silent" in w for w in got.warnings)
    phone = tmp_path / "phone.wav"
    data, _ = tone(1.0, 8_000, 1)
    sf.write(phone, data, 8_000)
    assert any("telephone" in w for w in audio.load(phone).warnings)


def test_frame_energy_follows_loudness_at_animation_frames():
    rate = audio.RATE
    loud = 0.5 * np.sin(2 * np.pi * 200 * np.arange(rate) / rate)
    samples = np.concatenate([np.zeros(rate), loud, 0.25 * loud, np.zeros(rate)]).astype(np.float32)
    energy = audio.frame_energy(samples, 30, 120)
    assert energy.shape == (120,)
    assert energy[5:25].max() == 0.0                  # silence
    assert energy[35:55].min() > 0.9                  # the loud second
    assert 0.5 < energy[65:85].mean() < 0.7           # 12 dB quieter: 18 of the 30 dB range
    assert energy[95:115].max() == 0.0
