"""Lip sync against a reference whose timing is known: espeak-ng speaks 20 sentences and reports
each phoneme's time (bench/espeak_reference.py); Emotive aligns the known text to that audio
(ml/asr.align), builds the lip-sync curves (pipeline/lipsync.py) and the default head's lips
(its landmark signatures) are measured.

Printed: whether every bilabial (p, b, m) of the reference closes the lips within one frame of its
reference interval, with Emotive's own alignment and with the reference phones (the ceiling);
whether rounded vowels (uw, ow, w) pucker; and the cost per second of audio.

    .venv/bin/python bench/bench_lipsync.py [--fps 30] [--closed-mm 1.5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from espeak_reference import SENTENCES, available, synthesize  # noqa: E402

from emotive.ml.asr import align  # noqa: E402
from emotive.pipeline.audio import RATE, frame_energy  # noqa: E402
from emotive.pipeline.lipsync import lipsync  # noqa: E402
from emotive.rigs.arkit import ARKIT_INDEX  # noqa: E402
from emotive.rigs.head_mesh import default_head_rig  # noqa: E402

BILABIALS = {"P", "B", "M"}
ROUNDED = {"UW", "OW", "W"}


def opening_mm(weights: np.ndarray) -> np.ndarray:
    """Outer-lip opening (upper 51 to lower 57) beyond the neutral head's, mm per frame."""
    neutral, signatures = default_head_rig()
    marks = neutral + np.einsum("fk,kld->fld", weights, signatures)
    return (np.linalg.norm(marks[:, 51] - marks[:, 57], axis=1) - np.linalg.norm(neutral[51] - neutral[57])) * 1000


def closures(reference, weights: np.ndarray, fps: float, closed_mm: float) -> list[bool]:
    opening = opening_mm(weights)
    out = []
    for p in reference.phones:
        if p.label in BILABIALS:
            lo = max(0, int(round(p.start * fps)) - 1)
            hi = min(len(opening), int(round(p.end * fps)) + 2)
            out.append(bool(opening[lo:hi].min() < closed_mm))
    return out


def roundings(reference, weights: np.ndarray, fps: float) -> list[bool]:
    pucker = weights[:, ARKIT_INDEX["mouthPucker"]] + weights[:, ARKIT_INDEX["mouthFunnel"]]
    out = []
    for p in reference.phones:
        if p.label in ROUNDED:
            lo, hi = int(round(p.start * fps)), max(int(round(p.start * fps)) + 1, int(round(p.end * fps)))
            out.append(bool(pucker[lo:hi + 1].max() > 0.3))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--closed-mm", type=float, default=1.5, help="lips closer than this count as closed")
    args = parser.parse_args(argv)
    if not available():
        print("skipped: espeak-ng's library (libespeak-ng.so.1) is not installed")
        return 0
    fps = args.fps
    rows, totals = [], {"aligned": [], "reference": [], "rounded": []}
    align_s = sync_s = audio_s = 0.0
    for text in SENTENCES:
        ref = synthesize(text)
        n = int(np.ceil(len(ref.audio) / RATE * fps)) + 1
        t = time.perf_counter()
        aligned = align(ref.audio, text)
        align_s += time.perf_counter() - t
        t = time.perf_counter()
        energy = frame_energy(ref.audio, fps, n)
        ours = lipsync(aligned.phones, fps, n, energy)
        sync_s += time.perf_counter() - t
        ceiling = lipsync(ref.phones, fps, n, energy)
        audio_s += len(ref.audio) / RATE
        got, best, rnd = closures(ref, ours, fps, args.closed_mm), closures(ref, ceiling, fps, args.closed_mm), \
            roundings(ref, ours, fps)
        totals["aligned"] += got
        totals["reference"] += best
        totals["rounded"] += rnd
        rows.append((text, sum(got), len(got), sum(rnd), len(rnd)))

    print(f"{'sentence':<52} bilabials closed   rounded vowels puckered")
    for text, c, nc, r, nr in rows:
        print(f"{text:<52} {c:>3}/{nc:<3}            {r:>3}/{nr:<3}")
    share = lambda xs: f"{sum(xs)}/{len(xs)} ({100 * sum(xs) / max(len(xs), 1):.0f} %)"  # noqa: E731
    print(f"\nbilabials closing within one frame ({args.closed_mm} mm, {fps:g} fps): "
          f"{share(totals['aligned'])} with Emotive's alignment, {share(totals['reference'])} with the reference phones")
    print(f"rounded vowels puckering (pucker + funnel > 0.3): {share(totals['rounded'])}")
    print(f"cost per second of audio: alignment {align_s / audio_s:.3f} s, lip sync {sync_s / audio_s * 1000:.1f} ms "
          f"({audio_s:.1f} s of speech)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
