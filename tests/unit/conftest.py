"""Unit tests need no Blender. Run alone (`pytest tests/unit`, as `make test` does), bpy and
Blender's other modules are blocked, so a unit test that reaches Blender fails with ImportError."""

import sys
from pathlib import Path

BLENDER = ("bpy", "bpy_extras", "mathutils", "addon_utils", "bl_math", "gpu", "blf")
HERE = Path(__file__).resolve().parent


def pytest_configure(config):
    # Only when every path the session was given lies in tests/unit: a session that also
    # collects tests/blender (plain `pytest`, testpaths) needs them there.
    paths = [(config.invocation_params.dir / str(arg).split("::")[0]).resolve() for arg in config.args]
    if not paths or not all(p == HERE or HERE in p.parents for p in paths):
        return
    if any(sys.modules.get(name) is not None for name in BLENDER):
        return
    for name in BLENDER:
        sys.modules[name] = None
