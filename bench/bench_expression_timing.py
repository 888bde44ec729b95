"""How strong and how timely each emotion's expression is, in ARKit weights (issue 9, item 3).

For one plainly emotional line per Ekman emotion, animated with default settings (the shipped
models, landmark motion, intensity 1): how close the expression comes to the emotion's FACS
prototype (the ARKit weights projected onto rigs/facs.ekman_expression less its blink keys:
1.0 = the full prototype) at its peak; where in the segment the apex arrives (the first frame within 5 % of the
peak; 0 = the sentence starts, 1 = it ends); the projection when the sentence ends (held?) and
RELEASE_S after it (let go?). Goals (issue 9): peak >= 0.7, apex in the first half, held at the
end. Printed, not asserted; tests/unit/pipeline/test_landmark_performance.py asserts the same
on synthetic segments.
Run: .venv/bin/python bench/bench_expression_timing.py   (~5 s)
"""

import numpy as np

from expression_lines import LINES

from emotive.pipeline import make_take
from emotive.rigs.arkit import BLINK_INDICES
from emotive.rigs.facs import ekman_expression

FPS = 30
RELEASE_S = 0.6


def main():
    print(f"{'line for':9s} {'read as':9s} {'conf':>5s} {'seconds':>7s} {'peak':>5s} {'apex at':>7s} "
          f"{'at end':>6s} {'+' + str(RELEASE_S) + ' s':>6s}")
    for emotion, lines in LINES.items():
        line = lines[0]
        take = make_take("text", line, fps=FPS)
        (seg,) = take.segments
        # Blinks are the take's life, not its expression: a blink during the hold would lift the
        # projection of a prototype that lowers the lids (sadness) and move its "peak" onto the blink.
        proto = ekman_expression(emotion)
        proto[list(BLINK_INDICES)] = 0.0
        level = (take.arkit @ proto) / float(proto @ proto)
        start, end = round(seg.start * FPS), round(seg.end * FPS)
        inside = level[start:end + 1]
        apex = int(np.argmax(inside >= 0.95 * inside.max()))
        after = level[min(len(level) - 1, end + round(RELEASE_S * FPS))]
        print(f"{emotion:9s} {seg.emotion:9s} {seg.confidence:5.2f} {seg.end - seg.start:7.2f} "
              f"{inside.max():5.2f} {apex / (end - start):7.2f} {level[end]:6.2f} {after:6.2f}")


if __name__ == "__main__":
    main()
