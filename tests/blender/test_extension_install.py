"""The built Linux zip in a Blender that has nothing of this project's environment: a second
virtual environment holding only bpy (and the packages bpy itself requires, as Blender bundles
them), a fresh Blender user folder, the zip installed and enabled as *Install from Disk* does. Then
Add Default Head, Animate from Text, Bind Face on another mesh, Animate from Speech and Import
Face Capture must each write keys: every package they import comes from the zip's wheels.

Slow (about a minute: installing ~450 MB of wheels, first use of MediaPipe, Whisper, numba):
select with `-m extension_install`, skip with `-m "not extension_install"`.
"""

import importlib.metadata as metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shared_fixtures import smile_and_jaw, write_livelink

ROOT = Path(__file__).resolve().parents[2]
BPY_ONLY = ROOT / "build" / "bpy-only"          # git-ignored; rebuilt when bpy's version changes
LINE = "Maybe the baby wants more apple pie. I am so happy for you!"

pytestmark = [
    pytest.mark.extension_install,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="installs the linux-x64 zip"),
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng speaks the test recording"),
]


def _requirements(name: str, seen: dict) -> dict:
    """name's distribution and, recursively, those its (non-extra) requirements name."""
    dist = metadata.distribution(name)
    key = dist.metadata["Name"].lower()
    if key not in seen:
        seen[key] = dist
        for req in dist.requires or ():
            if "extra ==" not in req.partition(";")[2]:
                _requirements(re.split(r"[\s<>=!~;\[(]", req, maxsplit=1)[0], seen)
    return seen


def bpy_only_python() -> Path:
    """The python of a venv whose site-packages holds bpy and its own requirements (links into this
    environment: numpy, requests, zstandard, cython...) and nothing else."""
    stamp = BPY_ONLY / f"bpy-{metadata.version('bpy')}"
    python = BPY_ONLY / "bin" / "python"
    if stamp.exists() and python.exists():
        return python
    shutil.rmtree(BPY_ONLY, ignore_errors=True)
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(BPY_ONLY)], check=True)
    site = BPY_ONLY / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    for dist in _requirements("bpy", {}).values():
        for top in {Path(str(f)).parts[0] for f in dist.files or ()} - {"..", "__pycache__"}:
            source = Path(dist.locate_file(top))
            if source.exists() and not (site / top).exists():
                (site / top).symlink_to(source)
    stamp.touch()
    return python


def test_zip_installed_in_a_bare_blender_animates_text_speech_and_capture(extension_zip, tmp_path):
    wav, csv = tmp_path / "line.wav", tmp_path / "take.csv"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), LINE], check=True)
    write_livelink(csv, smile_and_jaw(60))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "BLENDER_", "VIRTUAL_ENV"))}
    env["BLENDER_USER_RESOURCES"] = str(tmp_path / "user")          # a fresh user folder
    proc = subprocess.run(
        [str(bpy_only_python()), "-I", str(Path(__file__).with_name("installed_extension_run.py")),
         str(extension_zip), str(wav), LINE, str(csv)],
        capture_output=True, text=True, timeout=170, env=env, cwd=tmp_path)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    result = json.loads(lines[-1][len("RESULT "):])
    print(json.dumps(result["times"]))
    for what in ("text_keys", "bound_text_keys", "speech_keys", "capture_keys"):
        assert result[what] > 50, (what, result[what])
    extension_site = str(tmp_path / "user")
    for module, origin in result["origins"].items():
        assert origin is None or origin.startswith(extension_site), f"{module} came from {origin}"
    for module in ("scipy", "mediapipe", "cv2", "faster_whisper", "pocketsphinx", "soundfile", "orjson"):
        assert result["origins"][module], f"{module} was never imported: the check above proves nothing"
