"""The text source: text -> emotion timeline -> performance -> Take (bpy-free).

iter_take is a generator yielding (fraction, message) so a modal operator can advance it one
step per timer tick (progress bar, Esc to cancel) while the CLI drains it (take.drain). It
validates everything before any model is loaded; nothing here touches a scene.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import EmotiveError
from ..ml.labels import EKMAN, GOEMOTIONS
from .models import load_classifier
from .performance import envelope_performance
from .take import Take, TakeSegment, within
from .timeline import EmotionTimeline, face_strengths, iter_build_timeline

NAME = "text"
# Words beyond this are refused outright: a safety valve, far above any script a user animates.
MAX_WORDS = 200_000
# How the timeline becomes motion: generated landmark performances (the expression LSTM,
# retargeted) or hand-shaped onset/apex/offset envelopes over the FACS table.
MOTIONS = ("landmark", "envelope")


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


def check_motion(motion: str, keep_landmarks: bool = False) -> None:
    if motion not in MOTIONS:
        raise EmotiveError(f"unknown motion {motion!r}; use one of {', '.join(MOTIONS)}")
    if keep_landmarks and motion != "landmark":
        raise EmotiveError(f"the {motion} motion makes ARKit weights only; a character's own shape keys "
                           "and face bones need the generated (landmark) motion")


def iter_take(text: str, *, fps: float = 30, wpm: float = 160, intensity: float = 1.0,
              seed: int = 0, timings=None, model_path: str | None = None,
              motion: str = "landmark", expression_model_path: str | None = None,
              keep_landmarks: bool = False, voice_path: str | None = None, **speech_options):
    """Yield (fraction, message) while working; return the Take.

    keep_landmarks: keep the generated landmark motion (Take.landmarks), which targets other
    than ARKit keys are solved from; only the landmark motion has it.
    voice_path: speak the text into this WAV file (pipeline/voice.py) and animate the speech
    (pipeline/speech.py, with speech_options: alpha_mouth, alpha_face, voice_model_path): a
    talking, emoting head lip-synced to its own voice."""
    check_text(text)
    check_rate(fps, wpm, intensity)
    check_motion(motion, keep_landmarks)
    if voice_path is not None:
        if timings is not None:
            raise EmotiveError("voiced text takes its timing from the spoken line; drop the timings")
        return (yield from _iter_voiced(text, voice_path, fps=fps, wpm=wpm, intensity=intensity, seed=seed,
                                        text_model_path=model_path, expression_model_path=expression_model_path,
                                        keep_landmarks=keep_landmarks, **speech_options))
    if speech_options:
        raise TypeError(f"unexpected options without voice_path: {', '.join(speech_options)}")
    yield 0.0, "loading the emotion model"
    classifier = load_classifier(model_path)
    try:
        timeline = yield from within(iter_build_timeline(text, classifier, wpm=wpm, timings=timings),
                                     0.05, 0.6, "reading the emotions")
    except ValueError as exc:  # bad timings, rates: the timeline says what is wrong
        raise EmotiveError(str(exc)) from exc
    yield 0.6, "generating the performance"
    if motion == "envelope":
        performance = envelope_performance(timeline, fps=fps, intensity=intensity, seed=seed)
    else:
        from .landmark_performance import iter_landmark_performance

        try:
            performance = yield from within(iter_landmark_performance(
                timeline, fps=fps, intensity=intensity, seed=seed, model_path=expression_model_path,
                keep_landmarks=keep_landmarks), 0.6, 1.0, "generating the performance")
        except (OSError, ValueError) as exc:
            raise EmotiveError(f"cannot generate the performance: {exc}") from exc
    yield 1.0, "generating the performance"
    return Take(fps=performance.fps, n_frames=len(performance.frames), arkit=performance.weights,
                landmarks=performance.landmarks, segments=take_segments(timeline),
                warnings=list(timeline.warnings), seed=int(seed), source=NAME)


def _iter_voiced(text: str, voice_path: str, *, wpm: float, **options):
    from . import speech, voice
    from .timeline import split_text

    voice.synthesiser()
    yield 0.0, "speaking the line"
    script = voice.speak_lines(split_text(text), voice_path, wpm=wpm)
    return (yield from within(speech.iter_take(voice_path, transcript=script, **options), 0.1, 1.0))


def take_segments(timeline: EmotionTimeline) -> list[TakeSegment]:
    """The timeline's sentences as take segments: the Ekman emotion the face shows, its share,
    the top three GoEmotions labels and, in the report, how strongly the face shows it at
    intensity 1 (rigs.facs.strength: why a line reads faint)."""
    out = []
    for seg, face in zip(timeline.segments, face_strengths(timeline.segments)):
        top = np.argsort(seg.probs)[::-1][:3]
        share = seg.ekman[EKMAN.index(seg.emotion)] if seg.emotion in EKMAN else max(seg.ekman)
        out.append(TakeSegment(start=seg.start, end=seg.end, emotion=seg.emotion,
                               confidence=float(share), text=seg.text,
                               labels=[(GOEMOTIONS[i], float(seg.probs[i])) for i in top],
                               warning=seg.warning, details={"strength": round(float(face), 3)}))
    return out
