"""Live Link Face CSV: the real recording and the variants other recordings show."""

import csv

import numpy as np
import pytest

from emotive.errors import FormatError
from emotive.rigs import formats
from emotive.rigs.arkit import ARKIT_NAMES
from emotive.rigs.formats import livelink_csv


def test_real_sample_328_frames_at_60_fps_in_arkit_order(livelink_sample):
    assert formats.detect(livelink_sample) is livelink_csv
    track = formats.read(livelink_sample)
    assert track.n_frames == 328 and track.fps == 60 and track.valid.all()
    assert track.arkit.shape == (328, 52) and track.landmarks is None
    assert track.arkit.min() >= 0 and track.arkit.max() <= 1
    assert track.times[-1] == pytest.approx(327 / 60, abs=0.01)
    with open(livelink_sample, newline="") as f:
        rows = list(csv.DictReader(f))
    for name in ("eyeBlinkLeft", "jawOpen", "mouthSmileRight", "tongueOut"):   # columns reordered by name
        column = np.array([float(r[name[0].upper() + name[1:]]) for r in rows])
        np.testing.assert_allclose(track.arkit[:, ARKIT_NAMES.index(name)], column, atol=1e-6)
    assert track.head_rotation is None   # all-zero head columns in this take
    assert any("head rotation columns are all zero" in w for w in track.warnings)
    assert track.eye_rotation.shape == (328, 2, 3) and np.abs(track.eye_rotation).max() > 0.01


def test_blendshapecount_spelling_and_name_case(tmp_path, cap):
    path = cap.write_livelink(tmp_path / "take.csv", count="BlendshapeCount", case=str.lower)
    track = formats.read(path)
    assert track.fps == 60 and track.n_frames == 20
    np.testing.assert_allclose(track.arkit[4], np.linspace(0, 1, 52), atol=1e-6)


def test_a_row_every_second_frame_is_30_fps(tmp_path, cap):
    track = formats.read(cap.write_livelink(tmp_path / "take.csv", n=30, step=2))
    assert track.fps == 30 and track.times[-1] == pytest.approx(29 / 30, abs=0.01)


def test_tracking_lost_rows_are_invalid_frames(tmp_path, cap):
    track = formats.read(cap.write_livelink(tmp_path / "take.csv", lost=(3, 4, 9)))
    assert track.n_frames == 20 and (~track.valid).nonzero()[0].tolist() == [3, 4, 9]
    assert np.isnan(track.arkit[3]).all() and np.isfinite(track.arkit[5]).all()
    assert any("tracking lost" in w and "3-4" in w for w in track.warnings)


def test_a_missing_row_is_a_missing_frame(tmp_path, cap):
    path = cap.write_livelink(tmp_path / "take.csv", n=20, step=2)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:6] + lines[8:]) + "\n")   # rows 5 and 6 dropped
    track = formats.read(path)
    assert track.fps == 30 and track.n_frames == 20 and (~track.valid).nonzero()[0].tolist() == [5, 6]
    np.testing.assert_allclose(track.arkit[7], np.linspace(0, 1, 52) * 2 / 4, atol=1e-6)
    assert any("2 with no row" in w for w in track.warnings)


def test_long_takes_keep_one_frame_per_row(tmp_path, cap):
    """The fraction drifts a thousandth of a frame per row: 2,000 rows are still 2,000 frames."""
    track = formats.read(cap.write_livelink(tmp_path / "take.csv", n=2000))
    assert track.n_frames == 2000 and track.valid.all() and track.fps == 60


def test_cal_files_are_neutral_subtracted(tmp_path, cap):
    values = np.tile(np.linspace(-0.3, 0.7, 52), (20, 1))
    track = formats.read(cap.write_livelink(tmp_path / "take_cal.csv", values=values))
    assert track.neutral_subtracted and track.arkit.min() < 0
    assert not any("outside [0, 1]" in w for w in track.warnings)
    plain = formats.read(cap.write_livelink(tmp_path / "take.csv", values=values))
    assert not plain.neutral_subtracted and any("outside [0, 1]" in w for w in plain.warnings)


def test_head_rotation_kept_when_recorded(tmp_path, cap):
    head = np.tile([0.1, -0.2, 0.05], (20, 1))
    track = formats.read(cap.write_livelink(tmp_path / "take.csv", head=head))
    np.testing.assert_allclose(track.head_rotation, head, atol=1e-6)


# ---- bad input ----------------------------------------------------------------------------------

def _corrupt(path, row, text):
    lines = path.read_text().splitlines()
    lines[row + 1] = text(lines[row + 1])
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("change, what", [
    (lambda line: line.rsplit(",", 3)[0], "fields where the header has"),
    (lambda line: line.replace(",61,", ",61,abc,", 1).rsplit(",", 1)[0], "'abc', not a number"),
    (lambda line: line.replace(",61,", ",61,inf,", 1).rsplit(",", 1)[0], "not a finite number"),
    (lambda line: "12:00" + line[11:], "not HH:MM:SS:FF"),
], ids=["short row", "text", "infinity", "bad timecode"])
def test_bad_rows_name_the_file_and_frame(tmp_path, cap, change, what):
    path = _corrupt(cap.write_livelink(tmp_path / "take.csv"), 7, change)
    with pytest.raises(FormatError, match=what) as e:
        livelink_csv.read(path)
    assert str(path) in str(e.value) and "frame 7" in str(e.value)


def test_timecode_going_backwards(tmp_path, cap):
    path = _corrupt(cap.write_livelink(tmp_path / "take.csv"), 5, lambda line: cap.timecode(1) + line[14:])
    with pytest.raises(FormatError, match="frame 5.*does not advance"):
        livelink_csv.read(path)


def test_missing_blendshape_columns(tmp_path, cap):
    path = cap.write_livelink(tmp_path / "take.csv")
    text = path.read_text().replace("JawOpen", "Jaw_Open", 1)
    path.write_text(text)
    with pytest.raises(FormatError, match="lacks 1 of the 52.*jawOpen"):
        livelink_csv.read(path)


def test_every_row_lost(tmp_path, cap):
    with pytest.raises(FormatError, match="lost in every row"):
        livelink_csv.read(cap.write_livelink(tmp_path / "take.csv", n=5, lost=range(5)))


def test_header_only(tmp_path, cap):
    path = tmp_path / "take.csv"
    path.write_text(",".join(cap.livelink_header()) + "\n")
    with pytest.raises(FormatError, match="no rows"):
        livelink_csv.read(path)


def test_a_2_gb_csv_is_refused_at_its_first_overlong_line(tmp_path, cap):
    """A sparse 2 GiB file whose first row never ends: bounded lines stop after 1 MiB."""
    path = tmp_path / "huge.csv"
    with open(path, "wb") as f:
        f.write((",".join(cap.livelink_header()) + "\n00:00:00:00.000,61,").encode())
        f.seek(2 * 2**30)
        f.write(b"\n")
    with pytest.raises(FormatError, match="line 2 is longer than") as e:
        formats.read(path)
    assert str(path) in str(e.value)


def test_max_frames_bounds_memory(tmp_path, cap):
    with pytest.raises(FormatError, match="frame 10.*max_frames"):
        livelink_csv.read(cap.write_livelink(tmp_path / "take.csv", n=20), max_frames=10)
