"""Speech to face, as a user and a pipeline run it: a recording (espeak-ng speaking a known line)
keyed on the default head from the CLI and from *Animate from Speech*, lip-synced, coloured, with
its sound in the sequencer; voiced text; bad recordings refused with nothing changed."""

import json
import shutil
import subprocess
import sys

import bpy
import numpy as np
import pytest

from test_capture_cli import keyed_curves
from test_cli import emotive

LINE = "Maybe the baby wants more apple pie. I am so happy for you!"

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    path = tmp_path_factory.mktemp("speech") / "line.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), LINE], check=True)
    return path


def test_cli_keys_a_lip_synced_take_with_its_sound_and_report(tmp_path, recording):
    out, report_path = tmp_path / "speech.blend", tmp_path / "r.json"
    proc = emotive("speech", str(recording), "--transcript", LINE, "--out", str(out), "--report", str(report_path))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(report_path.read_text())
    assert report["transcript_source"] == "given"
    words = report["words"]
    assert [w["text"].lower().strip(".!") for w in words][:3] == ["maybe", "the", "baby"]
    assert all(a["end"] <= b["start"] + 1e-3 for a, b in zip(words, words[1:]))
    assert len(report["segments"]) == 2                             # two sentences, a pause between
    for seg in report["segments"]:
        assert seg["emotion"] in ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
        assert abs(sum(seg["probabilities"].values()) - 1) < 1e-3
        assert {"transcript_emotion", "fused_emotion", "start", "end", "shape_keys"} <= set(seg)
    assert report["segments"][1]["transcript_emotion"] == "joy"     # the words say so
    curves = keyed_curves(out)
    jaw = curves['key_blocks["jawOpen"].value']
    fps = report["fps"]
    speaking = (jaw[:, 0] >= 1 + words[0]["start"] * fps) & (jaw[:, 0] <= 1 + words[-1]["end"] * fps)
    assert jaw[speaking, 1].max() > 0.3 and jaw[~speaking, 1].max() < 0.1     # talks, then rests
    assert np.abs(np.diff(jaw[speaking, 1])).max() < 0.35                     # co-articulated, not stepped
    # the recording plays from the take's first frame
    code = ("import bpy, sys, json; bpy.ops.wm.open_mainfile(filepath=sys.argv[1]); s = bpy.context.scene;"
            "print('STRIPS', json.dumps([[x.frame_start, bpy.path.abspath(x.sound.filepath)]"
            " for x in s.sequence_editor.strips if x.type == 'SOUND'] + [s.frame_end]))")
    proc = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=120)
    *strips, end = json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("STRIPS"))[len("STRIPS "):])
    assert len(strips) == 1 and strips[0][0] == 1 and strips[0][1].endswith("line.wav")
    assert end == report["frame_end"]


@pytest.mark.parametrize("content, message", [(b"", "cannot read"), (b"RIFF....WAVEjunk" * 10, "cannot read")])
def test_bad_recordings_exit_2_and_write_nothing(tmp_path, content, message):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    proc = emotive("speech", str(bad), "--out", str(tmp_path / "o.blend"))
    assert proc.returncode == 2 and "bad.wav" in proc.stderr and message in proc.stderr
    assert not (tmp_path / "o.blend").exists()
    proc = emotive("speech", str(tmp_path / "missing.flac"), "--out", str(tmp_path / "o.blend"))
    assert proc.returncode == 2 and "not found" in proc.stderr


def test_voiced_text_speaks_and_lip_syncs(tmp_path):
    out = tmp_path / "voiced.blend"
    proc = emotive("text", "--text", "Bob bought a map.", "--voice", "--out", str(out), "--report",
                   str(tmp_path / "r.json"), "--render", str(tmp_path / "voiced.mp4"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "voiced.wav").stat().st_size > 10_000
    # the MP4 carries the voice (AAC) beside the picture, as long as the picture
    import av

    with av.open(str(tmp_path / "voiced.mp4")) as movie:
        streams = {st.type: st for st in movie.streams}
        assert set(streams) == {"video", "audio"}
        seconds = {k: float(st.duration * st.time_base) for k, st in streams.items()}
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in movie.decode(streams["audio"])])
    assert abs(seconds["audio"] - seconds["video"]) < 0.1 and np.sqrt(np.mean(samples ** 2)) > 0.01
    report = json.loads((tmp_path / "r.json").read_text())
    assert [w["text"].lower().strip(".") for w in report["words"]] == ["bob", "bought", "a", "map"]
    jaw = keyed_curves(out)['key_blocks["jawOpen"].value']
    assert jaw[:, 1].max() > 0.25


def test_operator_keys_a_new_action_and_places_the_sound(head, recording):
    scene = bpy.context.scene
    settings = scene.emotive
    settings.audio_file = str(recording)
    settings.transcript = LINE
    assert bpy.ops.emotive.animate_speech() == {'FINISHED'}
    first = head.data.shape_keys.animation_data.action
    strips = [s for s in scene.sequence_editor.strips if s.type == 'SOUND']
    assert len(strips) == 1 and strips[0].frame_start == scene.frame_start
    assert len(settings.results) == 2 and settings.results[1].emotion == "joy"
    assert bpy.ops.emotive.animate_speech() == {'FINISHED'}           # again: a second Action, same strip
    assert head.data.shape_keys.animation_data.action != first and first.name in bpy.data.actions
    assert len([s for s in scene.sequence_editor.strips if s.type == 'SOUND']) == 1


def test_operator_refuses_a_bad_file_and_changes_nothing(head, tmp_path):
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"ID3 not really")
    settings = bpy.context.scene.emotive
    settings.audio_file = str(bad)
    actions = len(bpy.data.actions)
    with pytest.raises(RuntimeError, match="bad.mp3"):
        bpy.ops.emotive.animate_speech()
    editor = bpy.context.scene.sequence_editor
    assert len(bpy.data.actions) == actions and (editor is None or not len(editor.strips))


def test_cli_exports_the_take_beside_the_blend(tmp_path, recording):
    """--export: engines get the same animation (a valid GLB, a Live Link CSV), named in the report."""
    from emotive.headless.jobs import EXPORT_SUFFIXES
    from emotive.rigs.blender.export import EXPORTERS
    from test_export_formats import validate

    assert EXPORT_SUFFIXES == tuple(EXPORTERS)
    glb, csv = tmp_path / "line.glb", tmp_path / "line.csv"
    proc = emotive("speech", str(recording), "--transcript", LINE, "--out", str(tmp_path / "o.blend"),
                   "--export", str(glb), "--export", str(csv), "--report", str(tmp_path / "r.json"))
    assert proc.returncode == 0, proc.stderr
    validate(glb)                                   # the Khronos validator: no errors
    report = json.loads((tmp_path / "r.json").read_text())
    assert [e["file"] for e in report["exports"]] == [str(glb), str(csv)]
    from emotive.rigs.arkit import ARKIT_INDEX
    from emotive.rigs.formats import livelink_csv

    track = livelink_csv.read(csv, fps=report["fps"])
    assert len(track.arkit) == report["frame_end"] - report["frame_start"] + 1
    assert track.arkit[:, ARKIT_INDEX["jawOpen"]].max() > 0.3           # the lip sync, read back
    proc = emotive("speech", str(recording), "--out", str(tmp_path / "p.blend"), "--export", str(tmp_path / "p.csv"),
                   "--export", str(tmp_path / "p.csv"))
    assert proc.returncode == 2 and "two outputs" in proc.stderr, proc.stderr
