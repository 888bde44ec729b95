"""Landmark displacements -> bone local transforms by a Gaussian RBF regression (bpy-free, NumPy only).

Fitted from P example poses: landmark displacements X (P, L, 3) from the rest landmarks and the
bone parameters Y (P, D) that produced them. Per bone the parameters are, in this order:
location (3, pose-bone local, metres) + rotation (3, the rotation vector = axis * angle, i.e. the
log map of the pose bone's local quaternion) [+ scale (3, log of the local scale, so rest = 0)].
`BoneLayout` names the columns; the rest pose is all zeros in every channel.

The model, per output column:

    y(x) = sum_i a_i exp(-|z(x) - z_i|^2 / (2 sigma^2)) + b_0 + b . z(x),   z(x) = C (x - mean)

- z: the flattened displacement (3L = 210 numbers) projected on its first k principal components
  (those holding all but `pca_tolerance` of the examples' variance, k <= P // 2). The landmarks
  only move in a low-dimensional family (one dimension per bone parameter, roughly), so nothing
  is lost, and the linear polynomial b . z then has k + 1 < P coefficients: in the raw 210-D
  input with P = 150 examples the polynomial alone would already interpolate (singular system).
  The projection is a rotation restricted to the data's subspace, so distances are preserved.
- sigma: the median pairwise distance between the examples' z (the brief's rule; scale-free).
- ridge: added to the kernel's unit diagonal: exact interpolation is traded for smoothness
  (a_i shrink by ~ridge); 1e-6 .. 1e-2 are sensible; the default 1e-4 keeps the training error
  far below the held-out error while keeping the saddle system well conditioned.
- The coefficients [a; b] come from the saddle-point system [[K + ridge I, Q], [Q^T, 0]] with
  Q = [1, z_i] (the polynomial is reproduced exactly: an affine map x -> y is fitted exactly).

`predict` for F frames: project (one product), one (F, P) kernel evaluation, then one product
[K_f | 1 | z_f] @ [a; b0; b] -> (F, D).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHANNELS = ("location", "rotation", "scale")


# --- quaternion <-> rotation vector (Blender's (w, x, y, z) order) ------------------------------

def quat_to_rotvec(q) -> np.ndarray:
    """(..., 4) unit quaternions (w, x, y, z) -> (..., 3) rotation vectors (axis * angle, radians,
    angle in [0, pi]: q and -q give the same vector). Quaternions are normalised first."""
    q = np.asarray(q, np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    q = np.where(q[..., :1] < 0, -q, q)                      # w >= 0: angle <= pi
    w, v = q[..., 0], q[..., 1:]
    s = np.linalg.norm(v, axis=-1)
    angle = 2.0 * np.arctan2(s, w)
    # angle / s, stable at s -> 0 (w -> 1): 2 / w * (1 + s^2 / (3 w^2)) from the series
    small = s < 1e-8
    factor = np.where(small, 2.0 / np.maximum(w, 1e-300), angle / np.where(small, 1.0, s))
    return v * factor[..., None]


def rotvec_to_quat(r) -> np.ndarray:
    """(..., 3) rotation vectors -> (..., 4) unit quaternions (w, x, y, z), w >= 0 for |r| <= pi."""
    r = np.asarray(r, np.float64)
    angle = np.linalg.norm(r, axis=-1)
    half = 0.5 * angle
    small = angle < 1e-8
    # sin(angle/2) / angle, with its series 1/2 - angle^2/48 near 0
    k = np.where(small, 0.5 - angle ** 2 / 48.0, np.sin(half) / np.where(small, 1.0, angle))
    return np.concatenate([np.cos(half)[..., None], r * k[..., None]], axis=-1)


def rotation_angle_deg(r_a, r_b) -> np.ndarray:
    """Angle in degrees of the relative rotation between two rotation vectors (..., 3)."""
    qa, qb = rotvec_to_quat(r_a), rotvec_to_quat(r_b)
    dot = np.abs((qa * qb).sum(-1))
    return np.degrees(2.0 * np.arccos(np.clip(dot, 0.0, 1.0)))


# --- parameter layout ---------------------------------------------------------------------------

@dataclass(frozen=True)
class BoneLayout:
    """Which columns of the (.., D) parameter vector belong to which bone and channel:
    for each bone in order, 3 columns per channel in `channels` order."""

    bones: tuple[str, ...]
    channels: tuple[str, ...] = ("location", "rotation")

    def __post_init__(self):
        bad = [c for c in self.channels if c not in CHANNELS]
        if bad or len(set(self.channels)) != len(self.channels) or not self.channels:
            raise ValueError(f"channels: a non-empty subset of {CHANNELS}, got {self.channels}")
        object.__setattr__(self, "bones", tuple(self.bones))
        object.__setattr__(self, "channels", tuple(self.channels))

    @property
    def size(self) -> int:
        return 3 * len(self.bones) * len(self.channels)

    def columns(self, bone: str, channel: str) -> slice:
        b, c = self.bones.index(bone), self.channels.index(channel)
        start = 3 * (b * len(self.channels) + c)
        return slice(start, start + 3)

    def split(self, params) -> dict[str, dict[str, np.ndarray]]:
        """(F, D) -> {bone: {channel: (F, 3)}} (views)."""
        p = np.asarray(params)
        if p.shape[-1] != self.size:
            raise ValueError(f"params: expected last axis {self.size}, got {p.shape}")
        return {b: {c: p[..., self.columns(b, c)] for c in self.channels} for b in self.bones}

    def to_dict(self) -> dict:
        return {"bones": list(self.bones), "channels": list(self.channels)}

    @classmethod
    def from_dict(cls, d: dict) -> "BoneLayout":
        return cls(tuple(d["bones"]), tuple(d["channels"]))


# --- the regression ------------------------------------------------------------------------------

def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d2, 0.0)


class BoneRBF:
    """Gaussian RBF + linear polynomial from landmark displacements to bone parameters."""

    def __init__(self):
        self.mean = self.components = self.centres = self.coef = None
        self.sigma = self.ridge = None
        self.n_landmarks = self.n_params = 0
        self.layout: BoneLayout | None = None

    @classmethod
    def fit(cls, landmark_disps, bone_params, ridge: float = 1e-4, sigma: float | None = None,
            pca_tolerance: float = 1e-8, max_components: int | None = None,
            include_rest: bool = True, layout: BoneLayout | None = None) -> "BoneRBF":
        """landmark_disps (P, L, 3) displacements from the rest landmarks, bone_params (P, D).
        include_rest adds the rest pose (zero displacement -> zero parameters) as an example.
        pca_tolerance: fraction of the examples' displacement variance the projection may drop."""
        x = np.asarray(landmark_disps, np.float64)
        y = np.asarray(bone_params, np.float64)
        if x.ndim != 3 or x.shape[2] != 3:
            raise ValueError(f"landmark_disps: expected (P, L, 3), got {x.shape}")
        if y.ndim != 2 or len(y) != len(x):
            raise ValueError(f"bone_params: expected ({len(x)}, D), got {y.shape}")
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ValueError("examples contain NaN or inf")
        if layout is not None and layout.size != y.shape[1]:
            raise ValueError(f"layout has {layout.size} columns, bone_params {y.shape[1]}")
        self = cls()
        self.n_landmarks, self.n_params, self.layout = x.shape[1], y.shape[1], layout
        x = x.reshape(len(x), -1)
        if include_rest:
            x = np.vstack([x, np.zeros((1, x.shape[1]))])
            y = np.vstack([y, np.zeros((1, y.shape[1]))])
        n = len(x)
        if n < 3:
            raise ValueError("need at least 2 examples (plus the rest pose)")
        self.mean = x.mean(axis=0)
        _, s, vt = np.linalg.svd(x - self.mean, full_matrices=False)
        var = s ** 2
        kept = np.cumsum(var) >= (1.0 - pca_tolerance) * var.sum()
        k = int(np.argmax(kept)) + 1 if var.sum() > 0 else 1
        k = min(k, max_components or k, max(1, n // 2))
        self.components = vt[:k]                                           # (k, 3L)
        z = (x - self.mean) @ self.components.T                            # (n, k)
        self.centres = z
        d2 = _sq_dists(z, z)
        if sigma is None:
            iu = np.triu_indices(n, 1)
            sigma = float(np.median(np.sqrt(d2[iu])))
            if sigma <= 0:
                raise ValueError("examples are identical: cannot choose a kernel width")
        self.sigma, self.ridge = float(sigma), float(ridge)
        q = np.hstack([np.ones((n, 1)), z])                                # (n, k + 1)
        a = np.zeros((n + k + 1, n + k + 1))
        a[:n, :n] = np.exp(d2 * (-0.5 / self.sigma ** 2)) + self.ridge * np.eye(n)
        a[:n, n:] = q
        a[n:, :n] = q.T
        rhs = np.zeros((n + k + 1, y.shape[1]))
        rhs[:n] = y
        self.coef = np.linalg.solve(a, rhs)                                # (n + k + 1, D)
        return self

    @property
    def n_components(self) -> int:
        return len(self.components)

    def predict(self, disps) -> np.ndarray:
        """(F, L, 3) (or (L, 3)) landmark displacements -> (F, D) (or (D,)) bone parameters."""
        d = np.asarray(disps, np.float64)
        single = d.ndim == 2
        if single:
            d = d[None]
        if d.ndim != 3 or d.shape[1:] != (self.n_landmarks, 3):
            raise ValueError(f"disps: expected (F, {self.n_landmarks}, 3), got {np.shape(disps)}")
        z = (d.reshape(len(d), -1) - self.mean) @ self.components.T        # (F, k)
        k = np.exp(_sq_dists(z, self.centres) * (-0.5 / self.sigma ** 2))  # (F, n)
        out = np.hstack([k, np.ones((len(z), 1)), z]) @ self.coef
        return out[0] if single else out

    # --- persistence: a dict of plain lists (json.dump-able) --------------------------------
    def to_dict(self) -> dict:
        return {
            "format": "emotive.bone_rbf/1",
            "mean": self.mean.tolist(), "components": self.components.tolist(),
            "centres": self.centres.tolist(), "coef": self.coef.tolist(),
            "sigma": self.sigma, "ridge": self.ridge,
            "n_landmarks": self.n_landmarks, "n_params": self.n_params,
            "layout": self.layout.to_dict() if self.layout else None,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "BoneRBF":
        if d.get("format") != "emotive.bone_rbf/1":
            raise ValueError(f"not a BoneRBF dict: format {d.get('format')!r}")
        self = cls()
        for name in ("mean", "components", "centres", "coef"):
            setattr(self, name, np.asarray(d[name], np.float64))
        self.components = self.components.reshape(-1, len(self.mean))
        self.centres = self.centres.reshape(-1, len(self.components))
        self.sigma, self.ridge = float(d["sigma"]), float(d["ridge"])
        self.n_landmarks, self.n_params = int(d["n_landmarks"]), int(d["n_params"])
        self.layout = BoneLayout.from_dict(d["layout"]) if d.get("layout") else None
        return self
