"""`python -m emotive capture`: a face capture keyed onto a head, as a pipeline runs it."""

import json
import subprocess
import sys

import numpy as np
import pytest

from shared_fixtures import shared, smile_and_jaw, write_livelink
from test_cli import emotive


def keyed_curves(blend, obj_name="Emotive Head") -> dict:
    """{data path: (frames, values)} of the shape-key Action on `obj_name` in a saved .blend."""
    code = ("import bpy, sys, json; bpy.ops.wm.open_mainfile(filepath=sys.argv[1]);"
            f"o=bpy.data.objects[{obj_name!r}]; a=o.data.shape_keys.animation_data.action;"
            "cb=a.layers[0].strips[0].channelbags[0];"
            "print('CURVES', json.dumps({f.data_path: [[p.co[0], p.co[1]] for p in f.keyframe_points] for f in cb.fcurves}))")
    proc = subprocess.run([sys.executable, "-c", code, str(blend)], capture_output=True, text=True, timeout=120)
    line = next(l for l in proc.stdout.splitlines() if l.startswith("CURVES"))
    return {k: np.array(v) for k, v in json.loads(line[len("CURVES "):]).items()}


def test_live_link_capture_is_keyed_on_the_arkit_keys(tmp_path):
    weights = smile_and_jaw(120)  # 2 s at 60 rows/s
    csv = write_livelink(tmp_path / "smile.csv", weights)
    proc = emotive("capture", str(csv), "--out", str(tmp_path / "smile.blend"), "--report", str(tmp_path / "r.json"),
                   "--smoothing", "0")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["fps"] == 30 and report["frame_end"] - report["frame_start"] + 1 == 60  # resampled to --fps
    assert {"mouthSmileLeft", "jawOpen", "browInnerUp"} <= set(report["keyed_shape_keys"])
    curves = keyed_curves(tmp_path / "smile.blend")
    smile = curves['key_blocks["mouthSmileLeft"].value']
    assert smile[:, 1].max() == pytest.approx(0.8, abs=0.02)           # the captured peak, not a generated one
    assert abs(smile[np.argmax(smile[:, 1]), 0] - 30.5) <= 2              # half way through the take


def test_a_bad_capture_exits_2_naming_the_file(tmp_path):
    junk = tmp_path / "junk.csv"
    junk.write_text("Timecode,BlendShapeCount,EyeBlinkLeft\n00:00:00:00.000,61,not-a-number\n")
    proc = emotive("capture", str(junk), "--out", str(tmp_path / "o.blend"))
    assert proc.returncode == 2 and "junk.csv" in proc.stderr
    assert not (tmp_path / "o.blend").exists()


def test_openpose_capture_drives_a_face_rig(tmp_path):
    folder = shared("capture/openpose_moface/json")
    proc = emotive("capture", str(folder), "--head", "rigged", "--out", str(tmp_path / "op.blend"),
                   "--report", str(tmp_path / "r.json"))
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["drive"] == "bones" and {"jaw_master", "brow.T.L.002"} <= set(report["keyed_bones"])
    assert report["frame_end"] == 300


def test_emotion_from_text_migrates_the_capture(tmp_path):
    weights = np.zeros((240, 52))
    from emotive.rigs.arkit import ARKIT_INDEX

    weights[:, ARKIT_INDEX["jawOpen"]] = 0.15 * (1 + np.sin(2 * np.pi * 3 * np.arange(240) / 60))
    csv = write_livelink(tmp_path / "talk.csv", weights)
    proc = emotive("capture", str(csv), "--out", str(tmp_path / "t.blend"), "--report", str(tmp_path / "r.json"),
                   "--emotion-from", "I am furious, this makes me so angry, I hate it!", "--alpha-mouth", "0.2")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert {s["emotion"] for s in report["segments"]} == {"anger"}
    assert "browDownLeft" in report["keyed_shape_keys"]
    assert "migrated from" in proc.stderr and "toward the text's anger" in proc.stderr
    bad = emotive("capture", str(csv), "--out", str(tmp_path / "b.blend"), "--emotion-from", "x", "--alpha-face", "5")
    assert bad.returncode == 2 and "alpha_face" in bad.stderr and not (tmp_path / "b.blend").exists()
