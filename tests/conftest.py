"""Shared by both halves of the suite: where the training/test data is, and a Blender user folder
of the tests' own (set before bpy is first imported, so no test touches a real user's config).

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


def shared(relative: str) -> Path:
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"needs ../shared/data/{relative} (training/test data, present in CI)")
    return path
