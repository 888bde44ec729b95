"""Voice emotion: 16 kHz mono audio -> probabilities over ml.labels.VOICE_EMOTIONS, in NumPy.

    model = SpeechEmotionModel.load()          # the shipped ml/weights/speech_emotion.safetensors
    model.predict(audio) -> (8,)               # float32, sums to 1
    model.predict_many([audio, ...]) -> (N, 8)
    model.predict_with_aus(audio) -> ((8,), (n_aus,))   # + graded FACS AU intensities (au_names)
    model.ekman(probs) -> (..., 7) over ml.labels.EKMAN

The network (ml/speech_model.py, trained by ml/train_speech.py): per-frame inputs (the frozen
Whisper tiny.en encoder's frames, ml/whisper_model.encode, or the librosa frame features of
ml/speech_features) averaged in groups of `stride`, standardised -> (Bi)LSTM -> attention, mean
and std pooling -> plus standardised clip statistics (prosody_stats; mean/std of the encoder
frames) -> emotion logits and AU intensities. A file holds one such network or several
("members", same config) whose softmax outputs are averaged. Safetensors (no code runs on load)
tagged with FORMAT; tensor names are the torch module's under "m{k}.".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from . import labels as L

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "speech_emotion.safetensors"
FORMAT = "emotive-speech-emotion/1"
SAMPLE_RATE = 16_000
MIN_SAMPLES = SAMPLE_RATE // 10     # 0.1 s: less holds no voice to judge


def _sigmoid(x):
    return 0.5 * np.tanh(0.5 * x) + 0.5


def check_audio(audio) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"expected 16 kHz mono audio (1-D samples), got shape {audio.shape}")
    if len(audio) < MIN_SAMPLES:
        raise ValueError(f"audio too short for voice emotion: {len(audio)} samples (< {MIN_SAMPLES}, 0.1 s)")
    if not np.all(np.isfinite(audio)):
        raise ValueError("audio holds NaN or infinite samples")
    return audio


def raw_frames(audio, kind: str) -> np.ndarray:
    """Per-frame inputs before downsampling: (T, 384) encoder frames or (T, 54) frame features.
    "whisper": Whisper's encoder in its 30 s window; "whisper_fit": in a window fitted to the clip
    (whisper_model.fit_window, ~5x faster; different frames, so weights say which they read)."""
    if kind in ("whisper", "whisper_fit"):
        from .whisper_model import encode
        return encode(audio, window="fit" if kind == "whisper_fit" else "full")
    if kind == "mfcc":
        from .speech_features import frame_features
        return frame_features(audio)
    raise ValueError(f"unknown frame kind {kind!r}")


def clip_stats(audio, frames: np.ndarray, parts: Sequence[str]) -> np.ndarray:
    """The clip statistics vector (before standardisation): "prosody" (speech_features.
    prosody_stats) and/or "frames" (mean and std over time of the raw frames)."""
    out = []
    for part in parts:
        if part == "prosody":
            from .speech_features import prosody_stats
            out.append(prosody_stats(audio))
        elif part == "frames":
            out.extend([frames.mean(0), frames.std(0)])
        else:
            raise ValueError(f"unknown clip statistics {part!r}")
    return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)


def downsample(x: np.ndarray, stride: int) -> np.ndarray:
    """(T, F) -> (ceil(T / stride), F): means of non-overlapping groups (the last may be shorter)."""
    if stride <= 1 or len(x) == 0:
        return np.asarray(x, np.float32)
    n = len(x)
    pad = (-n) % stride
    summed = np.pad(x, ((0, pad), (0, 0))).reshape(-1, stride, x.shape[1]).sum(1)
    counts = np.full(len(summed), stride, np.float32)
    counts[-1] = stride - pad
    return (summed / counts[:, None]).astype(np.float32)


class _Network:
    """One member's NumPy weights (torch names after `prefix`); gates reordered i,f,o,g."""

    def __init__(self, t: dict, prefix: str, cfg: dict):
        H = self.hidden = int(cfg["hidden"])
        self.directions = 2 if cfg["bidirectional"] else 1
        perm = np.r_[0:2 * H, 3 * H:4 * H, 2 * H:3 * H]
        self.proj = ((t[prefix + "proj.weight"].T, t[prefix + "proj.bias"]) if cfg.get("proj") else None)
        self.w_ih, self.w_hh, self.b = [], [], []
        for suffix in ("", "_reverse")[:self.directions]:
            self.w_ih.append(np.ascontiguousarray(t[f"{prefix}lstm.weight_ih_l0{suffix}"][perm].T))
            self.w_hh.append(np.ascontiguousarray(t[f"{prefix}lstm.weight_hh_l0{suffix}"][perm].T))
            self.b.append((t[f"{prefix}lstm.bias_ih_l0{suffix}"] + t[f"{prefix}lstm.bias_hh_l0{suffix}"])[perm])
        self.att_w = t[prefix + "attention.weight"][0]
        self.att_b = float(t[prefix + "attention.bias"][0])
        self.fc_w, self.fc_b = t[prefix + "fc.weight"].T, t[prefix + "fc.bias"]
        self.au = (t[prefix + "au.weight"].T, t[prefix + "au.bias"]) if int(cfg.get("n_aus", 0)) else None

    def projected(self, x: np.ndarray) -> list[np.ndarray]:
        """Per direction, the LSTM's input projection of all steps (T, 4H), reverse ones reversed."""
        if self.proj is not None:
            x = x @ self.proj[0] + self.proj[1]
        return [(x @ w + b)[::-1] if d == 1 else x @ w + b
                for d, (w, b) in enumerate(zip(self.w_ih, self.b))]

    def head(self, out: np.ndarray, stats: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """LSTM outputs (T, D*H) in reading order, stats (n_stats,) -> (logits (8,), aus)."""
        score = out @ self.att_w + self.att_b
        w = np.exp(score - score.max())
        att = (w / w.sum()) @ out
        mean = out.mean(0)
        std = np.sqrt(((out - mean) ** 2).mean(0) + 1e-6)
        z = np.concatenate([att, mean, std, stats])
        aus = _sigmoid(z @ self.au[0] + self.au[1]) if self.au is not None else None
        return z @ self.fc_w + self.fc_b, aus


def _lstm(xp: np.ndarray, w_hh: np.ndarray) -> np.ndarray:
    """Independent LSTMs side by side (every member's every direction): xp (K, T, 4H) projected
    inputs, gates i,f,o,g; w_hh (K, H, 4H) -> h (K, T, H). One Python loop over time for all K;
    einsum, not BLAS: a threaded product of a few rows spends ~ms per step syncing on a busy CPU."""
    K, T, _ = xp.shape
    H = w_hh.shape[1]
    h = np.zeros((K, H), np.float32)
    c = np.zeros((K, H), np.float32)
    out = np.empty((K, T, H), np.float32)
    for t in range(T):
        g = xp[:, t] + np.einsum("ki,kij->kj", h, w_hh)
        s = _sigmoid(g[:, :3 * H])
        c = s[:, H:2 * H] * c + s[:, :H] * np.tanh(g[:, 3 * H:])
        h = s[:, 2 * H:] * np.tanh(c)
        out[:, t] = h
    return out


class SpeechEmotionModel:
    def __init__(self, tensors: dict, meta: dict, path: Path):
        self.path = path
        self.config = json.loads(meta["config"])
        self.labels = tuple(json.loads(meta["labels"]))
        self.au_names = tuple(json.loads(meta.get("au_names", "[]")))
        self.stats_parts = tuple(self.config.get("stats", ()))
        t = {k: np.asarray(v, np.float32) for k, v in tensors.items()}
        self.frames_mean, self.frames_std = t["frames.mean"], t["frames.std"]
        self.stats_mean, self.stats_std = t["stats.mean"], t["stats.std"]
        n = int(self.config["members"])
        self.members = [_Network(t, f"m{k}.", self.config) for k in range(n)]
        self._w_hh = np.stack([w for m in self.members for w in m.w_hh])     # (members x directions, H, 4H)

    @classmethod
    def load(cls, path=None) -> "SpeechEmotionModel":
        """Load weights (default: the shipped file). FileNotFoundError / ValueError naming the file."""
        path = Path(path) if path is not None else DEFAULT_WEIGHTS
        if not path.is_file():
            raise FileNotFoundError(f"speech-emotion weights not found: {path}")
        from .weights_file import read_weights

        tensors, meta = read_weights(path, FORMAT, "speech-emotion weights")
        try:
            model = cls(tensors, meta, path)
        except (KeyError, ValueError, IndexError, TypeError) as e:
            raise ValueError(f"{path}: incomplete or inconsistent speech-emotion weights ({e!r})") from e
        first = model.members[0] if model.members else None
        if (model.labels != L.VOICE_EMOTIONS or first is None
                or first.fc_b.shape != (len(L.VOICE_EMOTIONS),)
                or len(model.frames_mean) != int(model.config["n_in"])
                or len(model.stats_mean) != int(model.config["n_stats"])):
            raise ValueError(f"{path}: labels or shapes do not match this add-on")
        return model

    def inputs(self, audio, frames: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(standardised downsampled frames, standardised clip stats) of a clip; `frames`: its
        raw frames when already computed (the training cache)."""
        audio = check_audio(audio)
        if frames is None:
            frames = raw_frames(audio, self.config["frames"])
        stats = clip_stats(audio, frames, self.stats_parts)
        x = (downsample(frames, int(self.config["stride"])) - self.frames_mean) / self.frames_std
        return x.astype(np.float32), ((stats - self.stats_mean) / self.stats_std).astype(np.float32)

    def _run(self, x, stats):
        xp = np.stack([p for m in self.members for p in m.projected(x)])
        out = _lstm(xp, self._w_hh)
        D = self.members[0].directions
        probs, aus = 0.0, 0.0
        for k, m in enumerate(self.members):
            dirs = [out[k * D + d][::-1] if d == 1 else out[k * D + d] for d in range(D)]
            logits, a = m.head(np.concatenate(dirs, axis=1), stats)
            e = np.exp(logits - logits.max())
            probs = probs + e / e.sum()
            if a is not None:
                aus = aus + a
        n = len(self.members)
        return (probs / n).astype(np.float32), np.asarray(aus / n, np.float32) if self.au_names else \
            np.zeros(0, np.float32)

    def predict_with_aus(self, audio) -> tuple[np.ndarray, np.ndarray]:
        """((8,) probabilities over VOICE_EMOTIONS, (n_aus,) AU intensities in [0, 1] over au_names)."""
        return self._run(*self.inputs(audio))

    def predict(self, audio) -> np.ndarray:
        """(8,) float32 probabilities over ml.labels.VOICE_EMOTIONS of 16 kHz mono audio."""
        return self.predict_with_aus(audio)[0]

    def predict_many(self, audios: Sequence) -> np.ndarray:
        """(N, 8) float32, one row per clip."""
        out = np.zeros((len(audios), len(self.labels)), np.float32)
        for i, a in enumerate(audios):
            out[i] = self.predict(a)
        return out

    @staticmethod
    def ekman(probs) -> np.ndarray:
        """(..., 8) -> (..., 7) over ml.labels.EKMAN (neutral + calm -> neutral)."""
        return L.voice_to_ekman(probs)
