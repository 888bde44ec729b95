"""Transfer the default head's 52 ARKit shape keys onto any head mesh with known landmarks (bpy-free).

The target is an arbitrary mesh (any topology, any vertex order) whose 70 canonical landmarks are
known in its object space (rigs/blender/binding.load_binding gives them). Three steps:

1. Coarse correspondence. A similarity transform T(x) = s R x + t (Umeyama, least squares over
   the 70 landmark pairs) brings the default head onto the target's pose and size; an RBF warp
   (rigs/rbf.RBFWarp, fitted at the aligned source landmarks, displacement = target landmarks -
   aligned source landmarks) then carries only the residual shape (a wider jaw, a longer nose).
   Its falloff radii are scaled by s, so far from the face (back of the head) only T applies.
2. Surface correspondence. Every target vertex is matched to the closest point of the warped
   default head's surface: a cKDTree over triangle centroids gives a shortlist, the exact closest
   point on each candidate triangle is computed, and candidates whose normal disagrees with the
   target vertex's normal (angle > `max_normal_angle`) are skipped, so an inner lip does not
   take the teeth's motion, an upper lid not the lower lid's. Small separate parts of the target
   (eyeballs, tooth rows, tongue: connected components < 10% of its vertices) are then matched
   again against the one source part most of their vertices chose (the closed tooth rows touch:
   without this, vertices between them take either row's motion). A match is accepted when its
   distance is within `max_distance` (scaled by s) and the vertex lies within `region` (scaled
   by s) of the target's landmarks; everything else is "rejected".
3. Deltas. Each key's delta at a matched point is the barycentric mix of the source deltas of the
   matched triangle, then mapped by the similarity's linear part s R. Rejected vertices take an
   inverse-distance mix of the deltas of the nearest accepted vertices (in the target), faded
   out by a smoothstep of the distance to them (0 beyond `fill_radius`): no seams, no zeros in
   the middle of a moving region, 0 far from the face.

Jacobian choice: the deltas are mapped by the similarity only (s R), not by the RBF's local
Jacobian. The residual warp carries identity differences (a fuller cheek, a longer chin) whose
local stretch says little about how far that face's lip corner travels in a smile; MakeHuman's
own face units are the same offsets on every identity (anny adds them unchanged), and the
Jacobian of a 70-point RBF is noisy between landmarks (its derivative rings where the field
itself is smooth). The similarity keeps the key's direction in the target's frame and scales
its size with the head: with `scale_deltas=False` the deltas are only rotated (s = 1), which is
exactly anny's convention; the bench reports both.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.spatial import cKDTree

from .arkit import ARKIT_NAMES
from .landmark_binding import closest_on_triangles
from .rbf import DEFAULT_FALLOFF, RBFWarp, smoothstep_falloff

# Distances below are for the default head's size (metres) and are multiplied by the similarity
# scale s, so a head modelled in centimetres or twice as big gets the same behaviour.
MAX_DISTANCE = 0.004        # a match farther than 4 mm from the warped default head is rejected
MAX_NORMAL_ANGLE = 60.0     # degrees between the target vertex normal and the matched triangle's
REGION = 0.11               # vertices farther than 11 cm from every landmark get no deltas
FILL_RADIUS = 0.01          # rejected vertices borrow from accepted ones within 1 cm
SHORTLIST = 24              # candidate triangles per target vertex (nearest centroids)
CHUNK = 8192                # target vertices per block in the closest-point search


class ShapeTransferError(ValueError):
    """Bad input to the transfer (shapes, degenerate landmarks, no face region)."""


def _points(name: str, a, n: int | None = None) -> np.ndarray:
    a = np.asarray(a, np.float64)
    if a.ndim != 2 or a.shape[1] != 3 or (n is not None and len(a) != n):
        want = f"({n}, 3)" if n is not None else "(N, 3)"
        raise ShapeTransferError(f"{name}: expected shape {want}, got {a.shape}")
    if not np.isfinite(a).all():
        raise ShapeTransferError(f"{name}: contains NaN or inf")
    return a


def _triangles(name: str, t, n_vertices: int) -> np.ndarray:
    t = np.asarray(t, np.int64)
    if t.ndim != 2 or t.shape[1] != 3 or len(t) == 0:
        raise ShapeTransferError(f"{name}: expected shape (T, 3) with T > 0, got {t.shape}")
    if t.min() < 0 or t.max() >= n_vertices:
        raise ShapeTransferError(f"{name}: vertex index out of range 0..{n_vertices - 1}")
    return t


def umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity dst ~ s R src + t -> (s, R (3, 3), t (3,)); R is a rotation."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    var = (a ** 2).sum() / len(src)
    if var < 1e-20:
        raise ShapeTransferError("source landmarks are all at one point")
    u, sig, vt = np.linalg.svd(b.T @ a / len(src))
    d = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    r = u @ np.diag(d) @ vt
    s = float((sig * d).sum() / var)
    if s <= 0:
        raise ShapeTransferError("target landmarks are degenerate (zero scale)")
    return s, r, mu_d - s * r @ mu_s


def vertex_normals(v: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (zero for vertices without faces)."""
    fn = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, t[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-30)


def _face_normals(v: np.ndarray, t: np.ndarray) -> np.ndarray:
    fn = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])
    return fn / np.maximum(np.linalg.norm(fn, axis=1, keepdims=True), 1e-30)


def closest_points(src_v: np.ndarray, src_t: np.ndarray, points: np.ndarray,
                   normals: np.ndarray | None = None, min_cos: float = -1.0,
                   shortlist: int = SHORTLIST, chunk: int = CHUNK):
    """For each point: the closest point on the surface (src_v, src_t) among the `shortlist`
    triangles with the nearest centroids, skipping triangles whose normal has a cosine below
    `min_cos` with the point's normal -> (triangle index (N,), barycentric weights (N, 3),
    distance (N,); inf where no candidate qualified)."""
    tri_v = src_v[src_t]                                          # (T, 3, 3)
    fnorm = _face_normals(src_v, src_t)
    k = min(shortlist, len(src_t))
    tree = cKDTree(tri_v.mean(axis=1))
    n = len(points)
    out_t, out_w = np.zeros(n, np.int64), np.zeros((n, 3))
    out_d = np.full(n, np.inf)
    for s in range(0, n, chunk):
        p = points[s:s + chunk]
        m = len(p)
        _, cand = tree.query(p, k=k)
        cand = cand.reshape(m, k)
        flat = cand.ravel()
        a, b, c = tri_v[flat, 0], tri_v[flat, 1], tri_v[flat, 2]
        pr = np.repeat(p, k, axis=0)
        w = closest_on_triangles(a, b, c, pr)
        q = w[:, :1] * a + w[:, 1:2] * b + w[:, 2:] * c
        d = np.sqrt(((q - pr) ** 2).sum(-1)).reshape(m, k)
        if normals is not None:
            cos = (fnorm[flat] * np.repeat(normals[s:s + chunk], k, axis=0)).sum(-1)
            d[cos.reshape(m, k) < min_cos] = np.inf
        best = d.argmin(axis=1)
        rows = np.arange(m)
        out_t[s:s + m] = cand[rows, best]
        out_w[s:s + m] = w.reshape(m, k, 3)[rows, best]
        out_d[s:s + m] = d[rows, best]
    return out_t, out_w, out_d


def _components(n: int, t: np.ndarray) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    i = np.concatenate([t[:, 0], t[:, 1], t[:, 2]])
    j = np.concatenate([t[:, 1], t[:, 2], t[:, 0]])
    g = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    return connected_components(g, directed=False)[1]


def _restrict_small_components(src_v, src_t, tv, tt, tn, min_cos, tri, w, dist,
                               small: float = 0.1, majority: float = 0.5) -> None:
    """Separate small parts of the target (eyeballs, tooth rows, tongue) are matched only to the
    source part most of their vertices matched: closed tooth rows touch, and a vertex exactly
    between them would otherwise take either row's motion. Updates tri, w, dist in place."""
    tcomp = _components(len(tv), tt)
    scomp_v = _components(len(src_v), src_t)
    scomp = scomp_v[src_t[:, 0]]
    ok = np.isfinite(dist)
    for c in np.unique(tcomp):
        members = np.flatnonzero(tcomp == c)
        if len(members) > small * len(tv):
            continue
        votes = scomp[tri[members[ok[members]]]]
        if len(votes) == 0:
            continue
        counts = np.bincount(votes)
        best = int(counts.argmax())
        if counts[best] < majority * len(members):
            continue
        sub = np.flatnonzero(scomp == best)
        t2, w2, d2 = closest_points(src_v, src_t[sub], tv[members], tn[members], min_cos)
        tri[members], w[members], dist[members] = sub[t2], w2, d2


def transfer_shape_keys(source_vertices, source_triangles, source_deltas: dict,
                        source_landmarks, target_vertices, target_triangles, target_landmarks,
                        names=ARKIT_NAMES, *, scale_deltas: bool = True,
                        max_distance: float = MAX_DISTANCE,
                        max_normal_angle: float = MAX_NORMAL_ANGLE, region: float = REGION,
                        fill_radius: float = FILL_RADIUS, return_report: bool = False):
    """The source's shape keys (name -> (Vs, 3) deltas) carried onto the target mesh ->
    dict name -> (Vt, 3) float32 deltas in the target's object space (the target's vertex
    order; indices are never matched, only geometry). With return_report=True ->
    (deltas, report): accepted share, distances (in the target's units), similarity, timing."""
    t0 = time.perf_counter()
    sv = _points("source_vertices", source_vertices)
    st = _triangles("source_triangles", source_triangles, len(sv))
    sl = _points("source_landmarks", source_landmarks)
    tv = _points("target_vertices", target_vertices)
    tt = _triangles("target_triangles", target_triangles, len(tv))
    tl = _points("target_landmarks", target_landmarks, len(sl))
    names = tuple(names)
    missing = [n for n in names if n not in source_deltas]
    if missing:
        raise ShapeTransferError(f"source_deltas lacks {missing[:5]}")
    deltas = np.stack([np.asarray(source_deltas[n], np.float64) for n in names])  # (K, Vs, 3)
    if deltas.shape[1:] != sv.shape:
        raise ShapeTransferError(f"source deltas: expected (Vs, 3) = {sv.shape}, got "
                                 f"{deltas.shape[1:]}")

    # (a) similarity + residual RBF warp of the source onto the target
    s, r, t = umeyama(sl, tl)
    a_sv, a_sl = sv @ (s * r).T + t, sl @ (s * r).T + t
    falloff = (DEFAULT_FALLOFF[0] * s, DEFAULT_FALLOFF[1] * s)
    warp = RBFWarp(a_sl, a_sv, falloff=falloff, dtype=np.float64)
    warped = a_sv + warp.deform(tl - a_sl)

    # (b) closest point on the warped source for every target vertex, normals agreeing
    tn = vertex_normals(tv, tt)
    tri, w, dist = closest_points(warped, st, tv, tn, np.cos(np.radians(max_normal_angle)))
    _restrict_small_components(warped, st, tv, tt, tn, np.cos(np.radians(max_normal_angle)),
                               tri, w, dist)
    d_lm, _ = cKDTree(tl).query(tv)
    in_region = d_lm <= region * s
    accepted = in_region & (dist <= max_distance * s) & (np.linalg.norm(tn, axis=1) > 0.5)

    # (c) barycentric mix of the source deltas, mapped by the similarity's linear part
    lin = (s if scale_deltas else 1.0) * r
    out = np.zeros((len(names), len(tv), 3))
    acc = np.flatnonzero(accepted)
    if len(acc):
        corners = deltas[:, st[tri[acc]]]                         # (K, A, 3, 3)
        out[:, acc] = np.einsum("ak,nakd->nad", w[acc], corners) @ lin.T
        rej = np.flatnonzero(~accepted & in_region)
        if len(rej):
            k = min(8, len(acc))
            dd, ii = cKDTree(tv[acc]).query(tv[rej], k=k)
            dd, ii = dd.reshape(len(rej), k), ii.reshape(len(rej), k)
            wts = 1.0 / np.maximum(dd, 1e-9 * s) ** 2
            wts /= wts.sum(axis=1, keepdims=True)
            fade = smoothstep_falloff(dd[:, 0], 0.25 * fill_radius * s, fill_radius * s)
            out[:, rej] = np.einsum("rk,nrkd->nrd", wts, out[:, acc[ii]]) * fade[None, :, None]
    result = {n: out[i].astype(np.float32) for i, n in enumerate(names)}
    if not return_report:
        return result
    region_n = int(in_region.sum())
    fin = dist[accepted]
    report = {
        "target_vertices": len(tv), "in_region": region_n,
        "accepted": int(accepted.sum()),
        "accepted_share": float(accepted.sum() / max(region_n, 1)),
        "max_distance": float(fin.max()) if len(fin) else float("nan"),
        "mean_distance": float(fin.mean()) if len(fin) else float("nan"),
        "scale": s, "rotation": r, "translation": t,
        "landmark_rms_after_similarity": float(np.sqrt(((a_sl - tl) ** 2).sum(1).mean())),
        "seconds": time.perf_counter() - t0,
    }
    return result, report
