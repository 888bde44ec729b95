"""A headless job, bpy-free: what to animate (a source and its inputs), on which head and target,
and which files to write. Every subcommand turns its arguments into a Job and hands it to
commands.run_job; batch.py reads the same Jobs from a job file (jobfile.py).

What a user can get wrong in a job's own fields is checked here, before Blender loads anything
(the target kinds come from the bpy-free rigs/targets.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EmotiveError
from ..rigs.targets import check_motion, target_kind

RENDER_SUFFIXES = {".png": "sheet", ".mp4": "video"}
# --export: the suffixes of rigs/blender/export.py's EXPORTERS (bpy-free here; a Blender test keeps
# the two equal)
EXPORT_SUFFIXES = (".glb", ".gltf", ".fbx", ".csv")
ENGINES = {"workbench": 'BLENDER_WORKBENCH', "cycles": 'CYCLES'}  # --engine -> Blender's engine


@dataclass
class Job:
    source: str                   # a key of pipeline.SOURCES
    inputs: dict                  # keyword arguments of that source's iter_take (keep_landmarks aside)
    label: str                    # the words the take's Action is named after
    out: Path | None              # the .blend written; None: not saved (a batch job that asks for none)
    head: str = "default"         # "default", "rigged" or FILE.blend:OBJECT
    target: str = "arkit"         # a key of rigs.blender.targets.TARGETS
    rig: str | None = None        # the armature keyed by the "bones" target (ARMATURE or FILE.blend:ARMATURE)
    report: Path | None = None
    renders: list[Path] = field(default_factory=list)
    engine: str = "workbench"
    exports: list[Path] = field(default_factory=list)   # animation files (glb, gltf, fbx, csv)


def writable(path: Path, what: str, suffixes: tuple[str, ...]) -> Path:
    """The absolute path, its folder created; EmotiveError when it cannot be written."""
    path = Path(path).expanduser().resolve()
    if path.suffix.lower() not in suffixes:
        raise EmotiveError(f"{what} '{path}' must end in {' or '.join(suffixes)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EmotiveError(f"cannot create the folder for {what} '{path}': {exc.strerror}") from exc
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise EmotiveError(f"cannot write {what} '{path}': permission denied")
    return path


def check_job(job: Job) -> Job:
    """The job with its outputs resolved (their folders made), or EmotiveError naming the first
    problem. What only the head's file can tell (its objects, its rig) is checked when it is loaded."""
    kind = target_kind(job.target)
    if job.engine not in ENGINES:
        raise EmotiveError(f"unknown render engine {job.engine!r}; use one of {', '.join(ENGINES)}")
    check_motion(job.target, job.inputs.get("motion"), needed="the generated motion (--motion landmark)")
    if kind.keys_bones:
        if job.rig is None and job.head != "rigged":
            raise EmotiveError("--target bones needs --rig ARMATURE (the face rig deforming the head) "
                               "or --head rigged")
        if job.head == "default":
            raise EmotiveError("--rig needs --head FILE.blend:OBJECT (the head skinned to the rig, in that "
                               "file) or --head rigged")
    elif job.rig is not None:
        raise EmotiveError(f"--rig (and --head rigged) key the face rig's bones; they do not combine with "
                           f"--target {job.target}")
    if job.out is not None:
        job.out = writable(job.out, "--out", (".blend",))
    if job.report is not None:
        job.report = writable(job.report, "--report", (".json",))
    job.renders = [writable(p, "--render", tuple(RENDER_SUFFIXES)) for p in job.renders]
    job.exports = [writable(p, "--export", EXPORT_SUFFIXES) for p in job.exports]
    outputs = [job.out, job.report, *job.renders, *job.exports]
    seen = set()
    for path in filter(None, outputs):
        if path in seen:
            raise EmotiveError(f"'{path}' is named as two outputs of the job")
        seen.add(path)
    return job
