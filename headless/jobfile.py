"""Job files for `batch` and `job` (bpy-free): reading them, turning each spec into its subcommand's
argv, and the manifests that make a batch resumable.

A spec is one JSON object (a line of a .jsonl file, a row of a .csv file, or a whole spec.json):
{"id": "a1", "text": "Hello!", "head": "default", "outputs": ["a1.glb", "a1.csv"], "fps": 24, ...}.
Exactly one input key says what is animated (text, text_file, audio, capture); every other key is
one of that subcommand's own options, spelt as on the command line without the dashes (fps,
alpha_mouth or alpha-mouth, ...). The spec becomes the argv of that subcommand and goes through the
CLI's own parser and checks (headless.job_from_args): there is no second copy of the options here.
Relative input paths are taken from the job file's folder; outputs are relative to the batch's
output folder, and their suffixes say what each one is.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EmotiveError
from .jobs import EXPORT_SUFFIXES, RENDER_SUFFIXES

STATE = ".emotive-batch"         # DIR/.emotive-batch/<id>.json: one manifest per finished job
REPORT = "batch_report.json"
MANIFEST_VERSION = 1
# input key -> (subcommand, its flag; None: the subcommand's positional argument)
INPUT_KEYS = {"text": ("text", "--text"), "text_file": ("text", "--text-file"),
              "audio": ("speech", None), "capture": ("capture", None)}
# The job format names these itself (outputs) or they mean nothing in a batch.
RESERVED = {"out", "report", "render", "export", "verbose", "help"}
ID = re.compile(r"[\w][\w.\-]{0,127}")   # a manifest file name, so no separators or leading dot
TRUE, FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off", ""}


class JobFileError(EmotiveError):
    """A job file that cannot be run as it is (exit code 2, nothing run)."""


@dataclass
class JobSpec:
    id: str
    spec: dict                    # as read (normalised keys), for the report
    argv: list[str]               # the subcommand's command line, --out included
    outputs: list[Path]           # absolute, in the spec's order
    save_blend: bool              # False: no .blend asked for, the scene is not saved
    where: str                    # "jobs.jsonl:3", for messages
    digest: str = ""              # what the manifest compares: the argv and the outputs
    extra: dict = field(default_factory=dict)


def _key(name: str) -> str:
    return str(name).strip().replace("-", "_")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("the CLI parser has no subcommands")


@dataclass
class _Options:
    """What the subcommand's parser accepts: option dest -> its flag, whether it takes a value, and
    whether its value is a path."""
    flags: dict[str, tuple[str, bool, bool]]


def _options(sub: argparse.ArgumentParser) -> _Options:
    flags = {}
    for action in sub._actions:
        longs = [s for s in action.option_strings if s.startswith("--")]
        if not longs or action.dest in RESERVED:
            continue
        takes_value = action.nargs != 0
        flags[action.dest] = (longs[0], takes_value, action.type is Path)
    return _Options(flags)


def _value(key: str, value, where: str) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        raise JobFileError(f"{where}: '{key}' must be a number or text, got {json.dumps(value)}")
    return str(value)


def _flag_on(key: str, value, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
        return value.strip().lower() in TRUE
    raise JobFileError(f"{where}: '{key}' is a switch: true or false, got {json.dumps(value)}")


def _path(value: str, base: Path) -> str:
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else base / path)


def _blend_object(value: str, base: Path) -> str:
    """FILE.blend:NAME with a relative FILE taken from base; any other value unchanged."""
    blend, sep, name = value.rpartition(":")
    if sep and blend.lower().endswith(".blend"):
        return f"{_path(blend, base)}:{name}"
    return value


def _outputs(raw, out_dir: Path, where: str) -> list[Path]:
    if isinstance(raw, str):
        raw = [p for p in re.split(r"[;|]", raw) if p.strip()]
    if not isinstance(raw, list) or not raw or not all(isinstance(p, str) and p.strip() for p in raw):
        raise JobFileError(f"{where}: 'outputs' must list at least one file name, such as [\"take.glb\"]")
    known = (".blend", ".json", *RENDER_SUFFIXES, *EXPORT_SUFFIXES)
    outputs = []
    for name in raw:
        path = (out_dir / name.strip()).resolve()
        if path.suffix.lower() not in known:
            raise JobFileError(f"{where}: output '{name}' must end in one of {', '.join(known)}")
        if out_dir not in path.parents:
            raise JobFileError(f"{where}: output '{name}' must stay inside the output folder '{out_dir}'")
        if path.relative_to(out_dir).parts[0] in (STATE, REPORT):
            raise JobFileError(f"{where}: output '{name}' is the batch's own file")
        outputs.append(path)
    for suffix in (".blend", ".json"):
        if sum(p.suffix.lower() == suffix for p in outputs) > 1:
            raise JobFileError(f"{where}: a job writes one {suffix} file at most")
    if len(set(outputs)) < len(outputs):
        raise JobFileError(f"{where}: an output is named twice")
    return outputs


def _settings_argv(options: _Options, spec: dict) -> list[str]:
    """The user's settings (inputs.SETTING_DEFAULTS) the spec does not override, as flags: a job then
    means the same on every worker (a Dask worker on another machine reads no settings file of
    this one), and a changed setting changes the job's digest, so a re-run redoes it. An empty
    model setting (the shipped model) has no flag to say so: a worker whose own settings name a
    model of its own would use that one."""
    from .inputs import SETTING_DEFAULTS, setting

    argv = []
    for dest in SETTING_DEFAULTS:
        value = setting(dest)
        if dest in options.flags and dest not in spec and value is not None:
            argv += [options.flags[dest][0], str(value)]
    return argv


def spec_to_job(raw: dict, out_dir: Path, base: Path, where: str, parser=None) -> JobSpec:
    """One spec -> its JobSpec; JobFileError naming `where` for what the job format itself forbids.
    (The options' values are checked later by the CLI's own parser and checks: check_specs.)"""
    from . import build_parser

    if not isinstance(raw, dict):
        raise JobFileError(f"{where}: a job must be a JSON object, got {type(raw).__name__}")
    spec = {}
    for name, value in raw.items():
        key = _key(name)
        if key in spec:
            raise JobFileError(f"{where}: '{key}' is given twice")
        if value is not None and value != "":       # an empty CSV cell: not given
            spec[key] = value
    job_id = spec.get("id")
    if isinstance(job_id, int) and not isinstance(job_id, bool):
        job_id = str(job_id)
    if not isinstance(job_id, str) or not ID.fullmatch(job_id):
        raise JobFileError(f"{where}: every job needs an 'id': letters, digits, '_', '-' or '.' (not first), "
                           f"at most 128; got {json.dumps(spec.get('id'))}")
    given = [k for k in INPUT_KEYS if k in spec]
    if len(given) != 1:
        raise JobFileError(f"{where}: job '{job_id}' needs exactly one input of {', '.join(INPUT_KEYS)}; "
                           f"it has {', '.join(given) or 'none'}")
    command, flag = INPUT_KEYS[given[0]]
    outputs = _outputs(spec.get("outputs"), out_dir, f"{where}: job '{job_id}'")
    options = _options(_subparsers(parser or build_parser())[command])

    source = _value(given[0], spec[given[0]], where)
    if given[0] != "text":
        source = _path(source, base)
    argv = [command] + ([flag, source] if flag else [source])
    for key in sorted(set(spec) - {"id", "outputs", given[0]}):
        if key not in options.flags or key in INPUT_KEYS:
            allowed = sorted(set(options.flags) - set(INPUT_KEYS))
            raise JobFileError(f"{where}: job '{job_id}': unknown option '{key}' for {command} jobs; "
                               f"use id, outputs and: {', '.join(allowed)}")
        option, takes_value, is_path = options.flags[key]
        if not takes_value:
            if _flag_on(key, spec[key], f"{where}: job '{job_id}'"):
                argv.append(option)
            continue
        value = _value(key, spec[key], f"{where}: job '{job_id}'")
        if is_path:
            value = _path(value, base)
        elif key in ("head", "rig"):
            value = _blend_object(value, base)
        argv += [option, value]

    argv += _settings_argv(options, spec)
    by_suffix = {p.suffix.lower(): p for p in outputs}
    blend = by_suffix.get(".blend")
    # Without a .blend the job still needs --out (and --voice writes its .wav beside it): a scratch
    # path in the batch's own folder, never saved to (run_job skips saving when Job.out is None).
    argv += ["--out", str(blend or out_dir / STATE / "scratch" / f"{job_id}.blend")]
    if ".json" in by_suffix:
        argv += ["--report", str(by_suffix[".json"])]
    for path in outputs:
        if path.suffix.lower() in RENDER_SUFFIXES:
            argv += ["--render", str(path)]
        elif path.suffix.lower() in EXPORT_SUFFIXES:
            argv += ["--export", str(path)]
    job = JobSpec(id=job_id, spec=spec, argv=argv, outputs=outputs, save_blend=blend is not None, where=where)
    job.digest = hashlib.sha256(json.dumps([MANIFEST_VERSION, argv, [str(p) for p in outputs]])
                                .encode()).hexdigest()
    return job


def parse_argv(argv: list[str], parser=None):
    """The CLI's own parse of a job's argv; JobFileError with argparse's message instead of its exit."""
    from . import build_parser

    parser = parser or build_parser()
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            return parser.parse_args(argv)
    except SystemExit:
        lines = [line for line in stderr.getvalue().splitlines() if "error:" in line]
        raise JobFileError(lines[-1].split("error:", 1)[1].strip() if lines else "invalid options") from None


def build_job(job: JobSpec, parser=None):
    """The checked headless Job of a spec, through the CLI's own parser and checks (jobs.check_job
    makes the output folders); EmotiveError on a bad value."""
    from . import job_from_args

    built = job_from_args(parse_argv(job.argv, parser))
    if not job.save_blend:
        built.out = None
    return built


def _read_rows(path: Path):
    """(line number, raw spec) per job of a .jsonl or .csv file; JobFileError naming file and line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise JobFileError(f"job file not found: '{path}'") from None
    except UnicodeDecodeError as exc:
        raise JobFileError(f"'{path}' is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise JobFileError(f"cannot read the job file '{path}': {exc.strerror}") from exc
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if not reader.fieldnames or "id" not in [_key(f or "") for f in reader.fieldnames]:
            raise JobFileError(f"{path}:1: a job CSV needs a header row naming its columns, 'id' among them")
        for row in reader:   # line_num: the row's last line (csv skips blank lines itself)
            if None in row:
                raise JobFileError(f"{path}:{reader.line_num}: more cells than the header has columns")
            if any((v or "").strip() for v in row.values()):
                yield reader.line_num, {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items()}
        return
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise JobFileError(f"{path}:{number}: not a JSON object ({exc.msg} at column {exc.colno}); each "
                               "line of a job file is one job") from None


def read_job_file(path: Path, out_dir: Path, parser=None) -> list[JobSpec]:
    """Every job of the file, in order, their options' values checked by the CLI's own parser and
    checks and no two writing the same file; JobFileError listing every problem with file and line."""
    from . import build_parser

    path, out_dir = Path(path), Path(out_dir).expanduser().resolve()
    parser = parser or build_parser()
    jobs, problems = [], []
    rows = 0
    for number, raw in _read_rows(path):
        rows += 1
        try:
            job = spec_to_job(raw, out_dir, path.resolve().parent, f"{path}:{number}", parser)
        except JobFileError as exc:
            problems.append(str(exc))
            continue
        problems += check_options(job, parser)
        jobs.append(job)
    if not rows:
        raise JobFileError(f"'{path}' holds no jobs")
    problems += check_unique(jobs, path)
    if problems:
        raise JobFileError("\n".join(problems))
    return jobs


def read_spec_file(path: Path, out_dir: Path | None = None, parser=None) -> JobSpec:
    """A single spec (`job spec.json`): one JSON object, possibly over several lines. Outputs are
    relative to out_dir (default: the spec's folder)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise JobFileError(f"job spec not found: '{path}'") from None
    except UnicodeDecodeError as exc:
        raise JobFileError(f"'{path}' is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise JobFileError(f"{path}:{exc.lineno}: not a JSON object ({exc.msg} at column {exc.colno})") from None
    base = path.resolve().parent
    out_dir = Path(out_dir).expanduser().resolve() if out_dir else base
    job = spec_to_job(raw, out_dir, base, str(path), parser)
    problems = check_unique([job], path) + check_options(job, parser)
    if problems:
        raise JobFileError("\n".join(problems))
    return job


def check_options(job: JobSpec, parser=None) -> list[str]:
    """The job's options as the CLI checks them (an unknown --target, a missing audio file, an
    output folder that cannot be made): [] or the problem, naming file and line."""
    try:
        build_job(job, parser)
    except EmotiveError as exc:
        return [f"{job.where}: job '{job.id}': {exc}"]
    return []


def check_unique(jobs: list[JobSpec], job_file: Path) -> list[str]:
    """Duplicate ids, two jobs writing one file (naming both) and a job overwriting the job file."""
    problems, ids, writers = [], {}, {job_file.resolve(): "the job file itself"}
    for job in jobs:
        if job.id in ids:
            problems.append(f"{job.where}: job id '{job.id}' is used twice (first at {ids[job.id]})")
            continue
        ids[job.id] = job.where
        for path in job.outputs:
            if path == job_file.resolve():
                problems.append(f"{job.where}: job '{job.id}' would overwrite the job file '{path}'")
            elif path in writers:
                problems.append(f"{job.where}: jobs '{writers[path]}' and '{job.id}' both write '{path}'")
            writers.setdefault(path, job.id)
    return problems


# --- manifests: what makes a re-run skip a finished job


def manifest_path(out_dir: Path, job_id: str) -> Path:
    return Path(out_dir) / STATE / f"{job_id}.json"


def _stats(paths) -> dict[str, list[int]]:
    stats = {}
    for path in paths:
        st = os.stat(path)
        stats[str(path)] = [st.st_size, st.st_mtime_ns]
    return stats


def write_manifest(out_dir: Path, job: JobSpec) -> Path:
    """Record a finished job: its digest and each output's size and mtime. Called only once every
    output exists (FileNotFoundError otherwise); written atomically, so a crash leaves none."""
    path = manifest_path(out_dir, job.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"version": MANIFEST_VERSION, "id": job.id, "digest": job.digest, "outputs": _stats(job.outputs)}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)
    return path


def clear_manifest(out_dir: Path, job_id: str) -> None:
    manifest_path(out_dir, job_id).unlink(missing_ok=True)


def is_complete(out_dir: Path, job: JobSpec) -> bool:
    """True when a manifest says this very spec finished and every output is still as it left it."""
    try:
        data = json.loads(manifest_path(out_dir, job.id).read_text(encoding="utf-8"))
        return (data.get("version") == MANIFEST_VERSION and data.get("digest") == job.digest
                and data.get("outputs") == _stats(job.outputs))
    except (OSError, ValueError):
        return False
