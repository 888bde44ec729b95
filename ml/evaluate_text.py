"""Evaluate the shipped text-emotion model; writes ml/weights/text_emotion.metrics.json.

    python -m emotive.ml.evaluate_text [--reuse-emojify]

GoEmotions test set with the shipped weights (no retraining); the Emojify protocol of the
LSTM+GloVe paper (fresh models of the same architecture trained on train_emoji.csv, tested on
tesss.csv, 5 seeds; those weights are thrown away); load time and throughput on this CPU.
The Emojify figures do not depend on the shipped weights: --reuse-emojify copies them from the
existing metrics file when its protocol text is unchanged (saves ~7 min of CPU).
The metric helpers at the top are numpy-only and also used by train_text for epoch selection.
"""

import csv
import json
import os
import platform
import time

import numpy as np

from . import labels as L
from .metrics import ekman_sets, evaluate_split, label_sets

# ---------------------------------------------------------------- evaluations

def evaluate_goemotions(model):
    from .train_text import read_goemotions

    dev_texts, dev_t = read_goemotions("dev")
    test_texts, test_t = read_goemotions("test")
    dev_p, test_p = model.predict(dev_texts), model.predict(test_texts)
    return {
        "n_dev": len(dev_texts), "n_test": len(test_texts),
        "ekman7": evaluate_split(model.ekman(dev_p), ekman_sets(dev_t), model.ekman(test_p),
                                 ekman_sets(test_t), L.EKMAN),
        "goemotions28": evaluate_split(dev_p, label_sets(dev_t), test_p, label_sets(test_t), L.GOEMOTIONS),
    }, test_texts


def read_emojify():
    from .shared_data import require

    def rows(name):
        with open(require(f"text/emojify/{name}"), encoding="utf-8", newline="") as f:
            return [(r[0].strip(), int(r[1])) for r in csv.reader(f) if len(r) >= 2]
    return rows("train_emoji.csv"), rows("tesss.csv")


def evaluate_emojify(seeds=(0, 1, 2, 3, 4), epochs=50):
    """The paper's protocol: frozen GloVe 50-d, LSTM128-drop-LSTM128-drop-dense-softmax,
    Adam (lr 1e-3), batch 32, 50 epochs, max length 10, torch default initialisation and the
    same length-bucketed batches as train_text; accuracy on tesss.csv after the last
    epoch. The vocabulary is every GloVe word in the two files (= the full frozen table)."""
    import torch

    from .tokenizer import lookup, tokenize
    from .train_text import TextLSTM, encode, fit, load_glove, predict_proba, setup_determinism

    train, test = read_emojify()
    words, glove = load_glove()
    full = {w: i for i, w in enumerate(words)}
    toks = [tokenize(s) for s, _ in train + test]
    ranks = sorted({i for ts in toks for t in ts for i in lookup(t, full)})
    index = {words[r]: k + 1 for k, r in enumerate(ranks)}        # 0 = <unk>
    emb = np.zeros((len(ranks) + 1, 50), np.float32)
    emb[1:] = glove[ranks]
    x_train, x_test = encode(toks[:len(train)], index, 10), encode(toks[len(train):], index, 10)
    y_train = np.eye(5, dtype=np.float32)[[c for _, c in train]]
    y_test = np.array([c for _, c in test])
    accs = []
    t0 = time.time()
    for seed in seeds:
        setup_determinism(seed)
        model = TextLSTM(len(emb), 5)
        model.embedding.weight.data.copy_(torch.from_numpy(emb))
        model.embedding.weight.requires_grad = False
        fit(model, x_train, y_train, epochs, seed, batch=32, lr=1e-3, log=lambda s: None)
        accs.append(round(float((predict_proba(model, x_test).argmax(1) == y_test).mean()), 4))
    return {
        "protocol": " ".join(evaluate_emojify.__doc__.split()),
        "n_train": len(train), "n_test": len(test), "seeds": list(seeds),
        "test_accuracy_per_seed": accs, "test_accuracy_mean": round(float(np.mean(accs)), 4),
        "test_accuracy_std": round(float(np.std(accs)), 4), "paper_test_accuracy": 0.828,
        "seconds": round(time.time() - t0, 1),
    }


def measure_speed(path, sentences, n_single=300):
    from .text_emotion import TextEmotionModel

    loads = []
    for _ in range(3):
        t = time.perf_counter()
        model = TextEmotionModel.load(path)
        loads.append(time.perf_counter() - t)
    model.predict(sentences[:256])                       # warm-up
    t = time.perf_counter()
    model.predict(sentences)
    batched = len(sentences) / (time.perf_counter() - t)
    t = time.perf_counter()
    for s in sentences[:n_single]:
        model.predict([s])
    single = n_single / (time.perf_counter() - t)
    return {"load_seconds_min_of_3": round(min(loads), 4), "load_seconds_first": round(loads[0], 4),
            "batched_sentences_per_s": round(batched), "batch_size": 256,
            "single_sentences_per_s": round(single), "n_sentences": len(sentences),
            "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count()}


def main(argv=None):
    import argparse

    from .text_emotion import DEFAULT_WEIGHTS, TextEmotionModel

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reuse-emojify", action="store_true",
                    help="copy the Emojify section from the existing metrics file if its protocol matches")
    args = ap.parse_args(argv)
    path = DEFAULT_WEIGHTS
    out = path.with_name("text_emotion.metrics.json")
    model = TextEmotionModel.load(path)
    train = model.config["train"]
    go, test_texts = evaluate_goemotions(model)
    emojify = None
    if args.reuse_emojify and out.exists():
        old = json.loads(out.read_text()).get("emojify")
        if old and old.get("protocol") == " ".join(evaluate_emojify.__doc__.split()):
            emojify = old
    n_members = len(model.members)
    kept = train.get("kept_members", list(range(n_members)))

    def describe(m, seed):
        pool = {"last": "the top layer's hidden state at the last token",
                "meanmax": "[masked mean ; masked max] over time of the top layer's outputs "
                           f"({2 * m.hidden * m.directions}-d)"}[m.pool]
        return (f"GloVe 6B 50-d -> 2-layer {'bidirectional ' if m.directions == 2 else ''}LSTM({m.hidden}), "
                f"dropout 0.5 -> linear reading {pool} -> softmax over 28 GoEmotions labels (seed {seed})")
    seeds = ([train["members"][i]["seed"] for i in kept] if "members" in train else [train["seed"]])
    described = [describe(m, sd) for m, sd in zip(model.members, seeds)]
    ens = described[0] if n_members == 1 else (
        f"ensemble of {n_members} models averaging their 28 softmax probabilities, each with its own "
        "fine-tuned embeddings of the words seen in training (the other GloVe rows are shared): "
        + " | ".join(described))
    if "members" in train:      # files from the ensemble trainer
        train_info = {k: train[k] for k in ("members", "kept_members", "dev_by_members_kept",
                                             "dev_by_ensemble_size", "dev_by_vocab_size") if k in train}
        epochs = [train["members"][i]["variants"][train["members"][i]["embeddings"]]["best_epoch"]
                  for i in kept]
    else:
        train_info = {"variants": train["variants"]}
        epochs = [train["variants"][model.config["embeddings"]]["best_epoch"]]
    metrics = {
        "model": ens + "; Ekman-7 = sums of the 28 probabilities per ml.labels.EKMAN_GROUPS",
        "weights": path.name, "weights_bytes": path.stat().st_size,
        "members": n_members,
        "embeddings": model.config["embeddings"], "pool": model.pool,
        "vocab_size": len(model.vocab), "max_len": model.max_len,
        "training": {
            **{k: v for k, v in train.items() if k not in ("members", "variants")},
            **train_info,
            "best_epoch": epochs[0] if n_members == 1 else epochs,
        },
        "protocol": {
            "data": "GoEmotions (Demszky et al. 2020) original split; test set for all figures, "
                    "dev set only for epoch selection and thresholds",
            "gold": "every gold label of an example (multi-label); Ekman gold = the groups of its "
                    "gold labels, neutral as its own class",
            "macro_f1": "multi-label: class predicted when its probability >= a per-class "
                        "threshold chosen to maximise that class's F1 on dev; unweighted mean "
                        "of per-class F1 on test",
            "top1_macro_f1": "single prediction = argmax; per-class F1 against the gold sets",
            "accuracy": "share of test examples whose argmax class is among its gold classes",
        },
        "goemotions_test": go,
        "emojify": emojify or evaluate_emojify(),
        "speed": measure_speed(path, test_texts[:2000]),
    }
    if out.exists():       # keep what train_text wrote (its dev/test sections, data, architecture)
        metrics = {**json.loads(out.read_text()), **metrics}
    out.write_text(json.dumps(metrics, indent=2) + "\n")
    e, g = go["ekman7"], go["goemotions28"]
    print(f"Ekman-7 macro-F1 {e['macro_f1']} (top-1 {e['top1_macro_f1']}), accuracy "
          f"{e['accuracy']}; 28-label macro-F1 {g['macro_f1']} (top-1 {g['top1_macro_f1']}), "
          f"accuracy {g['accuracy']}; emojify {metrics['emojify']['test_accuracy_per_seed']} "
          f"mean {metrics['emojify']['test_accuracy_mean']}; speed {metrics['speed']}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
