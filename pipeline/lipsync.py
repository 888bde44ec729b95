"""Lip sync: timed phones -> ARKit jaw, mouth and tongue curves (bpy-free).

Co-articulation by Cohen–Massaro dominance blending rather than stepped holds (the usual
complaint about 2-D lip-sync tools in 3-D): every phone pulls the mouth toward its viseme
(rigs/visemes.py) with a dominance that is flat across the phone and decays exponentially
outside it; each frame is the dominance-weighted mean of all pulls. Lips therefore start rounding
before a rounded vowel, and a strong sound (p, b, m, f) wins over weak neighbours.

Two rules no blend guarantees are added on top:
- bilabials close: mouthClose follows the jaw by the bilabials' share of the dominance, so
  the lips meet on p/b/m even where the jaw is still open from a neighbouring vowel;
- the jaw follows the voice: its opening is scaled by the loudness of each frame (quiet speech
  barely opens, a shout opens wide), and silence rests.
"""

from __future__ import annotations

import numpy as np

from ..rigs.arkit import ARKIT_INDEX, ARKIT_NAMES
from ..rigs.visemes import DOMINANCE_SCALE, ROUNDING_REACH, VISEMES, rounding_keys, viseme_of, viseme_table

REST_DOMINANCE = 0.05          # far from any phone the mouth drifts back to rest
JAW_QUIET, JAW_LOUD = 0.55, 1.25   # the jaw's opening at silence-floor and loud speech
CHUNK = 2048                   # frames blended at once (memory stays bounded on long takes)
REACH_S = 0.6                  # phones further than this from a frame no longer pull it

_JAW = ARKIT_INDEX["jawOpen"]
_CLOSE = ARKIT_INDEX["mouthClose"]


def lipsync(phones, fps: float, n_frames: int, energy: np.ndarray | None = None) -> np.ndarray:
    """(n_frames, 52) ARKit weights for phones, a sequence of objects with `label` (ARPAbet),
    `start` and `end` (seconds). energy: (n_frames,) 0..1 loudness (pipeline/audio.frame_energy)."""
    names, shapes = viseme_table()
    index = {n: i for i, n in enumerate(names)}
    phones = [p for p in phones if p.end > p.start]
    starts = np.array([p.start for p in phones], np.float64)
    ends = np.array([p.end for p in phones], np.float64)
    targets = np.zeros((len(phones), len(ARKIT_NAMES)), np.float32)
    magnitude = np.zeros(len(phones))
    rate = np.zeros(len(phones))
    closes = np.zeros(len(phones), bool)
    for i, p in enumerate(phones):
        viseme, strength = viseme_of(p.label)
        v = VISEMES[viseme]
        targets[i] = shapes[index[viseme]] * strength
        magnitude[i] = v.dominance * DOMINANCE_SCALE.get(p.label.upper().rstrip("012"), 1.0)
        rate[i] = v.rate
        closes[i] = v.closes_lips
    rounding = rounding_keys()

    out = np.zeros((n_frames, len(ARKIT_NAMES)), np.float32)
    times = np.arange(n_frames) / float(fps)
    for lo in range(0, n_frames, CHUNK):
        t = times[lo:lo + CHUNK]
        near = np.flatnonzero((ends >= t[0] - REACH_S) & (starts <= t[-1] + REACH_S))
        # distance of each frame outside each phone (0 inside): (frames, phones)
        outside = np.maximum(0.0, np.maximum(starts[near][None] - t[:, None], t[:, None] - ends[near][None]))
        reach = outside <= REACH_S      # a hard edge, so chunking never changes a frame
        d = magnitude[near] * np.exp(-rate[near] * outside) * reach                       # most keys
        d_round = magnitude[near] * np.exp(-rate[near] / ROUNDING_REACH * outside) * reach  # lip rounding
        total = d.sum(axis=1) + REST_DOMINANCE
        total_round = d_round.sum(axis=1) + REST_DOMINANCE
        blend = (d @ targets[near]) / total[:, None]
        blend[:, rounding] = (d_round @ targets[near][:, rounding]) / total_round[:, None]
        share_closed = (d[:, closes[near]].sum(axis=1)) / total
        if energy is not None:
            loud = np.asarray(energy[lo:lo + CHUNK], np.float32)
            blend[:, _JAW] *= JAW_QUIET + (JAW_LOUD - JAW_QUIET) * loud
        blend[:, _CLOSE] = np.maximum(blend[:, _CLOSE], blend[:, _JAW] * share_closed)
        out[lo:lo + len(t)] = blend
    return np.clip(out, 0.0, 1.0)


def lip_gap(weights: np.ndarray) -> np.ndarray:
    """(F,) how open the lips are, in jaw units: jawOpen less mouthClose (ARKit's mouthClose
    shuts the lips against an open jaw)."""
    return np.clip(weights[:, _JAW] - weights[:, _CLOSE], 0.0, None)
