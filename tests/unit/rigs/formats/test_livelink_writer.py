"""Writing a Live Link Face CSV (the export) and reading it back with the capture reader."""

import numpy as np
import pytest

from emotive.rigs.formats import livelink_csv, read


@pytest.mark.parametrize("fps", [60, 30, 24])
def test_round_trip_keeps_values_rate_and_head(tmp_path, fps):
    rng = np.random.default_rng(fps)
    w = rng.random((90, 52)).astype(np.float32)
    head = rng.normal(0, 0.1, (90, 3))
    path = livelink_csv.write(tmp_path / "take.csv", w, fps, head_rotation=head)
    track = read(path)
    assert track.format == "livelink" and track.fps == fps and track.valid.all()
    assert np.abs(track.arkit - w).max() < 1e-6 and np.abs(track.head_rotation - head).max() < 1e-6


def test_header_is_the_apps(tmp_path):
    path = livelink_csv.write(tmp_path / "take.csv", np.zeros((2, 52)), 60)
    header = open(path).readline().strip().split(",")
    assert header[:4] == ["Timecode", "BlendShapeCount", "EyeBlinkLeft", "EyeLookDownLeft"]
    assert header[-10:] == ["TongueOut", *livelink_csv.HEADER_EXTRA] and len(header) == 2 + 52 + 9
    assert open(path).readlines()[2].startswith("00:00:00:01.000,61,")


@pytest.mark.parametrize("weights, fps, match", [
    (np.zeros((3, 51)), 30, "weights"), (np.full((3, 52), np.nan), 30, "NaN"), (np.zeros((3, 52)), 0, "fps"),
])
def test_bad_input_is_refused(tmp_path, weights, fps, match):
    with pytest.raises(ValueError, match=match):
        livelink_csv.write(tmp_path / "x.csv", weights, fps)


def test_a_long_ntsc_take_keeps_one_row_per_frame(tmp_path):
    # 23.976 fps timecodes written to three decimals step 2.502/2.503 frames: 10 minutes of rows
    # must come back as as many frames, none doubled or missing.
    n = 10 * 60 * 24
    w = np.zeros((n, 52), np.float32)
    w[:, 0] = np.arange(n) % 7 / 7
    track = read(livelink_csv.write(tmp_path / "ntsc.csv", w, 24000 / 1001))
    assert track.n_frames == n and track.valid.all()
    assert np.abs(track.arkit[:, 0] - w[:, 0]).max() < 1e-6
