"""Fixtures of the Blender integration tests: the built extension zip, installed into an
isolated user folder and enabled exactly as Blender's Preferences > Get Extensions > Install from
Disk does; an empty scene with it enabled; the default head in it.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ADDON = "bl_ext.user_default.emotive"
@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp("extension")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_extension.py"), str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    # one zip per platform (scripts/build_extension.py); this Blender is the Linux x64 one
    (zip_path,) = out.glob("emotive-*-linux_x64.zip")
    return zip_path


@pytest.fixture(scope="session")
def addon(extension_zip):
    """The extension installed from its zip and enabled; yields its module."""
    import importlib

    import bpy

    result = bpy.ops.extensions.package_install_files(
        filepath=str(extension_zip), repo="user_default", enable_on_install=True)
    assert result == {'FINISHED'}, result
    assert ADDON in bpy.context.preferences.addons, "extension did not enable"
    yield importlib.import_module(ADDON)
    bpy.ops.preferences.addon_disable(module=ADDON)


@pytest.fixture
def scene(addon):
    """An empty scene with the add-on enabled."""
    import bpy

    bpy.ops.wm.read_homefile(use_empty=True)
    if ADDON not in bpy.context.preferences.addons:  # reloading the home file must not drop it
        bpy.ops.preferences.addon_enable(module=ADDON)
    return bpy.context.scene


@pytest.fixture
def head(scene):
    import bpy

    assert bpy.ops.emotive.add_default_head() == {'FINISHED'}
    return bpy.context.view_layer.objects.active
