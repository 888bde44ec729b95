"""Expression attention (GANemotion's Algorithm 1), shared by speech and capture migration (bpy-free).

An emotion joins a talking face with weight α1 on the mouth and α2 on the rest: low α1 keeps the
articulation readable while brows, eyes and cheeks take the emotion fully. The same split holds
for the 70 landmarks (iBUG-68 lips) and the 52 ARKit keys (jaw, mouth, tongue, cheek puff).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import EmotiveError
from ..rigs.arkit import ARKIT_NAMES
from ..rigs.landmarks import N_CANONICAL

MOUTH = np.arange(48, 68)      # iBUG-68 lip landmarks (outer 48-59, inner 60-67)
MOUTH_KEYS = np.array([n.startswith(("mouth", "jaw", "tongue")) or n == "cheekPuff" for n in ARKIT_NAMES])
ALPHA_MOUTH = 0.3              # α1: little enough that speech stays readable
ALPHA_FACE = 1.0               # α2: the rest of the face takes the wanted expression fully


def check_alphas(alpha_mouth: float, alpha_face: float) -> None:
    for name, value in (("alpha_mouth", alpha_mouth), ("alpha_face", alpha_face)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value <= 2:
            raise EmotiveError(f"{name} must be a number between 0 and 2, got {value!r}")


def attention(alpha_mouth: float = ALPHA_MOUTH, alpha_face: float = ALPHA_FACE) -> np.ndarray:
    """(70,) the blend weight of each canonical landmark."""
    a = np.full(N_CANONICAL, float(alpha_face), dtype=np.float32)
    a[MOUTH] = alpha_mouth
    return a


def key_attention(alpha_mouth: float = ALPHA_MOUTH, alpha_face: float = ALPHA_FACE) -> np.ndarray:
    """(52,) the blend weight of each ARKit key."""
    return np.where(MOUTH_KEYS, alpha_mouth, alpha_face).astype(np.float32)
