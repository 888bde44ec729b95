"""`python -m emotive settings [--set KEY=VALUE …] [--reset KEY …]`: show or change the settings file
that the add-on's preferences edit too (pipeline/settings.py)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, fields, replace
from pathlib import Path

from ..errors import EmotiveError
from ..pipeline import settings as user_settings


def add_arguments(parser) -> None:
    names = ", ".join(f.name for f in fields(user_settings.Settings))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help=f"change a setting (repeatable); keys: {names}; an empty model path or cache "
                             "folder means the shipped model / the system's cache folder")
    parser.add_argument("--reset", action="append", default=[], metavar="KEY",
                        help="return a setting to its default (repeatable); 'all' for every one")


def _parse(item: str) -> tuple[str, object]:
    key, sep, text = item.partition("=")
    key = key.strip().replace("-", "_")
    known = {f.name for f in fields(user_settings.Settings)}
    if not sep or key not in known:
        raise EmotiveError(f"--set '{item}': use KEY=VALUE with KEY one of {', '.join(sorted(known))}")
    if key in user_settings.RANGES:
        try:
            return key, float(text)
        except ValueError:
            raise EmotiveError(f"--set '{item}': {key} must be a number") from None
    text = text.strip()                 # a path: absolute, so it means the same from any folder
    return key, str(Path(text).expanduser().resolve()) if text else ""


def run(args) -> int:
    """Print the settings in force (after any change) as JSON, and where they live."""
    known = {f.name for f in fields(user_settings.Settings)}
    resets = {}
    for key in args.reset:
        key = key.replace("-", "_")
        if key != "all" and key not in known:
            raise EmotiveError(f"--reset '{key}': not a setting; use 'all' or one of {', '.join(sorted(known))}")
        resets[key] = None
    changes = dict(_parse(item) for item in args.set)
    if "all" in resets:                  # also mends a file that no longer reads
        base = user_settings.DEFAULTS
    elif resets or changes:
        base = user_settings.load()
    else:
        base = None
    if base is not None:                 # every value checked before the file is written, once
        values = {k: getattr(user_settings.DEFAULTS, k) for k in resets if k != "all"} | changes
        user_settings.save(user_settings.check(replace(base, **values), "settings"))
    settings = user_settings.load()
    print(f"# {user_settings.settings_path()}" + ("" if user_settings.settings_path().exists() else " (not written yet: "
                                                   "the defaults)"))
    print(json.dumps(asdict(settings), indent=2))
    return 0


def main(argv: list[str]) -> int:
    """Its own parser: the main one takes its defaults from the file this command may have to mend."""
    parser = argparse.ArgumentParser(prog="python -m emotive settings", description=__doc__.splitlines()[0])
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except EmotiveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
