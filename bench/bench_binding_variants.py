"""Automatic binding on MakeHuman identity variants against the *transported* reference.

Issue 4 asks automatic binding to land within 2 mm of the default head's reference binding
carried through each variant's identity targets (same topology, so the "true" landmark is the
same barycentric point). This measures, per landmark group (mean / max mm), how far that is for:

  auto        rigs/blender/binding.bind_object as shipped (render, FaceMesh, cast, 5 views);
  template    an experiment, not shipped: the default head registered onto the variant
              (similarity + RBF warp at the 478 detected landmarks, then 15 rounds of non-rigid
              ICP: closest-point data term on the face skin, a weak pull to the detections,
              smoothness over the landmark graph), its reference landmarks read off the
              registered template and snapped onto the variant.

Registration cannot recover what geometry does not show: on a bald, untextured head the brows,
the nose bridge's points along the ridge and the jaw contour can slide along the surface
without changing its shape, so neither column reaches 2 mm there (see the printed groups).
Run: .venv/bin/python bench/bench_binding_variants.py   (needs mediapipe and anny; ~30 s)
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
from scipy.spatial import cKDTree

from emotive.rigs import head_mesh as hm
from emotive.rigs import landmarks as lm
from emotive.rigs.landmark_binding import Binding, triangulate
from emotive.rigs.rbf import DEFAULT_FALLOFF, RBFWarp
from emotive.rigs.shape_transfer import _components, closest_points, umeyama, vertex_normals

REGION_M = 0.03          # template vertices within this of a landmark take part in the ICP
ROUNDS, PRIOR, SMOOTH = 15, 0.01, 10.0


def auto_bindings(head) -> dict:
    import bpy

    from emotive.rigs.blender.binding import bind_object
    from emotive.rigs.blender.head import create_default_head

    out = {}
    for name, weights in [("default", None)] + sorted(hm.IDENTITY_VARIANTS.items()):
        bpy.ops.wm.read_homefile(use_empty=True)
        verts = head.vertices if weights is None else hm.identity_variant_vertices(weights, head)
        obj = create_default_head(name=name, head=dataclasses.replace(head, vertices=verts))
        binding, _ = bind_object(obj, facing="-Y", store=False)
        out[name] = (verts.astype(np.float64), binding.mediapipe478.evaluate(verts))
    return out


def template_landmarks(head, tris, ref478, ref70, tv, detected478) -> np.ndarray:
    sv = head.vertices.astype(np.float64)
    comp = _components(len(sv), tris)
    src = ref478.evaluate(sv)
    near, _ = cKDTree(src).query(sv)
    face = np.flatnonzero((comp == np.bincount(comp).argmax()) & (near < REGION_M))
    s, r, t = umeyama(src, detected478)
    a_sv, a_src = sv @ (s * r).T + t, src @ (s * r).T + t
    warp = RBFWarp(a_src, a_sv, falloff=(DEFAULT_FALLOFF[0] * s, DEFAULT_FALLOFF[1] * s),
                   dtype=np.float64)
    n = len(src)
    _, nb = cKDTree(a_src).query(a_src, k=7)
    lap = np.eye(n)
    lap[np.repeat(np.arange(n), 6), nb[:, 1:].ravel()] -= 1 / 6
    prior = detected478 - a_src
    d = prior.copy()
    for _ in range(ROUNDS):
        moved = a_sv + warp.W @ d
        tri, w, dist = closest_points(tv, tris, moved[face],
                                      vertex_normals(moved, tris)[face], 0.5)
        ok = np.isfinite(dist) & (dist < 0.01 * s)
        a = warp.W[face][ok]
        q = np.einsum("nk,nkd->nd", w[ok], tv[tris[tri[ok]]])
        m = a.T @ a / ok.sum() + (PRIOR / n) * np.eye(n) + (SMOOTH / n) * lap.T @ lap
        d = np.linalg.solve(m, a.T @ (q - a_sv[face][ok]) / ok.sum() + (PRIOR / n) * prior)
    p = ref70.evaluate(a_sv + warp.W @ d)
    tri, w, _ = closest_points(tv, tris, p)
    return np.einsum("nk,nkd->nd", w, tv[tris[tri]])


def main():
    head = hm.load_default_head()
    tris = triangulate(head.loop_starts, head.loop_totals, head.loop_vertices)
    with open(hm.BINDING_PATH, encoding="utf-8") as f:
        ref = json.load(f)
    ref478, ref70 = Binding.from_dict(ref["mediapipe478"]), Binding.from_dict(ref["canonical70"])
    c70 = lm.MEDIAPIPE_TO_CANONICAL
    print(f"{'head':13s} {'method':9s} {'all 70':>11s} " +
          " ".join(f"{g:>12s}" for g in lm.GROUPS))
    for name, (tv, detected) in auto_bindings(head).items():
        truth = ref70.evaluate(tv)
        for method, points in (("auto", detected[c70]),
                               ("template", template_landmarks(head, tris, ref478, ref70, tv,
                                                               detected))):
            e = np.linalg.norm(points - truth, axis=1) * 1e3
            print(f"{name:13s} {method:9s} {e.mean():5.2f}/{e.max():5.2f} " + " ".join(
                f"{e[list(r)].mean():5.1f}/{e[list(r)].max():5.1f}" for r in lm.GROUPS.values()))


if __name__ == "__main__":
    main()
