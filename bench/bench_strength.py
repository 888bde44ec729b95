"""How expression strength separates emotional lines from neutral ones (issue 9, item 3).

With the shipped text model's probabilities on GoEmotions:
- dev: how often people rated a line neutral, by the model's emotional mass 1 - P(neutral), and
  the mass ramp that follows from it: it starts where neutral stops being the likelier reading
  (under half of the lines in a 0.05-wide bin rated neutral) and is full where neutral is rare
  (under 5 % of the lines from there up); rigs/facs.py MASS_RAMP should be that ramp;
- test: rigs.facs.strength() over the lines people rated neutral, those rated with one Ekman
  emotion, and those of them the model reads right (mean, share at >= 0.7: a face that reads,
  and the mean of the face's largest key), and the ROC AUC of strength between lines rated with
  one emotion and lines rated neutral; the same for the calibration before issue 9's session 10
  (earlier_strength below) for comparison.
docs/FACS.md ("How the ramps were chosen") records these figures.
Needs ../shared/data/text/goemotions. Run: .venv/bin/python bench/bench_strength.py (~1 min)
"""

from __future__ import annotations

import numpy as np
from scipy.stats import mannwhitneyu

from emotive.ml.labels import EKMAN, ekman_matrix
from emotive.ml.shared_data import require
from emotive.ml.text_data import read_text_data
from emotive.pipeline.models import load_classifier
from emotive.rigs import facs

NEUTRAL = EKMAN.index("neutral")
GROUPS = ekman_matrix().astype(np.float64)
BIN = 0.05


def earlier_strength(probs: np.ndarray) -> np.ndarray:
    """Strength as rigs/facs.py measured it before: mass ramp 0.35..0.65, the Ekman groups
    weighted linearly in agreement, no chance floor."""
    q = probs @ GROUPS
    q[:, NEUTRAL] = 0.0
    v = facs._ekman_vectors()
    parts = q @ np.linalg.norm(v, axis=-1)
    agreement = np.where(parts > 0, np.linalg.norm(q @ v, axis=-1) / np.where(parts > 0, parts, 1.0), 0.0)
    return facs._ramp(q.sum(axis=1), 0.35, 0.65) * facs._ramp(agreement, *facs.AGREEMENT_RAMP)


def rated_neutral(split) -> np.ndarray:
    groups = GROUPS.argmax(axis=1)
    return np.array([{int(groups[i]) for i in t} == {NEUTRAL} for t in split.targets])


def derive_mass_ramp(mass: np.ndarray, neutral: np.ndarray) -> tuple[float, float]:
    """(lo, hi) as the module docstring says, from one split's masses and ratings."""
    edges = np.round(np.arange(0.0, 1.0, BIN), 2)
    bins = {e: (mass >= e) & (mass < e + BIN) for e in edges}
    lo = next(e for e, m in bins.items() if m.any() and neutral[m].mean() < 0.5)
    hi = next(e for e in edges if e > lo and neutral[mass >= e].mean() < 0.05)
    return float(lo), float(hi)


def main():
    data = read_text_data(require("text/goemotions"))
    model = load_classifier()

    dev_probs = model.predict(data.dev.texts)
    dev_mass = 1.0 - (dev_probs @ GROUPS)[:, NEUTRAL]
    dev_neutral = rated_neutral(data.dev)
    print(f"GoEmotions dev, {len(data.dev.texts):,} lines: share rated neutral by emotional mass")
    for lo in np.round(np.arange(0.2, 1.0, 0.1), 1):
        m = (dev_mass >= lo) & ((dev_mass < lo + 0.1) | (lo == 0.9))  # the last bin holds 1.0
        print(f"  {lo:.1f}-{lo + 0.1:.1f}  {m.sum():6,d} lines  {dev_neutral[m].mean():4.0%} rated neutral")
    derived = derive_mass_ramp(dev_mass, dev_neutral)
    print(f"mass ramp derived on dev: {derived}; shipped rigs.facs.MASS_RAMP: {facs.MASS_RAMP}"
          + ("" if np.allclose(derived, facs.MASS_RAMP) else "  <- differ"))

    test = data.test
    probs = model.predict(test.texts)
    groups = GROUPS.argmax(axis=1)
    rated = [{int(groups[i]) for i in t} for t in test.targets]
    neutral = rated_neutral(test)
    single = np.array([len(r) == 1 and NEUTRAL not in r for r in rated])
    right = single & np.array([p in r for p, r in zip((probs @ GROUPS).argmax(axis=1), rated)])
    print(f"\nGoEmotions test, {len(test.texts):,} lines")
    for name, s, top in (("earlier calibration", earlier_strength(probs), None),
                         ("shipped (rigs.facs)", facs.strength(probs), facs.expression_weights(probs).max(axis=1))):
        print(f"{name}:\n  lines                          n  mean strength  >= 0.7  largest key")
        for label, m in (("rated neutral", neutral), ("rated with one emotion", single),
                         ("... read right by the model", right)):
            key = f"{top[m].mean():11.2f}" if top is not None else "          -"
            print(f"  {label:28s} {m.sum():5,d}  {s[m].mean():13.2f}  {np.mean(s[m] >= 0.7):6.0%}  {key}")
        auc = mannwhitneyu(s[single], s[neutral]).statistic / (single.sum() * neutral.sum())
        print(f"  ROC AUC, one emotion against neutral: {auc:.3f}")


if __name__ == "__main__":
    main()
