"""Emotive's user settings: one small JSON file that the add-on's preferences edit and the command
line reads, so a default set in Blender holds in `python -m emotive` and batch jobs too (bpy-free).

Where: $EMOTIVE_SETTINGS, else the platform's user config folder (platformdirs), e.g.
~/.config/emotive/settings.json on Linux. A missing file means the built-in defaults; a key the file
does not hold keeps its default. An empty model path means the model shipped with Emotive; an empty
cache folder means the platform's user cache folder (~/.cache/emotive).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from ..errors import EmotiveError
from .attention import ALPHA_FACE, ALPHA_MOUTH

ENV = "EMOTIVE_SETTINGS"
APP = "emotive"


@dataclass(frozen=True)
class Settings:
    text_model: str = ""          # .safetensors from train-text; "" = shipped
    expression_model: str = ""    # from train-expressions
    voice_model: str = ""         # from train-speech
    fps: float = 30.0             # frame rate of the command line's takes (Blender uses the scene's)
    wpm: float = 160.0            # reading rate of text without timings
    alpha_mouth: float = ALPHA_MOUTH
    alpha_face: float = ALPHA_FACE
    cache_dir: str = ""           # video landmarks, spoken lines of unsaved files, compiled code

    def cache(self, *parts: str) -> Path:
        """A folder under the cache folder, made on first use; EmotiveError when it cannot be."""
        root = Path(self.cache_dir).expanduser() if self.cache_dir else default_cache_dir()
        path = root.joinpath(*parts)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EmotiveError(f"the cache folder '{path}' cannot be made ({exc.strerror}); choose another in the "
                               "add-on's preferences or with: python -m emotive settings --set cache_dir=DIR") from exc
        return path

    def model(self, kind: str) -> str | None:
        """The user's own weights for 'text', 'expression' or 'voice'; None: the shipped ones."""
        return getattr(self, f"{kind}_model") or None


# name -> (low, high) for the numbers; what the panel, the CLI and the file accept alike.
RANGES = {"fps": (1.0, 240.0), "wpm": (40.0, 400.0), "alpha_mouth": (0.0, 2.0), "alpha_face": (0.0, 2.0)}
DEFAULTS = Settings()


def default_cache_dir() -> Path:
    import platformdirs

    return platformdirs.user_cache_path(APP, appauthor=False)


def settings_path() -> Path:
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser()
    import platformdirs

    return platformdirs.user_config_path(APP, appauthor=False) / "settings.json"


def check(settings: Settings, where: str = "settings") -> Settings:
    """The settings unchanged, or EmotiveError naming the file and the key at fault."""
    for f in fields(Settings):
        value = getattr(settings, f.name)
        if f.name in RANGES:
            low, high = RANGES[f.name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or not low <= value <= high:
                raise EmotiveError(f"{where}: '{f.name}' must be a number from {low:g} to {high:g}, got {value!r}")
        elif not isinstance(value, str):
            raise EmotiveError(f"{where}: '{f.name}' must be a text (a path, or empty), got {value!r}")
    return settings


def from_dict(data, where: str = "settings") -> Settings:
    if not isinstance(data, dict):
        raise EmotiveError(f"{where}: must hold one JSON object of settings")
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise EmotiveError(f"{where}: unknown setting '{unknown[0]}'; known: {', '.join(sorted(known))}")
    values = {}
    for k, v in data.items():
        if k in RANGES and isinstance(v, int) and not isinstance(v, bool):
            try:
                v = float(v)
            except OverflowError:
                raise EmotiveError(f"{where}: '{k}' must be a number from {RANGES[k][0]:g} to {RANGES[k][1]:g}, "
                                   "got a number too large") from None
        values[k] = v
    return check(replace(DEFAULTS, **values), where)


_loaded: dict[Path, tuple[tuple, Settings]] = {}    # path -> ((mtime, size), settings): the panel reads often


def load(path: Path | None = None) -> Settings:
    """The settings in the file (defaults where it is missing); EmotiveError for a file that is not
    valid, naming it. Re-read only when the file changes."""
    path = Path(path) if path else settings_path()
    try:
        stat = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return DEFAULTS
    stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)     # save() replaces the file: a new inode
    if path in _loaded and _loaded[path][0] == stamp:
        return _loaded[path][1]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise EmotiveError(f"settings file '{path}' is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise EmotiveError(f"settings file '{path}', line {exc.lineno}: not valid JSON ({exc.msg})") from exc
    except ValueError as exc:            # e.g. an integer of thousands of digits
        raise EmotiveError(f"settings file '{path}': not valid settings ({exc})") from exc
    except OSError as exc:
        raise EmotiveError(f"cannot read the settings file '{path}': {exc.strerror}") from exc
    settings = from_dict(data, f"settings file '{path}'")
    _loaded[path] = (stamp, settings)
    return settings


def save(settings: Settings, path: Path | None = None) -> Path:
    """Write the settings that differ from the defaults (the file stays short and a later release's
    new defaults still apply); atomic, so a reader never sees half a file."""
    path = Path(path) if path else settings_path()
    check(settings, f"settings for '{path}'")
    changed = {k: v for k, v in asdict(settings).items() if v != getattr(DEFAULTS, k)}
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".json", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(changed, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise EmotiveError(f"cannot write the settings file '{path}': {exc.strerror or exc}") from exc
    _loaded.pop(path, None)
    return path


def update(path: Path | None = None, **values) -> Settings:
    """Change some settings in the file, keeping the rest."""
    settings = check(replace(load(path), **values), "settings")
    save(settings, path)
    return settings


def use_cache_folder(settings: Settings) -> None:
    """Point the libraries that cache on disk at the cache folder, unless the user already has:
    numba (under librosa) otherwise writes compiled code beside its sources, which a read-only
    install cannot, and compiles again in every session; speech training caches clip features.
    A cache folder that cannot be made leaves them as they were (a cache is never worth an error)."""
    try:
        os.environ.setdefault("NUMBA_CACHE_DIR", str(settings.cache("numba")))
        os.environ.setdefault("EMOTIVE_SPEECH_CACHE", str(settings.cache("speech-features")))
    except EmotiveError:
        pass
