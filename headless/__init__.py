"""The command line: `python -m emotive text …` and `blender -b --python cli.py -- text …`.

One subcommand per input kind (inputs.INPUTS); each turns its arguments into a Job (jobs.py),
checked before Blender loads anything, and runs it through commands.run_job. Exit codes: 0 done,
2 bad input (message on stderr), 1 unexpected failure.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from ..errors import EmotiveError
from ..rigs.targets import KINDS
from .inputs import INPUTS
from .jobs import ENGINES, Job, check_job


def _job_arguments(parser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="the .blend file to write")
    parser.add_argument("--report", type=Path, help="write a JSON report of the segments here")
    parser.add_argument("--render", type=Path, action="append", default=[],
                        help="preview: a .png contact sheet of apex frames and/or an .mp4 video (repeatable)")
    parser.add_argument("--engine", choices=ENGINES, default="workbench",
                        help="render engine for --render (cycles runs on the CPU)")
    parser.add_argument("--head", default="default",
                        help="'default' for the built-in head, 'rigged' for it on MakeHuman's Rigify face "
                             "rig (keys the rig's bones), or FILE.blend:OBJECT for your own mesh")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0, help="seed of blinks and idle motion")
    parser.add_argument("--target", choices=tuple(KINDS),
                        help="what is keyed: " + "; ".join(f"{k}: {t.label}" for k, t in KINDS.items())
                             + " (default: arkit, or bones with --rig / --head rigged)")
    parser.add_argument("--keys", choices=("arkit", "custom"),
                        help="the older spelling of --target arkit|custom")
    parser.add_argument("--rig", metavar="ARMATURE",
                        help="key the face rig ARMATURE (or FILE.blend:ARMATURE: an object in the --head file "
                             "whose Armature modifier deforms the head) instead of shape keys; fitted first "
                             "when it has no stored fit")
    parser.add_argument("--verbose", action="store_true", help="show Blender's own output too")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m emotive", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("train-expressions", add_help=False,
                        help="train the expression LSTM (see: train-expressions --help)")
    for kind in INPUTS.values():
        sub = commands.add_parser(kind.name, help=kind.help)
        kind.add_arguments(sub)
        _job_arguments(sub)
    return parser


def target_of(args) -> str:
    """The target kind the flags ask for; EmotiveError when they contradict each other.
    --rig and --head rigged mean bones; --keys arkit, the old default, gives way to them."""
    bones = args.rig is not None or args.head == "rigged"
    asked = {flag: kind for flag, kind in (("--target", args.target), ("--keys", args.keys)) if kind}
    if bones:
        clash = [f"{flag} {kind}" for flag, kind in asked.items()
                 if kind != "bones" and (flag, kind) != ("--keys", "arkit")]
        if clash:
            raise EmotiveError(f"--rig (and --head rigged) key the face rig's bones; they do not combine "
                               f"with {clash[0]}")
        return "bones"
    if len(set(asked.values())) > 1:
        raise EmotiveError(f"--target {args.target} and --keys {args.keys} contradict each other")
    return next(iter(asked.values()), "arkit")


def job_from_args(args) -> Job:
    """The subcommand's arguments as a checked Job (bpy-free)."""
    label, inputs = INPUTS[args.command].inputs(args)
    job = Job(source=args.command, inputs=inputs, label=label, out=args.out, head=args.head,
              target=target_of(args), rig=args.rig, report=args.report, renders=list(args.render),
              engine=args.engine)
    return check_job(job)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["train-expressions"]:  # the training script owns its own arguments
        from ..ml.train_expressions import main as train

        train(argv[1:])  # exits 2 with a message on bad sequences, before any training
        return 0
    args = build_parser().parse_args(argv)
    from .terminal import Terminal

    terminal = Terminal(verbose=args.verbose)
    try:
        from .commands import run_job

        run_job(job_from_args(args), terminal)
        return 0
    except EmotiveError as exc:
        terminal.error(str(exc))
        return 2
    except Exception:  # noqa: BLE001 - the user gets the traceback and Blender's last words
        terminal.error("unexpected failure:\n" + traceback.format_exc().rstrip())
        tail = terminal.log_tail()
        if tail:
            terminal.say(f"Blender's last output:\n{tail.rstrip()}")
        return 1
    except BaseException:  # Ctrl-C: the running stage did not finish
        terminal.end_stage(failed=True)
        raise
    finally:
        terminal.close()
