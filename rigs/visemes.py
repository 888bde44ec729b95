"""Visemes: what each speech sound does to the mouth, as ARKit weights (bpy-free face data).

Phones are the CMU/ARPAbet set that pocketsphinx's US-English model aligns (stress digits
removed; "SIL" for silence). They fall into the 15 visemes of the Oculus/Meta lip-sync set, each a
mouth shape over ARKit keys and a Cohen–Massaro dominance: how strongly, and over how long a
reach, a sound holds its shape against its neighbours. Lips must close on p/b/m and touch the
teeth on f/v, so those dominate; rounding reaches far ahead of a rounded vowel (anticipatory
co-articulation, the reason "spoon" rounds on the s); unstressed, hidden sounds (h, n, k) yield.
pipeline/lipsync.py turns timed phones into curves with these.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .arkit import ARKIT_INDEX, ARKIT_NAMES

# Keys that round the lips: their dominance reaches further ahead and behind (ROUNDING_REACH).
ROUNDING = ("mouthPucker", "mouthFunnel")
ROUNDING_REACH = 2.0


@dataclass(frozen=True)
class Viseme:
    shape: dict[str, float]     # ARKit weights; "mouthSmile" stands for both sides
    dominance: float            # Cohen–Massaro magnitude (1: an ordinary vowel)
    rate: float                 # dominance decay per second outside the phone (higher: crisper)
    closes_lips: bool = False   # bilabials: the lips meet whatever the jaw does


VISEMES: dict[str, Viseme] = {
    "sil": Viseme({}, dominance=1.0, rate=20.0),
    "PP": Viseme({"mouthPress": 0.35, "mouthRollLower": 0.15, "mouthRollUpper": 0.1},
                 dominance=8.0, rate=60.0, closes_lips=True),
    "FF": Viseme({"jawOpen": 0.08, "mouthRollLower": 0.45, "mouthUpperUp": 0.15, "mouthPress": 0.1},
                 dominance=5.0, rate=50.0),
    "TH": Viseme({"jawOpen": 0.18, "tongueOut": 0.35, "mouthStretch": 0.1}, dominance=3.0, rate=30.0),
    "DD": Viseme({"jawOpen": 0.2, "mouthStretch": 0.15, "mouthShrugUpper": 0.1}, dominance=1.0, rate=25.0),
    "kk": Viseme({"jawOpen": 0.28, "mouthStretch": 0.1}, dominance=0.8, rate=25.0),
    "CH": Viseme({"jawOpen": 0.15, "mouthFunnel": 0.45, "mouthPucker": 0.2, "mouthShrugUpper": 0.2},
                 dominance=3.0, rate=30.0),
    "SS": Viseme({"jawOpen": 0.06, "mouthStretch": 0.35, "mouthSmile": 0.1, "mouthUpperUp": 0.1},
                 dominance=2.0, rate=30.0),
    "nn": Viseme({"jawOpen": 0.18, "mouthStretch": 0.1}, dominance=0.8, rate=25.0),
    "RR": Viseme({"jawOpen": 0.15, "mouthFunnel": 0.35, "mouthPucker": 0.3}, dominance=1.5, rate=20.0),
    "aa": Viseme({"jawOpen": 0.55, "mouthLowerDown": 0.2, "mouthStretch": 0.1}, dominance=1.5, rate=20.0),
    "E": Viseme({"jawOpen": 0.35, "mouthStretch": 0.3, "mouthSmile": 0.15, "mouthLowerDown": 0.15},
                dominance=1.5, rate=20.0),
    "ih": Viseme({"jawOpen": 0.2, "mouthStretch": 0.4, "mouthSmile": 0.2}, dominance=1.5, rate=20.0),
    "oh": Viseme({"jawOpen": 0.4, "mouthFunnel": 0.55, "mouthPucker": 0.15}, dominance=2.0, rate=15.0),
    "ou": Viseme({"jawOpen": 0.15, "mouthPucker": 0.7, "mouthFunnel": 0.3}, dominance=3.0, rate=15.0),
}

# ARPAbet phone -> (viseme, how much of its shape). Schwa (AH) is a lazy "aa"; h takes the shape
# of its neighbours (tiny dominance), as it has none of its own.
PHONES: dict[str, tuple[str, float]] = {
    "SIL": ("sil", 1.0),
    "P": ("PP", 1.0), "B": ("PP", 1.0), "M": ("PP", 1.0),
    "F": ("FF", 1.0), "V": ("FF", 1.0),
    "TH": ("TH", 1.0), "DH": ("TH", 0.8),
    "T": ("DD", 1.0), "D": ("DD", 1.0),
    "K": ("kk", 1.0), "G": ("kk", 1.0), "NG": ("kk", 1.0), "HH": ("kk", 0.5),
    "CH": ("CH", 1.0), "JH": ("CH", 1.0), "SH": ("CH", 1.0), "ZH": ("CH", 1.0),
    "S": ("SS", 1.0), "Z": ("SS", 1.0),
    "N": ("nn", 1.0), "L": ("nn", 1.0),
    "R": ("RR", 1.0), "ER": ("RR", 1.0),
    "AA": ("aa", 1.0), "AE": ("aa", 0.9), "AH": ("aa", 0.7), "AY": ("aa", 1.0), "AW": ("aa", 1.0),
    "EH": ("E", 1.0), "EY": ("E", 0.9),
    "IH": ("ih", 0.9), "IY": ("ih", 1.0), "Y": ("ih", 0.8),
    "AO": ("oh", 1.0), "OW": ("oh", 1.0), "OY": ("oh", 1.0),
    "UW": ("ou", 1.0), "UH": ("ou", 0.8), "W": ("ou", 1.0),
}
DOMINANCE_SCALE = {"HH": 0.3}   # phones whose dominance is lower than their viseme's


def viseme_of(phone: str) -> tuple[str, float]:
    """(viseme, strength) of an ARPAbet phone; stress digits are ignored, unknown sounds
    (noise, breath, laughter) read as silence."""
    return PHONES.get(phone.upper().rstrip("012"), ("sil", 1.0))


def _expand(shape: dict[str, float]) -> np.ndarray:
    out = np.zeros(len(ARKIT_NAMES), np.float32)
    for name, value in shape.items():
        for key in (name,) if name in ARKIT_INDEX else (name + "Left", name + "Right"):
            out[ARKIT_INDEX[key]] = value
    return out


@lru_cache(maxsize=1)
def viseme_table() -> tuple[tuple[str, ...], np.ndarray]:
    """(names, (V, 52) ARKit shapes) in VISEMES order."""
    names = tuple(VISEMES)
    return names, np.stack([_expand(VISEMES[n].shape) for n in names])


def mouth_keys() -> np.ndarray:
    """(52,) bool: the keys any viseme moves (the articulation the mouth must keep)."""
    return np.abs(viseme_table()[1]).max(axis=0) > 0


def rounding_keys() -> np.ndarray:
    return np.isin(np.array(ARKIT_NAMES), ROUNDING)
