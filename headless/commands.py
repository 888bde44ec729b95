"""run_job: the one headless path behind every subcommand and each batch job (batch.py).

head -> target (made ready, then every check) -> the source's take, stage by stage -> a new
Action -> report, previews, .blend. The job's own fields were checked before (jobs.check_job);
what only the head's file can tell raises EmotiveError (exit code 2) before any take is made, and
no file but the output folders exists before the take is keyed.
"""

from __future__ import annotations

from pathlib import Path

import bpy

from ..errors import EmotiveError
from ..pipeline import SOURCES
from ..pipeline.report import build_report, write_report
from ..pipeline.take import drain
from ..rigs.blender.actions import check_target, set_scene_range, take_name
from ..rigs.blender.export import export
from ..rigs.blender.sound import place_audio
from ..rigs.blender.targets import TARGETS, prepare_take
from .jobs import RENDER_SUFFIXES, Job
from .terminal import Terminal


def load_head(spec: str):
    """Reset Blender to an empty scene holding the head; return the head object."""
    from ..rigs.blender.head import create_default_head

    if spec == "default":
        bpy.ops.wm.read_homefile(use_empty=True)
        return create_default_head(bpy.context.scene.collection)
    if spec == "rigged":
        from ..rigs.blender.makehuman_rig import makehuman_face_rig

        bpy.ops.wm.read_homefile(use_empty=True)
        return makehuman_face_rig(bpy.context.scene.collection)[1]
    blend, sep, name = spec.rpartition(":")
    if not sep or not blend.lower().endswith(".blend") or not name:
        raise EmotiveError(f"--head must be 'default', 'rigged' or FILE.blend:OBJECT, got '{spec}'")
    if not Path(blend).is_file():
        raise EmotiveError(f"head file not found: '{blend}'")
    try:
        bpy.ops.wm.open_mainfile(filepath=str(Path(blend).resolve()))
    except RuntimeError as exc:
        raise EmotiveError(f"cannot open '{blend}' as a Blender file: {exc}") from exc
    obj = bpy.data.objects.get(name)
    if obj is None:
        meshes = sorted(o.name for o in bpy.data.objects if o.type == 'MESH')
        raise EmotiveError(f"no object '{name}' in '{blend}'; its meshes are: {', '.join(meshes) or 'none'}")
    return obj


def find_rig(name: str):
    """The armature --rig names (ARMATURE, or FILE.blend:ARMATURE in the --head file)."""
    blend, sep, rest = name.rpartition(":")
    if sep and blend.lower().endswith(".blend"):
        if Path(blend).resolve() != Path(bpy.data.filepath).resolve():
            raise EmotiveError(f"--rig '{name}': the armature must be in the --head file ({bpy.data.filepath})")
        name = rest
    rig = bpy.data.objects.get(name)
    if rig is None or rig.type != 'ARMATURE':
        armatures = sorted(o.name for o in bpy.data.objects if o.type == 'ARMATURE')
        raise EmotiveError(f"--rig: no armature '{name}' in the head's file; its armatures are: "
                           f"{', '.join(armatures) or 'none'}")
    return rig


def prepare_character(job: Job, terminal: Terminal):
    """The head loaded and made ready for the job's target -> (head, target, extras for the report)."""
    with terminal.quiet_stage("loading the head"):
        head = load_head(job.head)
    check_target(head)
    rig = find_rig(job.rig) if job.rig is not None else None  # None: the rig deforming the head
    extras = TARGETS[job.target].make_ready(head, rig=rig, stage=terminal.quiet_stage)
    target = prepare_take(head, job.target, job.inputs.get("motion", "landmark"))
    return head, target, extras


def render_previews(job: Job, scene, head, report: dict, terminal: Terminal) -> None:
    from .preview import caption, ensure_camera_and_light, render_contact_sheet, render_video

    ensure_camera_and_light(scene, head)
    for path in job.renders:
        if RENDER_SUFFIXES[path.suffix.lower()] == "sheet":
            segments = report["segments"][:24]
            apexes = [(s["start_frame"] + s["end_frame"]) // 2 for s in segments]
            # the emotion the face shows: a speech row's `emotion` is the voice's class, its face the fused one
            captions = [caption(i + 1, s.get("fused_emotion", s["emotion"]), s["text"]) for i, s in enumerate(segments)]
            with terminal.quiet_stage(f"rendering {path.name}", total=len(apexes), unit="frame"):
                render_contact_sheet(scene, apexes, path, engine=job.engine, captions=captions,
                                     on_frame=terminal.advance)
        else:
            frames = scene.frame_end - scene.frame_start + 1
            with terminal.quiet_stage(f"rendering {path.name}", total=frames, unit="frame"):
                render_video(scene, path, engine=job.engine, on_frame=terminal.advance)
    scene.frame_set(scene.frame_start)


def run_job(job: Job, terminal: Terminal) -> dict:
    """Run one checked Job (jobs.check_job); -> its report. EmotiveError on bad input."""
    head, target, extras = prepare_character(job, terminal)
    steps = SOURCES[job.source](**job.inputs, keep_landmarks=target.needs_landmarks)
    with terminal.hushed():    # the trackers' and recognisers' own logging (MediaPipe, TFLite, CTranslate2)
        take = drain(steps, terminal.progress)
    terminal.end_stage()
    scene = bpy.context.scene
    scene.frame_start = 1
    keyed = target.key(take, name=take_name(job.label), frame_start=1)
    set_scene_range(scene, 1, take.n_frames, fps=take.fps)
    if take.audio:
        place_audio(scene, take.audio, 1)
    report = build_report(take, keyed.keyed, frame_start=1, action_name=keyed.action.name,
                          target=head.name, drive=target.kind, notes=keyed.notes)
    report.update(extras)
    for note in keyed.notes:
        terminal.say(note)
    for warning in take.warnings:
        terminal.warn(warning)
    if job.renders:
        render_previews(job, scene, head, report, terminal)
    for path in job.exports:
        with terminal.quiet_stage(f"exporting {path.name}"):
            exported = export(path, head, scene)
        report.setdefault("exports", []).append({"file": str(exported.path), "format": exported.format,
                                                 "bytes": exported.size})
        terminal.say(exported.summary())
    if job.out is not None:
        with terminal.quiet_stage(f"saving {job.out.name}"):
            bpy.ops.wm.save_as_mainfile(filepath=str(job.out), check_existing=False)
    if job.report:
        write_report(report, job.report)
    terminal.say(f"{f'wrote {job.out}' if job.out is not None else 'done'} ({len(report['segments'])} segments, "
                 f"frames {report['frame_start']}-{report['frame_end']}, action '{keyed.action.name}')")
    return report

