"""Train and evaluate the capture-expression classifier -> ml/weights/capture_expression.safetensors

    python -m emotive.ml.train_capture_expression [--seed 0] [--quick]      (make train-capture-expression)

Data: the expression generator (ml/expression_data.py). Training windows come from
identity_split="train" faces; the held-out figures from identity_split="test" faces (face-detail
targets no training face uses, wider age range) generated with another seed. Each sequence is
placed on a longer neutral canvas and windows of 1-2.5 s are cut at random places, so onsets,
offsets, partial expressions and neutral stretches are all seen; a window whose expression
reaches less than PARTIAL of the sequence's peak movement (or moves less than NEUTRAL_MM) is
labelled neutral. Capture-like noise is added to every window: per-point jitter then
exponential smoothing (a tracker and the One-Euro filter) and a slow per-point drift; an error of
the rest face (a small constant expression); on 40 % of the windows the path of a 2-D tracker
(the face turned by a random head pose, seen orthographically with image noise and lifted back
by rigs.capture_cleaning's orthographic fit with the default head's depth, `lift_2d`), on the
others a small residual head rotation about the neck; and, on half of the windows, speech-like
motion (jaw and lip keys at syllable rate, conversational brow raises): a performer who talks is
not surprised. The windows are in the default head's scale (each face's offsets times the default
head's eye-corner distance over its own), as the capture source makes them.

Model: a one-hidden-layer MLP (ReLU) on standardised features (ml/capture_expression.features),
cross-entropy, Adam, 1 torch thread; a softmax regression on the same features is trained too and
reported as the baseline. Real captures in ../shared/data/capture (when present) are classified
window by window against labels from stated rules (`REAL_RULES`); everything goes to
ml/weights/capture_expression.metrics.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.signal import lfilter

from ..rigs.arkit import ARKIT_INDEX, ARKIT_NAMES
from . import capture_expression as ce
from . import expression_data as ed
from .labels import EKMAN

WEIGHTS = ce.DEFAULT_WEIGHTS
METRICS = WEIGHTS.with_suffix(".metrics.json")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "capture"
NEUTRAL = EKMAN.index("neutral")
PARTIAL = 0.4            # a window reaching less of the sequence's peak movement is neutral
WINDOWS_PER_SEQUENCE = 4
HIDDEN = 64
REST_ERROR = 0.04        # std of the rest face's error, as ARKit weights (clipped at 3 std)
EPOCHS = 60
SPEECH_KEYS = ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthLowerDownLeft",
               "mouthLowerDownRight", "mouthUpperUpLeft", "mouthUpperUpRight", "mouthRollLower",
               "mouthRollUpper", "mouthStretchLeft", "mouthStretchRight", "mouthPressLeft",
               "mouthPressRight")
SPEECH_PEAK = {"jawOpen": 0.35, "mouthClose": 0.15, "mouthFunnel": 0.3, "mouthPucker": 0.3}


def train_config(seed: int, quick: bool = False) -> ed.GeneratorConfig:
    return ed.GeneratorConfig(seed=seed, n_sequences=300 if quick else 2400, n_identities=40 if quick else 160,
                              identity_split="train", neutral_fraction=0.15)


def test_config(seed: int, quick: bool = False) -> ed.GeneratorConfig:
    return ed.GeneratorConfig(seed=seed + 1000, n_sequences=140 if quick else 700,
                              n_identities=20 if quick else 40, identity_split="test", neutral_fraction=0.15)


# --- windows ------------------------------------------------------------------------------

def _speech(rng, n: int, fps: float) -> np.ndarray:
    """(n, 52) ARKit weights of talking: jaw and lip keys as smoothed random syllable pulses."""
    w = np.zeros((n, len(ARKIT_NAMES)))
    t = np.arange(n) / fps
    rate = rng.uniform(3.0, 6.0)                       # syllables per second
    onsets = np.cumsum(rng.uniform(0.6, 1.4, int(rate * n / fps) + 3) / rate) - rng.uniform(0, 1 / rate)
    loud = rng.uniform(0.4, 1.0)
    for k in SPEECH_KEYS:
        peak = SPEECH_PEAK.get(k, 0.2) * loud
        amp = rng.uniform(0, peak, len(onsets)) * (rng.uniform(size=len(onsets)) < 0.7)
        width = 0.35 / rate
        w[:, ARKIT_INDEX[k]] = np.clip((amp[None] * np.exp(-0.5 * ((t[:, None] - onsets[None]) / width) ** 2)).sum(1), 0, 1)
    if rng.uniform() < 0.6:   # conversational brow raises (batons) that stress words
        beats = rng.uniform(0, n / fps, rng.integers(1, 2 + int(n / fps * 1.5)))
        amp = rng.uniform(0.1, 0.5, len(beats))
        width = rng.uniform(0.1, 0.3)
        raise_ = (amp[None] * np.exp(-0.5 * ((t[:, None] - beats[None]) / width) ** 2)).sum(1)
        for k in ("browInnerUp", "browOuterUpLeft", "browOuterUpRight"):
            w[:, ARKIT_INDEX[k]] = np.clip(w[:, ARKIT_INDEX[k]] + raise_ * rng.uniform(0.6, 1.0), 0, 1)
    return w


def _rotation(rng, degrees: float) -> np.ndarray:
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    a = np.radians(rng.uniform(0, degrees))
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


def cut_windows(s: ed.SequenceSet, rng, per_sequence: int, signatures: np.ndarray, noise: bool = True):
    """Windows (list of (F, 70, 3) offsets, default head's scale) and their labels from a set."""
    eye0 = np.linalg.norm(ce_reference()[45] - ce_reference()[36])
    fps = s.fps
    wins, labels, src = [], [], []
    for i in range(len(s)):
        n = int(s.lengths[i])
        neutral = s.landmarks[i, 0].astype(np.float64)
        k = eye0 / np.linalg.norm(neutral[45] - neutral[36])
        off = (s.landmarks[i, :n].astype(np.float64) - neutral) * k
        neutral_face = neutral * k
        move = np.linalg.norm(off[:, ce.FACE_POINTS], axis=-1).max(-1)
        peak = move.max()
        for _ in range(per_sequence):
            length = int(round(rng.uniform(1.0, 2.5) * fps))
            pad = length  # the canvas: neutral before and after the sequence
            canvas = np.concatenate([np.repeat(off[:1], pad, 0), off, np.repeat(off[-1:], pad, 0)])
            cmove = np.concatenate([np.zeros(pad), move, np.zeros(pad)])
            # Mostly windows that overlap the sequence, sometimes anywhere on the canvas.
            lo = rng.integers(pad - length // 2, pad + max(1, n - length // 2)) if rng.uniform() < 0.85 \
                else rng.integers(0, len(canvas) - length + 1)
            lo = int(np.clip(lo, 0, len(canvas) - length))
            w = canvas[lo:lo + length].copy()
            e = int(s.emotion[i])
            wpeak = cmove[lo:lo + length].max()
            if e != NEUTRAL and (wpeak < PARTIAL * peak or wpeak * 1000 < ce.NEUTRAL_MM):
                e = NEUTRAL
            if noise:
                w = capture_noise(rng, w, fps, signatures, face=neutral_face)
            wins.append(w.astype(np.float32))
            labels.append(e)
            src.append(i)
    return wins, np.asarray(labels), np.asarray(src)


def capture_noise(rng, w: np.ndarray, fps: float, signatures: np.ndarray, face: np.ndarray | None = None,
                  two_d: float = 0.4) -> np.ndarray:
    """What a cleaned capture adds to a window of clean offsets (see the module docstring). `face`:
    the performer's neutral landmarks (default head's scale); with probability `two_d` the window
    goes through a 2-D tracker's path instead of a residual rotation (see lift_2d)."""
    n = len(w)
    if rng.uniform() < 0.5:
        w = w + np.einsum("fk,kld->fld", _speech(rng, n, fps), signatures)
    if rng.uniform() < 0.5:   # the rest face (median of the take) is a little off
        w = w + np.einsum("k,kld->ld", np.clip(rng.normal(0, REST_ERROR, len(ARKIT_NAMES)), -3 * REST_ERROR, 3 * REST_ERROR),
                          signatures)[None]
    ref = ce_reference()
    if face is not None and rng.uniform() < two_d:
        w = lift_2d(rng, face, w, fps)
    else:
        r = _rotation(rng, 1.0)
        w = (ref + w) @ r.T - ref + rng.normal(0, 0.3e-3, 3)
    # Tracker noise (the face contour, 0-16, is the least certain), smoothed as the One-Euro filter
    # does, plus a slow per-point drift.
    gain = np.ones((ed.N_CANONICAL, 1))
    gain[:17] = 1.5
    jitter = rng.normal(0, rng.uniform(0.02, 0.5) * 1e-3, w.shape) * gain
    alpha = rng.uniform(0.3, 1.0)
    drift = lfilter([0.05], [1.0, -0.95], rng.normal(0, rng.uniform(0, 1.0) * 1e-3, w.shape), axis=0) * 3 * gain
    return w + lfilter([alpha], [1.0, alpha - 1.0], jitter, axis=0) + drift


def lift_2d(rng, face: np.ndarray, w: np.ndarray, fps: float) -> np.ndarray:
    """A 2-D tracker's view of the window (OpenPose, dlib): the performer's face (its own shape)
    turns with a random head pose, is seen orthographically with image noise, and comes back
    through rigs.capture_cleaning.remove_head_motion (orthographic fit, the default head's depth);
    offsets are taken from the neutral face seen the same way (the take's median face)."""
    from ..rigs.capture_cleaning import STABLE, euler_to_matrix
    ref = ce_reference()
    n = len(w)
    t = np.arange(n) / fps
    base = np.radians(rng.uniform([-25, -12, -8], [25, 12, 8]))
    wave = np.radians(rng.uniform(0, [8, 5, 3])) * np.sin(
        2 * np.pi * rng.uniform(0.1, 0.6, 3) * t[:, None] + rng.uniform(0, 2 * np.pi, 3))
    rot = euler_to_matrix(base + wave)
    noise = rng.uniform(0.1, 0.8) * 1e-3

    def seen(points):
        posed = np.einsum("fij,flj->fli", rot, points)
        posed[..., [0, 2]] += rng.normal(0, noise, posed[..., [0, 2]].shape)
        posed[..., 1] = 0.0            # depth unknown
        out = _lift(posed, ref)
        iod = np.linalg.norm(out[:, 45] - out[:, 36], axis=-1)
        return out, ref[STABLE].mean(0), iod

    moving, centre, _ = seen(face[None] + w)
    still, _, iod = seen(np.repeat(face[None], n, 0))
    k = np.linalg.norm(ref[45] - ref[36]) / np.median(iod)
    moving = centre + (moving - centre) * k
    still = centre + (still - centre) * k
    return moving - np.median(still, axis=0)


def _lift(points: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """rigs.capture_cleaning.remove_head_motion for 2-D points (dims 2, no gaps), batched over
    frames (the per-frame original is too slow for ten thousand windows; main checks they agree)."""
    from ..rigs.capture_cleaning import STABLE
    a = ref[STABLE] - ref[STABLE].mean(0)
    obs = points[:, STABLE][..., [0, 2]]
    co = obs.mean(1)
    affine = np.einsum("ik,fkj->fij", np.linalg.pinv(a), obs - co[:, None])        # (F, 3, 2)
    u, sigma, vt = np.linalg.svd(np.swapaxes(affine, 1, 2), full_matrices=False)   # (F,2,2) (F,2) (F,2,3)
    rows = u @ vt
    r = np.stack([rows[:, 0], np.cross(rows[:, 1], rows[:, 0]), rows[:, 1]], axis=1)
    s = sigma.mean(1)
    t2 = co - s[:, None] * np.einsum("fij,j->fi", r, ref[STABLE].mean(0))[:, [0, 2]]
    rotated = np.einsum("lj,fij->fli", ref, r)
    cam = np.stack([(points[..., 0] - t2[:, :1]) / s[:, None], rotated[..., 1],
                    (points[..., 2] - t2[:, 1:]) / s[:, None]], axis=-1)
    return np.einsum("flj,fjk->flk", cam, r)


def check_lift(rng) -> None:
    from ..rigs.capture_cleaning import remove_head_motion
    ref = ce_reference()
    pts = ref[None] + rng.normal(0, 2e-3, (5, len(ref), 3))
    pts[..., 1] = 0.0
    if not np.allclose(_lift(pts, ref), remove_head_motion(pts, 2, ref)[0], atol=1e-9):
        raise RuntimeError("_lift no longer matches rigs.capture_cleaning.remove_head_motion")


_REF = None


def ce_reference():
    """The default head's neutral landmarks and signatures (cached)."""
    global _REF
    if _REF is None:
        from ..rigs.head_mesh import default_head_rig
        _REF = default_head_rig()
    return _REF[0]


def signatures():
    ce_reference()
    return _REF[1]


# --- training -----------------------------------------------------------------------------

def fit(x: np.ndarray, y: np.ndarray, hidden: int, seed: int, epochs: int = EPOCHS):
    """-> (layers [(W, b)], mean, std) numpy."""
    import torch
    torch.manual_seed(seed)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    xt = torch.from_numpy(((x - mu) / sd).astype(np.float32))
    yt = torch.from_numpy(y.astype(np.int64))
    if hidden:
        net = torch.nn.Sequential(torch.nn.Dropout(0.1), torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(),
                                  torch.nn.Dropout(0.2), torch.nn.Linear(hidden, len(EKMAN)))
    else:
        net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], len(EKMAN)))
    # Classes are balanced by weighting (partial windows make extra neutrals).
    counts = np.bincount(y, minlength=len(EKMAN)).astype(np.float32)
    cw = torch.from_numpy(counts.sum() / np.maximum(counts, 1) / len(EKMAN))
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-3 if hidden else 1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        for idx in torch.randperm(len(xt), generator=g).split(256):
            loss = torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx], weight=cw)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    lins = [m for m in net if isinstance(m, torch.nn.Linear)]
    return [(m.weight.detach().numpy().astype(np.float32), m.bias.detach().numpy().astype(np.float32))
            for m in lins], mu.astype(np.float32), sd.astype(np.float32)


def save(path: Path, layers, mu, sd, meta: dict) -> None:
    from safetensors.numpy import save_file
    tensors = {"features.mean": mu, "features.std": sd}
    for k, (w, b) in enumerate(layers):
        tensors[f"layers.{k}.weight"] = np.ascontiguousarray(w)
        tensors[f"layers.{k}.bias"] = np.ascontiguousarray(b)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()})


def scores(gold: np.ndarray, pred: np.ndarray) -> dict:
    k = len(EKMAN)
    cm = np.zeros((k, k), int)
    np.add.at(cm, (gold, pred), 1)
    tp = np.diag(cm).astype(float)
    prec = tp / np.maximum(cm.sum(0), 1)
    rec = tp / np.maximum(cm.sum(1), 1)
    f1 = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-12), 0.0)
    return {"accuracy": round(float((gold == pred).mean()), 3), "macro_f1": round(float(f1.mean()), 3),
            "per_class_f1": {n: round(float(v), 3) for n, v in zip(EKMAN, f1)},
            "n": int(len(gold)), "support": {n: int(v) for n, v in zip(EKMAN, cm.sum(1))},
            "confusion": {"rows_true_cols_pred": list(EKMAN), "matrix": cm.tolist()}}


# --- real captures ------------------------------------------------------------------------

REAL_RULES = {
    "livelink": (
        "Per frame, from the Live Link ARKit weights minus the take's rest (the mean of its 10 % "
        "least-active frames, as the classifier sees it): 'disgust' when noseSneer (mean of L/R) "
        "rose >= 0.3 AND mouthUpperUp (mean of L/R) rose >= 0.3 (FACS AU9 nose wrinkler + AU10 upper-lip "
        "raiser, the EMFACS disgust prototype); 'neutral' when no key other than blinks and eye "
        "gaze moved more than 0.1 from rest. A window takes a label covering >= 60 % of its frames, "
        "else it is left unlabelled (mixed or other). Weak: no self-report; the grimace also has "
        "brow lowering (AU4) and some smile, so anger is a plausible reading of it too."),
    "openpose": (
        "A talking head (a public address, speaking calmly). Per window 'neutral' (talking) unless "
        "the face smiles for more than 0.3 s of it, a smiling frame being one whose mouth (points "
        "48-54) is >= 8 % wider than the take's median AND whose corners rose >= 2 mm relative to the "
        "lip midline (AU12); windows with more smiling are left unlabelled. Weak: the label comes from "
        "the clip's content plus this geometric check, nobody watched the video frame by frame; "
        "the speaker's conversational brow raises (baton signals) are not counted as expressions."),
}


def _real_takes():
    """[(name, path, motion (F, 70, 3), fps, arkit or None, landmark-capture points offsets)]"""
    from ..rigs import capture_cleaning, formats
    out = []
    for name, rel in (("livelink", "livelink_jmtechart/MySlate_3_Jason_Millers_iPhone.csv"),
                      ("openpose", "openpose_moface/json")):
        path = SHARED / rel
        if not path.exists():
            continue
        clean = capture_cleaning.clean(formats.read(path), smoothing=0.5, min_confidence=0.3)
        arkit = None if clean.arkit is None else np.clip(clean.arkit, 0, 1)
        if clean.points is not None:
            motion = clean.offsets(None)
        else:
            motion = np.einsum("fk,kld->fld", arkit, signatures())
        out.append((name, rel, ce.rest_offsets(motion, arkit if clean.points is None else None),
                    float(clean.fps), arkit))
    return out


def _frame_labels(name, motion, fps, arkit) -> np.ndarray:
    """Per-frame rule labels (EKMAN index, -1 = none) for a real take, see REAL_RULES."""
    n = len(motion)
    lab = np.full(n, -1)
    if name == "livelink":
        k = max(1, int(round(ce.REST_FRACTION * n)))
        rest = arkit[np.argsort(arkit.sum(1), kind="stable")[:k]].mean(0)
        d = arkit - rest
        mean = lambda a, b: (d[:, ARKIT_INDEX[a]] + d[:, ARKIT_INDEX[b]]) / 2
        disgust = (mean("noseSneerLeft", "noseSneerRight") >= 0.3) & (mean("mouthUpperUpLeft", "mouthUpperUpRight") >= 0.3)
        skip = [i for i, nm in enumerate(ARKIT_NAMES) if nm.startswith(("eyeBlink", "eyeLook"))]
        still = np.abs(np.delete(d, skip, axis=1)).max(1) < 0.1
        lab[still] = NEUTRAL
        lab[disgust] = EKMAN.index("disgust")
    return lab


def _openpose_window_neutral(motion, lo, hi, fps, median_width, ref) -> bool:
    pts = ref + motion[lo:hi]
    wide = np.linalg.norm(pts[:, 54] - pts[:, 48], axis=-1) >= 1.08 * median_width
    mid = (pts[:, 51, 2] + pts[:, 57, 2]) / 2
    rise = ((pts[:, 48, 2] + pts[:, 54, 2]) / 2 - mid) - ((ref[48, 2] + ref[54, 2]) / 2 - (ref[51, 2] + ref[57, 2]) / 2)
    return bool(np.sum(wide & (rise >= 2e-3)) <= 0.3 * fps)


def evaluate_real(model: ce.CaptureExpressionModel) -> dict:
    if not SHARED.exists():
        return {"skipped": f"{SHARED} is absent (the real capture samples live in ../shared)"}
    out = {"rules": REAL_RULES}
    ref = ce_reference()
    gold_all, pred_all = [], []
    for name, rel, motion, fps, arkit in _real_takes():
        flab = _frame_labels(name, motion, fps, arkit)
        median_width = np.median(np.linalg.norm((ref + motion)[:, 54] - (ref + motion)[:, 48], axis=-1))
        result = {"file": rel, "fps": fps, "frames": len(motion)}
        for kind, length, step in (("pipeline_windows", ce.WINDOW_S, None), ("windows_1s_step_0.5s", 1.0, 0.5)):
            if step is None:
                edges = ce.segment_edges(motion, fps)
                spans = list(zip(edges[:-1], edges[1:]))
            else:
                dur = (len(motion) - 1) / fps
                spans = [(a, a + length) for a in np.arange(0, dur - length + 1e-9, step)]
            rows = []
            for a, b in spans:
                lo, hi = int(round(a * fps)), min(len(motion), int(round(b * fps)) + 1)
                if name == "livelink":
                    seg = flab[lo:hi]
                    counts = np.bincount(seg[seg >= 0], minlength=len(EKMAN))
                    gold = int(counts.argmax()) if counts.max() >= 0.6 * len(seg) else -1
                else:
                    gold = NEUTRAL if _openpose_window_neutral(motion, lo, hi, fps, median_width, ref) else -1
                r = ce.label_windows(motion[lo:hi], [0.0, (hi - lo - 1) / fps], fps, model)[0]
                raw = model.classify(motion[lo:hi])[0]
                rows.append({"start_s": round(float(a), 2), "end_s": round(float(b), 2),
                             "label": EKMAN[gold] if gold >= 0 else None,
                             "predicted": r["emotion"], "confidence": round(r["confidence"], 3),
                             "classifier_top": EKMAN[int(raw.argmax())],
                             "classifier_probs": {e: round(float(p), 3) for e, p in zip(EKMAN, raw)},
                             "movement_mm": round(r["movement_mm"], 2)})
                if gold >= 0 and kind == "windows_1s_step_0.5s":
                    gold_all.append(gold)
                    pred_all.append(EKMAN.index(r["emotion"]))
            labelled = [r for r in rows if r["label"]]
            result[kind] = {"windows": rows, "labelled": len(labelled),
                            "agree": sum(r["label"] == r["predicted"] for r in labelled)}
        out[name] = result
    if gold_all:
        g, p = np.asarray(gold_all), np.asarray(pred_all)
        out["labelled_1s_windows"] = {"n": int(len(g)), "accuracy": round(float((g == p).mean()), 3),
                                      "per_label": {EKMAN[e]: {"n": int((g == e).sum()),
                                                               "correct": int(((g == e) & (p == e)).sum())}
                                                    for e in np.unique(g)}}
    return out


# --- main ---------------------------------------------------------------------------------

def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(WEIGHTS))
    ap.add_argument("--quick", action="store_true", help="small sets (smoke test)")
    a = ap.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    t0 = time.time()
    rng = np.random.default_rng(a.seed)
    sig = signatures()
    check_lift(np.random.default_rng(a.seed))
    eye0 = float(np.linalg.norm(ce_reference()[45] - ce_reference()[36]))
    train = ed.generate(train_config(a.seed, a.quick))
    test = ed.generate(test_config(a.seed, a.quick))
    tw, ty, _ = cut_windows(train, rng, WINDOWS_PER_SEQUENCE, sig)
    hw, hy, _ = cut_windows(test, np.random.default_rng(a.seed + 1000), 2, sig)
    cw, cy, _ = cut_windows(test, np.random.default_rng(a.seed + 2000), 1, sig, noise=False)
    xt, xh, xc = (ce.features(w, eye0) for w in (tw, hw, cw))
    t_data = time.time() - t0
    print(f"{len(tw)} training windows, {len(hw)} held-out windows ({t_data:.0f} s)", flush=True)
    results, models = {}, {}
    for kind, hidden in (("mlp", HIDDEN), ("softmax_regression", 0)):
        t1 = time.time()
        layers, mu, sd = fit(xt, ty, hidden, a.seed)
        secs = time.time() - t1
        meta = {"format": ce.FORMAT, "emotions": list(EKMAN), "face_scale_m": repr(eye0),
                "landmark_set": ed.LANDMARK_SET, "kind": kind, "hidden": str(hidden),
                "features": "peak-frame, mean and std offsets / default head eye-corner distance (630)",
                "training": {"seed": a.seed, "windows": len(tw), "seconds": round(secs, 1),
                             "generator": train_config(a.seed, a.quick).__dict__}}
        path = Path(a.out) if kind == "mlp" else Path(a.out).with_name("capture_expression_" + kind + ".safetensors.tmp")
        save(path, layers, mu, sd, meta)
        m = ce.CaptureExpressionModel.load(path)
        results[kind] = {"heldout_capture_like": scores(hy, m.classify(hw).argmax(1)),
                         "heldout_clean": scores(cy, m.classify(cw).argmax(1)),
                         "train_accuracy": round(float((m.classify(tw).argmax(1) == ty).mean()), 3),
                         "training_seconds": round(secs, 1),
                         "parameters": int(sum(w.size + b.size for w, b in layers))}
        models[kind] = m
        if kind != "mlp":
            path.unlink()
        r = results[kind]["heldout_capture_like"]
        print(f"{kind}: held-out accuracy {r['accuracy']}, macro-F1 {r['macro_f1']} ({secs:.0f} s)", flush=True)
    shipped = models["mlp"]
    # Neutral/movement rule on held-out windows, as the capture source applies it.
    rule_pred = np.array([EKMAN.index(ce.label_windows(w, [0.0, (len(w) - 1) / 30], 30, shipped)[0]["emotion"])
                          for w in hw])
    metrics = {
        "task": "Ekman expression (7 incl. neutral) of a capture window of landmark offsets",
        "command": f"python -m emotive.ml.train_capture_expression --seed {a.seed}",
        "shipped": "mlp",
        "heldout": {"generator": test_config(a.seed, a.quick).__dict__, "identities": int(len(np.unique(test.identity))),
                    "windows_capture_like": len(hw), "windows_clean": len(cw),
                    "note": "identity_split='test' faces (held-out face-detail targets), another seed; "
                            "capture-like = the training noise (jitter, smoothing, head-motion residual, "
                            "rest error, speech on half); clean = generator output only"},
        "models": results,
        "heldout_capture_like_with_movement_rule": scores(hy, rule_pred),
        "neutral_mm": ce.NEUTRAL_MM,
        "real_captures": evaluate_real(shipped),
        "file_bytes": Path(a.out).stat().st_size,
        "data_seconds": round(t_data, 1),
        "total_seconds": round(time.time() - t0, 1),
    }
    with open(Path(a.out).with_suffix(".metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
        f.write("\n")
    print(json.dumps({k: metrics["models"]["mlp"]["heldout_capture_like"][k] for k in ("accuracy", "macro_f1", "per_class_f1")}))
    return metrics


if __name__ == "__main__":
    main()
