"""Landmarks bound to a mesh surface (bpy-free): each landmark = a triangle + barycentric weights.

A binding made on the neutral head follows the surface under any shape-key mix: evaluate it on
the deformed vertices. Also the pinhole-camera math used to bind image landmarks by ray casting
(Blender's camera model: looks down its local -Z, +Y up; pixels from the image's top-left).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Binding:
    triangles: np.ndarray  # (L, 3) int vertex indices
    weights: np.ndarray    # (L, 3) float barycentric weights, rows sum to 1

    def evaluate(self, vertices: np.ndarray) -> np.ndarray:
        """(V, 3) vertices (any shape-key mix of the bound mesh) -> (L, 3) landmark positions."""
        return np.einsum("lk,lkd->ld", self.weights, np.asarray(vertices, np.float64)[self.triangles])

    def subset(self, indices) -> "Binding":
        return Binding(self.triangles[indices], self.weights[indices])

    def to_dict(self) -> dict:
        return {"triangles": self.triangles.tolist(),
                "weights": np.round(self.weights, 7).tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "Binding":
        return cls(np.asarray(d["triangles"], dtype=np.int64),
                   np.asarray(d["weights"], dtype=np.float64))


def triangulate(loop_starts, loop_totals, loop_vertices, keep=None) -> np.ndarray:
    """Fan-triangulate polygons (all of them, or those where `keep` is True) -> (T, 3)."""
    tris = []
    for p in np.flatnonzero(np.ones(len(loop_totals), bool) if keep is None else keep):
        v = loop_vertices[loop_starts[p]:loop_starts[p] + loop_totals[p]]
        tris.extend((v[0], v[i], v[i + 1]) for i in range(1, len(v) - 1))
    return np.asarray(tris, dtype=np.int64).reshape(-1, 3)


def barycentric(a: np.ndarray, b: np.ndarray, c: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Barycentric weights (N, 3) of points p (N, 3) in triangles (a, b, c), each (N, 3); p is
    projected onto the triangle's plane first."""
    v0, v1, v2 = b - a, c - a, p - a
    d00, d01, d11 = (v0 * v0).sum(-1), (v0 * v1).sum(-1), (v1 * v1).sum(-1)
    d20, d21 = (v2 * v0).sum(-1), (v2 * v1).sum(-1)
    den = d00 * d11 - d01 * d01
    v = (d11 * d20 - d01 * d21) / den
    w = (d00 * d21 - d01 * d20) / den
    return np.stack([1.0 - v - w, v, w], axis=-1)


def closest_on_triangles(a, b, c, p) -> np.ndarray:
    """Barycentric weights (N, 3) of the point of each triangle (a, b, c) closest to p (N, 3):
    the in-plane weights, or when they fall outside, the best point on one of the three edges."""
    w = barycentric(a, b, c, p)
    inside = (w >= 0).all(-1)
    if inside.all():
        return w
    best = np.full(len(p), np.inf)
    out = w.copy()
    corners = (a, b, c)
    for i, j in ((0, 1), (1, 2), (2, 0)):
        e = corners[j] - corners[i]
        t = np.clip(((p - corners[i]) * e).sum(-1) / np.maximum((e * e).sum(-1), 1e-30), 0, 1)
        d = ((corners[i] + t[:, None] * e - p) ** 2).sum(-1)
        better = ~inside & (d < best)
        best[better] = d[better]
        ew = np.zeros((len(p), 3))
        ew[:, i], ew[:, j] = 1 - t, t
        out[better] = ew[better]
    return out


def bind_points(vertices: np.ndarray, triangles: np.ndarray, points: np.ndarray,
                shortlist: int = 32) -> Binding:
    """Bind each point to the closest point of the surface. The triangles with the nearest
    centroids are the candidates (enough for a surface of roughly even triangles)."""
    from scipy.spatial import cKDTree  # here: Blender's Python has no scipy; evaluate() needs none
    verts = np.asarray(vertices, np.float64)
    points = np.asarray(points, np.float64).reshape(-1, 3)
    tri_v = verts[triangles]                                     # (T, 3, 3)
    k = min(shortlist, len(triangles))
    _, cand = cKDTree(tri_v.mean(axis=1)).query(points, k=k)     # (L, k)
    cand = cand.reshape(len(points), k)
    a, b, c = (tri_v[cand][:, :, i].reshape(-1, 3) for i in range(3))
    w = closest_on_triangles(a, b, c, np.repeat(points, k, axis=0))
    q = w[:, :1] * a + w[:, 1:2] * b + w[:, 2:] * c
    d = ((q - np.repeat(points, k, axis=0)) ** 2).sum(-1).reshape(len(points), k)
    best = d.argmin(axis=1)
    rows = np.arange(len(points))
    return Binding(triangles[cand[rows, best]], w.reshape(len(points), k, 3)[rows, best])


# --- pinhole camera (Blender's model: sensor fit on the wider image side) --------------------

def look_at(location, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """World-from-camera rotation (3, 3) of a camera at `location` looking at `target`."""
    back = np.asarray(location, float) - np.asarray(target, float)   # camera +Z points backwards
    back /= np.linalg.norm(back)
    right = np.cross(up, back)
    right /= np.linalg.norm(right)
    return np.stack([right, np.cross(back, right), back], axis=1)


def camera_dict(location, rotation, lens_mm: float, sensor_mm: float, width: int,
                height: int) -> dict:
    return {"type": "PERSP", "location": np.asarray(location, float).tolist(),
            "rotation": np.asarray(rotation, float).tolist(), "lens_mm": float(lens_mm),
            "sensor_mm": float(sensor_mm), "resolution": [int(width), int(height)]}


def _focal_px(cam: dict) -> float:
    return cam["lens_mm"] / cam["sensor_mm"] * max(cam["resolution"])


def project(points: np.ndarray, cam: dict) -> np.ndarray:
    """World points (N, 3) -> pixel coordinates (N, 2): x right, y down, (0, 0) = the top-left
    corner of the image (MediaPipe's normalised coordinates times the image size)."""
    r, loc = np.asarray(cam["rotation"]), np.asarray(cam["location"])
    pc = (np.asarray(points, float) - loc) @ r                    # camera coordinates
    w, h = cam["resolution"]
    f = _focal_px(cam)
    return np.stack([w / 2 + f * pc[:, 0] / -pc[:, 2], h / 2 - f * pc[:, 1] / -pc[:, 2]], axis=1)


def pixel_rays(pixels: np.ndarray, cam: dict) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (N, 2) as in `project` -> (origin (3,), unit directions (N, 3))."""
    w, h = cam["resolution"]
    f = _focal_px(cam)
    px = np.asarray(pixels, float)
    d = np.stack([(px[:, 0] - w / 2) / f, -(px[:, 1] - h / 2) / f, -np.ones(len(px))], axis=1)
    d = d @ np.asarray(cam["rotation"]).T
    return np.asarray(cam["location"], float), d / np.linalg.norm(d, axis=1, keepdims=True)
