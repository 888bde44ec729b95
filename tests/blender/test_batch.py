"""`batch` and `job` as a render farm runs them: subprocesses, real Blender in worker processes, files
on disk, exit codes. One job crashing its worker, one hanging past --timeout and one naming an object
its head file lacks never stop the others; a re-run or an interrupted batch resumes where it was."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def emotive(*args, via=None, timeout=240):
    cmd = [sys.executable] + ([str(via), "--"] if via == ROOT / "cli.py" else [str(via)] if via else ["-m", "emotive"])
    return subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)


def write_jobs(path, *specs):
    path.write_text("".join(json.dumps(s) + "\n" for s in specs), encoding="utf-8")
    return path


def statuses(out):
    report = json.loads((out / "batch_report.json").read_text())
    return {j["id"]: j["status"] for j in report["jobs"]}, {j["id"]: j for j in report["jobs"]}


SPECS = [
    {"id": "joy", "text": "What a lovely day!", "outputs": ["joy.glb", "joy.json"]},
    {"id": "crash", "text": "Crash now.", "outputs": ["crash.glb"]},
    {"id": "why", "text": "Why did you lie to me?", "outputs": ["shots/why.csv", "why.blend"], "fps": 24},
    {"id": "hang", "text": "Hang now.", "outputs": ["hang.csv"]},
    {"id": "after", "text": "I am furious with you.", "outputs": ["after.csv"]},
]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """The batch with two workers, one job killing its worker and one hanging past --timeout."""
    tmp = tmp_path_factory.mktemp("batch")
    jobs = write_jobs(tmp / "jobs.jsonl", *SPECS)
    started = time.perf_counter()
    # --timeout 10: a cold worker's first job loads Blender's exporters and the models, 4-5 s on a busy machine
    proc = emotive("batch", jobs, "--out", tmp / "out", "--workers", 2, "--timeout", 10, via=HERE / "crashing_cli.py")
    return tmp, jobs, proc, time.perf_counter() - started


def test_a_crash_or_a_timeout_stops_only_its_own_job(first_run):
    tmp, _, proc, seconds = first_run
    out = tmp / "out"
    assert proc.returncode == 1, proc.stderr            # not every job done
    status, entries = statuses(out)
    assert status == {"joy": "ok", "crash": "crashed", "why": "ok", "hang": "timeout", "after": "ok"}, proc.stderr
    assert "exit code 7" in entries["crash"]["error"] and "--timeout" in entries["hang"]["error"]
    assert (out / "joy.glb").read_bytes()[:4] == b"glTF"
    assert (out / "shots" / "why.csv").read_text().startswith("Timecode,BlendShapeCount,EyeBlinkLeft")
    assert (out / "why.blend").stat().st_size > 100_000
    report = json.loads((out / "joy.json").read_text())
    assert report["segments"][0]["emotion"] == "joy"
    assert not (out / "crash.glb").exists() and not (out / "joy.blend").exists()   # no .blend asked for: none
    assert sorted(p.stem for p in (out / ".emotive-batch").glob("*.json")) == ["after", "joy", "why"]
    lines = proc.stderr.splitlines()
    assert "emotive: 3 ok, 1 timeout, 1 crashed" in next(line for line in lines if " in " in line and "ok," in line)
    assert seconds < 45


def test_a_rerun_skips_finished_jobs_and_runs_the_rest(first_run):
    tmp, jobs, _, _ = first_run
    out = tmp / "out"
    before = (out / "joy.glb").stat().st_mtime_ns
    # the plain command line: "Crash now." and "Hang now." are ordinary lines here
    proc = emotive("batch", jobs, "--out", out, "--workers", 2)
    assert proc.returncode == 0, proc.stderr
    status, _ = statuses(out)
    assert status == {"joy": "skipped", "crash": "ok", "why": "skipped", "hang": "ok", "after": "skipped"}
    assert (out / "joy.glb").stat().st_mtime_ns == before
    assert (out / "crash.glb").read_bytes()[:4] == b"glTF"
    assert "emotive: 5 jobs, 3 already done; running 2 on 2 local workers" in proc.stderr


def test_an_unknown_object_in_the_head_file_fails_that_job_only(first_run, tmp_path):
    tmp, _, _, _ = first_run
    head = tmp / "out" / "why.blend"
    jobs = write_jobs(tmp_path / "jobs.jsonl",
                      {"id": "nobody", "text": "Hello.", "head": f"{head}:Nobody", "outputs": ["n.csv"]},
                      {"id": "mine", "text": "Hello.", "head": f"{head}:Emotive Head", "outputs": ["m.csv"]})
    proc = emotive("batch", jobs, "--out", tmp_path / "out", "--workers", 1)
    assert proc.returncode == 1
    status, entries = statuses(tmp_path / "out")
    assert status == {"nobody": "failed", "mine": "ok"}
    assert "no object 'Nobody'" in entries["nobody"]["error"] and "Emotive Head" in entries["nobody"]["error"]
    assert "nobody" in proc.stderr and "no object 'Nobody'" in proc.stderr


def test_an_interrupted_batch_resumes(tmp_path):
    # the second job hangs in the first run (crashing_cli), so Ctrl-C surely lands mid-batch however
    # fast the machine; in the resumed run (the plain CLI) it is an ordinary line
    lines = ["Hello there.", "Hang now.", "Why did you lie?", "I am so angry.", "That is sad.", "Oh, a surprise!"]
    jobs = write_jobs(tmp_path / "jobs.jsonl",
                      *[{"id": f"j{i}", "text": t, "outputs": [f"j{i}.csv"]} for i, t in enumerate(lines)])
    out = tmp_path / "out"
    # SIGINT's default restored in the child: a shell that starts a job in the background (as a CI
    # runner may start this suite) makes it ignored, and an ignored signal is inherited through exec
    proc = subprocess.Popen([sys.executable, str(HERE / "crashing_cli.py"), "batch", str(jobs), "--out", str(out),
                             "--workers", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not list((out / ".emotive-batch").glob("j*.json")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)     # Ctrl-C after the first job finished
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    status, _ = statuses(out)
    done = {k for k, v in status.items() if v == "ok"}
    assert done and "not run" in status.values(), status
    again = emotive("batch", jobs, "--out", out, "--workers", 1)
    assert again.returncode == 0, again.stderr
    status, _ = statuses(out)
    assert {k for k, v in status.items() if v == "skipped"} == done
    assert all(v in ("ok", "skipped") for v in status.values()) and all((out / f"j{i}.csv").exists() for i in range(6))


def test_one_spec_as_a_plain_command(tmp_path):
    spec = tmp_path / "shot.json"
    spec.write_text(json.dumps({"id": "shot", "text": "I am so happy to see you!", "fps": 24,
                                "outputs": ["renders/shot.csv", "shot-report.json"]}, indent=1))
    proc = emotive("job", spec, via=ROOT / "cli.py")    # as `blender -b --python cli.py -- job spec.json`
    assert proc.returncode == 0, proc.stderr
    assert "emotive: reading the emotions…" in proc.stderr.splitlines()
    assert json.loads((tmp_path / "shot-report.json").read_text())["fps"] == 24
    assert (tmp_path / "renders" / "shot.csv").exists() and not list(tmp_path.glob("*.blend"))
    again = emotive("job", spec)
    assert again.returncode == 0 and "skipped" in again.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": "bad", "text": "Hi", "outputs": ["b.glb"], "target": "elbows"}')
    proc = emotive("job", bad)
    assert proc.returncode == 2 and f"{bad}: job 'bad': argument --target" in proc.stderr


def test_cli_py_runs_a_batch_too(tmp_path):
    jobs = write_jobs(tmp_path / "jobs.jsonl", {"id": "a", "text": "Hello!", "outputs": ["a.csv"]})
    proc = emotive("batch", jobs, "--out", tmp_path / "out", "--workers", 1, via=ROOT / "cli.py")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "a.csv").exists()


@pytest.fixture
def dask_cluster(tmp_path):
    """A Dask scheduler and a worker process with 2 single-threaded workers, started as a farm
    starts them (their own processes and command lines, not forked from this Blender-holding test
    process, whose sys.path a spawned worker would inherit): -> the scheduler file."""
    import os

    file = tmp_path / "scheduler.json"
    # allowed-failures 0: the first worker a job kills reports it (Dask would otherwise retry it)
    env = {**os.environ, "PYTHONPATH": str(HERE), "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--scheduler-file", str(file),
                                  "--port", "0", "--no-dashboard", "--host", "127.0.0.1"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not file.exists() and time.time() < deadline:
        time.sleep(0.2)
    workers = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(file),
                                "--nworkers", "2", "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
                               env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield file
    finally:
        for proc in (workers, scheduler):
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_the_same_jobs_on_a_dask_cluster(tmp_path, dask_cluster):
    from distributed import Client

    import crashing_cli

    jobs = write_jobs(tmp_path / "jobs.jsonl",
                      {"id": "a", "text": "What a lovely day!", "outputs": ["a.glb"]},
                      {"id": "crash", "text": "Crash now.", "outputs": ["crash.csv"]},
                      {"id": "b", "text": "Why did you lie to me?", "outputs": ["b.csv", "b.json"]},
                      {"id": "c", "text": "Hello.", "head": f"{tmp_path / 'none.blend'}:Face", "outputs": ["c.csv"]},
                      {"id": "hang", "text": "Hang now.", "outputs": ["hang.csv"]})
    with Client(scheduler_file=str(dask_cluster), timeout=60) as client:
        client.wait_for_workers(2, timeout=120)
        client.run(crashing_cli.install)
        address = client.scheduler.address
        proc = emotive("batch", jobs, "--out", tmp_path / "out", "--scheduler", address, "--timeout", 8)
    assert proc.returncode == 1, proc.stderr
    status, entries = statuses(tmp_path / "out")
    assert status == {"a": "ok", "crash": "crashed", "b": "ok", "c": "failed", "hang": "timeout"}, proc.stderr
    assert "head file not found" in entries["c"]["error"] and "KilledWorker" in entries["crash"]["error"]
    assert (tmp_path / "out" / "a.glb").read_bytes()[:4] == b"glTF"
    assert json.loads((tmp_path / "out" / "b.json").read_text())["segments"]
    assert f"on dask {address}" in proc.stderr
