"""Multi-label classification metrics (NumPy only): label sets, per-class and macro F1,
thresholds chosen on dev. Shared by training (model selection) and evaluation, so neither
imports the other for them."""

from __future__ import annotations

import numpy as np

from . import labels as L


def label_sets(targets, n=len(L.GOEMOTIONS)):
    """Gold label-id lists -> (N, n) bool."""
    y = np.zeros((len(targets), n), bool)
    for row, ids in zip(y, targets):
        row[ids] = True
    return y


def ekman_sets(targets):
    """Gold GoEmotions label-id lists -> (N, 7) bool over EKMAN (an example may have several)."""
    return (label_sets(targets).astype(np.float32) @ L.ekman_matrix()) > 0


def per_class_f1(gold, pred):
    tp = (gold & pred).sum(0)
    denom = gold.sum(0) + pred.sum(0)
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def macro_f1(gold, pred):
    return float(per_class_f1(gold, pred).mean())


def choose_thresholds(probs, gold):
    """Per class, the probability cut-off that maximises that class's F1 on (probs, gold)."""
    th = np.ones(probs.shape[1], np.float32)
    for c in range(probs.shape[1]):
        order = np.argsort(-probs[:, c], kind="stable")
        tp = np.cumsum(gold[order, c])
        f1 = 2 * tp / (np.arange(1, len(order) + 1) + gold[:, c].sum())
        th[c] = probs[order[int(np.argmax(f1))], c]
    return th


def top1(probs):
    pred = np.zeros(probs.shape, bool)
    pred[np.arange(len(probs)), probs.argmax(1)] = True
    return pred


def scores(dev_p, dev_gold, test_p, test_gold, names):
    th = choose_thresholds(dev_p, dev_gold)
    multi = test_p >= th
    single = top1(test_p)
    return {
        "macro_f1": round(macro_f1(test_gold, multi), 4),
        "top1_macro_f1": round(macro_f1(test_gold, single), 4),
        "accuracy": round(float((single & test_gold).any(1).mean()), 4),
        "per_class_f1": dict(zip(names, np.round(per_class_f1(test_gold, multi), 4).tolist())),
        "dev_thresholds": dict(zip(names, np.round(th, 4).tolist())),
    }


def confusion(gold, probs, names, actual, predicted, th=None):
    """How often examples of `actual` (and not `predicted`) in gold are read as `predicted`:
    as the argmax class ("top1") and, with thresholds, as predicted but not actual ("thresholded")."""
    a, b = names.index(actual), names.index(predicted)
    rows = gold[:, a] & ~gold[:, b]
    out = {"n_gold": int(rows.sum()), "top1": int((probs[rows].argmax(1) == b).sum())}
    if th is not None:
        pred = probs[rows] >= th
        out["thresholded"] = int((pred[:, b] & ~pred[:, a]).sum())
    return out


def evaluate_split(dev_p, dev_gold, test_p, test_gold, names):
    """scores() plus the fear -> sadness confusion when both classes exist (test with dev
    thresholds)."""
    out = scores(dev_p, dev_gold, test_p, test_gold, names)
    if "fear" in names and "sadness" in names:
        out["fear_to_sadness"] = confusion(test_gold, test_p, list(names), "fear", "sadness",
                                           choose_thresholds(dev_p, dev_gold))
    return out
