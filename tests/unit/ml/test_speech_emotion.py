"""The voice emotion model (ml/speech_emotion.py and its training, ml/train_speech.py): frame
features, the label mapping, the shipped file, NumPy inference against torch, and the checks a
user's --data folder goes through. Tests that need ../shared/data skip when it is absent."""

import json

import numpy as np
import pytest
import soundfile as sf

from emotive.ml import labels as L
from emotive.ml import speech_features as sfeat
from emotive.ml.shared_data import shared_data_dir
from emotive.ml.speech_data import find_clips, read_audio
from emotive.ml.speech_emotion import DEFAULT_WEIGHTS, FORMAT, SpeechEmotionModel

SR = 16_000
RAVDESS = shared_data_dir() / "speech" / "ravdess16k"
needs_ravdess = pytest.mark.skipif(not RAVDESS.is_dir(), reason=f"RAVDESS not found at {RAVDESS}")


def tone(freq=200.0, seconds=1.0, amp=0.3, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


# --- features -------------------------------------------------------------------------------

def test_frame_features_shape_and_per_utterance_normalisation():
    rng = np.random.default_rng(0)
    audio = tone(150, 1.5) * (1 + 0.5 * np.sin(np.arange(24_000) / 2000)) + rng.normal(0, 0.01, 24_000)
    x = sfeat.frame_features(audio)
    assert x.shape == (1 + 24_000 // sfeat.HOP, sfeat.N_FEATURES) == (151, 54)
    assert x.dtype == np.float32 and np.isfinite(x).all()
    np.testing.assert_allclose(x.mean(0), 0, atol=1e-4)
    varying = x.std(0) > 0.5       # constant columns stay 0, the rest unit spread (eps 1e-5 in the divisor)
    np.testing.assert_allclose(x.std(0)[varying], 1, atol=1e-2)
    assert varying[:sfeat.N_MFCC].all()


def test_raw_f0_and_intensity_track_the_signal():
    f = sfeat.frame_features(tone(200, 1.0), normalise=False)
    mid = slice(20, -20)
    f0 = f[mid, sfeat.FEATURE_NAMES.index("f0_semitones")]
    np.testing.assert_allclose(np.median(f0), 12.0, atol=0.2)          # 200 Hz = 12 semitones re 100 Hz
    loud = f[mid, sfeat.FEATURE_NAMES.index("intensity_db")]
    quiet = sfeat.frame_features(tone(200, 1.0, amp=0.15), normalise=False)[mid, sfeat.FEATURE_NAMES.index("intensity_db")]
    np.testing.assert_allclose(np.median(loud - quiet), 20 * np.log10(2), atol=0.1)
    stats = sfeat.prosody_stats(np.concatenate([tone(150, 0.5), tone(300, 0.5)]))
    assert stats.shape == (sfeat.N_PROSODY,)
    assert stats[sfeat.PROSODY_NAMES.index("f0_range")] == pytest.approx(12.0, abs=1.0)   # an octave


def test_features_refuse_stereo_and_nan():
    with pytest.raises(ValueError, match="mono"):
        sfeat.frame_features(np.zeros((2, 1600), np.float32))
    bad = tone()
    bad[5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        sfeat.frame_features(bad)


# --- labels -----------------------------------------------------------------------------------

def test_voice_labels_and_ekman_mapping():
    assert L.VOICE_EMOTIONS == ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
    expect = {"neutral": "neutral", "calm": "neutral", "happy": "joy", "sad": "sadness", "angry": "anger",
              "fearful": "fear", "disgust": "disgust", "surprised": "surprise"}
    for i, name in enumerate(L.VOICE_EMOTIONS):
        e = L.voice_to_ekman(np.eye(8)[i])
        assert e.shape == (7,) and L.EKMAN[int(e.argmax())] == expect[name] and e.sum() == 1
    p = np.random.default_rng(1).dirichlet(np.ones(8), size=(3, 2))
    e = L.voice_to_ekman(p)
    assert e.shape == (3, 2, 7)
    np.testing.assert_allclose(e[..., L.EKMAN.index("neutral")], p[..., 0] + p[..., 1], rtol=1e-6)
    with pytest.raises(ValueError, match="8 voice probabilities"):
        L.voice_to_ekman(np.ones(7))


# --- the shipped file --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    return SpeechEmotionModel.load()


def test_shipped_model_gives_eight_probabilities(shipped):
    assert shipped.labels == L.VOICE_EMOTIONS
    rng = np.random.default_rng(0)
    audio = (tone(180, 2.0) + rng.normal(0, 0.02, 2 * SR)).astype(np.float32)
    p, aus = shipped.predict_with_aus(audio)
    assert p.shape == (8,) and p.dtype == np.float32 and abs(p.sum() - 1) < 1e-5 and (p >= 0).all()
    assert aus.shape == (len(shipped.au_names),) and ((aus >= 0) & (aus <= 1)).all()
    many = shipped.predict_many([audio, audio[:SR]])
    assert many.shape == (2, 8)
    np.testing.assert_allclose(many[0], p, atol=1e-6)
    assert shipped.ekman(p).shape == (7,)
    with pytest.raises(ValueError, match="too short"):
        shipped.predict(audio[:100])


def test_shipped_metrics_hold_both_rows_and_the_notice():
    m = json.loads(DEFAULT_WEIGHTS.with_suffix(".metrics.json").read_text())
    assert {"baseline", "best"} <= set(m["models"]) and m["shipped"] == "best"
    for row in m["models"].values():
        cv = row["cv"]
        assert len(cv["folds"]) == 5 and 0.125 < cv["accuracy_mean"] <= 1
        assert np.array(cv["pooled"]["confusion"]).shape == (8, 8)
        tested = [a for f in cv["folds"] for a in f["test_actors"]]
        assert sorted(tested) == list(range(1, 21))          # each actor tested once, in one fold
    assert "CC BY-NC-SA" in m["notice"] and "train_speech" in m["train_command"] and "seed" in m


def test_load_refuses_missing_and_foreign_files(tmp_path):
    from safetensors.numpy import save_file

    with pytest.raises(FileNotFoundError, match="speech-emotion weights not found"):
        SpeechEmotionModel.load(tmp_path / "nope.safetensors")
    other = tmp_path / "other.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, str(other), metadata={"format": "someone-else/1"})
    with pytest.raises(ValueError, match="not an Emotive speech-emotion weights file"):
        SpeechEmotionModel.load(other)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        SpeechEmotionModel.load(junk)
    partial = tmp_path / "partial.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, str(partial), metadata={"format": FORMAT, "config": "{}"})
    with pytest.raises(ValueError, match="incomplete or inconsistent"):
        SpeechEmotionModel.load(partial)


# --- NumPy inference = the torch network --------------------------------------------------------

@pytest.mark.parametrize("bidirectional,proj,stats", [(True, 16, ("prosody",)), (False, 0, ())])
def test_numpy_inference_matches_torch(tmp_path, bidirectional, proj, stats):
    torch = pytest.importorskip("torch")
    from emotive.ml import train_speech as ts

    rng = np.random.default_rng(0)
    n_stats = sfeat.N_PROSODY if stats else 0
    cfg = ts.SpeechConfig(frames="mfcc", n_in=54, stride=3, proj=proj, hidden=8, bidirectional=bidirectional,
                          stats=stats, n_stats=n_stats, n_aus=len(ts.au_names()))
    torch.manual_seed(0)
    nets = [ts.SpeechLSTM(cfg).eval() for _ in range(2)]
    norm = {"frames.mean": rng.normal(0, 0.1, 54).astype(np.float32),
            "frames.std": rng.uniform(0.5, 2, 54).astype(np.float32),
            "stats.mean": rng.normal(0, 1, n_stats).astype(np.float32),
            "stats.std": rng.uniform(0.5, 2, n_stats).astype(np.float32)}
    path = tmp_path / "m.safetensors"
    ts.save(path, nets, norm, {"seed": 0})
    model = SpeechEmotionModel.load(path)
    audio = (tone(140, 1.23) + rng.normal(0, 0.05, int(1.23 * SR))).astype(np.float32)
    x, s = model.inputs(audio)
    assert len(x) == int(np.ceil((1 + len(audio) // sfeat.HOP) / 3))
    probs, aus = model.predict_with_aus(audio)
    with torch.no_grad():
        xt, lt, st = torch.from_numpy(x)[None], torch.tensor([len(x)]), torch.from_numpy(s)[None]
        outs = [net(xt, lt, st) for net in nets]
    ref_p = np.mean([torch.softmax(o[0], 1)[0].numpy() for o in outs], 0)
    ref_a = np.mean([o[1][0].numpy() for o in outs], 0)
    np.testing.assert_allclose(probs, ref_p, atol=1e-5)
    np.testing.assert_allclose(aus, ref_a, atol=1e-5)
    # and through the training code's own batching (padding to a longer clip changes nothing)
    example = ts.Example(None, sfeat.frame_features(audio), model.inputs(audio)[1] * norm["stats.std"] + norm["stats.mean"])
    longer = ts.Example(None, np.zeros((500, 54), np.float32), example.stats)
    np.testing.assert_allclose(ts.predict_torch(nets, [example, longer], norm)[0], probs, atol=1e-5)


def test_au_targets_follow_the_facs_table():
    from emotive.ml import train_speech as ts
    from emotive.ml.speech_data import Clip
    from emotive.rigs.facs import load_table

    names = ts.au_names()
    clips = [Clip(None, L.VOICE_EMOTIONS.index(e), "01", strong) for e, strong in
             (("angry", True), ("angry", False), ("calm", True), ("happy", False))]
    t = ts.au_targets(clips, names)
    anger = load_table()["emotions"]["anger"]["aus"]
    assert t[0][names.index("AU4")] == pytest.approx(anger["AU4"])
    np.testing.assert_allclose(t[1], 0.6 * t[0], rtol=1e-6)
    assert not t[2].any() and t[3][names.index("AU12")] > 0


# --- a user's --data folder ---------------------------------------------------------------------

def write_wav(path, audio, sr=SR):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, sr)
    return path


def test_read_audio_resamples_and_mixes_down(tmp_path):
    stereo = np.stack([tone(220, 1.0, sr=44_100), tone(220, 1.0, sr=44_100)], 1)
    a = read_audio(write_wav(tmp_path / "s.wav", stereo, 44_100))
    assert a.dtype == np.float32 and a.ndim == 1 and abs(len(a) - SR) <= 1
    spectrum = np.abs(np.fft.rfft(a))
    assert abs(np.argmax(spectrum) * SR / len(a) - 220) < 2          # pitch kept: a real resampler
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    with pytest.raises(ValueError, match="bad.wav: not a readable audio file"):
        read_audio(tmp_path / "bad.wav")


def test_data_folder_by_ravdess_names_and_by_labels_csv(tmp_path):
    write_wav(tmp_path / "r" / "Actor_03" / "03-01-05-02-01-01-03.wav", tone())
    (clip,) = find_clips(tmp_path / "r")
    assert (clip.label, clip.speaker, clip.strong) == (L.VOICE_EMOTIONS.index("angry"), "03", True)
    write_wav(tmp_path / "c" / "a.flac", tone())
    write_wav(tmp_path / "c" / "sub" / "b.ogg", tone())
    (tmp_path / "c" / "labels.csv").write_text("file,label\na.flac,Happy\nsub/b.ogg,sad,me\n")
    clips = find_clips(tmp_path / "c")
    assert [(c.path.name, L.VOICE_EMOTIONS[c.label], c.speaker) for c in clips] == \
        [("a.flac", "happy", ""), ("b.ogg", "sad", "me")]


@pytest.mark.parametrize("files,message", [
    ({"labels.csv": "file,label\na.wav,happy\nb.wav,joyful\n"}, r"labels.csv, line 3: unknown label 'joyful'"),
    ({"labels.csv": "file,label\nmissing.wav,sad\n"}, r"labels.csv, line 2: audio file 'missing.wav' not found"),
    ({"labels.csv": "a.wav\n"}, r"labels.csv, line 1: expected 'file,label'"),
    ({"labels.csv": "file,label\n"}, r"labels.csv: no labelled files"),
    ({"take1.wav": None}, r"take1.wav: not a RAVDESS-style name"),
    ({"03-01-09-01-01-01-01.wav": None}, r"03-01-09-01-01-01-01.wav: emotion field 09"),
    ({"03-01-02-03-01-01-01.wav": None}, r"03-01-02-03-01-01-01.wav: intensity field 03"),
    ({"notes.txt": "x"}, r"no audio files"),
])
def test_data_folder_problems_name_file_and_line(tmp_path, files, message):
    write_wav(tmp_path / "d" / "a.wav", tone()) if "labels.csv" in files else (tmp_path / "d").mkdir()
    for name, content in files.items():
        if content is None:
            write_wav(tmp_path / "d" / name, tone())
        else:
            (tmp_path / "d" / name).write_text(content)
    with pytest.raises(ValueError, match=message):
        find_clips(tmp_path / "d")


def test_train_main_refuses_a_single_class_folder(tmp_path):
    from emotive.ml import train_speech as ts

    write_wav(tmp_path / "d" / "03-01-02-01-01-01-01.wav", tone())
    with pytest.raises(ValueError, match="at least two classes"):
        ts.main(["--data", str(tmp_path / "d"), "--out", str(tmp_path / "w.safetensors")])
    with pytest.raises(ValueError, match="not a folder"):
        ts.main(["--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "w.safetensors")])
    with pytest.raises(ValueError, match="--data needs --out"):
        ts.main(["--data", str(tmp_path / "d")])


@needs_ravdess
def test_shipped_model_reads_strong_ravdess_clips(shipped):
    """The whole input path (file, encoder, prosody) as in training: actor 1's strong first
    takes of four classes (training data for the shipped file, so this checks the path, not
    generalisation; four clips keep the encoder's share of the test time small)."""
    files = [RAVDESS / "Actor_01" / f"03-01-{e:02d}-02-01-01-01.flac" for e in (3, 4, 5, 8)]
    pred = shipped.predict_many([read_audio(f) for f in files]).argmax(1)
    truth = [e - 1 for e in (3, 4, 5, 8)]
    assert (pred == truth).sum() >= 3, list(zip(truth, pred))


# --- Whisper frames in a fitted window ("whisper_fit") -------------------------------------------

def test_fit_window_is_rounded_up_bounded_and_even():
    from emotive.ml import whisper_model as wm

    assert wm.fit_window(SR // 10) == wm.FIT_MIN == 1000                # 0.1 s -> 10 s
    assert wm.fit_window(3 * SR) == 1000 and wm.fit_window(10 * SR) == 1000
    assert wm.fit_window(10 * SR + 1) == 1200 and wm.fit_window(11 * SR) == 1200
    assert wm.fit_window(30 * SR) == 3000 == wm.fit_window(29 * SR + 1)


def test_whisper_fit_frames_keep_50_per_second():
    from emotive.ml import whisper_model as wm
    from emotive.ml.speech_emotion import raw_frames

    rng = np.random.default_rng(0)
    for seconds in (0.5, 3.0, 10.3, 31.0):
        audio = (tone(160, seconds) + rng.normal(0, 0.02, int(seconds * SR))).astype(np.float32)
        fit = raw_frames(audio, "whisper_fit")
        assert fit.shape == (int(np.ceil(seconds * wm.FRAME_RATE)), wm.WIDTH) and fit.dtype == np.float32
        assert np.isfinite(fit).all()
        if seconds == 3.0:
            full = wm.encode(audio)
            assert full.shape == fit.shape and not np.allclose(full, fit, atol=1e-2)   # not interchangeable
            np.testing.assert_array_equal(fit, wm.encode(audio, window="fit"))
    with pytest.raises(ValueError, match="unknown window"):
        wm.encode(tone(), window="short")


@pytest.mark.parametrize("kind,window", [("whisper", "full"), ("whisper_fit", "fit")])
def test_weights_of_either_whisper_kind_load_and_read_their_frames(tmp_path, monkeypatch, kind, window):
    torch = pytest.importorskip("torch")
    from emotive.ml import train_speech as ts
    from emotive.ml import whisper_model as wm

    cfg = ts.SpeechConfig(frames=kind, n_in=wm.WIDTH, stride=4, proj=8, hidden=4, bidirectional=True,
                          stats=("frames",), n_stats=2 * wm.WIDTH, n_aus=len(ts.au_names()))
    torch.manual_seed(0)
    norm = {"frames.mean": np.zeros(wm.WIDTH, np.float32), "frames.std": np.ones(wm.WIDTH, np.float32),
            "stats.mean": np.zeros(2 * wm.WIDTH, np.float32), "stats.std": np.ones(2 * wm.WIDTH, np.float32)}
    path = tmp_path / f"{kind}.safetensors"
    ts.save(path, [ts.SpeechLSTM(cfg).eval()], norm, {"seed": 0})
    model = SpeechEmotionModel.load(path)
    assert model.config["frames"] == kind
    seen = []

    def fake_encode(audio, window="full"):
        seen.append(window)
        return np.ones((int(np.ceil(len(audio) / SR * 50)), wm.WIDTH), np.float32)

    monkeypatch.setattr(wm, "encode", fake_encode)
    x, _ = model.inputs(tone(seconds=1.0))
    assert seen == [window] and x.shape == (13, wm.WIDTH)                # 50 frames / 4, rounded up
    p = model.predict(tone(seconds=1.0))
    assert p.shape == (8,) and abs(p.sum() - 1) < 1e-5


def test_unknown_frame_kind_is_refused():
    from emotive.ml.speech_emotion import raw_frames

    with pytest.raises(ValueError, match="unknown frame kind"):
        raw_frames(tone(), "whisper_short")
