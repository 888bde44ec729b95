"""A learned correction of the FaceMesh capture solve, in pure NumPy (Blender has no torch).

    m = CaptureSolverModel.load()                 # ml/weights/capture_solver.safetensors
    weights = m.correct(offsets, linear)          # (F, 52) ARKit weights in [0, 1]
    head = m.correct_head(offsets, linear, head)  # (F, 3) yaw, pitch, roll relative to the rest pose

The capture source (pipeline/capture.py) solves a FaceMesh capture's cleaned landmark offsets
(F, 70, 3; metres in the default head's space, from the performer's rest face) against the keys as
FaceMesh sees them one at a time on still images (rigs/retarget.py; rigs/head_mesh.tracked_signatures).
In a video FaceMesh runs in tracking mode and answers keys in combination and in motion otherwise
(a pucker shows half as strongly, a funnel partly reads as pucker). This model maps the offsets and
that linear solve (`features`: the offsets in cm, 210 numbers, and the 52 weights), with how they
change over a few frames either side (`window_features`: a blink, or a lip shape rising over a
moving jaw, is told apart by its course in time), standardised, to the difference between the true
weights and the linear solve (less its answer at rest, so rest stays rest; only on the keys where
it helped faces left out of its training): a two-hidden-layer tanh MLP trained by
scripts/train_capture_solver.py on rendered videos of random, FACS-style and speech-like
performances on the default head and MakeHuman identity variants, tracked by the capture's own
video reader (two identities held out: their figures are in ml/weights/capture_solver.metrics.json).
The corrected weights are clipped to [0, 1].

The head: the rigid fit of FaceMesh's nose and eye-corner points (rigs/capture_cleaning.py) follows
the expression a little (FaceMesh's shape prior moves those points with a wide-open jaw or raised
brows: several degrees of pitch on the training renders). A ridge regression over the same features
and the fitted yaw, pitch and roll (`head_features`) predicts the fit's yaw and pitch error, less its
value at rest, and `correct_head` removes it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..rigs.arkit import ARKIT_INDEX, ARKIT_NAMES
from ..rigs.landmarks import N_CANONICAL, mirror_points

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "capture_solver.safetensors"
FORMAT = "emotive-capture-solver/1"
LANDMARK_SET = "mediapipe478"       # the tracker the model was trained on
N_FEATURES = N_CANONICAL * 3 + len(ARKIT_NAMES)
N_HEAD_FEATURES = N_FEATURES + 3
OFFSET_UNIT = 0.01                  # offsets in cm: the features' scale before standardising
# ARKit index of each key's mirror partner (Left <-> Right; a centre key is its own)
MIRROR_KEYS = np.array([ARKIT_INDEX[n.replace("Left", "\0").replace("Right", "Left").replace("\0", "Right")]
                        for n in ARKIT_NAMES])


def features(offsets, linear) -> np.ndarray:
    """(F, 70, 3) offsets (metres) and (F, 52) linear weights -> (F, N_FEATURES) float64."""
    offsets = np.asarray(offsets, np.float64)
    linear = np.asarray(linear, np.float64)
    if offsets.ndim != 3 or offsets.shape[1:] != (N_CANONICAL, 3):
        raise ValueError(f"offsets: expected (F, {N_CANONICAL}, 3), got {offsets.shape}")
    if linear.shape != (len(offsets), len(ARKIT_NAMES)):
        raise ValueError(f"linear: expected ({len(offsets)}, {len(ARKIT_NAMES)}), got {linear.shape}")
    return np.concatenate([offsets.reshape(len(offsets), -1) / OFFSET_UNIT, linear], axis=1)


def window_features(x, window) -> np.ndarray:
    """(F, N) per-frame features of consecutive frames -> (F, N * (1 + len(window))): each frame's
    own, then for each offset d in `window` frame t+d's less frame t's (clamped at the ends). A blink
    lasts a few frames and a lip shape rises and falls: what moves together over time tells keys apart
    that one frame confuses."""
    x = np.asarray(x, np.float64)
    frames = np.arange(len(x))
    return np.concatenate([x] + [x[np.clip(frames + int(d), 0, len(x) - 1)] - x for d in window], axis=1)


def head_features(offsets, linear, head) -> np.ndarray:
    """features() and the head's (F, 3) yaw, pitch, roll relative to the rest pose (radians; in
    tens of degrees here) -> (F, N_HEAD_FEATURES)."""
    head = np.asarray(head, np.float64)
    if head.shape != (len(offsets), 3):
        raise ValueError(f"head: expected ({len(offsets)}, 3) yaw, pitch, roll, got {head.shape}")
    return np.concatenate([features(offsets, linear), np.degrees(head) / 10.0], axis=1)


def mirror(offsets, linear, truth=None):
    """The same frames mirrored across the face's midline: points swapped and x negated, Left and
    Right keys swapped (a training augmentation: the face and the tracker are nearly symmetric)."""
    out = (mirror_points(np.asarray(offsets)), np.asarray(linear)[:, MIRROR_KEYS])
    return out if truth is None else out + (np.asarray(truth)[:, MIRROR_KEYS],)


def save(path, tensors: dict, meta: dict) -> None:
    from safetensors.numpy import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "landmark_set": LANDMARK_SET, **meta}
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}, str(path),
              metadata={k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()})


class CaptureSolverModel:
    """The MLP's arrays: window (K,) frame offsets whose differences it reads (none: one frame at a
    time); mean, std (N_FEATURES * (1 + K),), w0, b0, ..., wN, bN (w: (in, out)); keys (52,): 1
    where the correction applies (the keys it helped on identities left out of its training), 0
    where the linear solve stands; head_mean, head_std (N_HEAD_FEATURES,), head_coef (.., 2)."""

    def __init__(self, tensors: dict, meta: dict | None = None):
        self.window = tuple(int(d) for d in np.asarray(tensors.get("window", np.zeros(0))).ravel())
        self.margin = max((abs(d) for d in self.window), default=0)   # frames a chunk needs either side
        n_in = N_FEATURES * (1 + len(self.window))
        self.mean = np.asarray(tensors["mean"], np.float64)
        self.std = np.asarray(tensors["std"], np.float64)
        self.layers = []
        i = 0
        while f"w{i}" in tensors:
            self.layers.append((np.asarray(tensors[f"w{i}"], np.float32), np.asarray(tensors[f"b{i}"], np.float32)))
            i += 1
        if not self.layers or self.mean.shape != (n_in,) or self.std.shape != (n_in,):
            raise ValueError(f"not a capture-solver model: needs mean/std ({n_in},) and layers w0, b0, ...")
        width = n_in
        for w, b in self.layers:
            if w.ndim != 2 or w.shape[0] != width or b.shape != (w.shape[1],):
                raise ValueError(f"capture-solver layer shapes do not chain: {w.shape}, {b.shape} after {width}")
            width = w.shape[1]
        if width != len(ARKIT_NAMES):
            raise ValueError(f"capture-solver output has {width} values, not {len(ARKIT_NAMES)}")
        self.keys = np.ones(len(ARKIT_NAMES)) if "keys" not in tensors else np.asarray(tensors["keys"], np.float64)
        if self.keys.shape != (len(ARKIT_NAMES),):
            raise ValueError(f"capture-solver keys: expected ({len(ARKIT_NAMES)},), got {self.keys.shape}")
        self.head = None
        if "head_coef" in tensors:
            head = tuple(np.asarray(tensors[k], np.float64) for k in ("head_mean", "head_std", "head_coef"))
            if head[0].shape != (N_HEAD_FEATURES,) or head[1].shape != (N_HEAD_FEATURES,) \
                    or head[2].shape != (N_HEAD_FEATURES, 2):
                raise ValueError(f"capture-solver head: needs head_mean/head_std ({N_HEAD_FEATURES},) and "
                                 f"head_coef ({N_HEAD_FEATURES}, 2)")
            self.head = head
        self.meta = dict(meta or {})

    @classmethod
    def load(cls, path=DEFAULT_WEIGHTS) -> "CaptureSolverModel":
        from .weights_file import read_weights

        tensors, meta = read_weights(path, FORMAT, "capture-solver")
        try:
            return cls(tensors, meta)
        except KeyError as e:   # the format tag is right but a tensor is missing
            raise ValueError(f"{path}: not a complete capture-solver model (no tensor {e})") from e
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from e

    def _forward(self, x) -> np.ndarray:
        h = ((x - self.mean) / self.std).astype(np.float32)   # float32 products: ~3x faster, ample here
        for i, (w, b) in enumerate(self.layers):
            h = h @ w.astype(np.float32, copy=False) + b.astype(np.float32, copy=False)
            if i < len(self.layers) - 1:
                np.tanh(h, out=h)
        return h

    def correction(self, offsets, linear) -> np.ndarray:
        """(F, 52) what the model adds to the linear solve of F consecutive frames: the MLP's answer
        less its answer at rest (no offsets, no weights, nothing moving), so a face at rest stays at rest."""
        zero = self._forward(np.zeros((1, len(self.mean))))
        x = window_features(features(offsets, linear), self.window)
        return (self._forward(x) - zero).astype(np.float64) * self.keys

    def correct(self, offsets, linear) -> np.ndarray:
        """(F, 70, 3) offsets of consecutive frames and their (F, 52) linear solve -> (F, 52)
        corrected weights in [0, 1]. In parts: give each part `margin` frames of its neighbours either
        side and keep its own rows, and the answer is the whole take's."""
        return np.clip(np.asarray(linear, np.float64) + self.correction(offsets, linear), 0.0, 1.0)

    def correct_head(self, offsets, linear, head) -> np.ndarray:
        """(F, 3) yaw, pitch, roll relative to the rest pose (radians) with yaw and pitch corrected
        for how the rigid fit of FaceMesh's points follows the expression (zero at rest); the head
        unchanged when the file has no head part."""
        head = np.array(head, np.float64)
        if self.head is None:
            return head
        mean, std, coef = self.head
        x = head_features(offsets, linear, head) / std          # (x - mean) / std less its value at x = 0
        head[:, :2] += np.radians(x @ coef)
        return head


@lru_cache(maxsize=2)
def shipped(landmark_set: str):
    """The shipped model for captures of `landmark_set`, or None (another tracker, or no file)."""
    if landmark_set != LANDMARK_SET or not DEFAULT_WEIGHTS.exists():
        return None
    return CaptureSolverModel.load(DEFAULT_WEIGHTS)
