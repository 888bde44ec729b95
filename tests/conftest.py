"""Shared by both halves of the suite: where the training/test data is, and a Blender user folder
of the tests' own (set before bpy is first imported, so no test touches a real user's config), and
an Emotive settings file of their own.

tests/unit/ never imports bpy (its conftest blocks it when run alone, as `make test` does);
tests/blender/ runs the installed extension in real Blender (the bpy wheel).
"""

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EMOTIVE_SHARED_DATA", ROOT.parent / "shared" / "data"))

os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="emotive-blender-user-"))
# Emotive's own settings file (pipeline/settings.py), empty: the built-in defaults, and a cache folder
# of the tests' own. Tests that change settings point EMOTIVE_SETTINGS at a file of their own.
_SETTINGS = Path(tempfile.mkdtemp(prefix="emotive-settings-"))
(_SETTINGS / "settings.json").write_text('{"cache_dir": "%s"}\n' % (_SETTINGS / "cache").as_posix())
os.environ["EMOTIVE_SETTINGS"] = str(_SETTINGS / "settings.json")


def shared(relative: str) -> Path:
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"needs ../shared/data/{relative} (training/test data, present in CI)")
    return path
