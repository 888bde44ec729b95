"""Speed and memory of the speech path (issue: speech to face, item 9).

1. 10 s of speech -> keyed take: the speech source (reading, recognition, alignment, voice and
   word emotion, performance, lip sync) and then keying it on the default head's ARKit keys in
   Blender, timed separately and together. Goal: < 2 s on this 2-core CPU (>= 5x real time).
2. A 10-minute recording: the source's time, its progress messages, and the peak memory (resident
   set) against the 10 s run's: bounded memory means the long run costs about the models plus
   the 16 kHz samples (4 MB a minute), not memory growing with everything decoded.

The speech is espeak-ng speaking bench/espeak_reference.py's sentences (recognised, no transcript
given: the slower path). Run each part in a fresh process (peak memory is per process):

    .venv/bin/python bench/bench_speech.py            # both parts, each in its own process
    .venv/bin/python bench/bench_speech.py --part short|long
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from espeak_reference import SENTENCES  # noqa: E402


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def speak(text: str, path: Path) -> Path:
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(path), "--stdin"], input=text.encode(),
                   check=True)
    return path


def recording(seconds: float, folder: Path) -> Path:
    """espeak-ng speaking the reference sentences round and round for about `seconds`."""
    import soundfile as sf

    one = speak(" ".join(SENTENCES), folder / "round.wav")
    length = sf.info(one).duration
    rounds = max(1, round(seconds / length))
    text = " ".join(SENTENCES * rounds)
    if rounds == 1 and seconds < length:            # the short part: cut at a sentence end
        words, kept = 0, []
        for s in SENTENCES:
            kept.append(s)
            words += len(s.split())
            if words / 160 * 60 >= seconds:
                break
        text = " ".join(kept)
    return speak(text, folder / f"speech_{int(seconds)}s.wav")


def run_source(path: Path) -> dict:
    from emotive.pipeline import make_take

    stages, start = {}, time.perf_counter()

    def progress(fraction, message):
        stages.setdefault(message, time.perf_counter() - start)

    take = make_take("speech", path, progress=progress, keep_landmarks=False)
    total = time.perf_counter() - start
    marks = sorted(stages.items(), key=lambda kv: kv[1]) + [("end", total)]
    return {"seconds": total, "take": take,
            "stages": {m: round(marks[i + 1][1] - t, 3) for i, (m, t) in enumerate(marks[:-1])}}


def part_short(folder: Path) -> dict:
    import soundfile as sf

    path = recording(10.0, folder)
    audio_s = sf.info(path).duration
    from emotive.pipeline import make_take

    make_take("speech", path)                         # models loaded and warm, as on a second click
    source = run_source(path)
    import bpy

    from emotive.rigs.blender.head import create_default_head
    from emotive.rigs.blender.targets import prepare_take

    bpy.ops.wm.read_homefile(use_empty=True)
    head = create_default_head(bpy.context.scene.collection)
    start = time.perf_counter()
    prepare_take(head, "arkit", "landmark").key(source["take"], name="bench", frame_start=1)
    keying = time.perf_counter() - start
    total = source["seconds"] + keying
    return {"audio_s": round(audio_s, 2), "source_s": round(source["seconds"], 3), "keying_s": round(keying, 3),
            "total_s": round(total, 3), "real_time_factor": round(audio_s / total, 1),
            "stages": source["stages"], "peak_rss_mb": round(peak_rss_mb())}


def part_long(folder: Path) -> dict:
    import soundfile as sf

    path = recording(600.0, folder)
    audio_s = sf.info(path).duration
    messages = []
    source = run_source(path)
    messages = list(source["stages"])
    return {"audio_s": round(audio_s, 1), "source_s": round(source["seconds"], 1),
            "real_time_factor": round(audio_s / source["seconds"], 1), "utterances": len(source["take"].segments),
            "frames": source["take"].n_frames, "stages": source["stages"], "progress_messages": messages,
            "peak_rss_mb": round(peak_rss_mb())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("short", "long"))
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("skipped: espeak-ng is not installed")
        return 0
    if args.part is None:
        results = {}
        for part in ("short", "long"):
            proc = subprocess.run([sys.executable, __file__, "--part", part], capture_output=True, text=True)
            if proc.returncode:
                print(proc.stdout, proc.stderr, sep="\n")
                return proc.returncode
            results[part] = json.loads(proc.stdout.strip().splitlines()[-1])
        short, long = results["short"], results["long"]
        print(f"10 s of speech -> keyed take: {short['total_s']:.2f} s ({short['audio_s']} s of audio; source "
              f"{short['source_s']:.2f} s + keying {short['keying_s']:.2f} s), {short['real_time_factor']}x real time "
              f"(goal: < 2 s, >= 5x)")
        print("  stages: " + ", ".join(f"{m} {s:.2f} s" for m, s in short["stages"].items()))
        print(f"{long['audio_s'] / 60:.1f} min of speech -> take: {long['source_s']:.0f} s, "
              f"{long['real_time_factor']}x real time, {long['utterances']} utterances, {long['frames']} frames")
        print(f"peak memory: {short['peak_rss_mb']} MB for 10 s (with Blender), {long['peak_rss_mb']} MB for "
              f"{long['audio_s'] / 60:.0f} min (source only)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        result = (part_short if args.part == "short" else part_long)(Path(tmp))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
