"""A video's sound track: decoded for the speech path (pipeline/audio.py through PyAV), kept on
the capture's take (its sound strip), and heard for migration (`--emotion-from audio`)."""

import numpy as np
import pytest

from emotive.errors import EmotiveError
from emotive.pipeline import audio as audio_io
from emotive.pipeline import make_take
from emotive.rigs.arkit import ARKIT_INDEX
from shared_fixtures import shared, with_sound

# RAVDESS actor 1, strong anger: "Kids are talking by the door."
ANGRY = "speech/ravdess16k/Actor_01/03-01-05-02-01-01-01.flac"


@pytest.fixture
def angry_video(tmp_path, cap):
    clip = shared(ANGRY)
    faces = [cap.drawn_face(jaw=0.5 + 0.5 * np.sin(i / 3)) for i in range(125)]     # 4.2 s of talking
    return with_sound(cap.write_video(tmp_path / "picture.mp4", frames=faces, fps=30), clip, tmp_path / "talk.mp4")


def test_the_sound_of_a_video_is_read_as_the_recording_it_holds(angry_video):
    path, samples = angry_video
    audio = audio_io.load(path)
    assert audio.source_rate == 16000 and audio.channels == 1
    assert abs(audio.duration - len(samples) / 16000) < 0.1
    n = min(len(samples), len(audio.samples))
    assert np.corrcoef(audio.samples[:n], samples[:n])[0, 1] > 0.99


def test_a_video_without_sound_is_refused_by_name(tmp_path, cap):
    path = cap.write_video(tmp_path / "mute.mp4", n=6)
    with pytest.raises(EmotiveError, match="mute.mp4' has no sound track"):
        audio_io.load(path)
    with pytest.raises(EmotiveError, match="no sound track to hear the emotion in"):
        make_take("capture", path, emotion_from_audio=True)
    with pytest.raises(EmotiveError, match="not both"):
        make_take("capture", path, emotion_from_audio=True, emotion_text="I am angry!")


def test_a_capture_hears_the_anger_in_its_own_sound_and_keeps_it(angry_video):
    path, _ = angry_video
    plain = make_take("capture", path, smoothing=0.0)
    assert plain.audio == str(path)                     # the take's sound strip plays the video's sound
    heard = make_take("capture", path, smoothing=0.0, emotion_from_audio=True)
    assert heard.audio == str(path)
    assert any("toward the sound's anger" in w for w in heard.warnings), heard.warnings
    brows = [ARKIT_INDEX["browDownLeft"], ARKIT_INDEX["browDownRight"]]
    assert heard.arkit[:, brows].mean() > plain.arkit[:, brows].mean() + 0.1
    assert {s.emotion for s in plain.segments} == {"neutral"} and {s.emotion for s in heard.segments} == {"anger"}
    mouth = slice(48, 68)                               # the talking mouth keeps its articulation
    a, b = plain.landmarks[:, mouth], heard.landmarks[:, mouth]
    assert np.corrcoef((a - a.mean(0)).ravel(), (b - b.mean(0)).ravel())[0, 1] >= 0.9


def test_the_command_line_hears_only_a_video(tmp_path, capfd):
    from emotive.headless import main
    from shared_fixtures import write_livelink

    csv = write_livelink(tmp_path / "take.csv", np.zeros((20, 52)))
    assert main(["capture", str(csv), "--emotion-from", "audio", "--out", str(tmp_path / "a.blend")]) == 2
    assert "take.csv' has no sound track" in capfd.readouterr().err
    assert not (tmp_path / "a.blend").exists()


def test_a_video_is_tracked_once_then_read_from_the_cache(tmp_path, cap, monkeypatch):
    from emotive.pipeline import settings
    from emotive.pipeline.take import drain
    from emotive.pipeline import SOURCES

    monkeypatch.setenv(settings.ENV, str(tmp_path / "settings.json"))
    settings.update(cache_dir=str(tmp_path / "cache"))
    path = cap.write_video(tmp_path / "face.mp4", n=40)
    steps = []
    first = drain(SOURCES["capture"](path, smoothing=0.0), lambda f, m: steps.append((f, m)))
    tracking = [f for f, m in steps if m == "tracking the face"]      # one stage, not a line a frame
    assert len(tracking) >= 4 and tracking == sorted(tracking) and tracking[-1] <= 0.3   # frame by frame
    assert len(list((tmp_path / "cache" / "video-landmarks").glob("*.npz"))) == 1
    from emotive.rigs.formats import video

    def no_tracking(*_args, **_kwargs):
        raise AssertionError("tracked again")

    with monkeypatch.context() as patch:                 # the second import never runs FaceMesh
        patch.setattr(video, "iter_read", no_tracking)
        again = make_take("capture", path, smoothing=0.5)
        np.testing.assert_array_equal(make_take("capture", path, smoothing=0.0).arkit, first.arkit)
    assert again.n_frames == first.n_frames and not any("cache" in w for w in again.warnings)
    cap.write_video(path, n=30)                          # the video changed: tracked again
    assert make_take("capture", path, smoothing=0.0).n_frames != first.n_frames


def test_esc_while_tracking_stops_between_frames(tmp_path, cap):
    from emotive.pipeline import SOURCES

    steps = SOURCES["capture"](cap.write_video(tmp_path / "long.mp4", n=80))
    for fraction, message in steps:
        if message == "tracking the face":
            break
    steps.close()                                        # what the operator does on Esc
    assert fraction < 0.3


def test_a_cache_folder_that_cannot_be_made_only_costs_the_cache(tmp_path, cap, monkeypatch):
    from emotive.pipeline import settings

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(settings.ENV, str(tmp_path / "settings.json"))
    settings.update(cache_dir=str(blocker / "cache"))
    take = make_take("capture", cap.write_video(tmp_path / "face.mp4", n=12))
    assert take.n_frames == 12
    assert any("not cached" in w and "cache_dir" in w for w in take.warnings), take.warnings


def test_a_damaged_cache_entry_is_tracked_again_and_replaced(tmp_path, cap, monkeypatch):
    from emotive.pipeline import settings

    monkeypatch.setenv(settings.ENV, str(tmp_path / "settings.json"))
    settings.update(cache_dir=str(tmp_path / "cache"))
    path = cap.write_video(tmp_path / "face.mp4", n=12)
    first = make_take("capture", path, smoothing=0.0)
    (entry,) = (tmp_path / "cache" / "video-landmarks").glob("*.npz")
    entry.write_bytes(entry.read_bytes()[:200])                       # a truncated file
    again = make_take("capture", path, smoothing=0.0)
    np.testing.assert_array_equal(again.arkit, first.arkit)
    assert entry.stat().st_size > 10_000                               # written anew
