"""EmotionTimeline -> per-frame ARKit weights (a Performance).

envelope_performance() is the hand-made motion model: onset-apex-offset envelopes that
cross-fade between segments, plus blinks and idle drift. It is the swap point for the landmark
LSTM, which will produce the same Performance from the same timeline; keep it self-contained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..rigs.arkit import ARKIT_INDEX, ARKIT_NAMES, BLINK_INDICES
from ..rigs.facs import expression_weights
from .timeline import face_strengths

ONSET = 0.3           # s, neutral/previous expression -> apex, centred on the segment start
OFFSET = 0.35         # s, apex -> next expression/neutral, centred on the segment end
NEUTRAL_GAP = 1.5     # s; a longer silence between segments relaxes to neutral
BLINK_CLOSE = 0.06    # s, lid closing (fast) ...
BLINK_OPEN = 0.09     # s, ... and opening (slower): ~150 ms in all
BLINK_INTERVAL = (2.0, 6.0)   # s between blinks, uniform
BLINK_MARGIN = 0.5    # s kept blink-free at both ends so the take starts and ends neutral
IDLE_FADE = 0.5       # s, idle motion fades in/out at the ends
# Idle drift: (amplitude, knot spacing in s) of slow value noise per motion.
IDLE_BROW = (0.03, 1.7)
IDLE_PRESS = (0.03, 1.3)
IDLE_GAZE_X = (0.05, 1.1)
IDLE_GAZE_Y = (0.03, 1.5)
_CHUNK = 65536        # frames evaluated at once, to bound memory on very long takes


@dataclass
class Performance:
    fps: float
    frames: np.ndarray                  # (F,) int, 0-based; time = frame / fps
    weights: np.ndarray                 # (F, 52) float32 over `names`
    names: tuple[str, ...] = ARKIT_NAMES
    landmarks: np.ndarray | None = None  # (F, 70, 3) generated offsets, when an engine keeps them

    @property
    def duration(self) -> float:
        return (len(self.frames) - 1) / self.fps


def _smoothstep(u):
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def _control_points(timeline) -> tuple[np.ndarray, np.ndarray]:
    """Times and expression indices (0 = neutral, i + 1 = segment i) the envelope passes through.

    Each segment holds its expression on a plateau [start + ONSET/2, end - OFFSET/2]; between
    plateaus the face eases straight from one expression to the next (no dip to neutral)
    unless the silence is longer than NEUTRAL_GAP.
    """
    t, idx = [0.0], [0]
    prev_end = None
    for i, seg in enumerate(timeline.segments):
        s, e = float(seg.start), float(seg.end)
        p0, p1 = s + ONSET / 2, e - OFFSET / 2
        if p0 > p1:  # short segment: apex at its middle, still reached
            p0 = p1 = (s + e) / 2
        if prev_end is None:
            t.append(max(0.0, s - ONSET / 2)); idx.append(0)
        elif s - prev_end > NEUTRAL_GAP:
            t += [prev_end + OFFSET / 2, s - ONSET / 2]; idx += [0, 0]
        t += [p0, p1]; idx += [i + 1, i + 1]
        prev_end = e
    if prev_end is not None:
        t.append(min(prev_end + OFFSET / 2, timeline.duration)); idx.append(0)
    t.append(float(timeline.duration)); idx.append(0)
    # Clamp into the take and keep times non-decreasing (zero-length steps are skipped below).
    t = np.maximum.accumulate(np.clip(np.array(t), 0.0, timeline.duration))
    return t, np.array(idx)


def _envelope(times, pt_t, pt_idx, table):
    """Smoothstep interpolation between control points, evaluated in chunks."""
    out = np.empty((len(times), table.shape[1]), dtype=np.float32)
    last = len(pt_t) - 2
    for a in range(0, len(times), _CHUNK):
        tt = times[a:a + _CHUNK]
        k = np.clip(np.searchsorted(pt_t, tt, side="right") - 1, 0, last)
        span = pt_t[k + 1] - pt_t[k]
        u = _smoothstep((tt - pt_t[k]) / np.where(span > 0, span, 1.0))
        u = np.where(span > 0, u, 1.0)[:, None].astype(np.float32)
        out[a:a + _CHUNK] = table[pt_idx[k]] * (1 - u) + table[pt_idx[k + 1]] * u
    return out


def _value_noise(rng, times, spacing):
    """Smooth noise in [-1, 1]: random knots every `spacing` s, eased between (C1)."""
    n = int(times[-1] / spacing) + 2
    knots = rng.uniform(-1.0, 1.0, n)
    x = times / spacing
    i = np.minimum(x.astype(np.int64), n - 2)
    u = _smoothstep(x - i)
    return knots[i] * (1 - u) + knots[i + 1] * u


def _add_idle(w, rng, times, duration):
    fade = _smoothstep(times / IDLE_FADE) * _smoothstep((duration - times) / IDLE_FADE)

    def noise(params):
        amp, spacing = params
        return (amp * fade * _value_noise(rng, times, spacing)).astype(np.float32)

    col = ARKIT_INDEX
    w[:, col["browInnerUp"]] += 0.5 * (noise(IDLE_BROW) + IDLE_BROW[0] * fade)
    press = 0.5 * (noise(IDLE_PRESS) + IDLE_PRESS[0] * fade)
    w[:, col["mouthPressLeft"]] += press
    w[:, col["mouthPressRight"]] += press
    # Conjugate gaze: both eyes look the same way (x > 0: to the character's left).
    x, y = noise(IDLE_GAZE_X), noise(IDLE_GAZE_Y)
    for name, v in (("eyeLookOutLeft", x), ("eyeLookInRight", x), ("eyeLookInLeft", -x),
                    ("eyeLookOutRight", -x), ("eyeLookUpLeft", y), ("eyeLookUpRight", y),
                    ("eyeLookDownLeft", -y), ("eyeLookDownRight", -y)):
        w[:, col[name]] += np.maximum(v, 0.0)


def _blink_kernel(fps):
    """Lid closure per frame around a blink whose full closure lands on frame offset 0."""
    ks = np.arange(-math.ceil(BLINK_CLOSE * fps), math.ceil(BLINK_OPEN * fps) + 1)
    dt = ks / fps
    v = np.where(dt < 0, _smoothstep(1 + dt / BLINK_CLOSE), _smoothstep(1 - dt / BLINK_OPEN))
    keep = v > 0
    return ks[keep], v[keep].astype(np.float32)


def _add_blinks(w, rng, fps, duration):
    ks, vals = _blink_kernel(fps)
    lo, hi = BLINK_MARGIN, duration - BLINK_MARGIN
    if hi <= lo:
        return
    n = int(duration / BLINK_INTERVAL[0]) + 2
    t = rng.uniform(0.3, 2.5) + np.cumsum(rng.uniform(*BLINK_INTERVAL, n)) - BLINK_INTERVAL[0]
    peaks = np.round(t[(t >= lo) & (t <= hi)] * fps).astype(np.int64)
    last = len(w) - 1
    peaks = peaks[(peaks + ks[0] >= 1) & (peaks + ks[-1] <= last - 1)]
    if peaks.size == 0:
        return
    idx = (peaks[:, None] + ks[None, :]).ravel()
    pulse = np.zeros(len(w), dtype=np.float32)
    np.maximum.at(pulse, idx, np.tile(vals, len(peaks)))
    for c in BLINK_INDICES:
        w[:, c] = np.maximum(w[:, c], pulse)


def envelope_performance(timeline, fps: float = 30, intensity: float = 1.0, seed: int = 0) -> Performance:
    """Per-frame ARKit weights for a timeline: expression envelopes + blinks + idle drift.

    Frame 0 is time 0; the last frame is at or just past timeline.duration. The first and last
    frames are exactly neutral. `intensity` scales the expressions only (blinks and idle drift
    keep the face alive at intensity 0). Same seed, same output.
    """
    fps = float(fps)
    if not math.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive finite number, got {fps}")
    duration = float(timeline.duration)
    if not math.isfinite(duration) or duration < 0:
        raise ValueError(f"timeline duration must be finite and >= 0, got {duration}")
    rng = np.random.default_rng(int(seed))

    n_frames = math.ceil(duration * fps - 1e-9) + 1
    frames = np.arange(n_frames, dtype=np.int64)
    times = frames / fps

    probs = [seg.probs for seg in timeline.segments]
    table = np.zeros((len(probs) + 1, len(ARKIT_NAMES)), dtype=np.float32)
    if probs:
        table[1:] = expression_weights(np.stack(probs), intensity)
        # a segment labelled neutral keeps the face at rest, as in the landmark engine
        table[1:][face_strengths(timeline.segments) == 0] = 0.0
    else:
        expression_weights(np.zeros(28), intensity)  # still validates intensity
    w = _envelope(times, *_control_points(timeline), table)

    add_life(w, rng, fps)
    return Performance(fps=fps, frames=frames, weights=w)


def add_life(w: np.ndarray, rng, fps: float) -> np.ndarray:
    """In place on (F, 52) expression weights: idle drift and blinks, clipped to [0, 1], with the
    first and last frames exactly neutral. Shared by every motion engine so takes feel alike."""
    n_frames = len(w)
    if n_frames > 2:
        times = np.arange(n_frames) / fps
        duration = (n_frames - 1) / fps
        _add_idle(w, rng, times, duration)
        np.clip(w, 0.0, 1.0, out=w)
        _add_blinks(w, rng, fps, duration)
    else:
        np.clip(w, 0.0, 1.0, out=w)
    w[0] = 0.0
    w[-1] = 0.0
    return w
