"""The headless path as a pipeline runs it: a subprocess, files on disk, exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEXT = "I am so happy to see you again! But why did you lie to me? That makes me furious."


def emotive(*args, cwd=None, via_cli_py=False):
    cmd = ([sys.executable, str(ROOT / "cli.py"), "--"] if via_cli_py else [sys.executable, "-m", "emotive"])
    return subprocess.run(cmd + list(args), capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli")
    proc = emotive("text", "--text", TEXT, "--out", str(out / "take.blend"), "--report", str(out / "report.json"),
                   "--render", str(out / "sheet.png"), "--fps", "24", "--wpm", "150")
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_writes_blend_report_and_sheet(run):
    out, proc = run
    assert (out / "take.blend").stat().st_size > 100_000
    sheet = (out / "sheet.png").read_bytes()
    assert sheet[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((out / "report.json").read_text())
    segs = report["segments"]
    assert [s["emotion"] for s in segs] == ["joy", "surprise", "anger"] or [s["emotion"] for s in segs][0] == "joy"
    assert segs[-1]["emotion"] == "anger"
    for s in segs:
        assert set(s) >= {"text", "start_frame", "end_frame", "emotion", "labels", "shape_keys"}
        assert s["start_frame"] < s["end_frame"]
        assert 0 < s["labels"][0]["probability"] <= 1
    assert [s["start_frame"] for s in segs] == sorted(s["start_frame"] for s in segs)
    assert "mouthSmileLeft" in report["keyed_shape_keys"] and report["fps"] == 24
    assert "emotive: reading the emotions…" in proc.stderr.splitlines()  # each stage is shown as it starts


def test_blend_holds_the_take(run):
    out, _ = run
    code = ("import bpy, sys; bpy.ops.wm.open_mainfile(filepath=sys.argv[1]);"
            "s=bpy.context.scene; o=bpy.data.objects['Emotive Head'];"
            "a=o.data.shape_keys.animation_data.action;"
            "print(a.name, s.render.fps, s.frame_start, s.frame_end, len(a.layers[0].strips[0].channelbags[0].fcurves))")
    proc = subprocess.run([sys.executable, "-c", code, str(out / "take.blend")], capture_output=True, text=True)
    line = proc.stdout.strip().splitlines()[-1]  # Blender logs the file read before it
    name, fps, start, end, curves = line.split()[-5:]
    assert line.startswith("Emotive: I am so happy")
    assert (int(fps), int(start)) == (24, 1) and int(end) > 24 * 3 and int(curves) >= 10


def test_cli_py_runs_the_same_pipeline(tmp_path):
    proc = emotive("text", "--text", "What a lovely surprise!", "--out", str(tmp_path / "a.blend"),
                   "--report", str(tmp_path / "r.json"), via_cli_py=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "r.json").read_text())["segments"]


def test_mp4_preview(tmp_path):
    proc = emotive("text", "--text", "Hello there.", "--out", str(tmp_path / "a.blend"),
                   "--render", str(tmp_path / "p.mp4"))
    assert proc.returncode == 0, proc.stderr
    data = (tmp_path / "p.mp4").read_bytes()
    assert b"ftyp" in data[:16] and len(data) > 1000


@pytest.mark.parametrize("args, message", [
    (["--text", "  "], "text is empty"),
    (["--text-file", "/nonexistent/words.txt"], "text file not found"),
    (["--text", "Hi.", "--head", "/nonexistent/face.blend:Face"], "head file not found"),
    (["--text", "Hi.", "--head", "face.obj"], "FILE.blend:OBJECT"),
    (["--text", "Hi.", "--wpm", "nan"], "reading rate"),
    (["--text", "Hi.", "--render", "{tmp}/x.gif"], "must end in .png or .mp4"),
])
def test_bad_input_exits_non_zero_with_a_message(tmp_path, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    proc = emotive("text", *args, "--out", str(tmp_path / "o.blend"))
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not (tmp_path / "o.blend").exists()


def test_unwritable_output(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # even root cannot create a folder under a file
    proc = emotive("text", "--text", "Hi.", "--out", str(blocker / "sub" / "o.blend"))
    assert proc.returncode == 2 and "--out" in proc.stderr


def test_binary_text_file(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00\x81garbage")
    proc = emotive("text", "--text-file", str(bad), "--out", str(tmp_path / "o.blend"))
    assert proc.returncode == 2 and "not UTF-8" in proc.stderr


def test_head_from_a_users_file(tmp_path):
    first = emotive("text", "--text", "Hello.", "--out", str(tmp_path / "mine.blend"))
    assert first.returncode == 0, first.stderr
    proc = emotive("text", "--text", "I am so angry!", "--head", f"{tmp_path / 'mine.blend'}:Emotive Head",
                   "--out", str(tmp_path / "again.blend"), "--report", str(tmp_path / "r.json"))
    assert proc.returncode == 0, proc.stderr
    missing = emotive("text", "--text", "Hi.", "--head", f"{tmp_path / 'mine.blend'}:Nobody",
                      "--out", str(tmp_path / "x.blend"))
    assert missing.returncode == 2 and "no object 'Nobody'" in missing.stderr and "Emotive Head" in missing.stderr


def test_fifty_thousand_words_work_with_progress(tmp_path):
    sentences = ["I am so happy to see you again!", "Why did you lie to me?", "That makes me furious.",
                 "The meeting starts at nine in the morning.", "I miss her terribly.", "What a surprise!"]
    words = []
    while len(words) < 50_000:
        words.extend(sentences[len(words) % len(sentences)].split())
    script = tmp_path / "novel.txt"
    script.write_text(" ".join(words))
    proc = emotive("text", "--text-file", str(script), "--out", str(tmp_path / "novel.blend"),
                   "--report", str(tmp_path / "novel.json"))
    assert proc.returncode == 0, proc.stderr
    # In a log (no terminal), a stage is named as it starts; a long one reports its progress
    # every few seconds and how long it took.
    lines = proc.stderr.splitlines()
    stage = "emotive: generating the performance"
    assert lines.count(stage + "…") == 1, lines
    percents = [int(line.rsplit(" ", 1)[1][:-1]) for line in lines if line.startswith(stage) and line.endswith("%")]
    assert percents == sorted(percents) and all(0 <= p <= 100 for p in percents), lines
    if percents:
        assert sum(line.startswith(stage + ": done in ") for line in lines) == 1, lines
    report = json.loads((tmp_path / "novel.json").read_text())
    assert len(report["segments"]) > 5_000
    assert report["frame_end"] > 30 * 60 * 60  # hours of dialogue at 160 wpm


def test_terminal_shows_stages_and_hides_blenders_chatter(tmp_path):
    args = ["text", "--text", "Hello there. I am so happy!", "--out", str(tmp_path / "a.blend"), "--fps", "12",
            "--render", str(tmp_path / "p.mp4"), "--render", str(tmp_path / "s.png")]
    quiet = emotive(*args)
    assert quiet.returncode == 0, quiet.stderr
    lines = quiet.stderr.splitlines()
    assert quiet.stdout == "" and all(line.startswith("emotive: ") for line in lines), quiet.stderr
    stages = [line for line in lines if line.endswith("…")]  # one line per stage, as it starts
    for stage in ("loading the head", "reading the emotions", "generating the performance",
                  "rendering p.mp4", "rendering s.png", "saving a.blend"):
        assert stages.count(f"emotive: {stage}…") == 1, (stage, lines)
    long = [line for line in lines if line.endswith("%") or ": done in " in line]  # every few seconds
    assert all(line.startswith("emotive: rendering p.mp4") for line in long), lines
    assert len(lines) == len(stages) + len(long) + 1 and lines[-1].startswith("emotive: wrote ")
    loud = emotive(*args, "--verbose")
    assert loud.returncode == 0, loud.stderr
    chatter = (loud.stdout + loud.stderr).splitlines()
    assert sum("Video append frame" in line for line in chatter) >= 24  # Blender's per-frame lines, shown on request


def test_a_terminal_gets_a_progress_bar_per_stage(tmp_path):
    import os
    import pty

    main, follower = pty.openpty()
    os.set_blocking(main, False)
    import fcntl
    import struct
    import termios

    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "emotive", "text", "--text", "I am so happy!",
                             "--out", str(tmp_path / "a.blend")], stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except BlockingIOError:
            if proc.poll() is not None:
                break
            import time
            time.sleep(0.05)
            continue
        except OSError:  # the follower side closed: the process ended
            break
        if not chunk:
            break
        output += chunk
    proc.wait(timeout=300)
    os.close(main)
    text = output.decode("utf-8", "replace")
    assert proc.returncode == 0, text
    final = [part.strip() for part in text.replace("\r", "\n").splitlines() if "100%|" in part]
    assert any(line.startswith("emotive: reading the emotions 100%|") for line in final), text
    assert any(line.startswith("emotive: generating the performance 100%|") for line in final), text


def test_contact_sheet_tiles_are_captioned_and_the_caption_is_not_saved(tmp_path):
    """Each tile carries its segment's number, emotion and first words on a card at the bottom;
    the card exists only while the sheet renders."""
    proc = emotive("text", "--text", "I am so happy to see you! Why did you lie to me?", "--out",
                   str(tmp_path / "a.blend"), "--render", str(tmp_path / "s.png"), "--report", str(tmp_path / "r.json"))
    assert proc.returncode == 0, proc.stderr
    code = ("import bpy, sys, numpy as np; img = bpy.data.images.load(sys.argv[1]);"
            "px = np.array(img.pixels[:]).reshape(img.size[1], img.size[0], 4);"
            "tile = px[-320:, :320, :3].mean(axis=2)[::-1];"  # the first tile, top row first
            "band = tile[-28:];"
            "print('INK', float((band > 0.5).mean()), float((band < 0.3).mean()));"
            "bpy.ops.wm.open_mainfile(filepath=sys.argv[2]);"
            "print('SAVED', [b.name for c in (bpy.data.objects, bpy.data.materials, bpy.data.meshes, bpy.data.curves)"
            " for b in c if 'Caption' in b.name], len(bpy.data.fonts))")
    check = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.png"), str(tmp_path / "a.blend")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in check.stdout.splitlines()
             if line.startswith(("INK ", "SAVED "))}
    card, ink = (float(v) for v in lines["INK"].split())
    assert card > 0.8 and 0.003 < ink < 0.2, check.stdout  # dark glyphs on a light card (measured 0.96, 0.008)
    assert lines["SAVED"] == "[] 0"  # nothing of the caption was saved, not even its font
