"""The text path, end to end and bpy-free: text -> emotion timeline -> performance -> report.

Written as a generator so a modal operator can advance it one step per timer tick (progress bar,
Esc to cancel) while the CLI simply drains it. Nothing here touches a scene; writing keys is the
Blender adapter's job (rigs/blender_keys.py).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
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
    seed: int = 0
    _life: tuple | None = field(default=None, repr=False, compare=False)

    def landmark_motion(self, life: bool = True, start: int = 0, stop: int | None = None) -> np.ndarray:
        """(stop - start, 70, 3) frames [start, stop) of the take as default-head landmark offsets,
        for targets other than ARKit keys (a character's own shape keys, face bones). Needs a run
        with keep_landmarks=True; take long takes in chunks (iter_landmark_motion).

        life: add the take's blinks and idle drift (pipeline/performance.add_life, same seed so the
        blinks fall on the ARKit take's frames), turned into landmark motion through the default
        head's ARKit signatures; the generated landmarks hold the expressions only."""
        perf = self.performance
        if perf.landmarks is None:
            raise EmotiveError("this take kept no landmark motion: run it with keep_landmarks=True "
                               "and the generated (landmark) motion")
        part = perf.landmarks[start:stop]
        if not life:
            return part
        if self._life is None:
            self._life = life_weights(len(perf.frames), perf.fps, self.seed)
        from .landmark_performance import default_head_rig

        weights, keys = self._life
        return part + np.einsum("fk,kld->fld", weights[start:stop], default_head_rig()[1][keys]).astype(np.float32)

    def iter_landmark_motion(self, life: bool = True, chunk: int = 8192):
        """Yield (start, landmark_motion(life, start, start + chunk)) over the whole take."""
        for start in range(0, len(self.performance.frames), chunk):
            yield start, self.landmark_motion(life, start, start + chunk)

    @property
    def active_channels(self) -> list[str]:
        """ARKit channels that move at all: the shape keys a target needs, and the ones keyed."""
        moving = np.abs(self.performance.weights).max(axis=0) > 1e-4
        return [name for name, m in zip(ARKIT_NAMES, moving) if m]


def life_weights(n_frames: int, fps: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The blinks and idle drift add_life gives a neutral face: ((F, n) weights, (n,) the ARKit
    key indices that move)."""
    from .performance import add_life

    life = add_life(np.zeros((n_frames, len(ARKIT_NAMES)), np.float32), np.random.default_rng(int(seed)), fps)
    keys = np.flatnonzero(np.abs(life).max(axis=0) > 0)
    return life[:, keys], keys


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
                        motion: str = "landmark", expression_model_path: str | None = None,
                        keep_landmarks: bool = False):
    """Yield (fraction, message) while working; return a TextAnimation.

    keep_landmarks: keep the generated landmark motion (TextAnimation.landmark_motion), which
    targets other than ARKit keys are retargeted from; only the landmark motion has it."""
    check_text(text)
    check_rate(fps, wpm, intensity)
    if motion not in MOTIONS:
        raise EmotiveError(f"unknown motion {motion!r}; use one of {', '.join(MOTIONS)}")
    if keep_landmarks and motion != "landmark":
        raise EmotiveError(f"the {motion} motion makes ARKit weights only; a character's own shape keys "
                           "and face bones need the generated (landmark) motion")
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
                                              model_path=expression_model_path,
                                              keep_landmarks=keep_landmarks)
            while True:
                yield 0.6 + 0.4 * next(steps), "generating the performance"
        except StopIteration as done:
            performance = done.value
        except (OSError, ValueError) as exc:
            raise EmotiveError(f"cannot generate the performance: {exc}") from exc
    yield 1.0, "done"
    return TextAnimation(timeline, performance, seed=int(seed))


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
                 action_name: str = "", target: str = "", drive: str = "arkit", notes=()) -> dict:
    """The report.json content: one entry per segment, frames in scene frames. `keyed` names the
    shape keys keyed, or the bones when drive is "bones"."""
    bones = drive == "bones"
    keys = [] if bones else list(keyed)
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
            "shape_keys": keys,
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
        "drive": drive,
        "keyed_shape_keys": keys,
        **({"keyed_bones": list(keyed)} if bones else {}),
        "notes": list(notes),
        "warnings": list(animation.timeline.warnings),
        "segments": segments,
    }


def write_report(report: dict, path: str | Path) -> Path:
    import json

    path = Path(path)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
