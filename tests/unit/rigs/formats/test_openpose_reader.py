"""OpenPose folders of *_keypoints.json: the real sample and every variant the reader claims."""

import json

import numpy as np
import pytest

from emotive.errors import FormatError
from emotive.rigs import formats
from emotive.rigs.formats import openpose


def test_real_sample_gives_300_frames_of_70_points(openpose_sample):
    reader = formats.detect(openpose_sample)
    assert reader is openpose
    track = reader.read(openpose_sample, fps=25)
    assert track.n_frames == 300 and track.landmarks.shape == (300, 70, 3)
    assert track.landmark_set == "openpose70" and track.coords == "pixels" and track.dims == 2
    assert track.valid.all() and track.fps == 25 and track.times[-1] == pytest.approx(299 / 25)
    assert 0.5 < float(np.median(track.confidence)) <= 1.0
    # The same values as the original TSV (one frame per line, 210 values).
    tsv = np.loadtxt(openpose_sample.parent / "op_keypoints.tsv", max_rows=3).reshape(3, 70, 3)
    np.testing.assert_allclose(track.landmarks[:3, :, :2], tsv[:, :, :2], rtol=1e-6)


@pytest.mark.parametrize("person_ids", [None, [-1]], ids=["without person_id", "with person_id"])
def test_one_person_with_and_without_person_id(tmp_path, cap, person_ids):
    folder = cap.write_openpose(tmp_path / "op", {i: [cap.face70(seed=i)] for i in range(5)}, person_ids=person_ids)
    track = formats.read(folder)
    assert track.format == "openpose" and track.n_frames == 5 and track.valid.all()
    np.testing.assert_allclose(track.landmarks[2, :, :2], cap.face70(seed=2), rtol=1e-6)
    assert np.all(track.landmarks[..., 2] == 0) and np.allclose(track.confidence, 0.9)
    assert any("no frame rate" in w for w in track.warnings)


def test_missing_face_as_empty_array_or_zeros_is_an_invalid_frame(tmp_path, cap):
    frames = {0: [cap.face70()], 1: [None], 2: ["zeros"], 3: [], 4: [cap.face70()]}
    track = openpose.read(cap.write_openpose(tmp_path / "op", frames), fps=30)
    assert track.valid.tolist() == [True, False, False, False, True]
    assert np.isnan(track.landmarks[1:4]).all() and (track.confidence[1:4] == 0).all()
    assert any("1-3" in w for w in track.warnings)


def test_several_people_the_same_person_is_kept_across_frames(tmp_path, cap):
    """The larger face is chosen in the first frame; later frames list the people in another order,
    and the other face grows larger, but the chosen one (nearest to where it was) is kept."""
    a = lambda i: cap.face70(centre=(200 + 2 * i, 240), size=120, seed=1)
    b = lambda i: cap.face70(centre=(500, 240), size=80 + 20 * i, seed=2)
    frames = {i: ([a(i), b(i)] if i % 2 == 0 else [b(i), a(i)]) for i in range(6)}
    track = openpose.read(cap.write_openpose(tmp_path / "op", frames), fps=30)
    for i in range(6):
        np.testing.assert_allclose(track.landmarks[i, :, :2], a(i), rtol=1e-6)
    assert any("more than one face" in w for w in track.warnings)
    # By index: people[1] in the first frame is b, kept by position after that.
    track = openpose.read(tmp_path / "op", fps=30, person=1)
    for i in range(6):
        np.testing.assert_allclose(track.landmarks[i, :, :2], b(i), rtol=1e-6)


def test_person_id_keeps_the_person_even_when_faces_cross(tmp_path, cap):
    a, b = cap.face70(centre=(200, 240), seed=1), cap.face70(centre=(260, 240), seed=2)
    frames = {0: [a, b], 1: [b + 50, a + 50], 2: [a, b]}
    folder = tmp_path / "op"
    folder.mkdir()
    ids = {0: [7, 9], 1: [9, 7], 2: [7, 9]}
    for i, faces in frames.items():
        (folder / f"x_{i:012d}_keypoints.json").write_text(json.dumps(cap.openpose_doc(faces, person_ids=ids[i])))
    track = openpose.read(folder, fps=30, person=0)
    np.testing.assert_allclose(track.landmarks[1, :, :2], a + 50, rtol=1e-6)


def test_missing_frame_numbers_become_gaps(tmp_path, cap):
    folder = cap.write_openpose(tmp_path / "op", {n: [cap.face70(seed=n)] for n in (10, 11, 14, 15)})
    track = openpose.read(folder, fps=10)
    assert track.frame_numbers.tolist() == [10, 11, 12, 13, 14, 15]
    assert track.valid.tolist() == [True, True, False, False, True, True]
    assert track.times.tolist() == pytest.approx([0, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert any("12-13" in w for w in track.warnings)


def test_a_single_keypoints_file_is_one_frame(tmp_path, cap):
    folder = cap.write_openpose(tmp_path / "op", {3: [cap.face70()]})
    path = next(folder.iterdir())
    assert formats.detect(path) is openpose
    assert openpose.read(path, fps=30).n_frames == 1


# ---- bad input: a FormatError naming the file and the frame -------------------------------------

def _one_bad(tmp_path, cap, text):
    folder = cap.write_openpose(tmp_path / "op", {0: [cap.face70()], 1: [cap.face70()]})
    bad = folder / "clip_000000000002_keypoints.json"
    bad.write_text(text)
    return folder, bad


@pytest.mark.parametrize("text, what", [
    ('{"people": [{"face_keypoints_2d": [1, 2', "not valid JSON"),
    (json.dumps({"people": [{"face_keypoints_2d": [1.0] * 204}]}), "204 values"),
    ('{"people": [{"face_keypoints_2d": [' + ",".join(["NaN"] * 210) + "]}]}", "NaN"),
    (json.dumps({"people": [{"face_keypoints_2d": ["a"] * 210}]}), "not a number"),
    (json.dumps({"version": 1.3}), "no 'people'"),
], ids=["malformed JSON", "wrong point count", "NaN", "text", "no people"])
def test_bad_file_names_the_file_and_frame(tmp_path, cap, text, what):
    folder, bad = _one_bad(tmp_path, cap, text)
    with pytest.raises(FormatError, match=what) as e:
        openpose.read(folder, fps=30)
    assert str(bad) in str(e.value) and "frame 2" in str(e.value)


def test_all_zero_confidence_everywhere(tmp_path, cap):
    folder = cap.write_openpose(tmp_path / "op", {i: ["zeros"] for i in range(3)})
    with pytest.raises(FormatError, match="no face in any frame") as e:
        openpose.read(folder)
    assert str(folder) in str(e.value)


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FormatError, match="no \\*_keypoints.json") as e:
        formats.read(tmp_path / "empty")
    assert str(tmp_path / "empty") in str(e.value)


def test_mixed_image_sizes(tmp_path, cap):
    frames = {i: cap.openpose_doc([cap.face70()], extra={"image_size": [640, 480] if i < 2 else [1280, 720]})
              for i in range(3)}
    folder = cap.write_openpose(tmp_path / "op", frames)
    with pytest.raises(FormatError, match="mixed image sizes") as e:
        openpose.read(folder, fps=30)
    assert "frame 2" in str(e.value)


def test_too_many_frames_is_refused_before_reading(tmp_path, cap):
    folder = cap.write_openpose(tmp_path / "op", {0: [cap.face70()], 10_000: [cap.face70()]})
    with pytest.raises(FormatError, match="max_frames"):
        openpose.read(folder, max_frames=1000)
