"""The text path, end to end and bpy-free: text -> emotion timeline -> performance -> report.

Written as a generator so a modal operator can advance it one step per timer tick (progress bar,
Esc to cancel) while the CLI simply drains it. Nothing here touches a scene; writing keys is the
Blender adapter's job (rigs/blender_keys.py).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EmotiveError
from ..ml.labels import GOEMOTIONS
from ..rigs.arkit import ARKIT_NAMES
from .performance import Performance, envelope_performance
from .timeline import EmotionTimeline, iter_build_timeline

# Words beyond this are refused outright: a safety valve, far above any script a user animates.
MAX_WORDS = 200_000
# How the timeline becomes motion: generated landmark performances (the expression LSTM,
# retargeted) or hand-shaped onset/apex/offset envelopes over the FACS table.
MOTIONS = ("landmark", "envelope")


@dataclass
class TextAnimation:
    timeline: EmotionTimeline
    performance: Performance

    @property
    def active_channels(self) -> list[str]:
        """ARKit channels that move at all: the shape keys a target needs, and the ones keyed."""
        moving = np.abs(self.performance.weights).max(axis=0) > 1e-4
        return [name for name, m in zip(ARKIT_NAMES, moving) if m]


@functools.lru_cache(maxsize=4)
def load_classifier(path: str | None = None):
    """The text emotion model, loaded once per path (load is ~0.1 s; runs are many)."""
    from ..ml.text_emotion import TextEmotionModel

    try:
        return TextEmotionModel.load(path)
    except (OSError, ValueError) as exc:
        raise EmotiveError(f"cannot load the text emotion model: {exc}") from exc


def check_text(text) -> str:
    if not isinstance(text, str):
        raise EmotiveError(f"text must be a string, not {type(text).__name__}")
    if not text.strip():
        raise EmotiveError("the text is empty: type a line of dialogue or pick a Text block")
    words = len(text.split())
    if words > MAX_WORDS:
        raise EmotiveError(f"the text has {words:,} words; Emotive animates at most {MAX_WORDS:,} at once")
    return text


def check_rate(fps: float, wpm: float, intensity: float) -> None:
    for name, value, low, high in (("fps", fps, 1, 240), ("reading rate (wpm)", wpm, 1, 2000),
                                   ("intensity", intensity, 0, 10)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or not low <= value <= high:
            raise EmotiveError(f"{name} must be a number between {low} and {high}, got {value!r}")


def iter_text_animation(text: str, *, fps: float = 30, wpm: float = 160, intensity: float = 1.0,
                        seed: int = 0, timings=None, model_path: str | None = None,
                        motion: str = "landmark", expression_model_path: str | None = None):
    """Yield (fraction, message) while working; return a TextAnimation."""
    check_text(text)
    check_rate(fps, wpm, intensity)
    if motion not in MOTIONS:
        raise EmotiveError(f"unknown motion {motion!r}; use one of {', '.join(MOTIONS)}")
    yield 0.0, "loading the emotion model"
    classifier = load_classifier(model_path)
    steps = iter_build_timeline(text, classifier, wpm=wpm, timings=timings)
    try:
        while True:
            fraction = next(steps)
            yield 0.05 + 0.55 * fraction, "reading the emotions"
    except StopIteration as done:
        timeline = done.value
    except ValueError as exc:  # bad timings, rates: the timeline says what is wrong
        raise EmotiveError(str(exc)) from exc
    yield 0.6, "animating"
    if motion == "envelope":
        performance = envelope_performance(timeline, fps=fps, intensity=intensity, seed=seed)
    else:
        from .landmark_performance import iter_landmark_performance

        try:
            steps = iter_landmark_performance(timeline, fps=fps, intensity=intensity, seed=seed,
                                              model_path=expression_model_path)
            while True:
                yield 0.6 + 0.4 * next(steps), "generating the performance"
        except StopIteration as done:
            performance = done.value
        except (OSError, ValueError) as exc:
            raise EmotiveError(f"cannot generate the performance: {exc}") from exc
    yield 1.0, "done"
    return TextAnimation(timeline, performance)


def run_text_animation(text: str, progress=None, **options) -> TextAnimation:
    """Drain iter_text_animation; `progress(fraction, message)` is called at each step."""
    steps = iter_text_animation(text, **options)
    try:
        while True:
            fraction, message = next(steps)
            if progress:
                progress(fraction, message)
    except StopIteration as done:
        return done.value


def build_report(animation: TextAnimation, keyed: list[str], *, frame_start: int = 1,
                 action_name: str = "", target: str = "") -> dict:
    """The report.json content: one entry per segment, frames in scene frames."""
    perf = animation.performance
    segments = []
    for seg in animation.timeline.segments:
        start = frame_start + int(round(seg.start * perf.fps))
        end = frame_start + int(round(seg.end * perf.fps))
        top = np.argsort(seg.probs)[::-1][:3]
        entry = {
            "text": seg.text,
            "start_frame": start,
            "end_frame": end,
            "emotion": seg.emotion,
            "labels": [{"label": GOEMOTIONS[i], "probability": round(float(seg.probs[i]), 4)}
                       for i in top],
            "shape_keys": keyed,
        }
        if seg.warning:
            entry["warning"] = seg.warning
        segments.append(entry)
    return {
        "target": target,
        "action": action_name,
        "fps": perf.fps,
        "frame_start": frame_start,
        "frame_end": frame_start + len(perf.frames) - 1,
        "keyed_shape_keys": keyed,
        "warnings": list(animation.timeline.warnings),
        "segments": segments,
    }


def write_report(report: dict, path: str | Path) -> Path:
    import json

    path = Path(path)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
