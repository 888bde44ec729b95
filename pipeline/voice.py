"""Voiced text: a typed line spoken by an offline synthesiser, for the speech path (bpy-free).

espeak-ng (Debian/Ubuntu `espeak-ng`, Homebrew `espeak-ng`; GPL-3.0, run as a separate program
so nothing of it links into Emotive) speaks the text into a WAV file. The speech source then
aligns the known text to that audio, so the take is lip-synced to its own voice and the file plays
in the sequencer and the rendered MP4.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..errors import EmotiveError

VOICE = "en-us"
TIMEOUT_S = 600
GAP_S = 0.35              # silence between spoken sentences (a breath; utterances split there)


def synthesiser() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise EmotiveError("voiced text needs the espeak-ng synthesiser: install it (Debian/Ubuntu: "
                           "apt-get install espeak-ng; macOS: brew install espeak-ng) or animate the text silently")
    return exe


def speak(text: str, path, wpm: float = 160.0, voice: str = VOICE) -> Path:
    """Speak `text` into the WAV file `path` (its folder must exist) -> the path."""
    path = Path(path)
    try:
        done = subprocess.run([synthesiser(), "-v", voice, "-s", str(int(round(wpm))), "-w", str(path), "--stdin"],
                              input=text.encode("utf-8"), capture_output=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise EmotiveError(f"espeak-ng took longer than {TIMEOUT_S} s to speak the text") from None
    if done.returncode != 0 or not path.is_file() or path.stat().st_size <= 44:
        raise EmotiveError(f"espeak-ng could not speak the text into '{path}': "
                           f"{done.stderr.decode('utf-8', 'replace').strip() or 'no audio written'}")
    return path


def speak_lines(lines: list[str], path, wpm: float = 160.0, voice: str = VOICE) -> list[tuple[float, float, str]]:
    """Speak each line (a sentence or clause) on its own and join them with GAP_S of silence
    into the WAV file `path`. -> [(start, end, line)] seconds: the script, already timed, so the
    speech path aligns each line to its own stretch (no recogniser needed, none confused by a
    synthetic voice)."""
    import tempfile

    import numpy as np
    import soundfile as sf

    parts, script, t, rate = [], [], 0.0, None
    with tempfile.TemporaryDirectory() as tmp:
        for i, line in enumerate(lines):
            piece = speak(line, Path(tmp) / f"{i}.wav", wpm=wpm, voice=voice)
            data, rate_i = sf.read(piece, dtype="float32")
            if rate is not None and rate_i != rate:
                raise EmotiveError(f"espeak-ng changed its sample rate mid-text ({rate} -> {rate_i} Hz)")
            rate = rate_i
            if parts:
                parts.append(np.zeros(int(GAP_S * rate), np.float32))
                t += GAP_S
            parts.append(data)
            script.append((t, t + len(data) / rate, line))
            t += len(data) / rate
    sf.write(str(path), np.concatenate(parts), rate, subtype="PCM_16")
    return script
