"""The landmark engine: emotion timeline -> generated landmark performance -> ARKit weights.

Each segment's expression is generated as a landmark sequence by the expression LSTM
(ml/expression_inference.py), in the canonical 70-landmark space of the default head.
Each take is calibrated to build, hold and let go on time (plan_windows, envelope, calibrate);
neighbouring segments cross-fade (one lets go as the next builds) and are summed, so one
expression flows into the next. The summed performance
is retargeted onto ARKit weights by a bounded least-squares solve against the default head's
per-key landmark signatures (rigs/retarget.py); any ARKit-keyed character can take those
weights. Blinks and idle drift are added as in the envelope engine.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..rigs.arkit import ARKIT_NAMES
from ..rigs.facs import ekman_lead, expression_weights
from ..rigs.head_mesh import default_head_rig
from ..rigs.retarget import ShapeKeySolver
from .performance import Performance, add_life
from .timeline import face_strengths

LEAD = 0.25          # s before a segment's start where its expression begins to build
RELEASE = 0.45       # s after its end over which it lets go (overlaps the next segment's build)
MIN_STRENGTH = 0.03  # below this a segment stays neutral: no generation needed
SOLVE_CHUNK = 4096   # frames retargeted per step (progress and bounded memory)
# Generated motion is noisier than shape-key motion: a firmer ridge keeps the solve from
# explaining that noise with large opposing weights. The ridge pulls toward the segment's FACS
# expression (the prior), so it also settles what landmarks cannot tell apart: a glare's raised
# lid (eyeWide) against its tightened one (eyeSquint), an upper lip raised against a lower lip
# dropped. Over the expression bench's 40 anger, fear, sadness and surprise lines, at the frame
# it judges (bench/bench_expressions.apex_score, 24 fps), the weights' cosine to the FACS
# prototype has a median of 0.89 at 1e-2 and 0.97 at 1e-1 (issue 9).
REGULARISATION = 1e-1
VOCABULARY = 0.05    # a key belongs to an expression above this share of its strongest key
# Apex calibration (issue 9): a plainly emotional line (strength 1) peaks at APEX of its FACS
# expression, measured as the projection of the landmark motion onto that expression's landmark
# pattern; the apex is reached ATTACK_SHARE into the segment (at most ATTACK_MAX s after it
# starts), held to its end, then released. The generator's own expression shape and its small
# motions are kept; only its strength and its slow build are replaced.
APEX = 0.9
ATTACK_SHARE = 0.3
ATTACK_MAX = 0.6     # s
DRIFT_S = 1.0        # s: the generator's motion slower than this is its drift, not kept
GAIN_LIMITS = (0.0, 4.0)  # a faint generated apex is raised at most 4x; a strong one lowered freely


@functools.lru_cache(maxsize=256)
def _solver(mask_bytes: bytes) -> ShapeKeySolver:
    keys = np.frombuffer(mask_bytes, dtype=bool)
    return ShapeKeySolver(default_head_rig()[1][keys], regularisation=REGULARISATION)


def vocabulary(probs) -> np.ndarray:
    """(52,) bool: the keys a segment's FACS expression uses. The retarget may only explain the
    generated motion with these: generated landmarks carry drift and asymmetry that an
    unconstrained solve would turn into, say, a half-smile on an angry face."""
    w = expression_weights(probs)
    return w > VOCABULARY * max(float(w.max()), 1e-6)


def _smoothstep(u):
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3 - 2 * u)


@dataclass
class Window:
    """Where one segment's expression lives, in frames: it builds over [lo, apex], holds, and
    lets go over [fall, hi]."""
    segment: int
    lo: int
    apex: float
    fall: int
    hi: int


def plan_windows(segments, keep, fps: float, n_frames: int) -> list[Window]:
    """The windows of the segments `keep` says are expressed (in order). Each builds from LEAD s
    before its segment to its apex (ATTACK_SHARE into the segment, at most ATTACK_MAX s after its
    start), holds to the segment's end and lets go over RELEASE s; where the next expressed
    segment begins building before that, this one lets go exactly as the next builds (a
    cross-fade whose weights sum to 1), so neighbours neither pulse nor dip."""
    out = []
    for i, seg in enumerate(segments):
        if not keep[i]:
            continue
        s, e = round(seg.start * fps), round(seg.end * fps)
        lo = max(0, round((seg.start - LEAD) * fps))
        apex = s + min(ATTACK_SHARE * (e - s), ATTACK_MAX * fps)
        out.append(Window(i, lo, apex, e, min(n_frames - 1, round((seg.end + RELEASE) * fps))))
    for w, nxt in zip(out, out[1:]):
        if w.hi > nxt.lo:
            w.fall, w.hi = nxt.lo, min(n_frames - 1, math.ceil(nxt.apex))
    return [w for w in out if w.hi - w.lo >= 2]


def envelope(w: Window) -> np.ndarray:
    """(hi - lo + 1,) 0..1: the window's build, hold and release (smoothsteps)."""
    t = np.arange(w.lo, w.hi + 1, dtype=np.float64)
    rise = _smoothstep((t - w.lo) / max(w.apex - w.lo, 1.0))
    # a cross-fade lets go on the next window's build span [its lo, its apex] = [fall, hi]
    fall = 1.0 - _smoothstep((t - w.fall) / max(w.hi - w.fall, 1.0))
    return np.minimum(rise, fall)


def _moving_average(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over axis 0, the ends padded with the edge values."""
    pad = np.concatenate([np.repeat(x[:1], width // 2, 0), x, np.repeat(x[-1:], width - 1 - width // 2, 0)])
    c = np.cumsum(np.concatenate([np.zeros_like(x[:1]), pad]), axis=0, dtype=np.float64)
    return ((c[width:] - c[:-width]) / width).astype(x.dtype)


def calibrate(take: np.ndarray, pattern: np.ndarray, env: np.ndarray, level: float,
              fps: float = 30.0) -> np.ndarray:
    """Reshape a generated take (T, 70, 3) so that its expression follows `env` and its apex
    projects onto `pattern` (the segment's FACS expression in landmarks, (70, 3)) at `level`.

    The take is split into its own apex shape Q (the mean of the frames within 10 % of its
    strongest, along the pattern) times a per-frame amount, plus what is left (the small
    motions the generator adds around it, less their part along the pattern); Q's amount is
    replaced by env and the whole is scaled."""
    pp = float((pattern * pattern).sum())
    along = np.einsum("tld,ld->t", take, pattern) / max(pp, 1e-18)
    if along.max() <= 1e-6:  # the generator made nothing along the expression: only time it
        return (take * env[:, None, None]).astype(np.float32)
    q = take[along >= 0.9 * along.max()].mean(axis=0)
    qq = float((q * q).sum())
    amount = np.einsum("tld,ld->t", take, q) / max(qq, 1e-18)
    rest = take - amount[:, None, None] * q
    # ... less its slow part (a drift over the hold would move the apex) and its part along
    # the pattern, so the expression's strength follows env alone
    rest -= _moving_average(rest, max(1, round(DRIFT_S * fps)))
    rest -= (np.einsum("tld,ld->t", rest, pattern) / max(pp, 1e-18))[:, None, None] * pattern
    gain = np.clip(level / max(float((q * pattern).sum()) / pp, 1e-6), *GAIN_LIMITS)
    return (gain * (env[:, None, None] * q + rest)).astype(np.float32)


@functools.lru_cache(maxsize=4)
def load_expression_model(path: str | None = None):
    from ..ml.expression_inference import ExpressionModel

    return ExpressionModel.load(path)


def iter_landmark_performance(timeline, fps: float = 30, intensity: float = 1.0, seed: int = 0,
                              model_path: str | None = None, keep_landmarks: bool = False):
    """Yield progress fractions; return a Performance (see envelope_performance for the contract).

    keep_landmarks: also return `performance.landmarks`, the landmark offsets (F, 70, 3) of the
    default head's solved expression (before blinks and idle drift), for retargeting onto other
    keys and face rigs (rigs/custom_keys.py, bone_rbf); None by default."""
    fps = float(fps)
    if not math.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive finite number, got {fps}")
    if not math.isfinite(intensity) or intensity < 0:
        raise ValueError(f"intensity must be a finite number >= 0, got {intensity}")
    model = load_expression_model(model_path)
    neutral, signatures = default_head_rig()
    n_frames = math.ceil(float(timeline.duration) * fps - 1e-9) + 1
    offsets = np.zeros((n_frames, *neutral.shape), dtype=np.float32)
    prior = np.zeros((n_frames, len(ARKIT_NAMES)), dtype=np.float32)  # the solve's pull (see solve)

    segments = timeline.segments
    # The model is conditioned on how sure the text is (confidence strength, 0..1); the user's
    # intensity then scales the generated motion linearly, as an artist expects of a slider.
    confidence = face_strengths(segments)
    # ... and on the Ekman groups as they weigh in the face: the model learnt one emotion at a
    # time, and a soft mix (anger 0.46, sadness 0.26, ...) made it barely move.
    lead = ekman_lead(np.stack([s.probs for s in segments])) if segments else np.zeros((0, 7))
    keep = [power * intensity >= MIN_STRENGTH for power in confidence]
    windows = plan_windows(segments, keep, fps, n_frames)
    allowed = np.zeros((n_frames, len(ARKIT_NAMES)), dtype=bool)  # per frame: solvable keys
    for w in windows:
        allowed[w.lo:w.hi + 1] |= vocabulary(segments[w.segment].probs)
    # Generated in batches (one lock-step rollout per batch), so progress can be reported.
    batch = 512
    for b in range(0, len(windows), batch):
        part = windows[b:b + batch]
        takes = model.generate_many([lead[w.segment] for w in part],
                                    [float(confidence[w.segment]) for w in part],
                                    [w.hi - w.lo + 1 for w in part], neutral,
                                    [(seed * 1_000_003 + w.segment) % 2**32 for w in part])
        for w, take in zip(part, takes):
            shape = expression_weights(segments[w.segment].probs)
            shape = shape / max(float(shape.max()), 1e-6)  # the expression at full strength
            level = APEX * float(confidence[w.segment])
            env = envelope(w)
            take = calibrate(take, np.einsum("k,kld->ld", shape, signatures), env, level, fps)
            offsets[w.lo:w.hi + 1] += intensity * take
            prior[w.lo:w.hi + 1] += (intensity * level * env)[:, None] * shape
        yield 0.6 * min(b + batch, len(windows)) / len(windows)

    weights = np.zeros((n_frames, len(ARKIT_NAMES)), dtype=np.float32)
    for start in range(0, n_frames, SOLVE_CHUNK):
        stop = min(start + SOLVE_CHUNK, n_frames)
        chunk = offsets[start:stop]
        moving = np.abs(chunk).reshape(len(chunk), -1).max(axis=1) > 1e-7  # silence: zero weights
        masks = allowed[start:stop]
        # Frames sharing a vocabulary are solved together (a handful of distinct sets per take).
        packed = np.packbits(masks, axis=1)
        groups, which = np.unique(packed, axis=0, return_inverse=True)
        for g in range(len(groups)):
            rows = np.flatnonzero((which.ravel() == g) & moving)
            keys = np.flatnonzero(masks[rows[0]]) if rows.size else []
            if len(keys):
                weights[np.ix_(start + rows, keys)] = _solver(masks[rows[0]].tobytes()).solve(
                    chunk[rows], prior=prior[np.ix_(start + rows, keys)])
        yield 0.6 + 0.4 * stop / n_frames

    if keep_landmarks:
        # What the default head shows, as landmarks: the solved expression keys through their
        # signatures. Other targets solve from this, so they show the same face (the generator's
        # motion outside the segment's expression, which the solve leaves out, is left out there too).
        for start in range(0, n_frames, SOLVE_CHUNK):
            stop = min(start + SOLVE_CHUNK, n_frames)
            offsets[start:stop] = np.einsum("fk,kld->fld", weights[start:stop], signatures)
    add_life(weights, np.random.default_rng(int(seed)), fps)
    return Performance(fps=fps, frames=np.arange(n_frames, dtype=np.int64), weights=weights,
                       landmarks=offsets if keep_landmarks else None)


def landmark_performance(timeline, **options) -> Performance:
    steps = iter_landmark_performance(timeline, **options)
    try:
        while True:
            next(steps)
    except StopIteration as done:
        return done.value
