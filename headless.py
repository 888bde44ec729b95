"""The command line: `python -m emotive text …` and `blender -b --python cli.py -- text …`.

Validates every argument before touching a scene, then runs the same core and adapters as the
operators. Exit codes: 0 done, 2 bad input (message on stderr), 1 unexpected failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .errors import EmotiveError

RENDER_SUFFIXES = {".png": "sheet", ".mp4": "video"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m emotive", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    text = commands.add_parser("text", help="animate a face from text")
    source = text.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="the text to animate")
    source.add_argument("--text-file", type=Path, help="a UTF-8 text file to animate")
    text.add_argument("--out", type=Path, required=True, help="the .blend file to write")
    text.add_argument("--report", type=Path, help="write a JSON report of the segments here")
    text.add_argument("--render", type=Path, action="append", default=[],
                      help="preview: a .png contact sheet of apex frames and/or an .mp4 video (repeatable)")
    text.add_argument("--engine", choices=("workbench", "cycles"), default="workbench",
                      help="render engine for --render (cycles runs on the CPU)")
    text.add_argument("--head", default="default",
                      help="'default' for the built-in head, or FILE.blend:OBJECT for your own mesh")
    text.add_argument("--fps", type=float, default=30.0)
    text.add_argument("--wpm", type=float, default=160.0, help="reading rate, words per minute")
    text.add_argument("--intensity", type=float, default=1.0, help="expression strength, 0-2")
    text.add_argument("--seed", type=int, default=0, help="seed of blinks and idle motion")
    text.add_argument("--timings", type=Path,
                      help="JSON file: a list of [start, end] seconds, one per segment, instead of --wpm")
    text.add_argument("--model", type=Path, help="a text-emotion model other than the shipped one")
    return parser


def _writable(path: Path, what: str, suffixes: tuple[str, ...]) -> Path:
    path = path.expanduser().resolve()
    if path.suffix.lower() not in suffixes:
        raise EmotiveError(f"{what} '{path}' must end in {' or '.join(suffixes)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EmotiveError(f"cannot create the folder for {what} '{path}': {exc.strerror}") from exc
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise EmotiveError(f"cannot write {what} '{path}': permission denied")
    return path


def _read_text(args) -> str:
    if args.text is not None:
        return args.text
    path = args.text_file
    if not path.is_file():
        raise EmotiveError(f"text file not found: '{path}'")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise EmotiveError(f"'{path}' is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _read_timings(path: Path | None):
    if path is None:
        return None
    try:
        timings = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EmotiveError(f"timings file not found: '{path}'") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EmotiveError(f"timings file '{path}' is not valid JSON: {exc}") from exc
    if not isinstance(timings, list):
        raise EmotiveError(f"timings file '{path}' must hold a list of [start, end] pairs")
    return timings


def load_head(spec: str):
    """Reset Blender to an empty scene holding the head; return the head object."""
    import bpy

    from .rigs.blender_head import create_default_head

    if spec == "default":
        bpy.ops.wm.read_homefile(use_empty=True)
        return create_default_head(bpy.context.scene.collection)
    blend, sep, name = spec.rpartition(":")
    if not sep or not blend.lower().endswith(".blend") or not name:
        raise EmotiveError(f"--head must be 'default' or FILE.blend:OBJECT, got '{spec}'")
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


def _progress_printer():
    last = [-1]

    def show(fraction, message):
        pct = int(fraction * 100)
        if pct // 10 != last[0] // 10 or pct == 100:
            last[0] = pct
            print(f"emotive: {message} {pct}%", file=sys.stderr, flush=True)
    return show


def run_text(args) -> int:
    import bpy

    from .pipeline.text_to_animation import build_report, check_rate, check_text, run_text_animation, write_report
    from .rigs.blender_keys import check_target, set_scene_range, take_name, write_shape_key_take

    # Everything a user can get wrong is checked before any work is done.
    text = check_text(_read_text(args))
    check_rate(args.fps, args.wpm, args.intensity)
    out = _writable(args.out, "--out", (".blend",))
    report_path = _writable(args.report, "--report", (".json",)) if args.report else None
    renders = [_writable(p, "--render", tuple(RENDER_SUFFIXES)) for p in args.render]
    timings = _read_timings(args.timings)
    if args.model is not None and not args.model.is_file():
        raise EmotiveError(f"model file not found: '{args.model}'")

    head = load_head(args.head)
    check_target(head)
    animation = run_text_animation(text, progress=_progress_printer(), fps=args.fps, wpm=args.wpm,
                                   intensity=args.intensity, seed=args.seed, timings=timings,
                                   model_path=str(args.model) if args.model else None)
    channels = animation.active_channels
    check_target(head, channels)
    scene = bpy.context.scene
    scene.frame_start = 1
    action = write_shape_key_take(head, animation.performance.weights, channels,
                                  name=take_name(text), frame_start=1)
    set_scene_range(scene, 1, len(animation.performance.frames), fps=args.fps)
    report = build_report(animation, channels, frame_start=1, action_name=action.name, target=head.name)

    for warning in animation.timeline.warnings:
        print(f"emotive: warning: {warning}", file=sys.stderr)
    if renders:
        from .preview_render import ensure_camera_and_light, render_contact_sheet, render_video

        ensure_camera_and_light(scene, head)
        for path in renders:
            if RENDER_SUFFIXES[path.suffix.lower()] == "sheet":
                apexes = [(s["start_frame"] + s["end_frame"]) // 2 for s in report["segments"]]
                render_contact_sheet(scene, apexes[:24], path, engine=args.engine)
            else:
                render_video(scene, path, engine=args.engine)
            print(f"emotive: rendered {path}", file=sys.stderr)
        scene.frame_set(scene.frame_start)
    bpy.ops.wm.save_as_mainfile(filepath=str(out), check_existing=False)
    if report_path:
        write_report(report, report_path)
    print(f"emotive: wrote {out} ({len(report['segments'])} segments, frames "
          f"{report['frame_start']}-{report['frame_end']}, action '{action.name}')", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "text":
            return run_text(args)
    except EmotiveError as exc:
        print(f"emotive: error: {exc}", file=sys.stderr)
        return 2
    return 1
