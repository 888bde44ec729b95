"""Emotion -> FACS action units -> ARKit weights, driven by the table in data/facs.json.

The table (see docs/FACS.md) is the only place expressions are defined; this module validates
it, folds it once into a (28, 52) matrix over GOEMOTIONS x ARKIT_NAMES and blends rows of that
matrix by classifier probabilities.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..ml.labels import EKMAN, GOEMOTIONS, ekman_matrix
from .arkit import ARKIT_INDEX, ARKIT_NAMES

TABLE_PATH = Path(__file__).with_name("data") / "facs.json"

# Calibration of the overall strength (see docs/FACS.md, "Strength"). Emotional mass
# m = 1 - P(neutral) and agreement a (how much the blended emotions point the same way, 1 when
# they are all one expression) each go through a linear ramp lo..hi -> 0..1; strength is the
# product times GAIN. GAIN > 1 lets a clear but not certain prediction reach the full prototype.
# The mass ramp follows GoEmotions dev (bench/bench_strength.py, docs/FACS.md): it starts where
# people stop rating the text model's lines neutral more often than not, and is full where they
# hardly ever do. (Its earlier 0.35..0.65 put half-neutral lines at full strength.)
MASS_RAMP = (0.6, 0.95)
AGREEMENT_RAMP = (0.6, 0.85)
GAIN = 1.0
# Faces are read as categories: an even blend of two prototypes reads as neither. So the Ekman
# groups weigh in the face (and in agreement) as their probability to this power: a group twice
# as probable as the next shows eight times as much.
LEAD_POWER = 3
# A label's expression is this much its own row of the table and the rest its Ekman group's
# prototype, so annoyance is a milder anger rather than a different face: as the expression
# LSTM learnt them (a prototype with at most blend_max = 0.5 of one label's row mixed in,
# ml/expression_data.GeneratorConfig).
NUANCE = 0.5
INTENSITY_SLIDER = (0.0, 2.0)  # the UI's range; any finite value >= 0 is accepted (output clips)

_NEUTRAL = GOEMOTIONS.index("neutral")
# A label's probability at or below chance is no evidence for it: without this floor a flat
# distribution would read as joy, the group with the most labels.
_CHANCE = 1.0 / len(GOEMOTIONS)
_GROUPS = ekman_matrix().astype(np.float64)  # (28, 7) label -> Ekman group membership


def _check_weights(where: str, mapping, allowed, errors: list[str]) -> None:
    if not isinstance(mapping, dict):
        errors.append(f"{where}: expected an object, got {type(mapping).__name__}")
        return
    unknown = sorted(k for k in mapping if k not in allowed)
    if unknown:
        errors.append(f"{where}: unknown name(s) {', '.join(map(repr, unknown))}")
    for k, v in mapping.items():
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        if not ok or not 0.0 <= v <= 1.0:
            errors.append(f"{where}: {k} = {v!r} is not a number in [0, 1]")


def validate_table(data: dict) -> None:
    """Raise ValueError listing every problem in a parsed facs.json (names, ranges, coverage)."""
    errors: list[str] = []
    aus = data.get("action_units")
    emotions = data.get("emotions")
    if not isinstance(aus, dict) or not isinstance(emotions, dict):
        raise ValueError("FACS table needs 'action_units' and 'emotions' objects")
    for au, spec in aus.items():
        _check_weights(f"action unit {au}", (spec or {}).get("arkit") if isinstance(spec, dict) else spec,
                       ARKIT_INDEX, errors)
    unknown = sorted(set(emotions) - set(GOEMOTIONS))
    missing = [g for g in GOEMOTIONS if g not in emotions]
    if unknown:
        errors.append(f"unknown emotion label(s) {', '.join(map(repr, unknown))}")
    if missing:
        errors.append(f"missing emotion label(s) {', '.join(map(repr, missing))}")
    for label, spec in emotions.items():
        _check_weights(f"emotion {label}", spec.get("aus") if isinstance(spec, dict) else spec,
                       aus, errors)
    for name, spec in (data.get("prototypes") or {}).items():
        if name != "about":
            _check_weights(f"prototype {name}", spec, aus, errors)
    if errors:
        raise ValueError("invalid FACS table: " + "; ".join(errors))


def _au_vectors(data: dict) -> dict[str, np.ndarray]:
    out = {}
    for au, spec in data["action_units"].items():
        v = np.zeros(len(ARKIT_NAMES), dtype=np.float64)
        for name, w in spec["arkit"].items():
            v[ARKIT_INDEX[name]] = w
        out[au] = v
    return out


def _combine(aus: dict[str, float], au_vecs: dict[str, np.ndarray]) -> np.ndarray:
    v = np.zeros(len(ARKIT_NAMES), dtype=np.float64)
    for au, intensity in aus.items():
        v += intensity * au_vecs[au]
    # Two AUs may drive one key (AU23 + AU24 -> mouthPress); a key never exceeds 1.
    return np.clip(v, 0.0, 1.0)


def load_table(path: str | Path | None = None) -> dict:
    """Read and validate a FACS table (default: the shipped data/facs.json)."""
    with open(path or TABLE_PATH, encoding="utf-8") as f:
        data = json.load(f)
    validate_table(data)
    return data


def build_matrix(data: dict) -> np.ndarray:
    """(28, 52) float64: row i is the ARKit expression of GOEMOTIONS[i] at full strength."""
    au_vecs = _au_vectors(data)
    return np.stack([_combine(data["emotions"][g]["aus"], au_vecs) for g in GOEMOTIONS])


@lru_cache(maxsize=1)
def _default() -> tuple[dict, np.ndarray]:
    data = load_table()
    m = build_matrix(data)
    m.setflags(write=False)
    return data, m


def expression_matrix() -> np.ndarray:
    """The shipped (28, 52) emotion -> ARKit matrix (read-only)."""
    return _default()[1]


@lru_cache(maxsize=1)
def _nuanced_matrix() -> np.ndarray:
    """(28, 52) what each label shows in a blend: NUANCE of its row, the rest its group's prototype."""
    m = NUANCE * expression_matrix() + (1 - NUANCE) * (_GROUPS @ _ekman_vectors())
    m.setflags(write=False)
    return m


def _ramp(x, lo, hi):
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def _check_intensity(intensity) -> float:
    intensity = float(intensity)
    if not (math.isfinite(intensity) and intensity >= 0):
        raise ValueError(f"intensity must be a finite number >= 0, got {intensity}")
    return intensity


def strength(probs) -> np.ndarray:
    """Overall expression strength in [0, 1] for (..., 28) probabilities: confidence x agreement,
    both measured on the Ekman groups (a line spread over anger and annoyance is plainly angry;
    one whose anger leads its sadness two to one is too)."""
    p, _ = _normalise(probs)
    return _strength(p)


def _normalise(probs):
    p = np.asarray(probs, dtype=np.float64)
    if p.shape[-1:] != (len(GOEMOTIONS),):
        raise ValueError(f"probs must have shape (..., {len(GOEMOTIONS)}), got {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError("probs contain NaN or inf")
    p = np.clip(p, 0.0, None)
    total = p.sum(axis=-1, keepdims=True)
    # All-zero rows read as neutral.
    p = np.where(total > 0, p / np.where(total > 0, total, 1.0), np.eye(len(GOEMOTIONS))[_NEUTRAL])
    return p, total


@lru_cache(maxsize=1)
def _ekman_vectors() -> np.ndarray:
    """(7, 52) the Ekman prototypes in ml.labels.EKMAN order, zeros for neutral."""
    return np.stack([np.zeros(len(ARKIT_NAMES)) if g == "neutral" else ekman_expression(g)
                     for g in EKMAN]).astype(np.float64)


def _evidence(p):
    """(..., 28) the emotional labels' probabilities above chance (neutral zeroed)."""
    e = np.clip(p - _CHANCE - 1e-6, 0.0, None)
    e[..., _NEUTRAL] = 0.0
    return e


def _lead(p):
    return (_evidence(p) @ _GROUPS) ** LEAD_POWER


def ekman_lead(probs) -> np.ndarray:
    """(..., 7) how much each Ekman group (ml.labels.EKMAN order) weighs in the face: its
    probability above chance to LEAD_POWER, normalised; neutral 0; all zero when no emotional
    label is above chance. A clear line's lead is nearly one-hot, as the expression LSTM's
    conditioning was in training."""
    p, _ = _normalise(probs)
    lead = _lead(p)
    total = lead.sum(axis=-1, keepdims=True)
    return lead / np.where(total > 0, total, 1.0)


def _strength(p):
    mass = 1.0 - p[..., _NEUTRAL]
    m = _ekman_vectors()
    lead = _lead(p)
    blend_norm = np.linalg.norm(lead @ m, axis=-1)
    parts = lead @ np.linalg.norm(m, axis=-1)
    # Agreement: |sum w_g v_g| / sum w_g |v_g| over the Ekman groups' prototypes, w_g = q_g^LEAD_POWER
    # as in the face; 1 when the probable emotions share one expression, or one of them clearly
    # leads; lower when two of about equal weight pull in different directions.
    agreement = np.where(parts > 0, blend_norm / np.where(parts > 0, parts, 1.0), 0.0)
    return GAIN * _ramp(mass, *MASS_RAMP) * _ramp(agreement, *AGREEMENT_RAMP)


def expression_weights(probs, intensity: float = 1.0) -> np.ndarray:
    """Map (..., 28) GoEmotions probabilities to (..., 52) ARKit weights in [0, 1].

    The shape follows the emotional labels' probability above chance, each Ekman group weighing
    in as its mass to LEAD_POWER and each label as NUANCE of its row plus its group's prototype;
    its strength follows confidence (see strength()); `intensity` (>= 0; the slider offers 0..2) scales the
    result, which is then clipped to [0, 1]. Output is float32 in ARKIT_NAMES order.
    """
    intensity = _check_intensity(intensity)
    p, _ = _normalise(probs)
    emo = _evidence(p)
    # Each group weighs in as its mass to LEAD_POWER, shared among its labels by their
    # probabilities, so the probability a classifier scatters over unrelated labels does not
    # muddy the leading expression.
    emo = emo * (((emo @ _GROUPS) ** (LEAD_POWER - 1)) @ _GROUPS.T)
    mass = emo.sum(axis=-1, keepdims=True)
    shape = (emo / np.where(mass > 0, mass, 1.0)) @ _nuanced_matrix()
    w = shape * _strength(p)[..., None] * intensity
    return np.clip(w, 0.0, 1.0).astype(np.float32)


def ekman_expression(name: str, intensity: float = 1.0) -> np.ndarray:
    """(52,) ARKit weights of the EMFACS prototype for an Ekman name (or 'contempt')."""
    intensity = _check_intensity(intensity)
    data, _ = _default()
    protos = {k: v for k, v in data["prototypes"].items() if k != "about"}
    if name not in protos:
        raise ValueError(f"unknown expression {name!r}; known: {', '.join(sorted(protos))}")
    v = _combine(protos[name], _au_vectors(data)) * intensity
    return np.clip(v, 0.0, 1.0).astype(np.float32)


def label_expression(label: str) -> np.ndarray:
    """(52,) full-strength ARKit weights of one GoEmotions label (a row of the matrix)."""
    if label not in GOEMOTIONS:
        raise ValueError(f"unknown GoEmotions label {label!r}")
    return expression_matrix()[GOEMOTIONS.index(label)].astype(np.float32)

