"""The emotion models the sources share, each loaded once per file (bpy-free).

Loading takes a fraction of a second and runs are many (every click, every batch job), so each
loader caches by path and reloads when the file changes (a model retrained under the same name).
"""

from __future__ import annotations

import functools
import os

from ..errors import EmotiveError


def _stamp(path: str | None):
    try:
        return os.stat(path).st_mtime_ns if path else None
    except OSError:
        return None            # missing: the load says so


def load_classifier(path: str | None = None):
    """The text emotion model (ml/text_emotion.py); None: the shipped one."""
    return _load_classifier(path, _stamp(path))


@functools.lru_cache(maxsize=4)
def _load_classifier(path: str | None, stamp: int | None):
    from ..ml.text_emotion import TextEmotionModel

    try:
        return TextEmotionModel.load(path)
    except (OSError, ValueError) as exc:
        raise EmotiveError(f"cannot load the text emotion model: {exc}") from exc


def load_voice_model(path: str | None = None):
    """The voice emotion model (ml/speech_emotion.py); None: the shipped one."""
    return _load_voice_model(path, _stamp(path))


@functools.lru_cache(maxsize=4)
def _load_voice_model(path: str | None, stamp: int | None):
    from ..ml.speech_emotion import SpeechEmotionModel

    try:
        return SpeechEmotionModel.load(path)
    except (OSError, ValueError, RuntimeError) as exc:
        raise EmotiveError(f"cannot load the voice emotion model: {exc}") from exc
