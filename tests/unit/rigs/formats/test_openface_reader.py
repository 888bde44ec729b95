"""OpenFace 2.x CSV: ", " headers, 2-D and 3-D landmarks, pose, gaze, AUs, several faces, bad rows."""

import numpy as np
import pytest

from emotive.errors import FormatError
from emotive.rigs import formats
from emotive.rigs.formats import openface_csv


def test_comma_space_header_and_3d_landmarks(tmp_path, cap):
    path = cap.write_openface(tmp_path / "of.csv")
    assert path.read_text().startswith("frame, face_id, timestamp")
    assert formats.detect(path) is openface_csv
    track = formats.read(path)
    assert track.landmark_set == "ibug68" and track.coords == "metres" and track.dims == 3
    assert track.landmarks.shape == (10, 68, 3) and track.fps == 30 and track.valid.all()
    np.testing.assert_allclose(track.landmarks[0, :, 2], 0.5)   # Z 500 mm
    np.testing.assert_allclose(track.confidence, 0.95)
    np.testing.assert_allclose(track.head_rotation[0], [0.2, 0.1, 0.3])   # (yaw, pitch, roll) = (Ry, Rx, Rz)
    np.testing.assert_allclose(track.head_translation[0], [0.01, 0.02, 0.5])
    assert set(track.curves) >= {"AU01_r", "AU12_r", "AU26_c", "gaze_angle_x"}
    np.testing.assert_allclose(track.curves["AU26_r"], 2.0)
    assert track.eye_rotation[0, 0, 0] == pytest.approx(np.arctan2(0.1, 0.99))


def test_2d_landmarks_in_pixels(tmp_path, cap):
    track = formats.read(cap.write_openface(tmp_path / "of.csv", with3d=False))
    assert track.coords == "pixels" and track.dims == 2
    np.testing.assert_allclose(track.landmarks[0, :, :2], cap.face70()[:68], rtol=1e-5)
    assert formats.read(cap.write_openface(tmp_path / "of3.csv"), landmarks="2d").coords == "pixels"


def test_failed_frames_and_missing_frame_numbers(tmp_path, cap):
    frames = [1, 2, 3, 4, 7, 8]
    track = formats.read(cap.write_openface(tmp_path / "of.csv", frames=frames, success=lambda f: int(f != 3)))
    assert track.frame_numbers.tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert track.valid.tolist() == [True, True, False, True, False, False, True, True]
    assert np.isnan(track.landmarks[2]).all() and (track.confidence[4] == 0).all()
    assert track.fps == 30


def test_several_faces_keep_one(tmp_path, cap):
    path = cap.write_openface(tmp_path / "of.csv", faces=(0, 1))
    track = formats.read(path)
    np.testing.assert_allclose(track.curves["AU01_r"], 0.5)
    assert any("2 faces" in w for w in track.warnings)
    np.testing.assert_allclose(formats.read(path, face_id=1).curves["AU01_r"], 1.5)


@pytest.mark.parametrize("change, what", [
    (lambda cells: cells[:-2], "fields where the header has"),
    (lambda cells: cells[:3] + ["nan"] + cells[4:], "not a finite number"),
    (lambda cells: cells[:3] + ["x"] + cells[4:], "not a number"),
], ids=["short row", "NaN", "text"])
def test_bad_rows_name_the_file_and_frame(tmp_path, cap, change, what):
    path = cap.write_openface(tmp_path / "of.csv")
    lines = path.read_text().splitlines()
    lines[5] = ", ".join(change(lines[5].split(", ")))
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(FormatError, match=what) as e:
        openface_csv.read(path)
    assert str(path) in str(e.value) and "frame" in str(e.value)


def test_no_face_anywhere(tmp_path, cap):
    with pytest.raises(FormatError, match="no face in any frame"):
        openface_csv.read(cap.write_openface(tmp_path / "of.csv", success=lambda f: 0))
