"""How strong and how timely each emotion's expression is, in ARKit weights (issue 9, item 3).

For one plainly emotional line per Ekman emotion, animated with default settings (the shipped
models, landmark motion, intensity 1): where in its segment the expression peaks (0 = the
sentence starts, 1 = it ends), how close the peak comes to the emotion's FACS prototype
(the ARKit weights projected onto rigs/facs.ekman_expression: 1.0 = the full prototype), and the
same projection when the sentence ends. Goals: peak >= 0.7 of the prototype, in the first
half of the segment, still held at the end. Printed, not asserted.
Run: .venv/bin/python bench/bench_expression_timing.py   (~5 s)
"""

import numpy as np

from expression_lines import LINES

from emotive.pipeline import make_take
from emotive.rigs.facs import ekman_expression

FPS = 30


def main():
    print(f"{'line for':9s} {'read as':9s} {'conf':>5s} {'seconds':>7s} {'peak at':>7s} {'peak':>5s} {'at end':>6s}")
    for emotion, lines in LINES.items():
        line = lines[0]
        take = make_take("text", line, fps=FPS)
        (seg,) = take.segments
        proto = ekman_expression(emotion)
        level = (take.arkit @ proto) / float(proto @ proto)
        start, end = round(seg.start * FPS), round(seg.end * FPS)
        peak = start + int(np.argmax(level[start:end + 1]))
        print(f"{emotion:9s} {seg.emotion:9s} {seg.confidence:5.2f} {seg.end - seg.start:7.2f} "
              f"{(peak - start) / (end - start):7.2f} {level[peak]:5.2f} {level[end]:6.2f}")


if __name__ == "__main__":
    main()
