"""Evaluate the expression LSTM(s) on held-out faces and takes -> ml/weights/expression_lstm.metrics.json

    python -m emotive.ml.evaluate_expressions [--weights path] [--quick]

Held-out data: the generator with other seeds and identity_split="test" (face-detail targets no
training face used, wider age range). Everything generated here goes through the numpy
inference (ml/expression_inference.py), i.e. what the add-on runs.

- Per-region CCC and MSE (upper/middle/lower, as in the joint-BLSTM paper's table): each
  held-out take is re-generated free-running from its own neutral face, emotion, intensity,
  duration and measured style; CCC per coordinate over all frames, averaged per region.
- Recognisability: a softmax regression (torch) on summary features (offsets at the frame of
  largest movement and mean offsets, divided by the face's eye-corner distance), trained on
  generator data, classifies takes the model generates (random emotion, intensity, length, face).
- Start/end at neutral, smoothness (mean jerk), intensity response, timings.
All compared variants in build/expression_variants/ (train_expressions --compare) are included.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ..rigs.landmarks import N_CANONICAL, REGION, REGIONS
from . import expression_data as ed
from .expression_inference import DEFAULT_WEIGHTS, ExpressionModel
from .labels import EKMAN

METRICS = DEFAULT_WEIGHTS.with_suffix(".metrics.json")
VARIANTS = Path(__file__).resolve().parents[1] / "build" / "expression_variants"
HELDOUT = ed.GeneratorConfig(seed=1001, n_sequences=280, n_identities=40, identity_split="test")
CLASSIFIER_DATA = ed.GeneratorConfig(seed=2002, n_sequences=1400, n_identities=60, identity_split="test")


def ccc(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Concordance correlation per column of (n, k) arrays."""
    mx, my = x.mean(0), y.mean(0)
    vx, vy = x.var(0), y.var(0)
    cov = ((x - mx) * (y - my)).mean(0)
    return 2 * cov / np.maximum(vx + vy + (mx - my) ** 2, 1e-20)


def region_scores(pred: list, true: list) -> dict:
    """Lists of (n_i, 70, 3) offsets -> {region: {ccc, mse_mm2}}."""
    p = np.concatenate(pred).reshape(-1, N_CANONICAL * 3) * 1000
    t = np.concatenate(true).reshape(-1, N_CANONICAL * 3) * 1000
    c = ccc(p, t)
    out = {}
    for r, name in enumerate(REGIONS):
        cols = np.flatnonzero(np.repeat(REGION == r, 3))
        out[name] = {"ccc": round(float(c[cols].mean()), 3),
                     "mse_mm2": round(float(((p[:, cols] - t[:, cols]) ** 2).mean()), 3)}
    out["all"] = {"ccc": round(float(c.mean()), 3), "mse_mm2": round(float(((p - t) ** 2).mean()), 3)}
    return out


def features(offsets: list, neutrals: np.ndarray) -> np.ndarray:
    """Summary features of takes: offsets at the frame of largest movement and the mean offset,
    both divided by the outer-eye-corner distance (face size)."""
    out = []
    for off, neu in zip(offsets, neutrals):
        scale = np.linalg.norm(neu[45] - neu[36])
        mag = np.linalg.norm(off, axis=-1).mean(-1)
        k = int(mag.argmax())
        out.append(np.concatenate([off[k].ravel(), off.mean(0).ravel()]) / scale)
    return np.asarray(out, np.float32)


def train_classifier(x: np.ndarray, y: np.ndarray, seed: int = 0):
    """Softmax regression with weight decay (torch); returns predict(x) -> labels."""
    import torch
    torch.manual_seed(seed)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    xt = torch.from_numpy((x - mu) / sd)
    yt = torch.from_numpy(y.astype(np.int64))
    lin = torch.nn.Linear(x.shape[1], len(EKMAN))
    opt = torch.optim.Adam(lin.parameters(), lr=0.01, weight_decay=1e-3)
    for _ in range(300):
        loss = torch.nn.functional.cross_entropy(lin(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def predict(z):
        with torch.no_grad():
            return lin(torch.from_numpy((z - mu) / sd).float()).argmax(1).numpy()
    return predict


def true_takes(s: ed.SequenceSet):
    lm = s.landmarks.astype(np.float64)
    return [lm[i, :s.lengths[i]] - lm[i, 0] for i in range(len(s))]


def mean_jerk(takes: list, fps: int = ed.FPS) -> float:
    """Mean |third difference| of landmark positions, m/s^3."""
    j = [np.linalg.norm(np.diff(t, 3, axis=0), axis=-1).mean() for t in takes if len(t) > 3]
    return float(np.mean(j) * fps ** 3)


def evaluate_model(m: ExpressionModel, held: ed.SequenceSet, clf, cls_rng_seed=7, n_per=30) -> dict:
    from .expression_model import style_features
    truth = true_takes(held)
    style = style_features(held.landmarks - held.landmarks[:, :1], held.lengths)
    pred = []
    for i in range(len(held)):
        probs = np.eye(len(EKMAN))[held.emotion[i]]
        off = m.generate(probs, float(held.intensity[i]), int(held.lengths[i]),
                         held.landmarks[i, 0], style=style[i], settle=False)
        pred.append(off.astype(np.float64))
    out = {"regions": region_scores(pred, truth)}
    # Recognisability of free generations (style sampled: what the add-on does).
    rng = np.random.default_rng(cls_rng_seed)
    gens, neus, labels, ends, calls = [], [], [], [], []
    for e, name in enumerate(EKMAN):
        for k in range(n_per):
            i = rng.integers(len(held))
            inten = 0.0 if name == "neutral" else rng.uniform(0.3, 1.0)
            call = (name, inten, int(rng.integers(45, 121)), held.landmarks[i, 0])
            seed = int(rng.integers(1 << 31))
            off = m.generate(*call, seed=seed, settle=False)   # the network alone
            calls.append((call, seed))
            gens.append(off)
            neus.append(held.landmarks[i, 0])
            labels.append(e)
            ends.append((np.linalg.norm(off[0], axis=-1).mean(), np.linalg.norm(off[-1], axis=-1).mean()))
    guess = clf(features(gens, np.asarray(neus)))
    labels = np.asarray(labels)
    out["recognition"] = {
        "accuracy": round(float((guess == labels).mean()), 3),
        "per_emotion": {n: round(float((guess[labels == e] == e).mean()), 3) for e, n in enumerate(EKMAN)},
        "n": int(len(labels))}
    ends = np.asarray(ends) * 1000
    out["neutral_error_mm"] = {"first_frame": round(float(ends[:, 0].mean()), 3),
                               "last_frame": round(float(ends[:, 1].mean()), 3)}
    out["mean_jerk_m_s3"] = round(mean_jerk(gens), 3)
    # With the shipped default settle=True the last frame is exactly neutral; the jerk it adds:
    settled = [m.generate(*call, seed=seed) for call, seed in calls]
    out["mean_jerk_m_s3_settled"] = round(mean_jerk(settled), 3)
    # Intensity response on one face and emotion set, same seeds.
    neu = held.landmarks[0, 0]
    mag = {a: np.mean([np.linalg.norm(m.generate(n, a, 90, neu, seed=s), axis=-1).max()
                       for n in EKMAN[:-1] for s in range(3)]) * 1000 for a in (0.5, 1.0)}
    out["peak_offset_mm"] = {"intensity_0.5": round(float(mag[0.5]), 3),
                             "intensity_1.0": round(float(mag[1.0]), 3)}
    rec = json.loads(m.meta.get("training", "{}"))
    out["training_seconds"] = round(float(rec.get("total_seconds", rec.get("seconds", 0.0))), 1)
    out["training_steps"] = {k: v["steps"] for k, v in rec.get("parts", {}).items()}
    return out


def generation_ms(m: ExpressionModel, neutral, n_frames=300, repeats=20) -> float:
    m.generate("joy", 1.0, n_frames, neutral, seed=0)
    t = []
    for i in range(repeats):
        t0 = time.perf_counter()
        m.generate("joy", 1.0, n_frames, neutral, seed=i)
        t.append(time.perf_counter() - t0)
    return round(float(np.median(t) * 1000), 2)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    ap.add_argument("--out", default=str(METRICS))
    ap.add_argument("--quick", action="store_true", help="small sets (smoke test)")
    a = ap.parse_args(argv)
    held_cfg, clf_cfg = HELDOUT, CLASSIFIER_DATA
    if a.quick:
        held_cfg = ed.GeneratorConfig(**{**HELDOUT.__dict__, "n_sequences": 40})
        clf_cfg = ed.GeneratorConfig(**{**CLASSIFIER_DATA.__dict__, "n_sequences": 200})
    t0 = time.time()
    held = ed.generate(held_cfg)
    cdata = ed.generate(clf_cfg)
    clf = train_classifier(features(true_takes(cdata), cdata.landmarks[:, 0]), cdata.emotion)
    # Sanity: the classifier on held-out generator data (its ceiling on real-looking takes).
    data_acc = float((clf(features(true_takes(held), held.landmarks[:, 0])) == held.emotion).mean())
    files = {"shipped": Path(a.weights)}
    shipped_bytes = Path(a.weights).read_bytes()
    for p in sorted(VARIANTS.glob("*.safetensors")):
        if p.read_bytes() == shipped_bytes:   # the shipped file is one of the variants
            files = {f"{p.stem} (shipped)": files.pop("shipped"), **files}
        else:
            files[p.stem] = p
    results = {}
    for name, path in files.items():
        print(f"evaluating {name} ({path})", flush=True)
        results[name] = evaluate_model(ExpressionModel.load(path), held, clf)
    shipped = ExpressionModel.load(a.weights)
    metrics = {
        "heldout": {"sequences": len(held), "identities": int(len(np.unique(held.identity))),
                    "generator": held_cfg.__dict__},
        "classifier": {"kind": "softmax regression on peak + mean offsets / eye distance",
                       "train_sequences": len(cdata), "accuracy_on_heldout_data": round(data_acc, 3)},
        "data_reference": {"mean_jerk_m_s3": round(mean_jerk(true_takes(held)), 3),
                           "last_frame_offset_mm": round(float(np.mean(
                               [np.linalg.norm(t[-1], axis=-1).mean() for t in true_takes(held)]) * 1000), 3)},
        "models": results,
        "shipped_file_mb": round(Path(a.weights).stat().st_size / 1e6, 2),
        "generation_ms_300_frames": generation_ms(shipped, held.landmarks[0, 0]),
        "evaluation_seconds": round(time.time() - t0, 1),
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(metrics, f, indent=1)
        f.write("\n")
    print(table(metrics))
    return metrics


def table(metrics: dict) -> str:
    rows = ["| model | upper CCC | upper MSE mm² | middle CCC | middle MSE | lower CCC | lower MSE "
            "| recog. | end mm | jerk m/s³ | train s |", "|" + "---|" * 11]
    for name, r in metrics["models"].items():
        g = r["regions"]
        rows.append(f"| {name} | {g['upper']['ccc']} | {g['upper']['mse_mm2']} | {g['middle']['ccc']} "
                    f"| {g['middle']['mse_mm2']} | {g['lower']['ccc']} | {g['lower']['mse_mm2']} "
                    f"| {r['recognition']['accuracy']} | {r['neutral_error_mm']['last_frame']} "
                    f"| {r['mean_jerk_m_s3']} | {r['training_seconds']} |")
    rows.append(f"data: jerk {metrics['data_reference']['mean_jerk_m_s3']} m/s³, last-frame offset "
                f"{metrics['data_reference']['last_frame_offset_mm']} mm; classifier on data "
                f"{metrics['classifier']['accuracy_on_heldout_data']}; generation 300 frames "
                f"{metrics['generation_ms_300_frames']} ms")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
