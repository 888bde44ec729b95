"""MediaPipe JSON dumps: bare point lists, `landmarks` objects, the Tasks layout, tfjs, JSON Lines."""

import json
import os

import numpy as np
import pytest

from emotive.errors import FormatError
from emotive.rigs import formats
from emotive.rigs.arkit import ARKIT_NAMES
from emotive.rigs.formats import mediapipe_json


@pytest.fixture(autouse=True, params=["bulk", "plain"])
def json_path(request, monkeypatch):
    """Every test on both paths: the landmark lists parsed in bulk (pyarrow, as on the command
    line) and the plain parse (a stock Blender carries no pyarrow): same tracks, same errors."""
    if request.param == "plain":
        monkeypatch.setattr(mediapipe_json, "number_lists", lambda *args, **kwargs: None)
    return request.param


def points(n=478, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    p = rng.random((n, 3)) * [0.5, 0.6, 0.1] + [0.25, 0.2, -0.05]
    return p * scale


def write(path, doc):
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("n", [468, 478])
def test_list_of_frames_of_points(tmp_path, n):
    frames = [points(n, seed=i).tolist() for i in range(4)]
    path = write(tmp_path / "mesh.json", frames)
    assert formats.detect(path) is mediapipe_json
    track = formats.read(path, fps=24)
    assert track.landmark_set == f"mediapipe{n}" and track.landmarks.shape == (4, n, 3)
    assert track.coords == "normalised" and track.fps == 24 and track.valid.all()
    np.testing.assert_allclose(track.landmarks[3], points(n, seed=3), rtol=1e-6)
    assert any("taken as normalised" in w for w in track.warnings)   # a bare layout: judged from the range


def test_objects_with_landmarks_and_timestamps(tmp_path):
    frames = [{"timestamp_ms": 1000 + 40 * i, "landmarks": [{"x": x, "y": y, "z": z} for x, y, z in points(seed=i)]}
              for i in range(5)]
    frames[2] = {"timestamp_ms": 1080, "landmarks": []}   # no face in that frame
    track = formats.read(write(tmp_path / "lm.json", {"coords": "normalized", "frames": frames}))
    assert track.fps == 25 and track.times.tolist() == pytest.approx([0, 0.04, 0.08, 0.12, 0.16])
    assert track.valid.tolist() == [True, True, False, True, True] and track.coords == "normalised"
    assert not any("taken as" in w for w in track.warnings)


def _tasks_frame(i, named=True, flat=False):
    scores = np.linspace(0, 1, 52) * (i + 1) / 4
    if named:
        cats = [{"index": 0, "score": 0.5, "categoryName": "_neutral", "displayName": ""}]
        cats += [{"index": k + 1, "score": float(s), "categoryName": name, "displayName": ""}
                 for k, (name, s) in enumerate(zip(ARKIT_NAMES, scores))]
    else:
        cats = [{"index": 0, "score": 0.5}] + [{"index": k + 1, "score": float(s)} for k, s in enumerate(scores)]
    yaw = np.radians(10 * i)
    m = np.eye(4)
    m[:3, :3] = [[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]]
    m[:3, 3] = [1.0, -2.0, -40.0 - i]   # centimetres
    data = m.T.ravel().tolist()          # column-major, as MediaPipe writes Matrix.data
    matrix = data if flat else {"rows": 4, "columns": 4, "data": data}
    return {"faceLandmarks": [[{"x": x, "y": y, "z": z} for x, y, z in points(seed=i)]],
            "faceBlendshapes": [{"categories": cats} if named else cats],
            "facialTransformationMatrixes": [matrix], "timestampMs": 33.3 * i}, scores, m


@pytest.mark.parametrize("named, flat", [(True, False), (False, True)], ids=["named categories", "unnamed, flat"])
def test_tasks_layout_neutral_shift_and_column_major_matrices(tmp_path, named, flat):
    frames = [_tasks_frame(i, named, flat) for i in range(3)]
    track = formats.read(write(tmp_path / "tasks.json", [f for f, _, _ in frames]), fps=30)
    assert track.arkit.shape == (3, 52)
    for i, (_, scores, m) in enumerate(frames):
        np.testing.assert_allclose(track.arkit[i], scores, atol=1e-6)   # _neutral dropped, not shifted
        np.testing.assert_allclose(track.head_rotation[i], m[:3, :3], atol=1e-9)
        np.testing.assert_allclose(track.head_translation[i], m[:3, 3] / 100, atol=1e-9)   # cm -> m
    assert track.head_rotation.shape == (3, 3, 3) and track.coords == "normalised"


def test_tasks_frame_without_a_face(tmp_path):
    frames = [_tasks_frame(0)[0], {"faceLandmarks": [], "faceBlendshapes": [], "facialTransformationMatrixes": []}]
    track = formats.read(write(tmp_path / "tasks.json", frames), fps=30)
    assert track.valid.tolist() == [True, False] and np.isnan(track.arkit[1]).all()


def test_tfjs_pixels_with_names(tmp_path):
    def face(seed):
        kp = [{"x": x, "y": y, "z": z} for x, y, z in points(seed=seed, scale=640)]
        kp[1]["name"], kp[33]["name"] = "lips", "rightEye"
        return {"box": {"xMin": 0, "yMin": 0, "width": 10, "height": 10}, "keypoints": kp}
    frames = [[face(i)] for i in range(3)] + [[]]
    track = formats.read(write(tmp_path / "tfjs.json", frames), fps=30, image_size=(640, 480))
    assert track.coords == "pixels" and track.image_size == (640, 480)
    assert track.valid.tolist() == [True, True, True, False]
    np.testing.assert_allclose(track.landmarks[1], points(seed=1, scale=640), rtol=1e-5)


def test_old_tfjs_scaled_mesh_and_the_coords_option(tmp_path):
    frames = [[{"scaledMesh": points(468, seed=i).tolist()}] for i in range(2)]
    path = write(tmp_path / "old.json", frames)
    assert formats.read(path, fps=30).coords == "pixels"                     # the layout's units
    assert formats.read(path, fps=30, coords="normalized").coords == "normalised"   # the option wins


def test_2d_points_make_a_2d_track(tmp_path):
    frames = [points(seed=i)[:, :2].tolist() for i in range(3)]
    track = formats.read(write(tmp_path / "flat.json", frames), fps=30, coords="pixels")
    assert track.dims == 2 and np.all(track.landmarks[..., 2] == 0)
    assert formats.read(write(tmp_path / "deep.json", [points().tolist()]), fps=30).dims == 3


def test_json_lines_are_streamed(tmp_path):
    path = tmp_path / "frames.jsonl"
    path.write_text("\n".join(json.dumps({"landmarks": points(seed=i).tolist()}) for i in range(6)) + "\n")
    track = formats.read(path, fps=30)
    assert track.n_frames == 6 and track.valid.all()


# ---- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("doc, what, frame", [
    ([points().tolist(), points(100).tolist()], "100 landmarks", 1),
    ([points().tolist(), points(468).tolist()], "468 landmarks where earlier frames have 478", 1),
    ([{"landmarks": points().tolist()}, {"landmarks": [[float("nan"), 0, 0]] * 478}], "NaN", 1),
    ([{"what": 1}], "without faceLandmarks", 0),
    ([{"faceLandmarks": [points().tolist()], "faceBlendshapes": [[0.1] * 40]}], "40 blendshape scores", 0),
], ids=["wrong point count", "mixed point counts", "NaN", "unknown object", "bad blendshapes"])
def test_bad_frames_name_the_file_and_frame(tmp_path, doc, what, frame):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))   # json writes NaN as the (non-standard) token NaN
    with pytest.raises(FormatError, match=what) as e:
        mediapipe_json.read(path, fps=30)
    assert str(path) in str(e.value) and f"frame {frame}" in str(e.value)


def test_malformed_json_names_the_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[[[0.1, 0.2, 0.3],\n [0.1, 0.2')
    with pytest.raises(FormatError, match="not valid JSON.*line 2") as e:
        formats.read(path, format="mediapipe")
    assert str(path) in str(e.value)


def test_malformed_json_lines_name_the_frame(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"landmarks": points().tolist()}) + "\n{oops\n")
    with pytest.raises(FormatError, match="frame 1.*not valid JSON"):
        mediapipe_json.read(path, fps=30)


def test_mixed_image_sizes(tmp_path):
    frames = [{"image_width": 640, "image_height": 480, "landmarks": points().tolist()},
              {"image_width": 1280, "image_height": 720, "landmarks": points().tolist()}]
    with pytest.raises(FormatError, match="frame 1.*mixed image sizes"):
        mediapipe_json.read(write(tmp_path / "sizes.json", frames), fps=30)


def test_a_2_gb_file_is_refused_without_reading_it(tmp_path):
    """A sparse 2 GiB file: the reader refuses it by size, before reading (bounded memory)."""
    path = tmp_path / "huge.json"
    with open(path, "wb") as f:
        f.write(b'[{"faceLandmarks": [[')
        f.seek(2 * 2**30)
        f.write(b"]]}]")
    assert formats.detect(path) is mediapipe_json
    with pytest.raises(FormatError, match="2,048 MiB.*JSON Lines") as e:
        formats.read(path)
    assert str(path) in str(e.value)


def test_a_huge_json_lines_line_is_refused(tmp_path):
    path = tmp_path / "huge.jsonl"
    with open(path, "wb") as f:
        f.write(b'{"landmarks": [')
        f.seek(64 * 2**20)
        f.write(b"]}\n")
    with pytest.raises(FormatError, match="longer than"):
        mediapipe_json.read(path, fps=30)
    assert os.path.getsize(path) > 2**26
