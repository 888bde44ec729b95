"""Facial landmark sets (bpy-free): the canonical 68-point iBUG set and MediaPipe's 478.

Canonical set: the 68-point iBUG 300-W / Multi-PIE layout (what dlib, face-alignment and most
talking-head datasets use), plus OpenPose's two pupils = the 70-point OpenPose face:

    jaw 0-16, right brow 17-21, left brow 22-26, nose bridge 27-30, nose base 31-35,
    right eye 36-41, left eye 42-47, outer lips 48-59, inner lips 60-67, pupils 68 (right), 69 (left)

Left/right convention: iBUG and OpenPose number points as an image viewer sees a frontal face,
left to right, so "right" above is the *subject's* right (on the image's left): point 36 is the
outer corner of the subject's right eye, 45 that of the left eye. On the default head (Blender
axes, facing -Y, +X = the character's left) the "right" points therefore have x < 0.

MediaPipe FaceMesh: 468 surface vertices of its canonical face model, plus with
`refine_landmarks=True` 10 iris points: 468-472 the subject's right iris (centre 468), 473-477 the
left (centre 473). MediaPipe's own "LEFT_EYE" etc. also mean the subject's left.
"""

from __future__ import annotations

import numpy as np

N_IBUG = 68
N_CANONICAL = 70  # iBUG 68 + the two pupils (OpenPose face)
N_MEDIAPIPE = 478  # 468 mesh vertices + 2 x 5 iris points
MEDIAPIPE_PUPILS = (468, 473)  # iris centres: subject's right, subject's left

# Index ranges of the canonical set, in numbering order.
GROUPS: dict[str, range] = {
    "jaw": range(0, 17),
    "right_brow": range(17, 22), "left_brow": range(22, 27),
    "nose_bridge": range(27, 31), "nose_base": range(31, 36),
    "right_eye": range(36, 42), "left_eye": range(42, 48),
    "outer_lips": range(48, 60), "inner_lips": range(60, 68),
    "pupils": range(68, 70),
}

# The iBUG point -> the MediaPipe FaceMesh vertex at the same anatomical place. Cross-checked
# against several published correspondences (they agree on eyes, brows and lips; for the jaw and
# nose base, which have no exact twin in MediaPipe's topology, the nearest vertex along the
# oval / nostril line is taken) and verified on the default head by
# scripts/bind_default_head.py (symmetry, reprojection). Each side is the mirror of the other
# in MediaPipe's own symmetric topology, so MIRROR holds for the mapped points too.
MEDIAPIPE_TO_IBUG68 = np.array([
    # jaw, subject's right ear -> chin (152) -> left ear
    127, 234, 93, 132, 58, 136, 150, 176, 152, 400, 379, 365, 288, 361, 323, 454, 356,
    70, 63, 105, 66, 107,                 # right brow, outer -> inner (upper edge)
    336, 296, 334, 293, 300,              # left brow, inner -> outer
    168, 197, 5, 4,                       # nose bridge: nasion -> tip
    98, 97, 2, 326, 327,                  # nose base: right alar -> subnasale -> left alar
    33, 160, 158, 133, 153, 144,          # right eye: outer corner, upper lid, inner, lower lid
    362, 385, 387, 263, 373, 380,         # left eye: inner corner, upper lid, outer, lower lid
    61, 40, 37, 0, 267, 270,              # outer lips: right corner, upper lip -> ...
    291, 321, 314, 17, 84, 91,            # ... left corner, lower lip back to the right
    78, 81, 13, 311, 308, 402, 14, 178,   # inner lips, same order
], dtype=np.int64)
# The 70-point set: the 68 above plus the iris centres as pupils.
MEDIAPIPE_TO_CANONICAL = np.concatenate([MEDIAPIPE_TO_IBUG68, MEDIAPIPE_PUPILS]).astype(np.int64)


def _mirror() -> np.ndarray:
    """Left/right partner of each canonical point (itself on the centre line)."""
    m = np.arange(N_CANONICAL)
    pairs = [(i, 16 - i) for i in range(8)]                      # jaw; 8 = chin
    pairs += [(17 + i, 26 - i) for i in range(5)]                # brows
    pairs += [(31, 35), (32, 34)]                                # nose base; 27-30, 33 centre
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]            # outer lips; 51, 57
    pairs += [(60, 64), (61, 63), (65, 67)]                      # inner lips; 62, 66 centre
    pairs += [(68, 69)]                                          # pupils
    for a, b in pairs:
        m[a], m[b] = b, a
    return m


MIRROR = _mirror()

# Face regions as in joint-BLSTM speech animation work (separate streams for the upper, middle
# and lower face, since speech drives the lower face and emotion mostly the upper):
# upper = brows + eyes + pupils; middle = nose + the cheek-height jaw contour (0-3, 13-16, which
# lie above the mouth corners); lower = mouth + the jaw below the cheeks (4-12).
REGIONS: tuple[str, ...] = ("upper", "middle", "lower")
UPPER, MIDDLE, LOWER = 0, 1, 2


def _region() -> np.ndarray:
    r = np.full(N_CANONICAL, LOWER, dtype=np.int64)
    for g in ("right_brow", "left_brow", "right_eye", "left_eye", "pupils"):
        r[list(GROUPS[g])] = UPPER
    for g in ("nose_bridge", "nose_base"):
        r[list(GROUPS[g])] = MIDDLE
    r[[0, 1, 2, 3, 13, 14, 15, 16]] = MIDDLE
    return r


REGION = _region()  # (70,) index into REGIONS


def region_indices(name: str) -> np.ndarray:
    """Canonical indices of one region ("upper", "middle" or "lower")."""
    return np.flatnonzero(REGION == REGIONS.index(name))


def to_ibug68(points478: np.ndarray) -> np.ndarray:
    """(..., 478 or 468, D) MediaPipe landmarks -> (..., 68, D) in iBUG order."""
    return np.asarray(points478)[..., MEDIAPIPE_TO_IBUG68, :]


def to_canonical(points478: np.ndarray) -> np.ndarray:
    """(..., 478, D) MediaPipe landmarks (refined, with irises) -> (..., 70, D) incl. pupils."""
    return np.asarray(points478)[..., MEDIAPIPE_TO_CANONICAL, :]


def mirror_points(points: np.ndarray) -> np.ndarray:
    """Mirror canonical points (..., 70 or 68, 3) in Blender axes across x = 0: swap partners and
    negate x. A symmetric face gives back its own points."""
    points = np.asarray(points)
    out = points[..., MIRROR[:points.shape[-2]], :].copy()
    out[..., 0] *= -1
    return out
