"""Batch throughput: 100 one-sentence text jobs, each to a .glb (the default head, 52 ARKit keys).

1. `python -m emotive batch jobs.jsonl --out DIR --workers 2`, timed from the command's start to its
   exit: reading and checking the file, starting the workers (each imports Blender once) and running
   every job. Goal: under 60 s on this 2-core machine.
2. The same jobs on a dask.distributed LocalCluster (processes, 1 thread each) of 1 worker and of
   2 workers, timed from the command's start (the cluster is already up, as a farm's would be; its
   workers import Blender on their first job): the speed-up of 2 workers against 1.

Per-job seconds are each job's own run in its worker (batch_report.json). The machine is shared, so
the load average is printed beside the figures. Run: .venv/bin/python bench/bench_batch.py (~3 min)
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

JOBS = 100
SENTENCES = ["What a lovely day it is!", "Why did you lie to me?", "I am so angry with you.",
             "That is the saddest thing I have heard.", "Oh, what a surprise!", "The train leaves at nine.",
             "I miss her terribly.", "Get away from me!", "Thank you so much for coming.", "Is anyone there?"]


def write_jobs(folder: Path) -> Path:
    path = folder / "jobs.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i in range(JOBS):
            f.write(json.dumps({"id": f"line{i:03d}", "text": f"{SENTENCES[i % len(SENTENCES)]}",
                                "seed": i, "outputs": [f"line{i:03d}.glb"]}) + "\n")
    return path


def cpu_seconds() -> float:
    """CPU time of this process's finished children (and theirs, once waited for): the workers."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(jobs: Path, out: Path, *flags) -> dict:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "emotive", "batch", str(jobs), "--out", str(out), *flags],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"batch failed ({proc.returncode}):\n{proc.stderr}")
    report = json.loads((out / "batch_report.json").read_text())
    per_job = [j["seconds"] for j in report["jobs"]]
    assert len(per_job) == JOBS and all(j["status"] == "ok" for j in report["jobs"])
    return {"seconds": seconds, "median_job": statistics.median(per_job), "mean_job": statistics.mean(per_job)}


def show(name: str, r: dict) -> None:
    print(f"{name:<28} {r['seconds']:6.1f} s total, {JOBS / r['seconds']:4.2f} jobs/s; per job in its worker: "
          f"median {r['median_job']:.2f} s, mean {r['mean_job']:.2f} s; {r['cpu']:.0f} CPU s in all "
          f"({r['cpu'] / JOBS:.2f} per job)", flush=True)


def main() -> None:
    from distributed import LocalCluster

    print(f"{JOBS} one-sentence text jobs to .glb; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        jobs = write_jobs(tmp)
        cpu = cpu_seconds()
        local = run(jobs, tmp / "local", "--workers", "2")
        local["cpu"] = cpu_seconds() - cpu
        show("pebble pool, 2 workers", local)
        # The CPU time over the cores is what the run would take with the cores to itself.
        print(f"  goal < 60 s: {'met' if local['seconds'] < 60 else 'NOT met'} (with both cores free: "
              f"~{local['cpu'] / 2:.0f} s)")
        dask = {}
        for workers in (1, 2):
            cpu = cpu_seconds()
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster:
                dask[workers] = run(jobs, tmp / f"dask{workers}", "--scheduler", cluster.scheduler_address)
            dask[workers]["cpu"] = cpu_seconds() - cpu      # the cluster's workers included, once closed
            show(f"Dask LocalCluster, {workers} worker{'s' * (workers > 1)}", dask[workers])
        print(f"Dask speed-up, 2 workers against 1: {dask[1]['seconds'] / dask[2]['seconds']:.2f}x "
              f"(load average now {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
