"""How far each ARKit key moves the face, next to ARKit's own reference poses (issue 9, item 2).

The reference: the 51 ARKit blend-shape meshes (tongueOut has none) published with SAiD
(yunik1004/SAiD, `data/ARKit_reference_blendshapes.zip`, Apache-2.0; ARKit's 1,220-vertex face
geometry), with the 68 iBUG landmark vertices that repository lists (`data/ARKit_landmarks.txt`).
`bench/data/arkit_reference_ibug68.npz` holds just those landmarks: the neutral positions and each
key's displacement at 1.0 (NOTICE in bench/data/README.md).

Per key, both heads' displacements are scaled to the same inter-ocular distance and put on the
same axes; printed: the least-squares gain g that best maps the default head's displacement onto
the reference's (g > 1: our key moves the face less), their cosine (do they move the same
landmarks the same way?), and the gain the default head's build applies
(rigs/head_mesh.KEY_GAINS). Keys whose direction agrees (cos >= 0.75) but that fall short (g >= 1.15)
are the ones scaled; docs/KEY_RANGE.md has the table and the reasons for the rest.
Run: .venv/bin/python bench/bench_key_range.py   (~1 s)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emotive.rigs.arkit import ARKIT_NAMES
from emotive.rigs.head_mesh import KEY_GAINS, default_head_rig

REFERENCE = Path(__file__).parent / "data" / "arkit_reference_ibug68.npz"
EYES = (slice(36, 42), slice(42, 48))
# What the build's rule for scaling a key is (see the docstring).
MIN_COS, MIN_GAIN = 0.75, 1.15


def inter_ocular(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[EYES[0]].mean(0) - points[EYES[1]].mean(0)))


def key_range_table():
    """Rows (name, gain vs reference, cosine, applied gain) for the keys the reference has."""
    ref = np.load(REFERENCE)
    neutral, signatures = default_head_rig()
    scale = inter_ocular(neutral[:68]) / inter_ocular(ref["neutral"])
    rows = []
    for name, d in zip(ref["key_names"], ref["deltas"]):
        r = np.stack([d[:, 0], -d[:, 2], d[:, 1]], axis=1) * scale  # ARKit Y-up, +Z out -> Blender
        o = signatures[ARKIT_NAMES.index(str(name))][:68]
        oo, rr, orr = float((o * o).sum()), float((r * r).sum()), float((o * r).sum())
        rows.append((str(name), orr / max(oo, 1e-18), orr / max(np.sqrt(oo * rr), 1e-18),
                     KEY_GAINS.get(str(name), 1.0)))
    return rows


def main():
    print(f"{'key':20s} {'gain':>5s} {'cos':>5s} {'applied':>7s}  (gain, cos: the shipped head against ARKit's reference)")
    for name, gain, cos, applied in key_range_table():
        flag = "  short" if cos >= MIN_COS and gain >= MIN_GAIN else ""
        print(f"{name:20s} {gain:5.2f} {cos:5.2f} {applied:7.2f}{flag}")


if __name__ == "__main__":
    main()
