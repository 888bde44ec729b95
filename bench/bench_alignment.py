"""Forced alignment (ml/asr.py: align) against espeak-ng's own phoneme timings (printed, not asserted).

On the 20 sentences of bench/espeak_reference.py: mean/median error of word boundaries and phone
boundaries (ms), failures, and CPU seconds per audio second of the word pass, the phone pass and
the Whisper check; then the whole speech path (transcribe: recognition + alignment) on ~10 s.
espeak runs "for the"/"with the" together as one word: such a group is scored by its outer edges.
Phones are paired by label (difflib) and their start times compared; SIL is left out.
Run: .venv/bin/python bench/bench_alignment.py
"""

import difflib
import statistics
import sys
import time

import numpy as np

import espeak_reference as E

if not E.available():
    print("skipped: libespeak-ng.so.1 not found (apt-get install espeak-ng)")
    sys.exit(0)

from emotive.ml import asr                                  # noqa: E402
from emotive.ml.pronunciation import words as normalise     # noqa: E402


def word_errors(ref, words):
    errs, i = [], 0
    for group in ref.words:
        n = len(normalise(group.label))
        part = words[i:i + n]
        i += n
        errs += [abs(part[0].start - group.start), abs(part[-1].end - group.end)]
    return errs


def phone_errors(ref, phones):
    a = [p for p in ref.phones if p.label != "SIL" and p.end - p.start > 0.005]
    b = [p for p in phones if p.label != "SIL"]
    sm = difflib.SequenceMatcher(a=[p.label for p in a], b=[p.label for p in b], autojunk=False)
    return [abs(a[m.a + k].start - b[m.b + k].start)
            for m in sm.get_matching_blocks() for k in range(m.size)]


def main():
    refs = [E.synthesize(s) for s in E.SENTENCES]
    seconds = sum(len(r.audio) for r in refs) / E.SAMPLE_RATE
    asr.align(refs[0].audio, refs[0].text, verify=False)            # loads the decoder
    asr.recognize(refs[0].audio)                                    # loads Whisper

    figures = {}
    for name, kw in (("words only", dict(phones=False, verify=False)),
                     ("words + phones", dict(verify=False)),
                     ("words + phones + Whisper check", dict())):
        werr, perr, fails = [], [], 0
        t = time.process_time()
        for r in refs:
            try:
                al = asr.align(r.audio, r.text, **kw)
            except ValueError as exc:
                fails += 1
                print(f"  failed: {r.text!r}: {exc}")
                continue
            werr += word_errors(r, al.words)
            perr += phone_errors(r, al.phones) if al.phones else []
        cpu = (time.process_time() - t) / seconds
        figures[name] = cpu
        print(f"align, {name}: {len(refs)} sentences, {seconds:.1f} s audio, failures {fails}, "
              f"{cpu:.3f} CPU s per audio s")
        print(f"  word boundaries: mean {1000 * np.mean(werr):.1f} ms, median "
              f"{1000 * np.median(werr):.1f} ms, 95th pct {1000 * np.percentile(werr, 95):.0f} ms, "
              f"within 80 ms {np.mean(np.array(werr) < 0.08):.1%} (n={len(werr)})")
        if perr:
            print(f"  phone starts: mean {1000 * np.mean(perr):.1f} ms, median {1000 * np.median(perr):.1f} ms, "
                  f"95th pct {1000 * np.percentile(perr, 95):.0f} ms (n={len(perr)} paired phones)")

    # The whole speech path on ~10 s of speech: sentences with short pauses between them.
    gap = np.zeros(int(0.3 * E.SAMPLE_RATE), np.float32)
    audio = np.concatenate([x for r in refs[:5] for x in (r.audio, gap)])
    audio_s = len(audio) / E.SAMPLE_RATE
    for name, fn in (("recognize", lambda: asr.recognize(audio)),
                     ("transcribe (recognise + align)", lambda: asr.transcribe(audio))):
        cpu, wall = [], []
        for _ in range(3):
            t, w = time.process_time(), time.perf_counter()
            out = fn()
            cpu.append(time.process_time() - t)
            wall.append(time.perf_counter() - w)
        print(f"{name} on {audio_s:.1f} s: CPU {min(cpu):.2f} s, wall best {min(wall):.2f} s / median "
              f"{statistics.median(wall):.2f} s ({min(cpu) / audio_s:.3f} CPU s per audio s)")
    print(f"  transcribe warnings: {out.warnings or 'none'}; {len(out.words)} words, {len(out.phones)} phones")


if __name__ == "__main__":
    main()
