"""Expression migration: a capture's performance moved toward another emotion timeline (bpy-free).

GANemotion's expression attention: where the emotion a performer shows differs from the one the
scene wants (from a line of text, or from the recording's own speech: a video's sound track),
the wanted expression is added to the captured motion with weight α1 on the mouth and α2 on the
rest of the face, so the articulation of a talking mouth survives while brows, eyes and cheeks
take the new emotion. Stretches where the two already agree are left as captured. The wanted
expression is the text path's own calibrated landmark performance, laid over the capture's time.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import EmotiveError
from ..rigs.landmarks import N_CANONICAL
from .attention import ALPHA_FACE, ALPHA_MOUTH, attention, check_alphas

GATE_S = 0.3                   # s over which migration fades in and out between stretches


def text_timeline(text: str, n_frames: int, fps: float, *, model_path=None):
    """The text's emotion timeline stretched over the capture (its sentences share the take's
    time in proportion to their length)."""
    from .models import load_classifier
    from .text import check_text
    from .timeline import build_timeline

    timeline = build_timeline(check_text(text), load_classifier(model_path))
    duration = (n_frames - 1) / fps
    scale = duration / max(float(timeline.duration), 1e-9)
    return dataclasses.replace(timeline, duration=duration, segments=[
        dataclasses.replace(s, start=s.start * scale, end=s.end * scale) for s in timeline.segments])


def wanted_motion(timeline, n_frames: int, fps: float, *, seed: int = 0):
    """The timeline's calibrated landmark performance over the capture:
    (n_frames, 70, 3) landmark offsets on the default head, no blinks."""
    from .landmark_performance import landmark_performance

    motion = landmark_performance(timeline, fps=fps, seed=seed, keep_landmarks=True).landmarks
    out = np.zeros((n_frames, N_CANONICAL, 3), dtype=np.float32)
    out[:min(n_frames, len(motion))] = motion[:n_frames]
    return out


def gate(captured_segments, timeline, n_frames: int, fps: float) -> np.ndarray:
    """(n_frames,) 0..1: 1 where the text wants an emotion other than the one captured, 0 where
    they agree or the text wants neutral, eased over GATE_S."""
    t = np.arange(n_frames) / fps
    shown = np.full(n_frames, "", dtype=object)
    for seg in captured_segments:
        shown[(t >= seg.start) & (t <= seg.end)] = seg.emotion
    wanted = np.full(n_frames, "neutral", dtype=object)
    for seg in timeline.segments:
        wanted[(t >= seg.start) & (t <= seg.end)] = seg.emotion
    # adding expressions cannot make a face neutral: where the text wants neutral, nothing is added
    g = ((wanted != shown) & (wanted != "neutral")).astype(np.float64)
    width = max(1, round(GATE_S * fps))
    kernel = np.ones(width) / width
    return np.convolve(np.pad(g, (width // 2, width - 1 - width // 2), mode="edge"), kernel, "valid").astype(np.float32)


def migration(captured_segments, wanted, n_frames: int, fps: float, *, alpha_mouth: float = ALPHA_MOUTH,
              alpha_face: float = ALPHA_FACE, seed: int = 0, model_path=None):
    """-> ((n_frames, 70, 3) landmark offsets to add to the capture, the wanted timeline).
    wanted: a line of text (its emotions spread over the take), or an EmotionTimeline on the
    capture's clock (the speech path's, from the capture's own sound)."""
    check_alphas(alpha_mouth, alpha_face)
    timeline = text_timeline(wanted, n_frames, fps, model_path=model_path) if isinstance(wanted, str) else wanted
    motion = wanted_motion(timeline, n_frames, fps, seed=seed)
    weight = gate(captured_segments, timeline, n_frames, fps)[:, None, None] * attention(alpha_mouth, alpha_face)[None, :, None]
    return (motion * weight).astype(np.float32), timeline
