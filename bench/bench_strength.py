"""How expression strength separates emotional lines from neutral ones (issue 9, item 3).

On the GoEmotions test split, with the shipped text model's probabilities, prints:
- how often people rated a line neutral, by the model's emotional mass 1 - P(neutral)
  (where the mass ramp of rigs/facs.py should start and end);
- rigs.facs.strength() over the lines people rated neutral, those rated with one Ekman emotion,
  and those of them the model reads right: mean, and the share at >= 0.7 (a face that reads);
- the ROC AUC of strength between lines rated with one emotion and lines rated neutral.
docs/FACS.md ("How the ramps were chosen") records these figures.
Needs ../shared/data/text/goemotions. Run: .venv/bin/python bench/bench_strength.py (~30 s)
"""

from __future__ import annotations

import numpy as np
from scipy.stats import mannwhitneyu

from emotive.ml.labels import EKMAN, ekman_matrix
from emotive.ml.shared_data import require
from emotive.ml.text_data import read_text_data
from emotive.pipeline.models import load_classifier
from emotive.rigs.facs import MASS_RAMP, expression_weights, strength

NEUTRAL = EKMAN.index("neutral")


def main():
    test = read_text_data(require("text/goemotions")).test
    probs = load_classifier().predict(test.texts)
    groups = ekman_matrix().argmax(axis=1)  # label -> Ekman group
    rated = [{int(groups[i]) for i in t} for t in test.targets]
    neutral = np.array([r == {NEUTRAL} for r in rated])
    single = np.array([len(r) == 1 and NEUTRAL not in r for r in rated])
    predicted = (probs @ ekman_matrix()).argmax(axis=1)
    right = single & np.array([p in r for p, r in zip(predicted, rated)])

    mass = 1.0 - (probs @ ekman_matrix())[:, NEUTRAL]
    print(f"GoEmotions test, {len(test.texts):,} lines; mass ramp {MASS_RAMP}")
    print("mass        lines  rated neutral")
    for lo in np.round(np.arange(0.3, 1.0, 0.1), 1):
        m = (mass >= lo) & ((mass < lo + 0.1) | (lo == 0.9))  # the last bin holds 1.0
        print(f"{lo:.1f}-{lo + 0.1:.1f}  {m.sum():8,d}  {neutral[m].mean():12.0%}")

    s = strength(probs)
    top = expression_weights(probs).max(axis=1)
    print("\nlines                          n   strength mean  >= 0.7   largest key mean")
    for name, m in (("rated neutral", neutral), ("rated with one emotion", single),
                    ("... read right by the model", right)):
        print(f"{name:28s} {m.sum():6,d}   {s[m].mean():13.2f}  {np.mean(s[m] >= 0.7):6.0%}   {top[m].mean():16.2f}")
    auc = mannwhitneyu(s[single], s[neutral]).statistic / (single.sum() * neutral.sum())
    print(f"ROC AUC, one emotion against neutral: {auc:.3f}")


if __name__ == "__main__":
    main()
