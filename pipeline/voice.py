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
