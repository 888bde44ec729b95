"""Train the voice emotion model -> ml/weights/speech_emotion.safetensors

    python -m emotive.ml.train_speech [--data DIR] [--out FILE] [--seed N] [--model baseline|best]
    make train-speech            (then make eval-speech: the speaker-independent CV figures)

`--data DIR` needs `--out FILE` (the shipped file is only trained from RAVDESS); `main(argv)` is
what `python -m emotive train-speech ...` calls.

Data: RAVDESS speech (../shared/data/speech/ravdess16k, 24 actors in the full set, 20 here,
1,200 clips) or `--data DIR`, a folder of a user's own labelled audio (ml/speech_data.py: RAVDESS
names or a labels.csv). Every clip is read as 16 kHz mono; its per-frame inputs are cached in
/tmp/emotive_speech_cache (EMOTIVE_SPEECH_CACHE), keyed by a hash of the samples, so the Whisper
encoder (~0.5 s per clip here) runs once per clip for all folds and runs.

Two recipes (SpeechLSTM below is the network):
  baseline  the paper's LSTM shape over ml/speech_features frames (25 MFCC, F0, intensity and
            their deltas, per utterance z-scored; averaged in fours, 25/s): one unidirectional
            LSTM (128), attention/mean/std pooling, heads for the 8 classes and the FACS AUs.
  best      frozen Whisper tiny.en encoder frames, the encoder run in a window fitted to the
            clip ("whisper_fit": whisper_model.fit_window, at least 10 s, ~5x less encoder time
            than Whisper's 30 s window; averaged in fours, 12.5/s: emotion is a property of the
            utterance, and the CPU budget is small), a linear projection (64), a BiLSTM (2 x 64),
            the same pooling, plus standardised clip statistics (prosody_stats and the mean/std of
            the encoder frames, which alone give 0.71 with a logistic regression); three seeds
            whose softmax outputs are averaged.
  best_full best over frames of the 30 s window ("whisper"), the recipe of the file shipped
            before: CV 0.719 +- 0.050 accuracy, 0.710 macro-F1 (best: see the metrics file).
Both: AdamW, cosine schedule, a fixed number of epochs (no early stopping: nothing is held out
when the shipped file is trained on all actors), cross-entropy with class weights (neutral has
half the clips of the other classes) and label smoothing, plus the AU head's binary
cross-entropy against graded targets: the Ekman emotion of the class (ml/labels.VOICE_TO_EKMAN)
gives its AU weights in the FACS table (rigs/data/facs.json), scaled by RAVDESS's intensity
field (normal 0.6, strong 1.0; 0.8 when unknown); neutral and calm have none.
Torch is used here only; the shipped file is read by ml/speech_emotion.py in NumPy.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import zlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from . import labels as L
from . import speech_emotion as se
from .speech_data import SAMPLE_RATE, Clip, find_clips, read_audio

WEIGHTS = se.DEFAULT_WEIGHTS
RAVDESS = "speech/ravdess16k"
THREADS = 1            # shared CPU: one thread, so two runs can go side by side
INTENSITY = {True: 1.0, False: 0.6}
UNKNOWN_INTENSITY = 0.8


def cache_dir() -> Path:
    path = Path(os.environ.get("EMOTIVE_SPEECH_CACHE", "/tmp/emotive_speech_cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Recipe:
    cfg: dict              # SpeechConfig fields
    epochs: int
    lr: float
    members: int
    batch: int = 32
    weight_decay: float = 1e-2
    label_smoothing: float = 0.1
    au_weight: float = 0.5
    speeds: tuple = ()     # speed-perturbation factors: one extra copy of each training clip


RECIPES = {
    "baseline": Recipe(cfg=dict(frames="mfcc", n_in=54, stride=4, proj=0, hidden=128, bidirectional=False,
                                stats=(), dropout=0.3, input_dropout=0.0),
                       epochs=30, lr=2e-3, members=1),
    "best": Recipe(cfg=dict(frames="whisper_fit", n_in=384, stride=4, proj=64, hidden=64, bidirectional=True,
                            stats=("prosody", "frames"), dropout=0.4, input_dropout=0.1),
                   epochs=20, lr=1e-3, members=3),
}
RECIPES["best_full"] = replace(RECIPES["best"], cfg={**RECIPES["best"].cfg, "frames": "whisper"})


# --- the network (the NumPy twin is ml/speech_emotion.py; tensor names are what it reads) ---

@dataclass
class SpeechConfig:
    frames: str = "whisper"        # "whisper" / "whisper_fit" (encoder frames, 50/s; 30 s or fitted
                                   # window, speech_emotion.raw_frames) or "mfcc" (speech_features, 100/s)
    n_in: int = 384
    stride: int = 2                # frames averaged in non-overlapping groups before the LSTM
    proj: int = 0                  # 0: no projection
    hidden: int = 64
    bidirectional: bool = True
    stats: tuple = ()              # clip statistics parts (speech_emotion.clip_stats)
    n_stats: int = 0
    n_classes: int = 8
    n_aus: int = 0
    dropout: float = 0.3
    input_dropout: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)


class SpeechLSTM(torch.nn.Module):
    def __init__(self, cfg: SpeechConfig):
        super().__init__()
        self.cfg = cfg
        self.input_dropout = torch.nn.Dropout(cfg.input_dropout)
        self.proj = torch.nn.Linear(cfg.n_in, cfg.proj) if cfg.proj else None
        self.lstm = torch.nn.LSTM(cfg.proj or cfg.n_in, cfg.hidden, batch_first=True,
                                  bidirectional=cfg.bidirectional)
        width = cfg.hidden * (2 if cfg.bidirectional else 1)
        self.attention = torch.nn.Linear(width, 1)
        self.dropout = torch.nn.Dropout(cfg.dropout)
        pooled = 3 * width + cfg.n_stats
        self.fc = torch.nn.Linear(pooled, cfg.n_classes)
        self.au = torch.nn.Linear(pooled, cfg.n_aus) if cfg.n_aus else None

    def forward(self, x, lengths, stats=None):
        """x (B, T, F) zero-padded, lengths (B,) int64, stats (B, n_stats) -> (logits (B, 8),
        au intensities (B, n_aus) or None)."""
        x = self.input_dropout(x)
        if self.proj is not None:
            x = self.proj(x)
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        mask = (torch.arange(x.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1)   # (B, T, 1)
        n = lengths[:, None].float()
        score = self.attention(out).masked_fill(~mask, float("-inf"))
        att = (torch.softmax(score, dim=1) * out).sum(1)
        mean = (out * mask).sum(1) / n
        var = (((out - mean[:, None]) * mask) ** 2).sum(1) / n
        parts = [att, mean, torch.sqrt(var + 1e-6)]
        if self.cfg.n_stats:
            parts.append(stats)
        z = self.dropout(torch.cat(parts, 1))
        return self.fc(z), (torch.sigmoid(self.au(z)) if self.au is not None else None)


def tensors(model: SpeechLSTM) -> dict[str, np.ndarray]:
    """The module's parameters as float32 NumPy arrays under their torch names."""
    return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}


# --- data ---------------------------------------------------------------------------------

@dataclass
class Example:
    clip: Clip
    frames: np.ndarray     # raw per-frame inputs (T, F), float32
    stats: np.ndarray      # raw clip statistics
    augmented: bool = False   # a speed-perturbed copy: trained on, never tested


def _cached(audio: np.ndarray, kind: str, make):
    key = hashlib.sha1(audio.tobytes()).hexdigest()[:20]
    path = cache_dir() / f"{kind}-{key}.npy"
    if path.exists():
        return np.load(path).astype(np.float32)
    value = np.asarray(make(), np.float32)
    np.save(path, value.astype(np.float16) if kind.startswith("whisper") else value)
    return value


def speed(audio: np.ndarray, factor: float) -> np.ndarray:
    """The clip played `factor` times faster (tempo and pitch together, as tape or Kaldi's speed
    perturbation): resampled to 16 kHz / factor and read back at 16 kHz."""
    import librosa

    return librosa.resample(audio, orig_sr=SAMPLE_RATE, target_sr=round(SAMPLE_RATE / factor),
                            res_type="soxr_hq").astype(np.float32)


def _example(clip: Clip, audio: np.ndarray, cfg: dict) -> Example:
    from .speech_features import prosody_stats

    from .whisper_model import FIT_MIN, FIT_STEP

    kind = cfg["frames"]         # the cache name says the fitted window's floor and step too
    tag = f"{kind}{FIT_MIN}x{FIT_STEP}" if kind == "whisper_fit" else kind
    frames = _cached(audio, tag, lambda: se.raw_frames(audio, kind))
    stats = [_cached(audio, "prosody", lambda: prosody_stats(audio)) if part == "prosody"
             else se.clip_stats(audio, frames, [part]) for part in cfg["stats"]]
    return Example(clip, frames, np.concatenate(stats) if stats else np.zeros(0, np.float32))


def load_examples(clips: list[Clip], cfg: dict, speeds: tuple = (), log=print) -> list[Example]:
    """Frames and statistics of every clip (cached); raises ValueError naming a bad file. With
    `speeds`, each clip is followed by one speed-perturbed copy (factor picked from the file
    name's CRC, so the same copy, and its cache entry, comes back in every run and fold)."""
    out = []
    t0 = time.time()
    for i, clip in enumerate(clips):
        try:
            audio = se.check_audio(read_audio(clip.path))
        except ValueError as e:
            raise ValueError(f"{clip.path}: {e}" if str(clip.path) not in str(e) else str(e)) from e
        out.append(_example(clip, audio, cfg))
        if speeds:
            factor = speeds[zlib.crc32(clip.path.name.encode()) % len(speeds)]
            copy = _example(clip, speed(audio, factor), cfg)
            copy.augmented = True
            out.append(copy)
        if log and (i + 1) % 200 == 0:
            log(f"  {i + 1}/{len(clips)} clips ready ({time.time() - t0:.0f} s)")
    return out


def au_names() -> tuple[str, ...]:
    """The FACS action units any voice class drives, in the table's order."""
    from ..rigs.facs import load_table

    table = load_table()
    used = {au for e in set(L.VOICE_TO_EKMAN.values()) for au in table["emotions"][e]["aus"]}
    return tuple(au for au in table["action_units"] if au in used)


def au_targets(clips: list[Clip], names: tuple[str, ...]) -> np.ndarray:
    """(N, n_aus) graded AU intensities: the class's Ekman emotion in the FACS table x intensity."""
    from ..rigs.facs import load_table

    table = load_table()
    rows = np.zeros((len(clips), len(names)), np.float32)
    for r, clip in zip(rows, clips):
        aus = table["emotions"][L.VOICE_TO_EKMAN[L.VOICE_EMOTIONS[clip.label]]]["aus"]
        scale = INTENSITY[clip.strong] if clip.speaker else UNKNOWN_INTENSITY
        for k, au in enumerate(names):
            r[k] = aus.get(au, 0.0) * scale
    return rows


# --- training -----------------------------------------------------------------------------

def normaliser(examples: list[Example], stride: int) -> dict[str, np.ndarray]:
    frames = np.concatenate([se.downsample(e.frames, stride) for e in examples])
    stats = np.stack([e.stats for e in examples])
    return {"frames.mean": frames.mean(0), "frames.std": frames.std(0) + 1e-4,
            "stats.mean": stats.mean(0), "stats.std": stats.std(0) + 1e-4}


def padded(examples, norm, stride):
    """(x (N, T, F) zero-padded standardised frames, lengths (N,), stats (N, S)) torch tensors."""
    xs = [(se.downsample(e.frames, stride) - norm["frames.mean"]) / norm["frames.std"] for e in examples]
    lengths = torch.tensor([len(x) for x in xs])
    x = torch.zeros(len(xs), int(lengths.max()), xs[0].shape[1])
    for i, a in enumerate(xs):
        x[i, :len(a)] = torch.from_numpy(a.astype(np.float32))
    stats = torch.from_numpy(np.stack([(e.stats - norm["stats.mean"]) / norm["stats.std"]
                                       for e in examples]).astype(np.float32))
    return x, lengths, stats


def fit(examples: list[Example], recipe: Recipe, seed: int, norm: dict | None = None):
    """-> (torch SpeechLSTM in eval mode, normaliser) trained on `examples`."""
    torch.set_num_threads(THREADS)
    torch.manual_seed(seed)
    names = au_names()
    cfg = SpeechConfig(**{**recipe.cfg, "stats": tuple(recipe.cfg["stats"]),
                          "n_stats": len(examples[0].stats), "n_aus": len(names)})
    norm = norm or normaliser(examples, cfg.stride)
    model = SpeechLSTM(cfg)
    y = torch.tensor([e.clip.label for e in examples])
    aus = torch.from_numpy(au_targets([e.clip for e in examples], names))
    counts = np.bincount(y.numpy(), minlength=cfg.n_classes).astype(np.float32)
    weight = torch.from_numpy(counts.sum() / np.maximum(counts, 1) / cfg.n_classes)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    steps = recipe.epochs * int(np.ceil(len(examples) / recipe.batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=steps, pct_start=0.1)
    g = torch.Generator().manual_seed(seed)
    x_all, len_all, stats_all = padded(examples, norm, cfg.stride)
    for _ in range(recipe.epochs):
        model.train()
        for idx in torch.randperm(len(examples), generator=g).split(recipe.batch):
            n = int(len_all[idx].max())          # trim the batch's padding
            logits, au = model(x_all[idx, :n], len_all[idx], stats_all[idx])
            loss = torch.nn.functional.cross_entropy(logits, y[idx], weight=weight,
                                                     label_smoothing=recipe.label_smoothing)
            loss = loss + recipe.au_weight * torch.nn.functional.binary_cross_entropy(au, aus[idx])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
    model.eval()
    return model, norm


def predict_torch(models, examples: list[Example], norm: dict) -> np.ndarray:
    """(N, 8) mean softmax of the torch members."""
    stride = models[0].cfg.stride
    out = np.zeros((len(examples), L.VOICE_EMOTIONS.__len__()), np.float32)
    with torch.no_grad():
        for k in range(0, len(examples), 64):
            x, lengths, stats = padded(examples[k:k + 64], norm, stride)
            out[k:k + 64] = np.mean([torch.softmax(m(x, lengths, stats)[0], 1).numpy() for m in models], 0)
    return out


def train_members(examples, recipe: Recipe, seed: int, log=print):
    models, norm = [], None
    for k in range(recipe.members):
        t0 = time.time()
        m, norm = fit(examples, recipe, seed + k, norm)
        models.append(m)
        if log:
            log(f"  member {k + 1}/{recipe.members} trained in {time.time() - t0:.0f} s")
    return models, norm


def save(path: Path, models, norm: dict, record: dict) -> None:
    from safetensors.numpy import save_file

    cfg = {**models[0].cfg.to_dict(), "members": len(models)}
    cfg["stats"] = list(cfg["stats"])
    out = {k: np.ascontiguousarray(v, np.float32) for k, v in norm.items()}
    for k, m in enumerate(models):
        out.update({f"m{k}.{name}": v for name, v in tensors(m).items()})
    meta = {"format": se.FORMAT, "config": json.dumps(cfg), "labels": json.dumps(list(L.VOICE_EMOTIONS)),
            "au_names": json.dumps(list(au_names())), "record": json.dumps(record)}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(out, str(path), metadata=meta)


# --- command line -------------------------------------------------------------------------

def data_clips(data: str | None) -> list[Clip]:
    if data is not None:
        return find_clips(data)
    from .shared_data import require

    return find_clips(require(RAVDESS))


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m emotive.ml.train_speech",
                                description="Train the voice emotion model (8 RAVDESS classes).")
    p.add_argument("--data", help="folder of labelled audio (RAVDESS names or labels.csv); "
                                  "default ../shared/data/speech/ravdess16k")
    p.add_argument("--out", type=Path, default=None, help=f"weights file (default {WEIGHTS})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", choices=sorted(RECIPES), default="best")
    p.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    p.add_argument("--members", type=int, default=None, help="override the recipe's ensemble size")
    return p.parse_args(argv)


def recipe_of(args) -> Recipe:
    r = RECIPES[args.model]
    if args.epochs:
        r = replace(r, epochs=args.epochs)
    if args.members:
        r = replace(r, members=args.members)
    return r


def main(argv=None) -> int:
    args = parse_args(argv)
    recipe = recipe_of(args)
    if args.data is not None and args.out is None:
        raise ValueError("--data needs --out FILE: the shipped weights are only ever retrained from RAVDESS")
    out = args.out or (WEIGHTS if args.model == "best" else WEIGHTS.with_name("speech_emotion_baseline.safetensors"))
    clips = data_clips(args.data)
    labels = np.bincount([c.label for c in clips], minlength=len(L.VOICE_EMOTIONS))
    if (labels > 0).sum() < 2:
        raise ValueError(f"{args.data or RAVDESS}: need clips of at least two classes, got "
                         f"{dict(zip(L.VOICE_EMOTIONS, labels.tolist()))}")
    print(f"{len(clips)} clips: {dict(zip(L.VOICE_EMOTIONS, labels.tolist()))}", flush=True)
    t0 = time.time()
    examples = load_examples(clips, recipe.cfg, recipe.speeds)
    models, norm = train_members(examples, recipe, args.seed)
    command = "python -m emotive.ml.train_speech " + " ".join(sys.argv[1:] if argv is None else argv)
    record = {"command": command.strip(), "seed": args.seed, "model": args.model,
              "recipe": {**recipe.__dict__, "cfg": {**recipe.cfg, "stats": list(recipe.cfg["stats"])}},
              "clips": len(clips), "data": str(args.data or RAVDESS),
              "seconds": round(time.time() - t0, 1)}
    save(out, models, norm, record)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
