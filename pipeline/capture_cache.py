"""Tracked videos kept in the cache folder (bpy-free): importing the same video again (other
smoothing or gains, the redo panel, a batch re-run) reads its landmarks back instead of running
MediaPipe FaceMesh on every frame again.

An entry is an .npz named by a hash of the video's resolved path, size and modification time, the
reader's options and CACHE_VERSION; a changed or replaced video, or a new reader, misses. Entries
are plain arrays and a JSON header (np.load without pickle), so a cache file is data, never code.
The folder is the settings' cache folder (pipeline/settings.py) and may be emptied at any time; it
is kept under MAX_BYTES by deleting the entries written longest ago.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import numpy as np

CACHE_VERSION = 2          # 2: the reader settles a face found afresh (rigs/formats/video.SETTLE)
FOLDER = "video-landmarks"


MAX_BYTES = 2 * 2**30      # the oldest entries go beyond this (about 6 hours of 30 fps video)


def _tracker_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("mediapipe")
    except metadata.PackageNotFoundError:     # the reader says what is missing
        return "none"


def _key(path: Path, options: dict) -> str:
    stat = path.stat()
    spec = [CACHE_VERSION, str(path.resolve()), stat.st_size, stat.st_mtime_ns, _tracker_version(),
            sorted(options.items())]
    return hashlib.sha256(json.dumps(spec, default=str).encode()).hexdigest()[:32]


def entry(folder: Path, path, options: dict | None = None) -> Path:
    return Path(folder) / f"{_key(Path(path), options or {})}.npz"


def load(file: Path):
    """The CaptureTrack stored in `file`, or None when there is none. One that cannot be read (a
    truncated or damaged file) is deleted: a cache entry is never worth an error."""
    from ..rigs.formats.track import CaptureTrack

    if not file.exists():
        return None
    try:
        with np.load(file, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            arrays = {name: data[name] for name in data.files if name != "header"}
        if header.get("image_size") is not None:
            header["image_size"] = tuple(header["image_size"])
        return CaptureTrack(**header, **arrays).check()
    except Exception:  # noqa: BLE001 - zip, npy, JSON and field errors alike: track the video again
        file.unlink(missing_ok=True)
        return None


def store(file: Path, track) -> None:
    """Write the track's arrays and scalar fields (atomically: a half-written entry never loads)."""
    arrays, header = {}, {}
    for f in dataclasses.fields(track):
        value = getattr(track, f.name)
        if isinstance(value, np.ndarray):
            arrays[f.name] = value
        elif f.name != "curves":
            header[f.name] = value
    if track.curves:          # a video track has none; anything else is not cached
        return
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f".{file.stem}.{os.getpid()}.npz")
    np.savez(tmp, header=np.array(json.dumps(header)), **arrays)
    os.replace(tmp, file)
    _prune(file.parent, keep=file)


def _prune(folder: Path, keep: Path) -> None:
    """Delete the least recently written entries while the folder holds more than MAX_BYTES."""
    entries = sorted(folder.glob("*.npz"), key=lambda p: p.stat().st_mtime)
    total = sum(p.stat().st_size for p in entries)
    for old in entries:
        if total <= MAX_BYTES:
            break
        if old != keep:
            total -= old.stat().st_size
            old.unlink(missing_ok=True)
