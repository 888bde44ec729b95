"""Text -> GoEmotions probabilities with the shipped LSTM(s), in pure numpy (Blender has no torch).

The weights file is safetensors (tensors + JSON metadata, no code execution on load), written by
ml/train_text.py; tensor names are those of its torch module so the two can be checked against
each other. An ensemble's members are LSTMs or sentence CNNs ("member_configs" entries with
"kind": "cnn"; files without "kind" hold LSTMs only and load as before). MEMBER_KINDS lists the
kinds this module runs (ml/train_text.py's MEMBER_MODULES is their torch side); a file with any
other kind is refused.
"""

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from . import labels as L
from .tokenizer import lookup, tokenize, tokenize_with_kinds

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "text_emotion.safetensors"
FORMAT = "emotive-text-emotion/1"


def _sigmoid(x):
    return 0.5 * np.tanh(0.5 * x) + 0.5      # no overflow warnings, one ufunc


def _mm(a, b):
    # A few rows: einsum's own loop. OpenBLAS would go multi-threaded on a 1x128 @ 128x512
    # product and, on a busy CPU, spend ~1 ms per call synchronising its threads.
    return a @ b if len(a) >= 16 else np.einsum("ij,jk->ik", a, b)


def _bmm(a, b):
    """(D, n, H) @ (D, H, K) per direction; a few rows: einsum (see _mm)."""
    if len(a) == 1:
        return _mm(a[0], b[0])[None]
    return a @ b if a.shape[1] >= 16 else np.einsum("dij,djk->dik", a, b)


def _lstm(xp, active, w_hh, hidden, out=None):
    """One LSTM layer, all its directions at once, over time-major pre-projected input
    xp (D, T, B, 4H) (the reverse direction's input already reversed within each row), gates
    reordered i,f,o,g; w_hh (D, H, 4H). Returns h (D, B, H); fills out (D, T, B, H) if given.

    Rows are sorted by length, longest first, so at step t only the first active[t] rows are
    still inside their sentence: shorter ones simply stop updating, which is exact masking and
    leaves h at each sentence's last real token (the first one for the reverse direction).
    """
    n_dir, _, batch, _ = xp.shape
    h = np.zeros((n_dir, batch, hidden), np.float32)
    c = np.zeros((n_dir, batch, hidden), np.float32)
    for t, n in enumerate(active):
        g = xp[:, t, :n] + _bmm(h[:, :n], w_hh)
        s = _sigmoid(g[..., :3 * hidden])
        c[:, :n] = s[..., hidden:2 * hidden] * c[:, :n] + s[..., :hidden] * np.tanh(g[..., 3 * hidden:])
        h[:, :n] = s[..., 2 * hidden:] * np.tanh(c[:, :n])
        if out is not None:
            out[:, t, :n] = h[:, :n]
    return h


class _Member:
    """One LSTM's numpy weights, from tensors named as the torch module's (after `prefix`);
    a bidirectional LSTM's reverse direction from its "_reverse" tensors. `config`: its
    "hidden", "layers", "bidirectional" and "pool"."""

    kind = "lstm"

    def __init__(self, tensors, prefix, embedding, config):
        self.embedding = embedding                        # float16 (V, D); cast per batch
        self.hidden = H = int(config["hidden"])
        self.layers = layers = int(config["layers"])
        self.directions = directions = 2 if config.get("bidirectional") else 1
        self.pool = config.get("pool", "last")         # "last" hidden state or "meanmax" over time
        if self.pool not in ("last", "meanmax"):
            raise ValueError(f"unknown pooling {self.pool!r}")
        # torch gate order is i,f,g,o; put the three sigmoid gates first (one call for them).
        perm = np.r_[0:2 * H, 3 * H:4 * H, 2 * H:3 * H]
        self.w_ih, self.w_hh, self.b = [], [], []         # per layer: (D, In, 4H), (D, H, 4H), (D, 4H)
        for k in range(layers):
            w_ih, w_hh, b = [], [], []
            for suffix in ("", "_reverse")[:directions]:
                name = f"{prefix}lstm.%s_l{k}{suffix}"
                w_ih.append(tensors[name % "weight_ih"][perm].T)
                w_hh.append(tensors[name % "weight_hh"][perm].T)
                b.append((tensors[name % "bias_ih"] + tensors[name % "bias_hh"])[perm])
            self.w_ih.append(np.ascontiguousarray(np.stack(w_ih), np.float32))
            self.w_hh.append(np.ascontiguousarray(np.stack(w_hh), np.float32))
            self.b.append(np.stack(b).astype(np.float32))
        self.fc_w = np.ascontiguousarray(tensors[f"{prefix}fc.weight"].T, np.float32)
        self.fc_b = tensors[f"{prefix}fc.bias"].astype(np.float32)


class _CNNMember:
    """A sentence CNN's numpy weights (train_text.TextCNN): per width w, a convolution over
    the windows of w tokens starting inside the sentence (zero-padded past its end), ReLU, the
    max over those positions; the linear layer reads the concatenated maxima. `config`:
    its "widths"."""

    kind = "cnn"

    def __init__(self, tensors, prefix, embedding, config):
        self.embedding = embedding                        # float16 (V, D); cast per batch
        self.widths = [int(w) for w in config["widths"]]
        self.conv_w, self.conv_b = [], []                 # per width: (w * D, F), (F,)
        for k, w in enumerate(self.widths):
            weight = tensors[f"{prefix}convs.{k}.weight"]                  # torch (F, D, w)
            if weight.shape[2] != w:
                raise ValueError(f"convolution {k} has width {weight.shape[2]}, config says {w}")
            # window row = [token t ; token t+1 ; ...]: (w, D, F) flattened to (w * D, F)
            self.conv_w.append(np.ascontiguousarray(
                weight.transpose(2, 1, 0).reshape(w * weight.shape[1], weight.shape[0]), np.float32))
            self.conv_b.append(tensors[f"{prefix}convs.{k}.bias"].astype(np.float32))
        self.fc_w = np.ascontiguousarray(tensors[f"{prefix}fc.weight"].T, np.float32)
        self.fc_b = tensors[f"{prefix}fc.bias"].astype(np.float32)

    def logits(self, ids: list[list[int]]) -> np.ndarray:
        lengths = np.array([len(x) for x in ids])
        T, B = int(lengths.max()), len(ids)
        x = np.zeros((B, T + max(self.widths) - 1), np.int64)       # id 0 embeds to zero
        for r, seq in enumerate(ids):
            x[r, :len(seq)] = seq
        emb = self.embedding[x].astype(np.float32)                  # (B, T + w_max - 1, D)
        inside = (np.arange(T)[None, :] < lengths[:, None])[..., None]
        feats = []
        for w, cw, cb in zip(self.widths, self.conv_w, self.conv_b):
            win = np.concatenate([emb[:, j:j + T] for j in range(w)], -1).reshape(B * T, -1)
            y = np.maximum(_mm(win, cw) + cb, 0.0).reshape(B, T, -1)
            feats.append(np.where(inside, y, 0.0).max(1))           # ReLU >= 0: 0 = never max
        return _mm(np.concatenate(feats, 1).astype(np.float32), self.fc_w) + self.fc_b


class UnknownMemberKind(ValueError):
    """A weights file holds an ensemble member of a kind this code does not know how to run."""


def member_kind(config, known, path) -> str:
    """A member's kind: its config's "kind", "lstm" where there is none (files from before the CNN).
    UnknownMemberKind, naming the kind and the file, for one not in `known`."""
    kind = config.get("kind", "lstm")
    if kind not in known:
        raise UnknownMemberKind(f"{path}: unknown text-model member kind {kind!r} "
                                f"(known kinds: {', '.join(known)})")
    return kind


def _lstm_logits(model, members, ids):
    # The LSTMs run in groups that share one time loop (TextEmotionModel._forward).
    return [lg for group in model._groups for lg in model._forward(group, ids)]


def _cnn_logits(model, members, ids):
    return [m.logits(ids) for m in members]


# The member kinds ("kind" in a member's config): the class that reads a member's weights, and
# the forward pass (model, its members of the kind in file order, id lists sorted longest first)
# -> each member's (B, 28) logits. Kinds run in this order. A new kind: its class (with that
# `kind`) and forward here, its torch module in ml/train_text.py's MEMBER_MODULES and KINDS.
MEMBER_KINDS = {
    "lstm": (_Member, _lstm_logits),
    "cnn": (_CNNMember, _cnn_logits),
}


def _new_member(tensors, prefix, embedding, config, path):
    member_class, _ = MEMBER_KINDS[member_kind(config, MEMBER_KINDS, path)]
    return member_class(tensors, prefix, embedding, config)


def member_embeddings(tensors, n_members):
    """Per-member (V, D) float16 tables of an ensemble file: each member's own rows for the
    words seen in training ("m{k}.embedding.trained"), then the rows shared by all members
    ("embedding.shared": the GloVe vectors of the other words, never updated in training)."""
    shared = tensors["embedding.shared"]
    return [np.concatenate([tensors[f"m{k}.embedding.trained"], shared]) for k in range(n_members)]


class TextEmotionModel:
    """The shipped model: one LSTM (or CNN), or an ensemble of them (config "members" = N) whose
    softmax probabilities are averaged."""

    def __init__(self, tensors, vocab, labels, config, path):
        self.path = path
        self.labels = tuple(labels)
        self.config = config
        self.vocab = vocab
        self.index = {w: i for i, w in enumerate(vocab)}
        self.max_len = int(config["max_len"])
        self.n_trained = int(config.get("n_trained_vocab", len(vocab)))
        n = int(config.get("members", 0))          # 0 = a single-model file (unprefixed names)
        if n:
            # Members may differ in architecture ("member_configs": their own hidden,
            # bidirectional, pool); the rest of the config is shared.
            own = config.get("member_configs") or [{}] * n
            self.members = [_new_member(tensors, f"m{k}.", e, {**config, **own[k]}, path)
                            for k, e in enumerate(member_embeddings(tensors, n))]
        else:
            self.members = [_new_member(tensors, "", tensors["embedding.weight"], config, path)]
        self._by_kind = {kind: [m for m in self.members if m.kind == kind] for kind in MEMBER_KINDS}
        self._lstms = self._by_kind["lstm"]
        first = self._lstms[0] if self._lstms else None   # the (first) LSTM's architecture
        self.hidden, self.layers, self.directions, self.pool = \
            (first.hidden, first.layers, first.directions, first.pool) if first else (0, 0, 0, None)
        self.embedding = self.members[0].embedding
        # LSTMs that can share one time loop (same width and depth; usually all of them).
        same = len({(m.hidden, m.layers) for m in self._lstms}) <= 1
        self._groups = ([self._lstms] if self._lstms else []) if same else [[m] for m in self._lstms]
        self._w_hh = ([np.concatenate([m.w_hh[k] for m in self._lstms]) for k in range(self.layers)]
                      if same else None)
        self._ekman = L.ekman_matrix()

    @classmethod
    def load(cls, path=None):
        """Load weights (default: the shipped file). Raises FileNotFoundError / ValueError."""
        path = Path(path) if path is not None else DEFAULT_WEIGHTS
        if not path.is_file():
            raise FileNotFoundError(f"text-emotion weights not found: {path}")
        from .weights_file import read_weights

        tensors, meta = read_weights(path, FORMAT, "text-emotion weights")
        try:
            vocab = json.loads(meta["vocab"])
            labels = json.loads(meta["labels"])
            config = json.loads(meta["config"])
            model = cls(tensors, vocab, labels, config, path)
        except UnknownMemberKind:
            raise                                       # says what it is, and names the file
        except (KeyError, ValueError, IndexError) as e:
            raise ValueError(f"{path}: incomplete or inconsistent text-emotion weights ({e!r})") from e
        if model.labels != L.GOEMOTIONS or any(
                len(vocab) != m.embedding.shape[0] or m.fc_b.shape != (len(L.GOEMOTIONS),)
                for m in model.members):
            raise ValueError(f"{path}: labels, vocabulary or shapes do not match this add-on")
        return model

    def encode(self, sentence: str) -> list[int]:
        """Vocabulary ids (unknown words -> 0, whose embedding is zero), at least one."""
        ids = []
        for t in tokenize(sentence):
            ids.extend(lookup(t, self.index) or [0])
        return ids[:self.max_len] or [0]

    def _forward(self, members: list[_Member], ids: list[list[int]]) -> list[np.ndarray]:
        """The members' logits for id lists sorted longest first. Members of one width and depth
        run together: every (member, direction) is one slice of the same time loop, so an
        ensemble costs about as many Python steps as one LSTM."""
        lengths = np.array([len(x) for x in ids])
        T, B, H = int(lengths[0]), len(ids), members[0].hidden
        x = np.zeros((T, B), np.int64)
        for r, seq in enumerate(ids):
            x[:len(seq), r] = seq
        inside = lengths[None, :] > np.arange(T)[:, None]                  # (T, B)
        active = inside.sum(1)
        # Time index of each row read backwards (padding stays in place): reverse direction.
        rev = np.where(inside, lengths[None, :] - 1 - np.arange(T)[:, None], np.arange(T)[:, None])
        cols = np.arange(B)[None, :]
        inps = [m.embedding[x].astype(np.float32) for m in members]        # (T, B, In) each
        slices = np.cumsum([0] + [m.directions for m in members])
        layers = members[0].layers
        for k in range(layers):
            xp = []
            for m, inp in zip(members, inps):
                flat = inp.reshape(T * B, -1)
                for d in range(m.directions):
                    xd = (_mm(flat, m.w_ih[k][d]) + m.b[k][d]).reshape(T, B, -1)
                    xp.append(xd[rev, cols] if d == 1 else xd)
            w_hh = self._w_hh[k] if len(members) == len(self._lstms) else \
                np.concatenate([m.w_hh[k] for m in members])
            last = k == layers - 1
            keep = not last or any(m.pool == "meanmax" for m in members)
            out = np.zeros((len(xp), T, B, H), np.float32) if keep else None
            h = _lstm(np.stack(xp), active, w_hh, H, out)
            if out is not None:
                for m, s0 in zip(members, slices):
                    if m.directions == 2:
                        out[s0 + 1] = out[s0 + 1][rev, cols]        # back in reading order
                inps = [np.concatenate(list(out[s0:s0 + m.directions]), -1)   # (T, B, D*H), padding 0
                        for m, s0 in zip(members, slices)]
        logits = []
        for m, s0, inp in zip(members, slices, inps):
            if m.pool == "meanmax":
                # Padded steps stay 0 (they are never written): the sum is the masked sum.
                mean = inp.sum(0) / lengths[:, None].astype(np.float32)
                peak = np.where(inside[:, :, None], inp, -np.inf).max(0)
                feats = np.concatenate([mean, peak], 1)
            else:
                feats = np.concatenate(list(h[s0:s0 + m.directions]), 1)   # [forward ; reverse]
            logits.append(_mm(feats, m.fc_w) + m.fc_b)
        return logits

    def predict(self, sentences: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """(N, 28) float32 probabilities over self.labels; rows sum to 1."""
        ids = [self.encode(s) for s in sentences]
        out = np.zeros((len(ids), len(self.labels)), np.float32)
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))   # little padding per batch
        for k in range(0, len(order), batch_size):
            chunk = order[k:k + batch_size]
            batch = [ids[i] for i in chunk]
            p = 0.0
            every = [lg for kind, members in self._by_kind.items() if members
                     for lg in MEMBER_KINDS[kind][1](self, members, batch)]
            for logits in every:                      # ensemble: mean of the members' softmax
                e = np.exp(logits - logits.max(1, keepdims=True))
                p = p + e / e.sum(1, keepdims=True)
            out[chunk] = p / len(self.members)
        return out

    def ekman(self, probs: np.ndarray) -> np.ndarray:
        """(N, 28) -> (N, 7) probabilities over ml.labels.EKMAN (sums of each group)."""
        return np.asarray(probs, np.float32) @ self._ekman

    def known_fraction(self, sentence: str) -> float:
        """Share of word tokens (not punctuation or emoji) the model knows; 0.0 if none.

        "Known" = in the part of the vocabulary seen in training (ids < n_trained): the GloVe
        filler words also hold common German/French/Spanish words ("der", "über"), which would
        make foreign text look English.
        """
        words = [t for t, kind in tokenize_with_kinds(sentence) if kind == "word"]
        if not words:
            return 0.0
        known = 0
        for t in words:
            ids = lookup(t, self.index)
            known += bool(ids) and max(ids) < self.n_trained
        return known / len(words)
