"""Expression classification of captured performances, in pure numpy (Blender has no torch).

    m = CaptureExpressionModel.load()            # ml/weights/capture_expression.safetensors
    probs = m.classify(windows)                  # (n, 7) over ml.labels.EKMAN

A window is (F, 70, 3) landmark offsets in the default head's space (metres): what `Take.landmarks`
holds for a capture (offsets from the performer's rest face, head motion removed, scale set to
the default head's). Windows may differ in length and frame rate: the features are summaries.

Features (`features`, scale-free: everything is divided by the default head's outer-eye-corner
distance, stored in the weights file): the offsets at the window's frame of largest movement, the
mean offsets and the per-coordinate standard deviation over the window (talking moves the mouth
back and forth, a held expression does not): 3 x 210 numbers. The model is a one-hidden-layer MLP
(or softmax regression, `hidden` = 0) over the standardised features, trained by
ml/train_capture_expression.py on windows cut from the expression generator's sequences
(ml/expression_data.py) with capture-like noise and speech-like mouth motion added; its held-out
figures are in ml/weights/capture_expression.metrics.json.

`label_windows` is what the capture source (pipeline/capture.py) calls: windows whose face barely
moves (`movement_mm` below NEUTRAL_MM) stay 'neutral'; the others get the classifier's top label.
ARKit captures (Live Link) have no rest face of their own: `rest_offsets` measures their motion
from the take's least-activated frames.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..rigs.landmarks import N_CANONICAL
from .labels import EKMAN

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "capture_expression.safetensors"
FORMAT = "emotive-capture-expression/1"
D = N_CANONICAL * 3
N_FEATURES = 3 * D
# Points that move with blinks and gaze (iBUG eyelids 36-47, pupils 68-69): not "movement" of the face.
EYE_POINTS = np.r_[36:48, 68:70]
FACE_POINTS = np.setdiff1d(np.arange(N_CANONICAL), EYE_POINTS)
NEUTRAL_MM = 1.5        # a window whose face moves less than this (mm, see movement_mm) is neutral
REST_FRACTION = 0.1     # ARKit captures: the rest face is the mean of this share of least-active frames
WINDOW_S = 2.0          # s per classified stretch (report rows)


def window_edges(n_frames: int, fps: float, length_s: float = WINDOW_S) -> np.ndarray:
    """Edges in seconds cutting a take of n_frames into equal stretches of about length_s."""
    duration = (n_frames - 1) / fps
    count = max(1, round(duration / length_s))
    return np.linspace(0.0, duration, count + 1)


def segment_edges(motion: np.ndarray, fps: float, length_s: float = WINDOW_S) -> np.ndarray:
    """window_edges with each inner edge moved, by up to a quarter window, to the frame where the
    face moves least (smoothed speed of the non-eye points; the nearest such frame on a tie), so
    a cut falls between expressions rather than through one."""
    motion = np.asarray(motion)
    edges = window_edges(len(motion), fps, length_s)
    if len(edges) < 3:
        return edges
    d = np.zeros(len(motion))
    d[1:] = np.linalg.norm(np.diff(motion[:, FACE_POINTS], axis=0), axis=-1).mean(-1)
    speed = np.convolve(d, np.ones(5) / 5, mode="same")
    reach = int(round(length_s / 4 * fps))
    for i in range(1, len(edges) - 1):
        f = int(round(edges[i] * fps))
        lo, hi = max(1, f - reach), min(len(motion) - 2, f + reach)
        if hi <= lo:
            continue
        frames = np.arange(lo, hi + 1)
        cost = speed[frames] + 1e-3 * (speed.max() or 1.0) * np.abs(frames - f) / max(reach, 1)
        edges[i] = frames[int(np.argmin(cost))] / fps
    return edges


def _check_window(w, i=None) -> np.ndarray:
    a = np.asarray(w, np.float64)
    where = "window" if i is None else f"window {i}"
    if a.ndim != 3 or a.shape[1:] != (N_CANONICAL, 3) or len(a) < 1:
        raise ValueError(f"{where}: expected (frames, {N_CANONICAL}, 3) landmark offsets, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{where}: offsets contain NaN or inf")
    return a


def as_windows(windows) -> list[np.ndarray]:
    """A (F, 70, 3) array, an (n, F, 70, 3) array or a list of (F_i, 70, 3) arrays -> list of
    checked float64 windows. ValueError for any other shape or non-finite values."""
    if isinstance(windows, np.ndarray):
        if windows.ndim == 3:
            return [_check_window(windows)]
        if windows.ndim != 4:
            raise ValueError(f"expected (n, frames, {N_CANONICAL}, 3) or (frames, {N_CANONICAL}, 3) "
                             f"landmark offsets, got {windows.shape}")
    out = [_check_window(w, i) for i, w in enumerate(windows)]
    if not out:
        raise ValueError("no windows to classify")
    return out


def features(windows, scale: float) -> np.ndarray:
    """(n, 630) float32: [offsets at the frame of largest movement, mean offsets, std of the offsets
    over time], all divided by `scale` (the face's outer-eye-corner distance, metres)."""
    out = np.empty((0, N_FEATURES), np.float32)
    rows = []
    for w in as_windows(windows):
        mag = np.linalg.norm(w[:, FACE_POINTS], axis=-1).mean(-1)
        k = int(mag.argmax())
        rows.append(np.concatenate([w[k].ravel(), w.mean(0).ravel(), w.std(0).ravel()]) / scale)
    return np.asarray(rows, np.float32) if rows else out


def movement_mm(window) -> float:
    """How far the face moves in a window: the 90th percentile over its frames of the largest
    displacement of any point outside the eyes (blinks and gaze excluded), in millimetres."""
    w = _check_window(window)
    largest = np.linalg.norm(w[:, FACE_POINTS], axis=-1).max(-1)
    return float(np.percentile(largest, 90) * 1000)


def rest_offsets(motion: np.ndarray, arkit: np.ndarray | None = None,
                 neutral_frame: int | None = None) -> np.ndarray:
    """Motion measured from the performer's rest face. Landmark captures already are (offsets from
    the take's median face or its neutral frame). An ARKit capture's landmark motion is its weights
    through the default head's signatures, i.e. measured from the device's calibration, which keeps
    a performer's resting brow or sneer; its rest face is `neutral_frame` or else the mean of the
    REST_FRACTION of frames with the smallest summed weights."""
    motion = np.asarray(motion)
    if arkit is None:
        return motion
    if neutral_frame is not None:
        rest = motion[int(neutral_frame)]
    else:
        k = max(1, int(round(REST_FRACTION * len(arkit))))
        rest = motion[np.argsort(np.asarray(arkit).sum(axis=1), kind="stable")[:k]].mean(0)
    return motion - rest[None]


class CaptureExpressionModel:
    """The shipped capture-expression classifier (numpy). See the module docstring."""

    def __init__(self, tensors: dict, meta: dict, path: str):
        g = lambda k: np.asarray(tensors[k], np.float64)
        self.meta, self.path = meta, path
        self.scale = float(meta["face_scale_m"])
        self.mean, self.std = g("features.mean"), g("features.std")
        self.layers = []
        k = 0
        while f"layers.{k}.weight" in tensors:
            self.layers.append((g(f"layers.{k}.weight"), g(f"layers.{k}.bias")))
            k += 1
        if not self.layers:
            raise KeyError("layers.0.weight")
        if self.mean.shape != (N_FEATURES,) or self.std.shape != (N_FEATURES,):
            raise ValueError(f"feature statistics are not over {N_FEATURES} features")
        n_in = N_FEATURES
        for w, b in self.layers:
            if w.ndim != 2 or w.shape[1] != n_in or b.shape != (w.shape[0],):
                raise ValueError(f"layer shapes {w.shape}, {b.shape} do not chain")
            n_in = w.shape[0]
        if n_in != len(EKMAN):
            raise ValueError(f"the model has {n_in} outputs, expected {len(EKMAN)}")
        if not all(np.all(np.isfinite(a)) for l in self.layers for a in l):
            raise ValueError("weights contain NaN or inf")
        if not (self.scale > 0 and np.all(self.std > 0)):
            raise ValueError("face scale and feature deviations must be positive")

    @classmethod
    def load(cls, path=None) -> "CaptureExpressionModel":
        """Load weights (default: the shipped file), cached per file and modification time.
        FileNotFoundError if absent; ValueError naming the file for a corrupt file, another format
        or label set, or missing tensors."""
        path = Path(path or DEFAULT_WEIGHTS)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no capture-expression model (run python -m "
                                    f"emotive.ml.train_capture_expression)")
        return _load(str(path.resolve()), os.stat(path).st_mtime_ns)

    def logits(self, windows) -> np.ndarray:
        x = (features(windows, self.scale) - self.mean) / self.std
        for i, (w, b) in enumerate(self.layers):
            x = x @ w.T + b
            if i < len(self.layers) - 1:
                x = np.maximum(x, 0.0)
        return x

    def classify(self, windows) -> np.ndarray:
        """(n, 7) probabilities over ml.labels.EKMAN, one row per window (see as_windows)."""
        z = self.logits(windows)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return (z / z.sum(axis=1, keepdims=True)).astype(np.float32)


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int) -> CaptureExpressionModel:
    from .weights_file import read_weights

    tensors, meta = read_weights(path, FORMAT, "capture-expression")
    try:
        if json.loads(meta["emotions"]) != list(EKMAN):
            raise ValueError(f"emotions {meta['emotions']} differ from {list(EKMAN)}")
        return CaptureExpressionModel(tensors, meta, path)
    except (KeyError, TypeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: incomplete capture-expression weights (missing or malformed {e!s})") from e
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from e


def label_windows(motion: np.ndarray, edges, fps: float, model: CaptureExpressionModel | None = None,
                  top: int = 3) -> list[dict]:
    """Classify the stretches [edges[i], edges[i + 1]] seconds of `motion` ((F, 70, 3) offsets from
    the rest face, see rest_offsets) -> per stretch {emotion, confidence, labels: top `top`
    [(name, p)], movement_mm, probs (7,)}. A face that moves less than NEUTRAL_MM is 'neutral'
    whatever the classifier says, with probability max(model's, 1 - movement / (2 NEUTRAL_MM))
    and the other labels scaled to share the rest."""
    motion = np.asarray(motion)
    model = model or CaptureExpressionModel.load()
    n = len(motion)
    spans = []
    for a, b in zip(edges[:-1], edges[1:]):
        lo = min(max(0, int(round(a * fps))), n - 1)
        spans.append((lo, max(lo + 1, min(n, int(round(b * fps)) + 1))))
    windows = [motion[lo:hi] for lo, hi in spans]
    probs = model.classify(windows).astype(np.float64)
    neutral = EKMAN.index("neutral")
    out = []
    for p, w in zip(probs, windows):
        move = movement_mm(w)
        if move < NEUTRAL_MM:
            still = max(p[neutral], 1.0 - move / (2 * NEUTRAL_MM))
            rest = np.delete(np.arange(len(EKMAN)), neutral)
            others = p[rest].sum()
            p = p.copy()
            p[rest] = p[rest] * (1 - still) / others if others > 0 else (1 - still) / len(rest)
            p[neutral] = still
        order = np.argsort(-p, kind="stable")[:top]
        out.append({"emotion": EKMAN[order[0]], "confidence": float(p[order[0]]),
                    "labels": [(EKMAN[i], float(p[i])) for i in order],
                    "movement_mm": move, "probs": p})
    return out
