"""RBF landmark -> mesh deformation figures (printed, not asserted).

- precompute (W, the (V, L) matrix) time; amortised per-frame time of W @ disp over 300 frames
  on 10k vertices (goal <= 0.1 ms a frame); the naive per-frame re-solve and the speed-up
- both methods agree (max abs difference)
- 200k vertices: precompute time, peak traced memory, per-frame time
Meshes: the default head (4.8k vertices) and jittered copies of its vertices (10k, 200k).
Run: .venv/bin/python bench/bench_rbf.py   (timings on a shared machine are noisy: best/median)
"""

import time
import tracemalloc

import numpy as np

from emotive.rigs.head_mesh import default_head_rig
from emotive.rigs.head_mesh import load_default_head
from emotive.rigs.rbf import RBFWarp, naive_rbf_deform
from timing import best_of



def cloud(verts, n, rng):
    """n points: the head's vertices repeated, jittered by ~2 mm (a denser head)."""
    idx = np.resize(np.arange(len(verts)), n)
    return verts[idx] + rng.normal(size=(n, 3)) * 0.002 * (idx >= len(verts))[:, None]


def main():
    rest, sig = default_head_rig()  # landmarks and per-key landmark signatures
    verts = load_default_head().vertices.astype(np.float64)
    rng = np.random.default_rng(0)
    frames = np.einsum("fk,kld->fld", rng.uniform(0, 1, (300, 52)) * (rng.random((300, 52)) < 0.1),
                       sig)  # 300 frames of random ~5-key expressions
    print(f"landmarks {len(rest)}, sigma {RBFWarp(rest, rest).sigma * 1000:.1f} mm, 300 frames")

    for name, v in (("default head", verts), ("10k cloud", cloud(verts, 10_000, rng))):
        pre, pre_med = best_of(lambda: RBFWarp(rest, v), 3)
        warp = RBFWarp(rest, v)
        out = np.empty((len(frames), len(v), 3), np.float32)
        best, med = best_of(lambda: warp.deform(frames, out=out), 5)
        one, one_med = best_of(lambda: warp.deform(frames[0]), 20)
        nbest, nmed = best_of(lambda: naive_rbf_deform(rest, frames[0], v), 5)
        diff = max(np.abs(warp.deform(frames[f]) - naive_rbf_deform(rest, frames[f], v)).max()
                   for f in range(0, 300, 30))
        print(f"{name} ({len(v)} vertices): precompute best {pre * 1000:.1f} ms (median "
              f"{pre_med * 1000:.1f})\n"
              f"  batched 300 frames: best {best / 300 * 1000:.4f} ms/frame, median "
              f"{med / 300 * 1000:.4f} (goal <= 0.1 ms amortised)\n"
              f"  single frame W @ d: best {one * 1000:.3f} ms, median {one_med * 1000:.3f}\n"
              f"  naive re-solve: best {nbest * 1000:.2f} ms/frame, median {nmed * 1000:.2f} -> "
              f"speed-up {nbest / (best / 300):.0f}x batched, {nbest / one:.0f}x single\n"
              f"  max |precomputed - naive| over 10 frames: {diff * 1e6:.3f} um "
              f"(largest landmark displacement {np.abs(frames).max() * 1000:.1f} mm)")

    big = cloud(verts, 200_000, rng)
    tracemalloc.start()
    t = time.perf_counter()
    warp = RBFWarp(rest, big)
    pre = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    one, one_med = best_of(lambda: warp.deform(frames[0]), 10)
    block = frames[:64]
    out = np.empty((64, len(big), 3), np.float32)
    best, med = best_of(lambda: warp.deform(block, out=out), 3)
    print(f"200k cloud: precompute {pre:.2f} s, peak traced memory {peak / 2**20:.0f} MiB "
          f"(W itself {warp.W.nbytes / 2**20:.0f} MiB)\n"
          f"  single frame: best {one * 1000:.2f} ms, median {one_med * 1000:.2f}; "
          f"64-frame block: best {best / 64 * 1000:.3f} ms/frame, median {med / 64 * 1000:.3f} "
          f"(output {out.nbytes / 2**20:.0f} MiB: stream longer takes with iter_deform)")


if __name__ == "__main__":
    main()
