"""Manual landmark placement (bpy-free): the maths of placing the 70 canonical landmarks by hand.

The fallback when automatic binding finds no face (a stylised or non-human head), and the way to
correct an automatic binding. rigs/blender/landmark_placement.py shows the points as empties and
drives these functions; everything here works on object-space points of one mesh.

- Initial guess (`fit_to_guides`): the default head's reference landmarks, carried by a
  similarity (Umeyama) fitted on a few points the user placed, by default the five GUIDES (both
  pupils, nose tip, mouth corners), then snapped onto the target's surface. The guides keep
  exactly where the user put them (snapped). Without any guide `box_guess` scales the reference
  into the mesh's bounding box (assumes a bust facing -Y, Z up, as the default head).
- Mirror symmetry (`Plane`, `mirror_into`): a point's partner (landmarks.MIRROR) is its
  reflection in the symmetry plane snapped onto the surface; centre-line points are projected
  onto the plane, then snapped. The plane is the object's local X = 0 (X_PLANE), or fitted to the
  mesh (`fit_symmetry_plane`: reflective ICP from X_PLANE).
- Binding (`binding_from_points`): the 70 edited points snapped and bound as canonical70; the
  478 MediaPipe landmarks (which shape transfer and other modules use) are the default head's
  reference 478 carried by the same similarity plus an RBF warp (rigs/rbf.py) fitted on the 70
  correspondences, then snapped; the 70 canonical rows of the 478 are the 70 themselves, as in
  an automatic binding (canonical70 = mediapipe478.subset(MEDIAPIPE_TO_CANONICAL)).

Snapping takes a `nearest(points (N, 3)) -> (points (N, 3), triangle ids (N,))` callable over the
target in the points' space (auto_binding.Nearest); `Surface` is the scipy implementation, the
Blender adapter passes a mathutils BVHTree one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.spatial import cKDTree

from ..errors import EmotiveError
from . import landmarks as lm
from .auto_binding import LandmarkBinding, Nearest, make_binding
from .head_mesh import BINDING_PATH, load_default_head
from .landmark_binding import Binding
from .rbf import DEFAULT_FALLOFF, RBFWarp
from .shape_transfer import ShapeTransferError, closest_points, umeyama

# Landmark names, the subject's Right/Left as in rigs/landmarks.py; partners share a name but for
# the side letter.
NAMES: tuple[str, ...] = (
    *(f"jaw R {i}" for i in range(8)), "chin", *(f"jaw L {i}" for i in range(7, -1, -1)),
    "brow R outer", "brow R outer mid", "brow R mid", "brow R inner mid", "brow R inner",
    "brow L inner", "brow L inner mid", "brow L mid", "brow L outer mid", "brow L outer",
    "nose bridge top", "nose bridge upper", "nose bridge lower", "nose tip",
    "nostril R outer", "nostril R", "nose base", "nostril L", "nostril L outer",
    "eye R outer", "eye R upper outer", "eye R upper inner", "eye R inner", "eye R lower inner",
    "eye R lower outer",
    "eye L inner", "eye L upper inner", "eye L upper outer", "eye L outer", "eye L lower outer",
    "eye L lower inner",
    "mouth R corner", "upper lip R outer", "upper lip R peak", "upper lip top",
    "upper lip L peak", "upper lip L outer", "mouth L corner", "lower lip L outer", "lower lip L",
    "lower lip bottom", "lower lip R", "lower lip R outer",
    "lips inner R corner", "upper lip inner R", "upper lip inner", "upper lip inner L",
    "lips inner L corner", "lower lip inner L", "lower lip inner", "lower lip inner R",
    "pupil R", "pupil L",
)
GUIDES = (68, 69, 30, 48, 54)   # pupils, nose tip, mouth corners: easy to find on any face
MIN_GUIDES = 3                  # a similarity needs three points not on one line
# Guided placement order: the guides (they fix the initial guess), then from the most to the
# least distinct features; each pair right side first, so with mirror on the right side is
# clicked and the left follows.
ORDER: tuple[int, ...] = (
    68, 69, 30, 48, 54,
    36, 45, 39, 42, 37, 44, 38, 43, 41, 46, 40, 47,           # eyes: corners, then lids
    17, 26, 21, 22, 19, 24, 18, 25, 20, 23,                   # brows: ends, then between
    27, 28, 29, 33, 31, 35, 32, 34,                           # nose
    51, 57, 50, 52, 49, 53, 59, 55, 58, 56,                   # outer lips
    62, 66, 60, 64, 61, 63, 67, 65,                           # inner lips
    8, 0, 16, 4, 12, 2, 14, 6, 10, 1, 15, 3, 13, 5, 11, 7, 9,  # jaw: chin, ears, between
)
# "R", "L" or "C" (centre line) per landmark, from the names
SIDE: tuple[str, ...] = tuple("R" if " R" in n else "L" if " L" in n else "C" for n in NAMES)
assert sorted(ORDER) == list(range(lm.N_CANONICAL)) and len(NAMES) == lm.N_CANONICAL
_swap = {"R": "L", "L": "R"}
assert all((SIDE[i] == "C") == (lm.MIRROR[i] == i) and NAMES[lm.MIRROR[i]] == " ".join(
    _swap.get(w, w) for w in NAMES[i].split()) for i in range(lm.N_CANONICAL))


class LandmarkPlacementError(EmotiveError):
    """Manual placement cannot go on (the message says why and what to do); nothing changed."""


def label(index: int) -> str:
    """'L36 eye R outer': the empties' names and what the guided mode asks for."""
    return f"L{index} {NAMES[index]}"


def steps(mirror: bool) -> tuple[int, ...]:
    """The guided order; with mirror on, a landmark whose partner comes earlier is left out
    (placing the partner places it)."""
    if not mirror:
        return ORDER
    seen: set[int] = set()
    out = []
    for i in ORDER:
        if int(lm.MIRROR[i]) not in seen:
            out.append(i)
        seen.add(i)
    return tuple(out)


# --- the default head's reference ---------------------------------------------------------------

@lru_cache(maxsize=1)
def reference() -> tuple[np.ndarray, np.ndarray]:
    """The default head's reference landmarks on its neutral surface -> (70, 3), (478, 3)."""
    with open(BINDING_PATH, encoding="utf-8") as f:
        data = json.load(f)
    verts = load_default_head().vertices.astype(np.float64)
    return (Binding.from_dict(data["canonical70"]).evaluate(verts),
            Binding.from_dict(data["mediapipe478"]).evaluate(verts))


# --- surface --------------------------------------------------------------------------------

class Surface:
    """Closest-point queries on a triangle mesh (cKDTree shortlist of triangle centroids, then
    the exact closest point of each candidate: shape_transfer.closest_points)."""

    def __init__(self, vertices, triangles):
        self.vertices = np.asarray(vertices, np.float64)
        self.triangles = np.asarray(triangles, np.int64)
        if len(self.triangles) == 0:
            raise LandmarkPlacementError("the mesh has no faces: landmarks need a surface")

    def __call__(self, points) -> tuple[np.ndarray, np.ndarray]:
        p = np.asarray(points, np.float64).reshape(-1, 3)
        tri, w, _ = closest_points(self.vertices, self.triangles, p)
        corners = self.vertices[self.triangles[tri]]
        return np.einsum("nk,nkd->nd", w, corners), tri


def _points(points, n: int | None = lm.N_CANONICAL, what: str = "landmarks") -> np.ndarray:
    p = np.asarray(points, np.float64)
    if p.ndim != 2 or p.shape[1] != 3 or (n is not None and len(p) != n):
        raise LandmarkPlacementError(f"{what}: expected ({n or 'N'}, 3) points, got {p.shape}")
    if not np.isfinite(p).all():
        raise LandmarkPlacementError(f"{what}: contains NaN or inf")
    return p


def snap(points, nearest: Nearest) -> np.ndarray:
    q, _ = nearest(_points(points, None))
    return np.asarray(q, np.float64).reshape(-1, 3)


# --- symmetry -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plane:
    """The symmetry plane n . x = offset (n unit; +n towards the subject's left)."""
    normal: np.ndarray
    offset: float

    def signed_distance(self, p) -> np.ndarray:
        return np.asarray(p, np.float64) @ self.normal - self.offset

    def reflect(self, p) -> np.ndarray:
        p = np.asarray(p, np.float64)
        return p - 2.0 * self.signed_distance(p)[..., None] * self.normal

    def project(self, p) -> np.ndarray:
        p = np.asarray(p, np.float64)
        return p - self.signed_distance(p)[..., None] * self.normal


X_PLANE = Plane(np.array([1.0, 0.0, 0.0]), 0.0)  # the object's local X = 0


def fit_symmetry_plane(vertices, initial: Plane = X_PLANE, iterations: int = 200,
                       keep: float = 0.8, max_points: int = 20000, seed: int = 0) -> Plane:
    """The mesh's mirror plane by reflective ICP: reflect the vertices in the current plane,
    pair each with the nearest original vertex, refit the plane to the pairs (normal = main
    direction of the pair differences, offset = mean of their midpoints), the `keep` share of
    best pairs only (an asymmetric detail does not tilt it). Starts from `initial`, so the mesh
    must be roughly symmetric about it (a face modelled facing -Y about its local X = 0).
    Nearest-vertex pairs only slide slowly towards the true mirror twins (measured on the
    default head turned 4 degrees and shifted 7 mm: ~60 iterations, then exact), hence the
    generous iteration cap; it stops as soon as the plane no longer moves."""
    v = _points(vertices, None, "vertices")
    if len(v) > max_points:
        v = v[np.random.default_rng(seed).choice(len(v), max_points, replace=False)]
    tree = cKDTree(v)
    plane = initial
    for _ in range(iterations):
        d, j = tree.query(plane.reflect(v))
        good = d <= np.quantile(d, keep)
        p, q = v[good], v[j[good]]
        diff = p - q
        diff[diff @ plane.normal < 0] *= -1
        if (np.linalg.norm(diff, axis=1) < 1e-12).all():
            break
        n = np.linalg.eigh(diff.T @ diff)[1][:, -1]
        n = n if n @ plane.normal >= 0 else -n
        new = Plane(n, float(((p + q) / 2 @ n).mean()))
        moved = np.linalg.norm(new.normal - plane.normal) + abs(new.offset - plane.offset)
        plane = new
        if moved < 1e-9:
            break
    return plane


def mirror_into(points, indices, plane: Plane, nearest: Nearest) -> tuple[np.ndarray, list[int]]:
    """Copy each of `indices` onto its partner: the partner's position = the reflection, snapped;
    a centre-line landmark (its own partner) is projected onto the plane, snapped ->
    (new (70, 3) points, the indices changed)."""
    out = _points(points).copy()
    idx = [int(i) for i in indices]
    pairs = {int(lm.MIRROR[i]): i for i in idx if lm.MIRROR[i] != i}
    both = sorted(i for i in pairs if i in idx)
    if both:
        raise LandmarkPlacementError(
            "both landmarks of a mirror pair were given as the side to copy ("
            + ", ".join(label(i) for i in both[:4]) + "): give one side only")
    centre = [i for i in idx if lm.MIRROR[i] == i]
    targets = list(pairs) + centre
    if not targets:
        return out, []
    src = np.concatenate([plane.reflect(out[list(pairs.values())]).reshape(-1, 3),
                          plane.project(out[centre]).reshape(-1, 3)])
    out[targets] = snap(src, nearest)
    return out, targets


# --- initial guess --------------------------------------------------------------------------

def _spans_plane(points: np.ndarray) -> bool:
    """Not all on one line: else a fitted rotation about that line is undetermined."""
    sv = np.linalg.svd(points - points.mean(0), compute_uv=False)
    return bool(sv[0] > 0 and sv[1] > 1e-3 * sv[0])


def fit_to_guides(guides: dict, nearest: Nearest) -> np.ndarray:
    """All 70 landmarks from a few placed ones: {index: (3,) point}, at least MIN_GUIDES not on
    one line (normally GUIDES). The default head's reference is carried onto them by a least-
    squares similarity and snapped; the given points keep their place (snapped) -> (70, 3)."""
    if len(guides) < MIN_GUIDES:
        raise LandmarkPlacementError(
            f"place at least {MIN_GUIDES} guide landmarks first (have {len(guides)}): "
            + ", ".join(label(i) for i in GUIDES))
    idx = np.array(sorted(int(i) for i in guides))
    dst = _points([guides[i] for i in idx], len(idx), "guide points")
    ref70, _ = reference()
    src = ref70[idx]
    if not _spans_plane(dst):
        raise LandmarkPlacementError(
            "the guide landmarks lie on one line (or at one point): place them where they are "
            "on the face (" + ", ".join(label(i) for i in idx) + ")")
    try:
        s, r, t = umeyama(src, dst)
    except ShapeTransferError as e:
        raise LandmarkPlacementError(f"cannot fit the guide landmarks: {e}") from e
    out = snap(ref70 @ (s * r).T + t, nearest)
    out[idx] = snap(dst, nearest)
    return out


def box_guess(vertices, nearest: Nearest) -> np.ndarray:
    """A first guess with nothing placed: the reference scaled to the mesh's width, its crown
    and front aligned with the mesh's top and -Y side (a bust facing -Y, Z up, as the default
    head). Rough by design: the guided mode re-fits everything from the guides."""
    v = _points(vertices, None, "vertices")
    head = load_default_head().vertices.astype(np.float64)
    ref70, _ = reference()
    s = np.ptp(v[:, 0]) / np.ptp(head[:, 0])
    if not np.isfinite(s) or s <= 0:
        raise LandmarkPlacementError("the mesh has no width along X: cannot guess landmarks")
    def anchor(a):  # top centre of the front
        return np.array([(a[:, 0].min() + a[:, 0].max()) / 2, a[:, 1].min(), a[:, 2].max()])

    return snap((ref70 - anchor(head)) * s + anchor(v), nearest)


# --- binding --------------------------------------------------------------------------------

def binding_from_points(vertices, triangles, points, nearest: Nearest | None = None
                        ) -> tuple[LandmarkBinding, dict]:
    """Bind 70 edited object-space points to the mesh (vertices (V, 3), triangles (T, 3) in the
    same space) -> (LandmarkBinding with the 478 and the 70, report)."""
    v = _points(vertices, None, "vertices")
    t = np.asarray(triangles, np.int64)
    nearest = nearest or Surface(v, t)
    p = _points(points)
    q70, t70 = nearest(p)
    q70, t70 = np.asarray(q70, np.float64).reshape(-1, 3), np.asarray(t70, np.int64)
    if ((t70 < 0) | (t70 >= len(t))).any():
        raise LandmarkPlacementError("some landmarks could not be snapped onto the mesh")
    if not _spans_plane(q70):
        raise LandmarkPlacementError("the landmarks are degenerate: they lie on one line or at "
                                     "one point; place them on the face")
    ref70, ref478 = reference()
    try:
        s, r, tr = umeyama(ref70, q70)
    except ShapeTransferError as e:
        raise LandmarkPlacementError(f"the landmarks are degenerate: {e}") from e
    a70, a478 = ref70 @ (s * r).T + tr, ref478 @ (s * r).T + tr
    warp = RBFWarp(a70, a478, falloff=(DEFAULT_FALLOFF[0] * s, DEFAULT_FALLOFF[1] * s),
                   dtype=np.float64)
    q478, t478 = nearest(a478 + warp.deform(q70 - a70))
    q478, t478 = np.asarray(q478, np.float64).reshape(-1, 3), np.asarray(t478, np.int64)
    if ((t478 < 0) | (t478 >= len(t))).any():
        raise LandmarkPlacementError("some MediaPipe landmarks could not be snapped onto the mesh")
    c = lm.MEDIAPIPE_TO_CANONICAL
    q478[c], t478[c] = q70, t70
    b478 = make_binding(v, t, t478, q478)
    snapped = np.linalg.norm(q70 - p, axis=1)
    # How far the face's proportions are from the default head's, in the default head's mm: a
    # large figure (tens of mm) usually means landmarks swapped or on the wrong feature.
    shape_rms = float(np.sqrt(((q70 - a70) ** 2).sum(1).mean()) / s * 1e3)
    report = {"method": "manual", "landmarks_placed": lm.N_CANONICAL,
              "snapped_mean": round(float(snapped.mean()), 6),
              "snapped_max": round(float(snapped.max()), 6),
              "similarity_scale": round(float(s), 6),
              "shape_rms_mm": round(shape_rms, 3)}
    return LandmarkBinding(b478, b478.subset(c)), report
