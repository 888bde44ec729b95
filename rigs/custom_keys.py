"""Retarget a landmark performance onto a character's own shape keys (bpy-free, NumPy only).

The landmark engine (pipeline/landmark_performance.py) generates motion as offsets of the
default head's 70 canonical landmarks. A character with arbitrary, non-ARKit shape keys can take
that motion directly: each of its K keys moves its bound landmarks by a signature (K, 70, 3)
(rigs/blender/shape_keys.custom_key_signatures), the default-head offsets are carried into the
character's landmark space by the similarity (rotation + scale; translation does not apply to
offsets) that best maps the default head's neutral landmarks onto the character's (Umeyama),
and a bounded, ridge-regularised least squares (rigs/retarget.ShapeKeySolver) gives per-frame
weights in [0, 1] for those keys.

No per-segment vocabulary here (the keys' meaning is unknown), so a firm ridge keeps weak keys
from chasing the noise generated motion carries. It pulls toward zero (the engine's pulls toward
the segment's FACS mix, which a character's own keys have no counterpart of), so it stays at the
engine's former 1e-2, the value the own-keys tests and benches were measured with.

Motion the character's keys cannot make still has to go somewhere in a least-squares fit: on a
rig with only "Smile", "Frown" and "Surprise", an angry take's open, snarling mouth goes into
"Surprise", the one key that opens the jaw (about 0.5 with the shipped anger), and a lip press
would leak into "Smile" (whose corner motion it resembles). Given `default_signatures` (the default head's
52 ARKit signatures), the default head's keys that none of the character's keys contains (each
custom key is decomposed into ARKit weights on the default head; keys above ABSORB_COVERED of a
decomposition's largest weight are "contained") join the solve as absorbers mapped into the
target space, and are dropped from the result: they explain what the character cannot show.
"""

from __future__ import annotations

import numpy as np

from .retarget import ShapeKeySolver
from .shape_transfer import umeyama

REGULARISATION = 1e-2   # pulls toward zero; see the module docstring
ABSORB_COVERED = 0.1    # share of a custom key's largest ARKit weight above which it "contains" a key


class CustomKeyRetarget:
    """Default-head landmark offsets (F, 70, 3) -> weights (F, K) of a target's own keys."""

    def __init__(self, target_landmarks, signatures, default_neutral,
                 regularisation: float = REGULARISATION, lower=0.0, upper=1.0,
                 default_signatures=None):
        target = np.asarray(target_landmarks, np.float64)
        neutral = np.asarray(default_neutral, np.float64)
        sig = np.asarray(signatures, np.float64)
        if target.ndim != 2 or target.shape[1] != 3 or neutral.shape != target.shape:
            raise ValueError(f"target_landmarks {target.shape} and default_neutral {neutral.shape}: "
                             "expected the same (L, 3)")
        if sig.ndim != 3 or sig.shape[1:] != target.shape or len(sig) == 0:
            raise ValueError(f"signatures: expected (K >= 1, {target.shape[0]}, 3), got {sig.shape}")
        if not (np.isfinite(target).all() and np.isfinite(neutral).all()):
            raise ValueError("landmarks: contain NaN or inf")
        self.scale, self.rotation, _ = umeyama(neutral, target)
        self.linear = self.scale * self.rotation      # offsets: x_target = linear @ x_default
        self._n_keys = len(sig)
        self.absorbers = np.zeros(0, np.int64)        # default-head key indices absorbing motion
        if default_signatures is not None:
            base = np.asarray(default_signatures, np.float64)
            if base.ndim != 3 or base.shape[1:] != target.shape:
                raise ValueError(f"default_signatures: expected (N, {target.shape[0]}, 3), got {base.shape}")
            # each custom key in default-head terms: its ARKit decomposition
            back = sig @ np.linalg.inv(self.linear).T
            parts = ShapeKeySolver(base, regularisation=1e-3).solve(back)            # (K, N)
            covered = (parts > ABSORB_COVERED * np.maximum(parts.max(axis=1, keepdims=True), 1e-9)).any(0)
            self.absorbers = np.flatnonzero(~covered & (np.abs(base).reshape(len(base), -1).max(1) > 0))
            sig = np.concatenate([sig, base[self.absorbers] @ self.linear.T])
        self.solver = ShapeKeySolver(sig, lower=lower, upper=upper, regularisation=regularisation)

    @property
    def n_keys(self) -> int:
        return self._n_keys

    def map_offsets(self, offsets) -> np.ndarray:
        """(F, L, 3) or (L, 3) default-head offsets -> the same in the target's landmark space."""
        y = np.asarray(offsets, np.float64)
        return y @ self.linear.T

    def solve(self, offsets) -> np.ndarray:
        """(F, L, 3) default-head landmark offsets -> (F, K) weights in [lower, upper]."""
        y = self.map_offsets(offsets)
        if y.ndim == 2:
            y = y[None]
        weights = np.zeros((len(y), self.n_keys), np.float32)
        moving = np.abs(y).reshape(len(y), -1).max(axis=1) > 1e-9 if len(y) else np.zeros(0, bool)
        if moving.any():  # silent frames stay exactly 0
            weights[moving] = self.solver.solve(y[moving])[:, :self.n_keys]
        return weights
