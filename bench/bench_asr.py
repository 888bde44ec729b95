"""Recognition (ml/asr.py: recognize, Whisper tiny.en) word error rate and speed, with pocketsphinx's
own recogniser (its bundled en-us LM) for comparison (printed, not asserted).

- 40 RAVDESS clips, ../shared/data/speech/ravdess16k/Actor_*/03-01-*.flac (statement 01 = "Kids are
  talking by the door", 02 = "Dogs are sitting by the door"), chosen with a fixed seed;
- the 20 espeak-ng sentences of bench/espeak_reference.py.
WER = word edit distance / reference words after normalisation (ml/pronunciation.py: words).
Run: .venv/bin/python bench/bench_asr.py
"""

import glob
import sys
import time

import numpy as np

import espeak_reference as E
from emotive.ml import asr
from emotive.ml.pronunciation import words as normalise
from emotive.ml.shared_data import shared_data_dir

STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}


def ravdess(n=40, seed=0):
    files = sorted(glob.glob(str(shared_data_dir() / "speech/ravdess16k/Actor_*/03-01-*.flac")))
    if not files:
        return []
    import soundfile as sf

    pick = np.random.default_rng(seed).choice(len(files), min(n, len(files)), replace=False)
    out = []
    for i in sorted(pick):
        audio, rate = sf.read(files[i], dtype="float32")
        assert rate == asr.SAMPLE_RATE, files[i]
        out.append((audio, STATEMENTS[files[i].split("-")[-3]]))
    return out


def pocketsphinx_recognize():
    import pocketsphinx

    decoder = pocketsphinx.Decoder(loglevel="FATAL")             # bundled en-us LM and dictionary

    def run(audio):
        decoder.start_utt()
        decoder.process_raw(asr._pcm(audio), full_utt=True)
        decoder.end_utt()
        return decoder.hyp().hypstr if decoder.hyp() else ""
    return run


def score(name, clips, recognise):
    errors = words = 0
    seconds = sum(len(a) for a, _ in clips) / asr.SAMPLE_RATE
    t = time.process_time()
    for audio, text in clips:
        ref = normalise(text)
        errors += asr.word_errors(ref, normalise(recognise(audio)))
        words += len(ref)
    cpu = time.process_time() - t
    print(f"  {name:34s} WER {errors / words:6.1%}  {cpu / seconds:.3f} CPU s per audio s "
          f"({len(clips)} clips, {seconds:.0f} s)")


def main():
    sets = []
    clips = ravdess()
    if clips:
        sets.append(("RAVDESS (40 clips, 2 statements)", clips))
    else:
        print(f"skipped RAVDESS: no clips under {shared_data_dir() / 'speech/ravdess16k'}")
    if E.available():
        sets.append(("espeak-ng sentences (20)", [(E.synthesize(s).audio, s) for s in E.SENTENCES]))
    else:
        print("skipped espeak-ng sentences: libespeak-ng.so.1 not found (apt-get install espeak-ng)")
    if not sets:
        sys.exit(0)
    asr.recognize(sets[0][1][0][0])                    # load Whisper outside the timing
    ps = pocketsphinx_recognize()
    ps(sets[0][1][0][0])
    for title, data in sets:
        print(title)
        score("Whisper tiny.en, beam 1", data, lambda a: " ".join(w.text for w in asr.recognize(a)))
        score("Whisper tiny.en, beam 5", data,
              lambda a: " ".join(w.text for w in asr.recognize(a, beam_size=5)))
        score("Whisper, beam 1, no word times", data,
              lambda a: " ".join(w.text for w in asr._recognize(a, word_times=False)))
        score("pocketsphinx en-us LM", data, ps)


if __name__ == "__main__":
    main()
