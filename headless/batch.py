"""`batch` and `job`: many specs (jobfile.py) run in worker processes, or one spec run here.

Each job runs in a worker process that imports Blender once and runs many jobs (run_job resets
Blender by loading the head anew). A worker that raises, dies (a segfault, os._exit) or passes
--timeout is reported for that job and replaced; the other jobs go on. Locally the workers are a
pebble.ProcessPool; with --scheduler they are a dask.distributed cluster's (the output folder must
then be one the workers share). A job's manifest (jobfile.write_manifest) is written once all its
outputs exist, so a re-run skips what is finished and an interrupted batch resumes.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import threading
import time
import traceback
from concurrent.futures import CancelledError, TimeoutError as FutureTimeout
from pathlib import Path

from ..errors import EmotiveError
from .jobfile import REPORT, STATE, JobFileError, JobSpec, build_job, clear_manifest, is_complete, \
    manifest_path, read_job_file, read_spec_file, write_manifest

MAX_TASKS = 200          # jobs a local worker runs before it is replaced (bounds any slow leak)
STATUSES = ("ok", "skipped", "failed", "timeout", "crashed", "not run")
_BLENDER = threading.Lock()   # a Dask worker may run tasks on several threads; Blender is one scene


def add_arguments(batch, job) -> None:
    batch.add_argument("jobs", type=Path, help="the job file: JSON Lines (one job per line) or CSV with the same "
                                               "columns (outputs separated by ';' or '|')")
    batch.add_argument("--out", type=Path, required=True, help="the folder every job's outputs are relative to")
    batch.add_argument("--workers", type=int, default=max(1, min(os.cpu_count() or 1, 4)),
                       help="worker processes (default: the CPU count, at most 4)")
    batch.add_argument("--scheduler", metavar="ADDRESS",
                       help="run the jobs on this dask.distributed scheduler (tcp://host:8786) instead")
    batch.add_argument("--timeout", type=float, help="seconds a job may run before it is stopped")
    batch.add_argument("--force", action="store_true", help="run finished jobs again too")
    job.add_argument("spec", type=Path, help="one job as a JSON object (the format of one line of a job file)")
    job.add_argument("--out", type=Path, help="the folder its outputs are relative to (default: the spec's)")
    job.add_argument("--force", action="store_true", help="run it even when its outputs are complete")
    job.add_argument("--verbose", action="store_true", help="show Blender's own output too")


# --- in the worker


def _init_worker(log_dir: str) -> None:
    """A local worker: Ctrl-C is the parent's to handle; its stray output (a crash's last words too)
    goes to DIR/.emotive-batch/workers.log rather than through the parent's progress bar; Blender
    imported once, before the first job."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    log = os.open(os.path.join(log_dir, "workers.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    from . import commands  # noqa: F401 - imports bpy


def run_in_worker(job: JobSpec, out_dir: str) -> dict:
    """Run one job and record its manifest -> {status, seconds, error, warnings}. Bad input and
    failures come back as status 'failed'; only a dead worker or a timeout escape (the runner
    reports those)."""
    from .commands import run_job
    from .terminal import Terminal

    started = time.perf_counter()
    terminal = Terminal(stream=io.StringIO())
    result = {"status": "ok", "error": None}
    try:
        with _BLENDER:
            clear_manifest(Path(out_dir), job.id)
            report = run_job(build_job(job), terminal)
        missing = [str(p) for p in job.outputs if not p.is_file()]
        if missing:
            raise EmotiveError(f"the job ended without writing {', '.join(missing)}")
        write_manifest(Path(out_dir), job)
        result["warnings"] = list(report.get("warnings", []))
    except EmotiveError as exc:
        result.update(status="failed", error=str(exc))
    except Exception:  # noqa: BLE001 - one job's failure is reported, the worker goes on
        tail = terminal.log_tail().rstrip()
        result.update(status="failed", error=traceback.format_exc().rstrip()
                      + (f"\nBlender's last output:\n{tail}" if tail else ""))
    finally:
        terminal.close()
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result


# --- in the parent


class Progress:
    """A tqdm bar over the jobs on a terminal; a line per finished job in a log."""

    def __init__(self, total: int, stream):
        self.stream, self.total, self.done, self.bar = stream, total, 0, None
        if stream.isatty() and total:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, desc="emotive: jobs", unit="job", file=stream, dynamic_ncols=True)

    def say(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(f"emotive: {line}", file=self.stream)
        else:
            print(f"emotive: {line}", file=self.stream, flush=True)

    def finished(self, entry: dict) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
            if entry["status"] != "ok":
                self.say(f"{entry['id']}: {entry['status']}" + _first_line(entry.get("error")))
        else:
            self.say(f"[{self.done}/{self.total}] {entry['id']}: {entry['status']} in {entry['seconds']:.1f} s"
                     + _first_line(entry.get("error")))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _first_line(error: str | None) -> str:
    if not error:
        return ""
    lines = error.strip().splitlines()
    return f": {lines[-1] if lines[0].startswith('Traceback') else lines[0]}"


def _entry(job: JobSpec, status: str, seconds: float = 0.0, error: str | None = None, **more) -> dict:
    return {"id": job.id, "status": status, "seconds": round(seconds, 3),
            "outputs": [str(p) for p in job.outputs], "error": error, "where": job.where, **more}


def run_local(jobs: list[JobSpec], out_dir: Path, workers: int, timeout: float | None, on_done) -> None:
    """The jobs on a pebble.ProcessPool of `workers` processes; on_done(job, entry) as each ends."""
    import multiprocessing
    from concurrent.futures import as_completed

    try:
        from pebble import ProcessExpired, ProcessPool
    except ImportError:   # a stock Blender's Python has no pebble
        raise EmotiveError(f"batch needs the pebble package: {sys.executable} -m pip install pebble (or run each "
                           "job as its own command: job SPEC.json)") from None

    log_dir = out_dir / STATE
    log_dir.mkdir(parents=True, exist_ok=True)
    # fork where there is one: a worker inherits the package however it was imported (cli.py inside
    # Blender too); the parent has not imported bpy, so there is no Blender state to inherit.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    pool = ProcessPool(max_workers=workers, max_tasks=MAX_TASKS, initializer=_init_worker,
                       initargs=(str(log_dir),), context=context)
    started = {}
    try:
        futures = {}
        for job in jobs:
            futures[pool.schedule(run_in_worker, args=(job, str(out_dir)), timeout=timeout)] = job
            started[job.id] = time.perf_counter()
        for future in as_completed(futures):
            job = futures[future]
            # a worker's own start-up is not the job's time; its run_in_worker measures that
            elapsed = time.perf_counter() - started[job.id]
            try:
                result = future.result()
                on_done(job, _entry(job, result.pop("status"), result.pop("seconds"), result.pop("error"), **result))
            except FutureTimeout:
                on_done(job, _entry(job, "timeout", timeout or 0.0, f"stopped after {timeout:g} s (--timeout)"))
            except ProcessExpired as exc:
                on_done(job, _entry(job, "crashed", elapsed, f"the worker died (exit code {exc.exitcode})"))
            except Exception as exc:  # noqa: BLE001 - e.g. a result that could not be sent back
                on_done(job, _entry(job, "failed", elapsed, f"{type(exc).__name__}: {exc}"))
        pool.close()
    except BaseException:
        pool.stop()
        raise
    finally:
        pool.join()


def run_dask(jobs: list[JobSpec], out_dir: Path, address: str, timeout: float | None, on_done) -> None:
    """The jobs on a dask.distributed cluster, at most one per worker thread at a time (so a job's
    time is its run, and --timeout can be measured from its submission). Dask cannot stop a running
    task: a job past --timeout is reported and its result dropped. A worker that dies is retried by
    Dask as its scheduler's allowed-failures says, then reported as crashed."""
    try:
        from distributed import Client, wait
        from distributed.client import FutureCancelledError
    except ImportError as exc:
        raise EmotiveError(f"--scheduler needs dask.distributed (pip install distributed): {exc}") from exc

    try:
        client = Client(address, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise EmotiveError(f"cannot reach the Dask scheduler at '{address}': {exc}") from exc
    try:
        slots = max(1, sum(client.nthreads().values()))
        queue, pending = list(jobs), {}
        while queue or pending:
            while queue and len(pending) < slots:
                job = queue.pop(0)
                future = client.submit(run_in_worker, job, str(out_dir), pure=False, key=f"emotive-{job.id}-"
                                       f"{time.time_ns()}")
                pending[future] = (job, time.perf_counter())
            try:   # a tick: wait raises on its timeout, and when a future was cancelled
                wait(list(pending), timeout=1.0, return_when="FIRST_COMPLETED")
            except Exception:  # noqa: BLE001 - both are seen below, future by future
                pass
            now = time.perf_counter()
            for future in [f for f in pending if f.done()]:
                job, since = pending.pop(future)
                try:
                    result = future.result()
                    on_done(job, _entry(job, result.pop("status"), result.pop("seconds"), result.pop("error"),
                                        **result))
                except (FutureCancelledError, CancelledError) as exc:
                    on_done(job, _entry(job, "crashed", now - since, f"cancelled by the cluster: {exc}"))
                except Exception as exc:  # noqa: BLE001 - KilledWorker: the job took workers down with it
                    status = "crashed" if type(exc).__name__ == "KilledWorker" else "failed"
                    on_done(job, _entry(job, status, now - since, f"{type(exc).__name__}: {exc}"))
            for future, (job, since) in list(pending.items()):
                if timeout and now - since > timeout:
                    del pending[future]
                    future.cancel()
                    on_done(job, _entry(job, "timeout", now - since,
                                        f"no result after {timeout:g} s (--timeout; Dask lets the task finish)"))
    finally:
        client.close()


def _summary(entries: list[dict]) -> dict[str, int]:
    return {status: n for status in STATUSES if (n := sum(e["status"] == status for e in entries))}


def exit_code(entries: list[dict]) -> int:
    """0 when every job is ok or skipped, 1 otherwise."""
    return 0 if all(e["status"] in ("ok", "skipped") for e in entries) else 1


def write_batch_report(out_dir: Path, entries: list[dict], seconds: float, runner: str, job_file: str) -> Path:
    path = out_dir / REPORT
    data = {"job_file": job_file, "runner": runner, "seconds": round(seconds, 3), "counts": _summary(entries),
            "jobs": entries}
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return path


def _unreported(out_dir: Path, job: JobSpec, began: float) -> dict:
    """A job the runner did not report: 'ok' when its worker finished it in this run (its manifest
    written since `began`, the result still on its way when Ctrl-C came), else 'not run'."""
    manifest = manifest_path(out_dir, job.id)
    if manifest.is_file() and manifest.stat().st_mtime >= began and is_complete(out_dir, job):
        return _entry(job, "ok", error=None)
    return _entry(job, "not run")


def run_batch(args, stream=None) -> int:
    """`batch`: read and check every job (exit 2 naming file and line, nothing run), skip the
    finished ones, run the rest, write DIR/batch_report.json and print a summary."""
    stream = stream or sys.stderr
    started, began = time.perf_counter(), time.time()
    if args.workers < 1:
        print("emotive: error: --workers must be at least 1", file=stream)
        return 2
    if args.timeout is not None and not args.timeout > 0:
        print("emotive: error: --timeout must be a positive number of seconds", file=stream)
        return 2
    out_dir = args.out.expanduser().resolve()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        if not os.access(out_dir, os.W_OK):
            raise JobFileError(f"cannot write to the output folder '{out_dir}': permission denied")
        jobs = read_job_file(args.jobs, out_dir)
    except OSError as exc:
        print(f"emotive: error: cannot create the output folder '{out_dir}': {exc.strerror}", file=stream)
        return 2
    except EmotiveError as exc:
        print("\n".join(f"emotive: error: {line}" for line in str(exc).splitlines()), file=stream)
        return 2

    entries = {}
    todo = []
    for job in jobs:
        if not args.force and is_complete(out_dir, job):
            entries[job.id] = _entry(job, "skipped", error=None)
        else:
            todo.append(job)
    workers = min(args.workers, max(len(todo), 1))
    runner = f"dask {args.scheduler}" if args.scheduler else f"{workers} local worker{'s' * (workers > 1)}"
    skipped = len(jobs) - len(todo)
    print(f"emotive: {len(jobs)} jobs" + (f", {skipped} already done" if skipped else "")
          + (f"; running {len(todo)} on {runner}" if todo else ""), file=stream, flush=True)
    progress = Progress(len(todo), stream)

    def on_done(job, entry):
        entries[job.id] = entry
        progress.finished(entry)

    code = None
    try:
        if todo and args.scheduler:
            run_dask(todo, out_dir, args.scheduler, args.timeout, on_done)
        elif todo:
            run_local(todo, out_dir, min(args.workers, len(todo)), args.timeout, on_done)
    except EmotiveError as exc:
        progress.close()
        print(f"emotive: error: {exc}", file=stream)
        code = 2
    except KeyboardInterrupt:
        progress.close()
        print("emotive: interrupted; finished jobs are kept, run the same command again to resume", file=stream)
        code = 130
    finally:
        progress.close()
    ordered = [entries.get(job.id) or _unreported(out_dir, job, began) for job in jobs]
    seconds = time.perf_counter() - started
    report = write_batch_report(out_dir, ordered, seconds, runner, str(args.jobs))
    counts = _summary(ordered)
    print(f"emotive: {', '.join(f'{n} {s}' for s, n in counts.items())} in {seconds:.1f} s; report: {report}",
          file=stream, flush=True)
    for entry in ordered:
        if entry["status"] not in ("ok", "skipped", "not run"):
            print(f"emotive:   {entry['id']} ({entry['where']}): {entry['status']}{_first_line(entry['error'])}",
                  file=stream)
    return code if code is not None else exit_code(ordered)


def run_spec(args) -> int:
    """`job spec.json`: one spec, run here with the CLI's terminal; skipped when its outputs are
    complete for this very spec. Exit codes as the CLI's."""
    from .terminal import Terminal

    terminal = Terminal(verbose=args.verbose)
    try:
        job = read_spec_file(args.spec, args.out)
        out_dir = (args.out.expanduser().resolve() if args.out else args.spec.resolve().parent)
        if not args.force and is_complete(out_dir, job):
            terminal.say(f"{job.id}: its outputs are complete for this spec; skipped (--force runs it again)")
            return 0
        clear_manifest(out_dir, job.id)
        from .commands import run_job

        run_job(build_job(job), terminal)
        missing = [str(p) for p in job.outputs if not p.is_file()]
        if missing:
            raise EmotiveError(f"the job ended without writing {', '.join(missing)}")
        write_manifest(out_dir, job)
        return 0
    except EmotiveError as exc:
        for line in str(exc).splitlines():
            terminal.error(line)
        return 2
    except Exception:  # noqa: BLE001 - as the CLI: the traceback and Blender's last words
        terminal.error("unexpected failure:\n" + traceback.format_exc().rstrip())
        tail = terminal.log_tail()
        if tail:
            terminal.say(f"Blender's last output:\n{tail.rstrip()}")
        return 1
    finally:
        terminal.close()
