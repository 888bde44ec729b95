"""Job files (batch, job), bpy-free: specs become the CLI's own argv, everything wrong with a file is
refused up front naming file and line, and manifests decide what a re-run skips."""

import io
import json
import os
import wave
from argparse import Namespace
from pathlib import Path

import pytest

from emotive.headless import build_parser
from emotive.headless.batch import Progress, exit_code, run_batch
from emotive.headless.jobfile import (JobFileError, build_job, is_complete, manifest_path, parse_argv,
                                      read_job_file, read_spec_file, write_manifest)


def job_file(tmp_path, *specs, name="jobs.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(s if isinstance(s, str) else json.dumps(s) for s in specs) + "\n", encoding="utf-8")
    return path


def test_a_spec_becomes_the_subcommands_own_command_line(tmp_path):
    (tmp_path / "clips").mkdir()
    with wave.open(str(tmp_path / "clips" / "line.wav"), "wb") as w:    # 1 s of silence
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000), w.writeframes(b"\0\0" * 16000)
    path = job_file(tmp_path,
                    {"id": "t1", "text": "Hello there!", "outputs": ["t1.glb", "shots/t1.csv", "t1.json", "t1.blend"],
                     "fps": 24, "alpha-face": 0.5, "head": "faces/mine.blend:Head", "target": "custom",
                     "voice": True},
                    {"id": "s1", "audio": "clips/line.wav", "transcript": "hi", "outputs": ["s1.glb"]})
    out = tmp_path / "out"
    text, speech = read_job_file(path, out)
    argv = text.argv
    assert argv[:3] == ["text", "--text", "Hello there!"]
    args = parse_argv(argv)      # what the CLI itself makes of it
    assert (args.fps, args.alpha_face, args.target, args.voice) == (24.0, 0.5, "custom", True)
    # relative input paths are the job file's; outputs land in --out DIR, the flag chosen by suffix
    assert args.head == f"{tmp_path / 'faces' / 'mine.blend'}:Head"
    assert (args.out, args.report) == (out / "t1.blend", out / "t1.json")
    assert args.export == [out / "t1.glb", out / "shots" / "t1.csv"] and args.render == []
    assert text.save_blend and not speech.save_blend
    assert speech.argv[:2] == ["speech", str(tmp_path / "clips" / "line.wav")]
    # the CLI's own parse: its defaults come with it
    job = build_job(speech)
    assert job.source == "speech" and job.out is None and job.exports == [out / "s1.glb"]
    assert job.inputs["transcript"] == "hi" and job.inputs["fps"] == 30.0


def test_a_csv_job_file_works_the_same(tmp_path):
    path = tmp_path / "jobs.csv"
    path.write_text("id,text,outputs,fps,voice,wpm\n"
                    'a,"Hi, you!",a.glb;a.csv,24,false,\n'
                    "\n"
                    "b,Why?,b.csv|b.json,,,120\n", encoding="utf-8")
    a, b = read_job_file(path, tmp_path / "out")
    assert [p.name for p in a.outputs] == ["a.glb", "a.csv"] and [p.name for p in b.outputs] == ["b.csv", "b.json"]
    assert a.argv[:3] == ["text", "--text", "Hi, you!"] and "--voice" not in a.argv
    assert a.argv.count("--wpm") == 1 and a.argv.count("--fps") == 1     # an empty cell: the setting's value
    assert (a.where, b.where) == (f"{path}:2", f"{path}:4")   # the blank line is counted
    assert build_job(b).inputs["wpm"] == 120.0 and build_job(a).inputs["fps"] == 24.0
    assert build_job(a).inputs["wpm"] == 160.0


@pytest.mark.parametrize("line, message", [
    ('{"id": "a", "text": "Hi", "outputs": ["a.glb"]', "jobs.jsonl:2: not a JSON object"),
    ({"text": "Hi", "outputs": ["a.glb"]}, "jobs.jsonl:2: every job needs an 'id'"),
    ({"id": "../x", "text": "Hi", "outputs": ["a.glb"]}, "every job needs an 'id'"),
    ({"id": "b", "outputs": ["b.glb"]}, "needs exactly one input of text, text_file, audio, capture; it has none"),
    ({"id": "b", "text": "Hi", "audio": "x.wav", "outputs": ["b.glb"]}, "it has text, audio"),
    ({"id": "b", "text": "Hi"}, "'outputs' must list at least one file"),
    ({"id": "b", "text": "Hi", "outputs": ["b.obj"]}, "output 'b.obj' must end in one of .blend, .json"),
    ({"id": "b", "text": "Hi", "outputs": ["../b.glb"]}, "must stay inside the output folder"),
    ({"id": "b", "text": "Hi", "outputs": ["b.blend", "c.blend"]}, "one .blend file at most"),
    ({"id": "b", "text": "Hi", "outputs": ["b.glb"], "colour": "red"}, "unknown option 'colour' for text jobs"),
    ({"id": "b", "text": "Hi", "outputs": ["b.glb"], "out": "x.blend"}, "unknown option 'out'"),
    ({"id": "b", "text": "Hi", "outputs": ["b.glb"], "target": "nope"}, "jobs.jsonl:2: job 'b': argument --target"),
    ({"id": "b", "text": "Hi", "outputs": ["b.glb"], "fps": "fast"}, "invalid float value: 'fast'"),
    ({"id": "b", "text": "Hi", "outputs": ["b.glb"], "voice": "maybe"}, "'voice' is a switch"),
    ({"id": "b", "text": "  ", "outputs": ["b.glb"]}, "job 'b': the text is empty"),
    ({"id": "b", "audio": "missing.wav", "outputs": ["b.glb"]}, "job 'b': audio file not found"),
    ({"id": "a", "text": "Hi", "outputs": ["b.glb"]}, "job id 'a' is used twice (first at"),
    ({"id": "b", "text": "Hi", "outputs": ["a.glb"]}, "jobs 'a' and 'b' both write"),
], ids=["broken JSON", "no id", "an id that is a path", "no input", "two inputs", "no outputs", "unknown suffix",
        "an output outside --out", "two .blend", "unknown option", "an option the format names itself",
        "a choice the CLI refuses", "a number that is not", "a switch that is neither", "empty text",
        "missing audio", "duplicate id", "two jobs, one output"])
def test_a_bad_job_file_is_refused_naming_file_and_line(tmp_path, line, message):
    path = job_file(tmp_path, {"id": "a", "text": "Hi", "outputs": ["a.glb"]}, line)
    with pytest.raises(JobFileError) as caught:
        read_job_file(path, tmp_path / "out")
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_every_problem_is_listed_at_once(tmp_path):
    path = job_file(tmp_path, {"id": "a", "text": "", "outputs": ["a.glb"]}, {"id": "b", "outputs": ["b.glb"]},
                    {"id": "c", "text": "Hi", "outputs": ["c.glb"], "wpm": "-3"})
    with pytest.raises(JobFileError) as caught:
        read_job_file(path, tmp_path / "out")
    lines = str(caught.value).splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == [f"{path}:1", f"{path}:2", f"{path}:3"], lines


def run(tmp_path, path, out, capsys, **given):
    args = Namespace(jobs=path, out=out, workers=2, scheduler=None, timeout=None, force=False, **given)
    code = run_batch(args, stream=None)
    return code, capsys.readouterr().err


def test_batch_refuses_a_bad_file_before_running_anything(tmp_path, capsys):
    path = job_file(tmp_path, {"id": "a", "text": "Hi", "outputs": ["a.glb"]}, "{not json")
    code, err = run(tmp_path, path, tmp_path / "out", capsys)
    assert code == 2 and f"{path}:2: not a JSON object" in err
    assert not (tmp_path / "out" / "batch_report.json").exists()


def test_batch_refuses_an_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")     # even root cannot make a folder under a file
    path = job_file(tmp_path, {"id": "a", "text": "Hi", "outputs": ["a.glb"]})
    code, err = run(tmp_path, path, blocker / "out", capsys)
    assert code == 2 and "cannot create the output folder" in err
    # and an output whose own subfolder cannot be made, named with its job
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "shots").write_text("a file where the folder should be")
    path = job_file(tmp_path, {"id": "a", "text": "Hi", "outputs": ["shots/a.glb"]})
    code, err = run(tmp_path, path, tmp_path / "out", capsys)
    assert code == 2 and f"{path}:1: job 'a': cannot create the folder for --export" in err


def test_a_missing_or_empty_job_file(tmp_path, capsys):
    code, err = run(tmp_path, tmp_path / "nope.jsonl", tmp_path / "out", capsys)
    assert code == 2 and "job file not found" in err
    code, err = run(tmp_path, job_file(tmp_path, ""), tmp_path / "out", capsys)
    assert code == 2 and "holds no jobs" in err


def test_a_finished_job_is_complete_until_its_spec_or_outputs_change(tmp_path):
    out = tmp_path / "out"
    spec = {"id": "a", "text": "Hi", "outputs": ["a.glb", "a.csv"]}
    (job,) = read_job_file(job_file(tmp_path, spec), out)
    assert not is_complete(out, job)
    (out / "a.glb").write_bytes(b"glb")
    with pytest.raises(FileNotFoundError):      # a manifest only once every output exists
        write_manifest(out, job)
    assert not manifest_path(out, "a").exists()
    (out / "a.csv").write_text("csv")
    write_manifest(out, job)
    assert is_complete(out, job)
    # the same spec with its keys in another order (and spelt with dashes) is the same job
    (same,) = read_job_file(job_file(tmp_path, {"outputs": ["a.glb", "a.csv"], "text": "Hi", "id": "a"}), out)
    assert is_complete(out, same)
    (changed,) = read_job_file(job_file(tmp_path, {**spec, "fps": 24}), out)
    assert not is_complete(out, changed)
    os.utime(out / "a.csv", ns=(0, 0))           # an output replaced since
    assert not is_complete(out, job)
    write_manifest(out, job)
    (out / "a.glb").unlink()
    assert not is_complete(out, job)


def test_a_single_spec_file(tmp_path):
    spec = tmp_path / "shot.json"
    spec.write_text('{\n "id": "shot", "text": "Hello!",\n "outputs": ["renders/shot.glb"]\n}\n')
    job = read_spec_file(spec)
    assert job.outputs == [tmp_path / "renders" / "shot.glb"]       # beside the spec by default
    assert read_spec_file(spec, tmp_path / "elsewhere").outputs == [tmp_path / "elsewhere" / "renders" / "shot.glb"]
    spec.write_text('{"id": "shot", "text": "Hello!", "outputs": ["shot.json"]}')     # its report over itself
    with pytest.raises(JobFileError, match="would overwrite the job file"):
        read_spec_file(spec)
    assert spec.read_text().startswith('{"id": "shot"')
    spec.write_text('{\n "id": "shot",\n "text": "Hello!",,\n}\n')
    with pytest.raises(JobFileError, match=f"{spec}:3: not a JSON object"):
        read_spec_file(spec)


def test_exit_code_is_zero_only_when_every_job_is_done():
    assert exit_code([{"status": "ok"}, {"status": "skipped"}]) == 0
    for bad in ("failed", "timeout", "crashed", "not run"):
        assert exit_code([{"status": "ok"}, {"status": bad}]) == 1


def test_batch_and_job_are_subcommands():
    parser = build_parser()
    args = parser.parse_args(["batch", "jobs.jsonl", "--out", "d", "--workers", "3", "--timeout", "9"])
    assert (args.command, args.workers, args.timeout, args.scheduler) == ("batch", 3, 9.0, None)
    assert parser.parse_args(["job", "spec.json"]).out is None


class Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("stream", [io.StringIO(), Tty()], ids=["log", "terminal"])
def test_progress_shows_each_failure_and_the_count(stream):
    progress = Progress(2, stream)
    progress.finished({"id": "a", "status": "ok", "seconds": 1.25, "error": None})
    progress.finished({"id": "b", "status": "failed", "seconds": 0.5,
                       "error": "Traceback (most recent call last):\n  ...\nValueError: boom"})
    progress.close()
    text = stream.getvalue()
    assert "emotive: b: failed: ValueError: boom" in text or "emotive: [2/2] b: failed in 0.5 s: ValueError: boom" in text
    if isinstance(stream, Tty):
        assert "2/2" in text and "100%" in text          # a tqdm bar, drawn full
    else:
        assert text.splitlines()[0] == "emotive: [1/2] a: ok in 1.2 s"


def test_a_job_finished_as_ctrl_c_came_is_reported_ok_not_as_not_run(tmp_path):
    """Its worker wrote the outputs and the manifest; the result was still in the pipe."""
    import time

    from emotive.headless.batch import _unreported
    from emotive.headless.jobfile import read_job_file, write_manifest

    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"id": "a", "text": "Hello.", "outputs": ["a.csv"]}) + "\n")
    out = tmp_path / "out"
    (job,) = read_job_file(jobs, out)
    (out / "a.csv").write_text("Timecode\n")
    write_manifest(out, job)                            # finished in an earlier run
    assert _unreported(out, job, time.time() + 5)["status"] == "not run"
    began = time.time() - 5                             # finished in this run
    assert _unreported(out, job, began)["status"] == "ok"
    (out / "a.csv").write_text("changed since\n")       # outputs not as the manifest left them
    assert _unreported(out, job, began)["status"] == "not run"
