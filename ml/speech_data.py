"""Labelled speech for the voice emotion model: audio reading and the two ways a folder is labelled.

A folder of audio files (wav/flac/ogg/mp3, anything soundfile reads; any rate or channel count)
is labelled either by RAVDESS-style file names (`03-01-EE-II-SS-RR-AA`: EE emotion 01..08 in
VOICE_EMOTIONS order, II intensity 01 normal / 02 strong, AA actor) or by a `labels.csv` beside
the files (`file,label`, a header line allowed, label among VOICE_EMOTIONS). Bad input raises a
ValueError naming the file (and the line of labels.csv). NumPy/soundfile/librosa only.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .labels import VOICE_EMOTIONS

SAMPLE_RATE = 16_000
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
RAVDESS_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")


@dataclass(frozen=True)
class Clip:
    path: Path
    label: int            # index into VOICE_EMOTIONS
    speaker: str          # RAVDESS actor, or "" when unknown (labels.csv without a speaker column)
    strong: bool = False  # RAVDESS intensity 02


def read_audio(path) -> np.ndarray:
    """16 kHz mono float32 of any file soundfile reads (channels averaged, soxr resampling)."""
    import soundfile as sf

    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:          # soundfile raises its own LibsndfileError for bad files
        raise ValueError(f"{path}: not a readable audio file ({e})") from e
    if len(data) == 0:
        raise ValueError(f"{path}: the audio file holds no samples")
    audio = data.mean(axis=1)
    if rate != SAMPLE_RATE:
        import librosa

        audio = librosa.resample(audio, orig_sr=rate, target_sr=SAMPLE_RATE, res_type="soxr_hq")
    return np.ascontiguousarray(audio, dtype=np.float32)


def parse_ravdess_name(path) -> Clip:
    """A Clip from a RAVDESS file name; ValueError naming the file when it is not one."""
    path = Path(path)
    m = RAVDESS_NAME.match(path.stem)
    if not m:
        raise ValueError(f"{path}: not a RAVDESS-style name (03-01-EE-II-SS-RR-AA) and no labels.csv in "
                         f"{path.parent}")
    emotion, intensity, actor = int(m.group(3)), int(m.group(4)), m.group(7)
    if not 1 <= emotion <= len(VOICE_EMOTIONS):
        raise ValueError(f"{path}: emotion field {m.group(3)} is outside 01..08")
    if intensity not in (1, 2):
        raise ValueError(f"{path}: intensity field {m.group(4)} is neither 01 nor 02")
    return Clip(path, emotion - 1, actor, intensity == 2)


def read_labels_csv(csv_path) -> list[Clip]:
    """Clips listed in a labels.csv (`file,label[,speaker]`; file relative to the csv's folder)."""
    csv_path = Path(csv_path)
    clips = []
    with open(csv_path, encoding="utf-8", newline="") as f:
        for line, row in enumerate(csv.reader(f), start=1):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if line == 1 and [c.strip().lower() for c in row[:2]] == ["file", "label"]:
                continue
            if len(row) < 2:
                raise ValueError(f"{csv_path}, line {line}: expected 'file,label', got {','.join(row)!r}")
            name, label = row[0].strip(), row[1].strip().lower()
            if label not in VOICE_EMOTIONS:
                raise ValueError(f"{csv_path}, line {line}: unknown label {row[1].strip()!r} "
                                 f"(one of {', '.join(VOICE_EMOTIONS)})")
            path = csv_path.parent / name
            if not path.is_file():
                raise ValueError(f"{csv_path}, line {line}: audio file {name!r} not found")
            speaker = row[2].strip() if len(row) > 2 else ""
            clips.append(Clip(path, VOICE_EMOTIONS.index(label), speaker))
    if not clips:
        raise ValueError(f"{csv_path}: no labelled files")
    return clips


def find_clips(folder) -> list[Clip]:
    """Every labelled clip under `folder`: from its labels.csv when there is one, otherwise from
    RAVDESS-style names of the audio files in it and its sub-folders (sorted by path)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder")
    table = folder / "labels.csv"
    if table.is_file():
        return read_labels_csv(table)
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if not files:
        raise ValueError(f"{folder}: no audio files ({'/'.join(AUDIO_SUFFIXES)}) and no labels.csv")
    return [parse_ravdess_name(p) for p in files]
