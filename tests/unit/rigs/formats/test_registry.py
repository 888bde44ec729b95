"""READERS: every reader keeps the contract, detect() goes by content, unknown input names the formats."""

import inspect
import json

import numpy as np
import pytest

from emotive.errors import FormatError
from emotive.rigs import formats
from emotive.rigs.formats import livelink_csv, mediapipe_json, openface_csv, openpose


def test_registry_is_explicit_and_ordered():
    assert [r.NAME for r in formats.READERS] == ["openpose", "livelink", "openface", "mediapipe", "video"]
    assert set(formats.FORMATS) == {r.NAME for r in formats.READERS}


@pytest.mark.parametrize("reader", formats.READERS, ids=lambda r: r.NAME)
def test_reader_contract(reader, tmp_path):
    assert isinstance(reader.NAME, str) and reader.SUFFIXES and isinstance(reader.LABEL, str)
    params = inspect.signature(reader.read).parameters
    assert list(params)[0] == "path" and all(p.kind == p.KEYWORD_ONLY for p in list(params.values())[1:])
    assert "max_frames" in params
    assert reader.sniff(tmp_path / "does-not-exist.xyz") is False   # sniff never raises


def test_detect_by_content_not_by_suffix(tmp_path, cap):
    """A Live Link CSV named .txt, an OpenFace CSV and a MediaPipe dump named .csv all go to their readers."""
    ll = cap.write_livelink(tmp_path / "take.txt")
    of = cap.write_openface(tmp_path / "openface.csv")
    mp = tmp_path / "mesh.csv"
    mp.write_text(json.dumps([np.zeros((478, 3)).tolist()]))
    assert formats.detect(ll) is livelink_csv
    assert formats.detect(of) is openface_csv
    assert formats.detect(mp) is mediapipe_json
    assert formats.detect(cap.write_openpose(tmp_path / "op", {0: [cap.face70()]})) is openpose


def test_unknown_content_lists_the_known_formats(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(FormatError) as e:
        formats.read(path)
    message = str(e.value)
    assert str(path) in message and all(r.NAME in message for r in formats.READERS)


def test_format_by_name(tmp_path, cap):
    path = cap.write_livelink(tmp_path / "take.csv")
    assert formats.detect(path, "LiveLink") is livelink_csv
    with pytest.raises(FormatError, match="unknown format 'fbx'.*openpose"):
        formats.detect(path, "fbx")
    for fmt in (None, "livelink"):
        with pytest.raises(FormatError, match="no such file"):
            formats.read(tmp_path / "nothing.csv", format=fmt)


def test_a_binary_file_is_refused(tmp_path):
    path = tmp_path / "clip.csv"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(FormatError, match="not a face capture"):
        formats.read(path)
    with pytest.raises(FormatError, match="not a text file|longer than|lacks|not a number|Timecode"):
        formats.read(path, format="livelink")


def _synthetic(name, tmp_path, cap):
    writers = {
        "openpose": lambda: cap.write_openpose(tmp_path / "op", {i: [cap.face70(seed=i)] for i in range(3)}),
        "livelink": lambda: cap.write_livelink(tmp_path / "take.csv"),
        "openface": lambda: cap.write_openface(tmp_path / "of.csv"),
        "mediapipe": lambda: (tmp_path / "mp.json").write_text(json.dumps([np.full((478, 3), 0.5).tolist()] * 3))
        and tmp_path / "mp.json",
        "video": lambda: cap.write_video(tmp_path / "face.mp4"),
    }
    if name not in writers:
        pytest.fail(f"reader '{name}' has no synthetic file here: add a writer to tests/unit/rigs/formats/"
                    "conftest.py and its variants to a test_<name>_reader.py")
    return writers[name]()


@pytest.mark.parametrize("reader", formats.READERS, ids=lambda r: r.NAME)
def test_every_reader_has_a_synthetic_file_that_detects_and_reads(reader, tmp_path, cap):
    path = _synthetic(reader.NAME, tmp_path, cap)
    assert formats.detect(path) is reader
    track = formats.read(path, fps=30) if reader.NAME in ("openpose", "mediapipe") else formats.read(path)
    assert track.format == reader.NAME and track.n_frames >= 3 and track.valid.any()
    assert track is track.check()
