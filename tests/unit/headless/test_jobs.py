"""Turning command-line flags into a checked Job, before Blender loads anything (bpy-free)."""

from argparse import Namespace
from pathlib import Path

import pytest

from emotive.errors import EmotiveError
from emotive.headless import build_parser, job_from_args, target_of
from emotive.headless.jobs import Job, check_job


def flags(**given):
    return Namespace(**{"target": None, "keys": None, "rig": None, "head": "default", **given})


@pytest.mark.parametrize("given, kind", [
    ({}, "arkit"),
    ({"keys": "custom"}, "custom"),
    ({"target": "custom"}, "custom"),
    ({"rig": "Armature", "head": "face.blend:Head"}, "bones"),
    ({"head": "rigged"}, "bones"),
    ({"head": "rigged", "target": "bones"}, "bones"),
    ({"head": "rigged", "keys": "arkit"}, "bones"),
], ids=["default is ARKit keys", "--keys custom", "--target custom", "--rig keys bones",
        "--head rigged keys bones", "--target bones agrees with --head rigged",
        "--keys arkit, the old default, gives way to --head rigged"])
def test_flags_name_one_target(given, kind):
    assert target_of(flags(**given)) == kind


@pytest.mark.parametrize("given, message", [
    ({"rig": "Armature", "keys": "custom"}, "do not combine with --keys custom"),
    ({"head": "rigged", "target": "arkit"}, "do not combine with --target arkit"),
    ({"target": "arkit", "keys": "custom"}, "contradict"),
], ids=["--rig with --keys custom", "--head rigged with --target arkit", "--target and --keys disagree"])
def test_contradicting_flags_are_refused(given, message):
    with pytest.raises(EmotiveError, match=message):
        target_of(flags(**given))


def job(tmp_path, motion="landmark", **given):
    return Job(source="text", inputs={"motion": motion}, label="Hi.", out=tmp_path / "o.blend", **given)


@pytest.mark.parametrize("given, motion, message", [
    ({"target": "nope"}, "landmark", "unknown target 'nope'; use one of arkit, custom, bones"),
    ({"target": "custom"}, "envelope", "keying its own shape keys needs the generated motion"),
    ({"target": "bones", "head": "face.blend:Head"}, "landmark", "needs --rig ARMATURE"),
    ({"target": "bones", "rig": "rig"}, "landmark", "--rig needs --head FILE.blend:OBJECT"),
    ({"target": "arkit", "rig": "rig"}, "landmark", "do not combine with --target arkit"),
    ({"engine": "eevee"}, "landmark", "unknown render engine 'eevee'"),
    ({"renders": [Path("x.gif")]}, "landmark", "must end in .png or .mp4"),
], ids=["unknown target", "own keys with envelopes", "bones without a rig", "a rig on the default head",
        "a rig with ARKit keys", "unknown engine", "a render that is no png or mp4"])
def test_bad_jobs_are_refused_before_anything_is_written(tmp_path, given, motion, message):
    with pytest.raises(EmotiveError, match=message):
        check_job(job(tmp_path, motion, **given))
    assert not list(tmp_path.iterdir())


def test_outputs_are_resolved_and_their_folders_made(tmp_path):
    checked = check_job(job(tmp_path, report=tmp_path / "sub" / "r.json", renders=[tmp_path / "p.mp4"]))
    assert checked.out == (tmp_path / "o.blend").resolve() and (tmp_path / "sub").is_dir()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(EmotiveError, match="cannot create the folder for --out"):
        check_job(Job(source="text", inputs={}, label="Hi.", out=blocker / "x" / "o.blend"))


def parse(*argv):
    return job_from_args(build_parser().parse_args(["text", *argv]))


def test_a_command_line_becomes_a_job_without_blender(tmp_path):
    job = parse("--text", "I am so happy!", "--out", str(tmp_path / "o.blend"), "--head", "rigged",
                "--keys", "arkit", "--wpm", "120", "--motion", "landmark")
    assert (job.source, job.target, job.label, job.inputs["wpm"]) == ("text", "bones", "I am so happy!", 120)
    assert job.inputs["text"] == "I am so happy!" and job.out == (tmp_path / "o.blend").resolve()


@pytest.mark.parametrize("argv, message", [
    (["--text", "Hi.", "--rig", "Armature", "--keys", "custom"], "do not combine with --keys custom"),
    (["--text", "Hi.", "--target", "custom", "--motion", "envelope"], "needs the generated motion"),
    (["--text", "Hi.", "--target", "bones"], "needs --rig ARMATURE"),
    (["--text", " "], "text is empty"),
], ids=["--rig with --keys custom", "own keys with envelopes", "bones without a rig", "empty text"])
def test_bad_command_lines_are_refused_before_blender(tmp_path, argv, message):
    with pytest.raises(EmotiveError, match=message):
        parse(*argv, "--out", str(tmp_path / "o.blend"))


def test_linear_solve_turns_the_learned_capture_correction_off(tmp_path):
    capture = tmp_path / "face.json"
    capture.write_text("[]")
    argv = ["capture", str(capture), "--out", str(tmp_path / "o.blend")]
    assert job_from_args(build_parser().parse_args(argv)).inputs["learned_solve"] is True
    job = job_from_args(build_parser().parse_args(argv + ["--linear-solve"]))
    assert job.inputs["learned_solve"] is False and job.source == "capture"
