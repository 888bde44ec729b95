"""Does fusing the words' emotion with the voice's help? (speech to face, item 4)

pipeline/speech.fuse: the words weigh TEXT_WEIGHT x their emotional mass x the share of words the
text model knows; the voice weighs the rest. Two measurements, each in Ekman terms (the voice's
eight classes grouped: neutral + calm -> neutral):

1. RAVDESS (actors 19-20, 120 clips): its two sentences are emotionally neutral, so fusion must
   not damage the voice's result: accuracy of the voice alone and fused, decisions changed.
   (The shipped voice model saw these actors in training: this measures what fusion does to its
   decisions, not the voice model's accuracy, which is in ml/weights/speech_emotion.metrics.json.)
2. Speech whose words carry the emotion: espeak-ng (a flat, emotionless voice) speaking the
   expression benchmark's 60 lines (bench/expression_lines.py, 10 per emotion): accuracy of the
   voice alone, the words alone and fused, against the emotion each line was written for.

    .venv/bin/python bench/bench_fusion.py [--ravdess-actors 19 20]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from expression_lines import LINES  # noqa: E402

from emotive.ml.labels import EKMAN, VOICE_EMOTIONS, voice_to_ekman  # noqa: E402
from emotive.pipeline import audio as audio_io  # noqa: E402
from emotive.pipeline.models import load_classifier, load_voice_model  # noqa: E402
from emotive.pipeline.speech import fuse  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "speech" / "ravdess16k"
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}


def decide(voice8, text_model, sentence):
    probs = np.asarray(text_model.predict([sentence]), np.float32)
    words = np.asarray(text_model.ekman(probs), np.float32)[0]
    voice = voice_to_ekman(voice8)
    fused = fuse(voice, words, float(text_model.known_fraction(sentence)))
    return EKMAN[int(np.argmax(voice))], EKMAN[int(np.argmax(words))], EKMAN[int(np.argmax(fused))]


def ravdess(actors, voice_model, text_model) -> None:
    files = sorted(f for a in actors for f in (SHARED / f"Actor_{a:02d}").glob("*.flac"))
    if not files:
        print(f"RAVDESS: skipped, {SHARED} is absent")
        return
    voice_ok = fused_ok = changed = 0
    for f in files:
        parts = f.stem.split("-")
        wanted = EKMAN[int(voice_to_ekman(np.eye(8, dtype=np.float32)[int(parts[2]) - 1]).argmax())]
        samples = audio_io.load(f).samples
        v, _, fz = decide(voice_model.predict(samples), text_model, STATEMENTS[parts[4]])
        voice_ok += v == wanted
        fused_ok += fz == wanted
        changed += v != fz
    n = len(files)
    print(f"RAVDESS actors {actors} ({n} clips, Ekman-7): voice alone {voice_ok / n:.3f}, fused {fused_ok / n:.3f}, "
          f"decisions changed by the words: {changed}")


def spoken_lines(voice_model, text_model) -> None:
    if shutil.which("espeak-ng") is None:
        print("espeak-ng lines: skipped, espeak-ng is not installed")
        return
    counts = {"voice": 0, "words": 0, "fused": 0}
    per = {}
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        for emotion, lines in LINES.items():
            for i, line in enumerate(lines):
                path = Path(tmp) / f"{emotion}{i}.wav"
                subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(path), line], check=True)
                got = decide(voice_model.predict(audio_io.load(path).samples), text_model, line)
                for key, value in zip(counts, got):
                    counts[key] += value == emotion
                per.setdefault(emotion, [0, 0])
                per[emotion][0] += got[2] == emotion
                per[emotion][1] += 1
                n += 1
    print(f"espeak-ng speaking {n} emotional lines (a flat voice; Ekman-7): voice alone {counts['voice'] / n:.3f}, "
          f"words alone {counts['words'] / n:.3f}, fused {counts['fused'] / n:.3f}")
    print("  fused, per emotion: " + ", ".join(f"{e} {ok}/{k}" for e, (ok, k) in per.items()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ravdess-actors", type=int, nargs="+", default=[19, 20])
    args = parser.parse_args(argv)
    voice_model, text_model = load_voice_model(), load_classifier()
    assert tuple(voice_model.labels) == VOICE_EMOTIONS
    ravdess(args.ravdess_actors, voice_model, text_model)
    spoken_lines(voice_model, text_model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
