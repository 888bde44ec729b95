"""The capture source (pipeline/capture.py): a capture file -> a Take every target can key."""

import numpy as np
import pytest

from emotive.errors import EmotiveError, FormatError
from emotive.pipeline import SOURCES, make_take
from emotive.rigs.arkit import ARKIT_INDEX
from emotive.rigs.landmarks import region_indices
from shared_fixtures import shared, smile_and_jaw, write_livelink


def test_capture_is_a_source():
    assert "capture" in SOURCES


def test_arkit_capture_keeps_its_weights_and_gets_landmarks(tmp_path):
    w = smile_and_jaw()
    take = make_take("capture", write_livelink(tmp_path / "take.csv", w), smoothing=0.0)
    assert take.n_frames == 60 and take.fps == pytest.approx(60, abs=0.1)
    assert np.allclose(take.arkit, w, atol=1e-5)
    # the landmark form: the mouth corners move with the smile, nothing moves at rest
    assert take.landmarks.shape == (60, 70, 3)
    assert np.abs(take.landmarks[0]).max() < 1e-6 and np.abs(take.landmarks[30, 48]).max() > 1e-3
    # a capture blinks by itself: no synthetic blinks are added to its landmark motion
    assert np.array_equal(take.landmark_motion(life=True), take.landmarks)


def test_region_gain_damps_part_of_the_face(tmp_path):
    path = write_livelink(tmp_path / "take.csv", smile_and_jaw())
    full = make_take("capture", path, smoothing=0.0)
    still_mouth = make_take("capture", path, smoothing=0.0, region_gains={"lower": 0.0})
    lower = region_indices("lower")
    assert np.abs(still_mouth.landmarks[:, lower]).max() == 0.0
    assert still_mouth.arkit[:, ARKIT_INDEX["mouthSmileLeft"]].max() < 0.5 * full.arkit[:, ARKIT_INDEX["mouthSmileLeft"]].max()
    assert still_mouth.arkit[:, ARKIT_INDEX["browInnerUp"]].max() > 0.5


def test_real_live_link_sample():
    take = make_take("capture", shared("capture/livelink_jmtechart/MySlate_3_Jason_Millers_iPhone.csv"))
    assert take.n_frames == 328 and take.arkit.max() <= 1.0 and take.head_pose is None
    assert {"jawOpen", "eyeBlinkLeft", "mouthSmileLeft"} <= set(take.active_channels)


def test_real_openpose_sample_solves_arkit_weights():
    take = make_take("capture", shared("capture/openpose_moface/json"))
    assert take.n_frames == 300 and take.arkit.shape == (300, 52)
    assert 0.0 <= take.arkit.min() and take.arkit.max() <= 1.0
    jaw = take.arkit[:, ARKIT_INDEX["jawOpen"]]
    assert jaw.max() - jaw.min() > 0.2          # a talking head: the jaw moves
    assert take.head_pose.shape == (300, 3) and np.abs(take.head_pose).max() < np.radians(45)


@pytest.mark.parametrize("options, match", [
    ({"smoothing": 2.0}, "smoothing"), ({"min_confidence": float("nan")}, "min_confidence"),
    ({"fps": 0}, "fps"), ({"region_gains": {"chin": 1.0}}, "region"),
    ({"region_gains": {"lower": -1}}, "lower"), ({"neutral_frame": 999}, "neutral frame"),
])
def test_bad_options_are_refused(tmp_path, options, match):
    path = write_livelink(tmp_path / "take.csv", smile_and_jaw(10))
    with pytest.raises(EmotiveError, match=match):
        make_take("capture", path, **options)


def test_missing_and_unreadable_files_name_the_file(tmp_path):
    with pytest.raises(EmotiveError, match="nowhere.csv"):
        make_take("capture", tmp_path / "nowhere.csv")
    junk = tmp_path / "junk.csv"
    junk.write_text("this,is\nnot,a capture\n")
    with pytest.raises(FormatError, match="junk.csv"):
        make_take("capture", junk)
