"""Emotion -> landmark offsets with the shipped expression LSTM, in pure numpy (Blender has no torch).

    m = ExpressionModel.load()                     # ml/weights/expression_lstm.safetensors
    offsets = m.generate("joy", 0.8, 90, neutral, seed=1)   # (90, 70, 3), offsets[0] == 0

The file is written by ml/train_expressions.py (tensor names = its torch module's); the maths
mirrors ml/expression_model.rollout (a parity test checks the two).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..rigs.landmarks import N_CANONICAL, REGION, REGIONS
from .expression_data import LANDMARK_SET, rigid_align
from .labels import EKMAN

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "expression_lstm.safetensors"
FORMAT = "emotive-expression-lstm/1"
D = N_CANONICAL * 3
SETTLE_S = 0.3   # generate(settle=True): fade-out of the residual over the last 0.3 s


def _sigmoid(x):
    return 0.5 * np.tanh(0.5 * x) + 0.5


def _layer(w_ih, w_hh, b_ih, b_hh):
    """torch LSTM weights -> (W (4H, in + H) with gates reordered i, f, o, g, bias): one gemv per
    step over [x, h], and one tanh over the three sigmoid gates."""
    H = len(w_hh) // 4
    order = np.r_[0:2 * H, 3 * H:4 * H, 2 * H:3 * H]
    w = np.concatenate([w_ih, w_hh], 1)[order]
    return np.ascontiguousarray(w, np.float32), (b_ih + b_hh)[order].astype(np.float32)


def _cell(w, b, x, c, H):
    """One LSTM step for a batch: x (B, in + H), c (B, H)."""
    g = x @ w.T + b
    s = 0.5 * np.tanh(0.5 * g[:, :3 * H]) + 0.5       # sigmoid(i, f, o)
    c = s[:, H:2 * H] * c + s[:, :H] * np.tanh(g[:, 3 * H:])
    return s[:, 2 * H:] * np.tanh(c), c


class _Net:
    """One network: shared LSTM layers, output heads (an optional LSTM layer + a linear map onto
    their coordinates), and the MLP that turns the neutral face into the initial state."""

    def __init__(self, t: dict, prefix: str, kind: str, hidden: int, layers: int):
        g = lambda k: np.asarray(t[f"{prefix}.{k}"], np.float32)
        self.hidden = hidden
        n_shared = layers if kind == "plain" else layers - 1
        self.shared = [_layer(g(f"lstm.weight_ih_l{k}"), g(f"lstm.weight_hh_l{k}"),
                              g(f"lstm.bias_ih_l{k}"), g(f"lstm.bias_hh_l{k}")) for k in range(n_shared)]
        if kind == "plain":
            self.heads_index = [np.arange(D)]
            self.head_layers = [None]
        else:
            self.heads_index = [np.flatnonzero(np.repeat(REGION == r, 3)) for r in range(len(REGIONS))]
            self.head_layers = [_layer(g(f"head_lstm.{i}.weight_ih_l0"), g(f"head_lstm.{i}.weight_hh_l0"),
                                       g(f"head_lstm.{i}.bias_ih_l0"), g(f"head_lstm.{i}.bias_hh_l0"))
                                for i in range(len(REGIONS))]
        self.fc = [(g(f"head_fc.{i}.weight"), g(f"head_fc.{i}.bias")) for i in range(len(self.heads_index))]
        self.init = [(g("init.0.weight"), g("init.0.bias")), (g("init.2.weight"), g("init.2.bias"))]
        self.n_states = n_shared + (0 if kind == "plain" else len(REGIONS))
        for w, b in self.shared + [l for l in self.head_layers if l] + self.fc + self.init:
            if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
                raise ValueError("weights contain NaN or inf")

    def rollout(self, neutral_n, cond, lengths, ratio):
        """(B, 210) normalised neutrals, (B, C) conditioning, (B,) lengths -> (B, max n, 210)
        normalised offsets. Takes of a batch run in lock-step (one matrix product per layer and
        step instead of one per take); a take's frames past its own length are left unused."""
        H = self.hidden
        B = len(cond)
        lengths = np.asarray(lengths)
        n = int(lengths.max())
        (w1, b1), (w2, b2) = self.init
        z = np.tanh(np.tanh(np.concatenate([neutral_n, cond], 1) @ w1.T + b1) @ w2.T + b2)
        z = z.reshape(B, 2, self.n_states, H).astype(np.float32)
        h = [z[:, 0, k] for k in range(self.n_states)]
        c = [z[:, 1, k] for k in range(self.n_states)]
        ns = len(self.shared)
        # The conditioning is constant per take: fold its columns of layer 0 into a bias once.
        n_in = 2 * D + 1
        w0, b0 = self.shared[0]
        b0 = b0 + cond @ w0[:, n_in:n_in + cond.shape[1]].T
        w0 = np.ascontiguousarray(np.concatenate([w0[:, :n_in], w0[:, n_in + cond.shape[1]:]], 1))
        layers = [(w0, b0)] + self.shared[1:]
        d = np.zeros((B, D), np.float32)
        out = np.zeros((B, n, D), np.float32)
        x = np.zeros((B, n_in + H), np.float32)        # [displacement, offset, phase, h]
        span = np.maximum(lengths - 1, 1).astype(np.float32)
        for t in range(1, n):
            x[:, 2 * D] = t / span
            x[:, n_in:] = h[0]
            h[0], c[0] = _cell(w0, b0, x, c[0], H)
            for k in range(1, ns):
                h[k], c[k] = _cell(*layers[k], np.concatenate([h[k - 1], h[k]], 1), c[k], H)
            for j, (idx, hl, (wf, bf)) in enumerate(zip(self.heads_index, self.head_layers, self.fc)):
                y = h[ns - 1]
                if hl is not None:
                    k = ns + j
                    h[k], c[k] = _cell(*hl, np.concatenate([y, h[k]], 1), c[k], H)
                    y = h[k]
                d[:, idx] = y @ wf.T + bf
            x[:, :D] = d
            x[:, D:2 * D] += d * ratio
            out[:, t] = x[:, D:2 * D]
        return out


class ExpressionModel:
    """Shipped landmark-sequence model (numpy). See module docstring."""

    def __init__(self, nets: dict, meta: dict, stats: dict, path: str):
        self.nets, self.meta, self.stats, self.path = nets, meta, stats, path
        self.T = int(meta["T"])
        self.fps = int(meta["fps"])
        self.emotions = tuple(EKMAN)
        self._disp_std = np.asarray(stats["disp_std"], np.float32)
        self._off_std = np.asarray(stats["offset_std"], np.float32)
        self._ratio = self._disp_std / self._off_std
        self._ref = np.asarray(stats["neutral_mean"], np.float64).reshape(N_CANONICAL, 3)
        self._neu_std = np.asarray(stats["neutral_std"], np.float64)

    @classmethod
    def load(cls, path=None) -> "ExpressionModel":
        """Load weights (default: the shipped file). FileNotFoundError if absent; ValueError naming
        the file for a corrupt file, another landmark set or format, or missing tensors."""
        path = Path(path or DEFAULT_WEIGHTS)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such expression model (run python -m "
                                    f"emotive.ml.train_expressions)")
        from .weights_file import read_weights

        tensors, meta = read_weights(path, FORMAT, "expression-LSTM")
        if meta.get("landmark_set") != LANDMARK_SET:
            raise ValueError(f"{path}: landmark set {meta.get('landmark_set')!r} is incompatible "
                             f"(this add-on uses {LANDMARK_SET!r})")
        try:
            if json.loads(meta["emotions"]) != list(EKMAN):
                raise ValueError(f"emotions {meta['emotions']} differ from {list(EKMAN)}")
            cfg = json.loads(meta["config"])
            stats = json.loads(meta["stats"])
            nets = {key: _Net(tensors, key, cfg["kind"], int(cfg["hidden"]), int(cfg["layers"]))
                    for key in json.loads(meta["models"])}
            model = cls(nets, meta, stats, str(path))
            if any(len(v) != D for v in (model._disp_std, model._off_std, model._neu_std)):
                raise ValueError("normalisation statistics are not over 210 coordinates")
        except (KeyError, IndexError, TypeError, json.JSONDecodeError) as e:
            raise ValueError(f"{path}: incomplete or inconsistent expression weights "
                             f"(missing or malformed {e!s})") from e
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from e
        return model

    # -- conditioning -------------------------------------------------------------------------

    def _probs(self, emotion) -> np.ndarray:
        if isinstance(emotion, str):
            if emotion not in EKMAN:
                raise ValueError(f"unknown emotion {emotion!r}; known: {', '.join(EKMAN)}")
            return np.eye(len(EKMAN), dtype=np.float32)[EKMAN.index(emotion)]
        p = np.asarray(emotion, np.float64).reshape(-1)
        if p.shape != (len(EKMAN),) or not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
            raise ValueError(f"emotion must be a name or {len(EKMAN)} non-negative Ekman "
                             f"probabilities ({', '.join(EKMAN)})")
        return (p / p.sum()).astype(np.float32)

    def sample_style(self, probs, rng) -> np.ndarray:
        """Onset, release and asymmetry drawn from the training distribution of the dominant
        emotion (Gaussian, clipped to the seen range): what makes two takes differ."""
        prior = self.stats["style_prior"][EKMAN[int(np.argmax(probs))]]
        s = rng.normal(prior["mean"], prior["std"])
        s = np.clip(s, prior["min"], prior["max"])
        s[1] = max(s[1], s[0])   # release after onset
        return s.astype(np.float32)

    def generate(self, emotion, intensity: float, n_frames: int, neutral, seed=None,
                 style=None, settle: bool = True) -> np.ndarray:
        """(n_frames, 70, 3) landmark offsets from `neutral` (metres; (70, 3) in any rigid
        placement), starting at exactly zero. `emotion` is an EKMAN name or (7,) probabilities;
        `intensity` in [0, 1] (larger values are clipped to 1); `seed` None = a new take each
        call. n_frames <= T is generated at that duration (duration is a model input); longer
        segments are generated at T frames and linearly resampled. `settle` fades what is
        left of the take to zero over its last SETTLE_S (minimum-jerk), so consecutive segments
        join at the neutral face even where the network has not fully returned; `style`
        (onset, release, asymmetry) overrides the sampled one."""
        return self.generate_many([emotion], [intensity], [n_frames], neutral, [seed],
                                  styles=None if style is None else [style], settle=settle)[0]

    def generate_many(self, emotions, intensities, n_frames, neutral, seeds, styles=None,
                      settle: bool = True, batch_size: int = 256) -> list[np.ndarray]:
        """generate() for many takes on one face at once (a whole script's segments), batched."""
        neutral = np.asarray(neutral, np.float64)
        if neutral.shape != (N_CANONICAL, 3) or not np.all(np.isfinite(neutral)):
            raise ValueError(f"neutral must be finite ({N_CANONICAL}, 3) landmarks ({LANDMARK_SET})")
        aligned, rot, _ = rigid_align(neutral, self._ref)
        neutral_n = ((aligned.reshape(-1) - self._ref.reshape(-1)) / self._neu_std).astype(np.float32)
        rot = rot.astype(np.float32)
        takes, conds, nets = [], [], []
        for i, (emotion, intensity, frames) in enumerate(zip(emotions, intensities, n_frames)):
            probs = self._probs(emotion)
            intensity = float(intensity)
            if not np.isfinite(intensity) or intensity < 0:
                raise ValueError(f"intensity must be a finite number >= 0, got {intensity}")
            frames = int(frames)
            if frames < 1:
                raise ValueError(f"n_frames must be >= 1, got {frames}")
            rng = np.random.default_rng(seeds[i])
            style = self.sample_style(probs, rng) if styles is None else np.asarray(styles[i], np.float32)
            n = min(frames, self.T)
            c = probs * min(intensity, 1.0)
            c[-1] = probs[-1]
            conds.append(np.concatenate([c, [n / self.T], style]).astype(np.float32))
            nets.append("all" if "all" in self.nets else EKMAN[int(np.argmax(probs))])
            takes.append((frames, n))
        out: list = [None] * len(takes)
        for key in sorted(set(nets)):
            members = [i for i, k in enumerate(nets) if k == key]
            for lo in range(0, len(members), batch_size):
                batch = members[lo:lo + batch_size]
                lengths = np.array([takes[i][1] for i in batch])
                offs = self.nets[key].rollout(np.repeat(neutral_n[None], len(batch), 0),
                                              np.stack([conds[i] for i in batch]), lengths, self._ratio)
                for j, i in enumerate(batch):
                    out[i] = self._finish(offs[j, :takes[i][1]] * self._off_std, takes[i][0], rot, settle)
        return out

    def _finish(self, off, n_frames, rot, settle):
        """Time-warp to n_frames, settle, and rotate back to the rig's orientation."""
        n = len(off)
        if n_frames == 1:
            return np.zeros((1, N_CANONICAL, 3), np.float32)
        if n < n_frames:   # time warp: resample the T-frame take to the segment
            src = np.linspace(0.0, n - 1, n_frames)
            k = np.minimum(src.astype(int), n - 2)
            a = (src - k)[:, None].astype(np.float32)
            off = off[k] * (1 - a) + off[k + 1] * a
        if settle:
            k = max(2, int(round(SETTLE_S * self.fps)))
            x = np.clip((np.arange(n_frames) - (n_frames - k)) / (k - 1), 0.0, 1.0)
            off = off * (1.0 - x * x * x * (10 - 15 * x + 6 * x * x))[:, None].astype(np.float32)
        # Back from the training frame to the rig's orientation (rows @ R = R.T applied).
        return (off.reshape(n_frames, N_CANONICAL, 3) @ rot).astype(np.float32)
