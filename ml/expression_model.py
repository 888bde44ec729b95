"""Landmark-sequence LSTM (training side, torch): emotion -> sequence of landmark displacements.

After "3D facial expression generation with RNNs": a stacked LSTM (3 x 128) + a fully connected
output predicts the displacement of the 70 landmarks from the previous frame, autoregressively
(each prediction is fed back), starting from the neutral landmarks of the target face.

Choices (measured in ml/weights/expression_lstm.metrics.json):
- Neutral face -> initial state: an MLP maps the normalised neutral landmarks and the
  conditioning to (h0, c0) of every LSTM layer. The face is a constant of the sequence, so it
  belongs in the state, not repeated in every step's input (which would also cost 210 more
  input columns per step at inference).
- Input per step: previous displacement + the running offset from neutral (both normalised) +
  phase t/(n-1). The offset is not in the paper; without it a displacement-only model cannot
  see accumulated drift and does not return to neutral.
- Conditioning (constant per take): Ekman one-hot x intensity (neutral slot = its probability),
  duration n/T and three style numbers measured from the take itself (onset and release time as
  fractions of the take, left/right asymmetry). At generation the style is drawn from its
  per-emotion distribution in the training set: that is the stochasticity (two takes of one
  emotion differ in timing and asymmetry, a fixed seed repeats them) without a VAE, and it is
  defined for imported real captures too (measured, not given by the generator).
- Time warp: the duration is an input (lengths 1..T frames are trained); longer segments are
  generated at T frames and resampled.
- Training: teacher forcing with parallel scheduled sampling (a no-grad pass predicts every
  step, then a share p of inputs, ramped 0 -> P_MAX, is replaced by those predictions, the
  running offset recomputed from the mixed displacements, and the target becomes the step
  that returns to the true trajectory) plus input noise.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..rigs.landmarks import MIRROR, N_CANONICAL, REGION, REGIONS
from . import expression_data as ed
from .labels import EKMAN

FORMAT = "emotive-expression-lstm/1"
D = N_CANONICAL * 3          # 210 coordinates
N_STYLE = 3
N_COND = len(EKMAN) + 1 + N_STYLE   # emotion x intensity (7), duration, style (3)
N_STEP_IN = 2 * D + 1               # previous displacement, running offset, phase
# Style is measured on brows, nose, jaw and mouth: blinks and pupils would dominate otherwise.
_STYLE_POINTS = np.flatnonzero(~np.isin(np.arange(N_CANONICAL), np.r_[36:48, 68, 69]))
_LEFT_POINTS = np.array([i for i in _STYLE_POINTS if MIRROR[i] > i])   # one side of each pair


@dataclass
class ModelConfig:
    kind: str = "plain"          # "plain": 3 shared layers + FC; "multitask": 2 shared + 3 region heads
    hidden: int = 128
    layers: int = 3
    T: int = 120
    fps: int = ed.FPS

    @property
    def n_shared(self) -> int:
        return self.layers if self.kind == "plain" else self.layers - 1

    @property
    def heads(self) -> list[np.ndarray]:
        """Coordinate indices (into the 210) each output head writes."""
        if self.kind == "plain":
            return [np.arange(D)]
        return [np.flatnonzero(np.repeat(REGION == r, 3)) for r in range(len(REGIONS))]


class ExpressionLSTM(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden
        self.lstm = nn.LSTM(N_STEP_IN + N_COND, h, cfg.n_shared, batch_first=True)
        n_head_layers = 0 if cfg.kind == "plain" else 1
        self.head_lstm = nn.ModuleList(
            nn.LSTM(h, h, 1, batch_first=True) for _ in cfg.heads) if n_head_layers else None
        self.head_fc = nn.ModuleList(nn.Linear(h, len(ix)) for ix in cfg.heads)
        self.n_states = cfg.n_shared + (len(cfg.heads) if n_head_layers else 0)
        self.init = nn.Sequential(nn.Linear(D + N_COND, 256), nn.Tanh(),
                                  nn.Linear(256, 2 * self.n_states * h))
        for i, ix in enumerate(cfg.heads):
            self.register_buffer(f"head_index_{i}", torch.as_tensor(ix), persistent=False)

    def initial_state(self, neutral_n, cond):
        """-> list of (h, c), each (layers, B, H): shared stack first, then one per head."""
        z = torch.tanh(self.init(torch.cat([neutral_n, cond], -1)))
        z = z.view(len(z), 2, self.n_states, self.cfg.hidden).permute(1, 2, 0, 3)
        h, c = z[0].contiguous(), z[1].contiguous()
        ns = self.cfg.n_shared
        states = [(h[:ns], c[:ns])]
        for i in range(self.n_states - ns):
            states.append((h[ns + i:ns + i + 1], c[ns + i:ns + i + 1]))
        return states

    def forward(self, step_in, cond, states):
        """step_in (B, S, N_STEP_IN), cond (B, N_COND) -> (normalised displacement (B, S, 210),
        new states). Works for whole sequences (training) and single steps (generation)."""
        x = torch.cat([step_in, cond[:, None].expand(-1, step_in.shape[1], -1)], -1)
        y, st0 = self.lstm(x, states[0])
        new = [st0]
        out = step_in.new_zeros(step_in.shape[0], step_in.shape[1], D)
        for i, fc in enumerate(self.head_fc):
            yi = y
            if self.head_lstm is not None:
                yi, sti = self.head_lstm[i](y, states[1 + i])
                new.append(sti)
            out[..., getattr(self, f"head_index_{i}")] = fc(yi)
        return out, new


# --- features ------------------------------------------------------------------------------

def style_features(offsets: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(N, T, 70, 3) offsets from the first frame -> (N, 3): onset and release time (first/last
    frame at >= half the peak movement, as fractions of the take) and left/right asymmetry."""
    n = len(offsets)
    out = np.zeros((n, N_STYLE), np.float32)
    for i in range(n):
        L = int(lengths[i])
        x = offsets[i, :L]
        mag = np.linalg.norm(x[:, _STYLE_POINTS], axis=-1).mean(-1)
        peak = mag.max()
        if peak <= 0:
            out[i] = (0.5, 0.5, 0.0)
            continue
        above = np.flatnonzero(mag >= 0.5 * peak)
        k = int(mag.argmax())
        left = np.linalg.norm(x[k, _LEFT_POINTS], axis=-1).sum()
        right = np.linalg.norm(x[k, MIRROR[_LEFT_POINTS]], axis=-1).sum()
        out[i] = (above[0] / (L - 1), above[-1] / (L - 1), (left - right) / max(left + right, 1e-9))
    return out


def condition(emotion_probs: np.ndarray, intensity, duration, style) -> np.ndarray:
    """(N, 7) Ekman probabilities, (N,) intensity, (N,) n/T, (N, 3) style -> (N, N_COND)."""
    p = np.asarray(emotion_probs, np.float32)
    c = p * np.asarray(intensity, np.float32)[:, None]
    c[:, -1] = p[:, -1]   # neutral: how neutral, not how intense
    return np.concatenate([c, np.asarray(duration, np.float32)[:, None],
                           np.asarray(style, np.float32)], 1).astype(np.float32)


@dataclass
class Prepared:
    """Training arrays in model units."""
    disp: np.ndarray      # (N, T, 210) normalised displacements (frame 0 = 0)
    offset: np.ndarray    # (N, T, 210) normalised offsets from frame 0
    neutral: np.ndarray   # (N, 210) normalised neutral landmarks
    cond: np.ndarray      # (N, N_COND)
    lengths: np.ndarray   # (N,)
    emotion: np.ndarray   # (N,)
    stats: dict


def compute_stats(s: ed.SequenceSet) -> dict:
    """Normalisation (per coordinate, floored so still points are not blown up) and the
    per-emotion style prior used at generation."""
    lm = s.landmarks.astype(np.float64)
    mask = np.arange(lm.shape[1])[None] < s.lengths[:, None]
    off = (lm - lm[:, :1])[mask].reshape(-1, D)
    disp = ed.to_displacements(lm)[mask].reshape(-1, D)
    ref = lm[:, 0].mean(0)
    neu = np.stack([ed.rigid_align(n, ref)[0] for n in lm[:, 0]]).reshape(-1, D)
    floor = lambda v: np.maximum(v, 0.1 * v.mean())
    style = style_features(lm - lm[:, :1], s.lengths)
    prior = {}
    for e, name in enumerate(EKMAN):
        st = style[s.emotion == e] if np.any(s.emotion == e) else style
        prior[name] = {"mean": st.mean(0).tolist(), "std": st.std(0).tolist(),
                       "min": st.min(0).tolist(), "max": st.max(0).tolist()}
    return {"disp_std": floor(disp.std(0)).tolist(), "offset_std": floor(off.std(0)).tolist(),
            "neutral_mean": neu.mean(0).tolist(), "neutral_std": floor(neu.std(0)).tolist(),
            "style_prior": prior}


def normalise_neutral(neutral: np.ndarray, stats: dict) -> np.ndarray:
    """(N, 70, 3) neutral faces -> (N, 210) model input: rigidly aligned to the training mean
    (a rig may stand anywhere; training faces are already in that frame), then standardised."""
    ref = np.asarray(stats["neutral_mean"]).reshape(N_CANONICAL, 3)
    aligned = np.stack([ed.rigid_align(n, ref)[0] for n in neutral]).reshape(-1, D)
    return (aligned - stats["neutral_mean"]) / stats["neutral_std"]


def prepare(s: ed.SequenceSet, stats: dict, T: int) -> Prepared:
    lm = s.landmarks.astype(np.float64)
    if lm.shape[1] < T:   # pad (repeat last frame) to the model's T
        lm = np.concatenate([lm, np.repeat(lm[:, -1:], T - lm.shape[1], 1)], 1)
    lm = lm[:, :T]
    lengths = np.minimum(s.lengths, T)
    off = (lm - lm[:, :1]).reshape(len(lm), T, D)
    disp = ed.to_displacements(lm).reshape(len(lm), T, D)
    onehot = np.eye(len(EKMAN), dtype=np.float32)[s.emotion]
    cond = condition(onehot, s.intensity, lengths / T, style_features(lm - lm[:, :1], lengths))
    return Prepared(
        (disp / stats["disp_std"]).astype(np.float32), (off / stats["offset_std"]).astype(np.float32),
        (normalise_neutral(lm[:, 0], stats)).astype(np.float32),
        cond, lengths.astype(np.int64), s.emotion.copy(), stats)


# --- training ------------------------------------------------------------------------------

P_MAX = 0.5        # final share of self-fed inputs (parallel scheduled sampling)
INPUT_NOISE = 0.1  # std of noise on the fed-back normalised displacement
CORRECTION = 0.2   # share of the accumulated drift the target asks to close per frame


def _step_inputs(disp_in, off_in, lengths, T):
    """Inputs for predicting frames 1..T-1 from frames 0..T-2."""
    phase = torch.arange(1, T, dtype=torch.float32)[None, :, None] / (lengths[:, None, None] - 1).clamp(min=1)
    return torch.cat([disp_in, off_in, phase.expand(len(disp_in), -1, -1)], -1)


def train(model: ExpressionLSTM, data: Prepared, steps: int, batch: int = 32, lr: float = 2e-3,
          seed: int = 0, progress=None, log_every: int = 50) -> dict:
    """Train in place. `progress(step, steps, loss)` may return False to stop cleanly (a Blender
    operator's cancel); the model then holds the weights of the last finished step."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    warm = max(1, steps // 10)   # linear warm-up, then cosine decay to 0
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: min((k + 1) / warm, 0.5 * (
        1 + math.cos(math.pi * min(1.0, max(0, k - warm) / max(1, steps - warm))))))
    disp, off = torch.from_numpy(data.disp), torch.from_numpy(data.offset)
    neu, cond = torch.from_numpy(data.neutral), torch.from_numpy(data.cond)
    lengths = torch.from_numpy(data.lengths)
    ratio = torch.tensor(np.asarray(data.stats["disp_std"]) / np.asarray(data.stats["offset_std"]),
                         dtype=torch.float32)   # normalised displacement -> normalised offset units
    T = disp.shape[1]
    valid_all = (torch.arange(1, T)[None] < lengths[:, None]).float()
    t0, losses, stopped = time.time(), [], False
    for step in range(steps):
        idx = torch.randint(len(disp), (batch,), generator=g)
        d, o, c, n, L = disp[idx], off[idx], cond[idx], neu[idx], lengths[idx]
        valid = valid_all[idx]
        din, oin = d[:, :-1], o[:, :-1]
        p = P_MAX * min(1.0, step / max(1, 0.6 * steps))
        if p > 0:
            with torch.no_grad():   # pass 1: what the model would feed itself
                pred, _ = model(_step_inputs(din, oin, L, T), c, model.initial_state(n, c))
            own = torch.rand(din.shape[:2], generator=g) < p
            # Mixed frames 1..T-2 (frame 0 is always the true zero displacement).
            mixed = torch.where(own[:, 1:, None], pred[:, :-1], d[:, 1:-1])
            din = torch.cat([d[:, :1], mixed], 1)
            oin = torch.cumsum(din * ratio, 1)
        din = din + INPUT_NOISE * torch.randn(din.shape, generator=g)
        pred, _ = model(_step_inputs(din, oin, L, T), c, model.initial_state(n, c))
        # Target: the true step plus a share of the drift back to the true trajectory (all of it
        # in one frame would teach jumps; 0.2 per frame closes it within ~10 frames).
        target = d[:, 1:] + CORRECTION * (o[:, :-1] - oin) / ratio
        loss = (((pred - target) ** 2).mean(-1) * valid).sum() / valid.sum()
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if progress is not None and (step % log_every == 0 or step == steps - 1):
            if progress(step + 1, steps, float(np.mean(losses[-log_every:]))) is False:
                stopped = True
                break
    return {"steps": len(losses), "seconds": time.time() - t0,
            "final_loss": float(np.mean(losses[-50:])) if losses else math.nan, "cancelled": stopped}


# --- generation (torch twin of ml/expression_inference.py, used for evaluation and parity) ---

@torch.no_grad()
def rollout(model: ExpressionLSTM, neutral_n: np.ndarray, cond: np.ndarray, n: int,
            stats: dict) -> np.ndarray:
    """Free-running generation of n frames for each row -> (B, n, 210) offsets in metres."""
    B = len(cond)
    c, nn_ = torch.from_numpy(cond), torch.from_numpy(neutral_n)
    states = model.initial_state(nn_, c)
    disp_std = torch.tensor(stats["disp_std"], dtype=torch.float32)
    ratio = disp_std / torch.tensor(stats["offset_std"], dtype=torch.float32)
    d, o = torch.zeros(B, D), torch.zeros(B, D)
    out = torch.zeros(B, n, D)
    for t in range(1, n):
        x = torch.cat([d, o, torch.full((B, 1), t / max(n - 1, 1))], -1)[:, None]
        y, states = model(x, c, states)
        d = y[:, 0]
        o = o + d * ratio
        out[:, t] = o
    return (out * torch.tensor(stats["offset_std"], dtype=torch.float32)).numpy()


def save(path, models: dict, cfg: ModelConfig, stats: dict, record: dict) -> None:
    """models: {"all": module} (conditioned) or {emotion: module} (one per emotion)."""
    from safetensors.torch import save_file
    tensors = {f"{key}.{k}": v.detach().float().contiguous()
               for key, m in models.items() for k, v in m.state_dict().items()}
    meta = {"format": FORMAT, "landmark_set": ed.LANDMARK_SET, "fps": str(cfg.fps), "T": str(cfg.T),
            "emotions": json.dumps(list(EKMAN)), "models": json.dumps(list(models)),
            "config": json.dumps({"kind": cfg.kind, "hidden": cfg.hidden, "layers": cfg.layers}),
            "stats": json.dumps(stats), "training": json.dumps(record)}
    save_file(tensors, str(path), metadata=meta)


def load(path) -> tuple[dict, ModelConfig, dict, dict]:
    from safetensors import safe_open
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    c = json.loads(meta["config"])
    cfg = ModelConfig(kind=c["kind"], hidden=c["hidden"], layers=c["layers"], T=int(meta["T"]),
                      fps=int(meta["fps"]))
    models = {}
    for key in json.loads(meta["models"]):
        m = ExpressionLSTM(cfg)
        m.load_state_dict({k[len(key) + 1:]: v for k, v in tensors.items() if k.startswith(key + ".")})
        models[key] = m.eval()
    return models, cfg, json.loads(meta["stats"]), json.loads(meta["training"])
