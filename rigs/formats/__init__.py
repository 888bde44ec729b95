"""Face-capture readers, bpy-free: one module per format, listed explicitly in READERS.

Each reader module exposes NAME, SUFFIXES, LABEL, sniff(path) -> bool (reads at most the file's
head; never raises) and read(path, **options) -> track.CaptureTrack, the one result type: the
recording as the file gives it (time base, validity per frame, landmarks with their set and units
and confidence, ARKit weights, head and eye rotation, other curves, warnings). Errors are
errors.FormatError(path, frame, what), naming the file and frame; a reader builds its track only
after the whole file has been checked, so nothing is ever half-read. Files are streamed where the
layout allows (OpenPose folders, CSV, JSON Lines) and refused above a size limit where it does not.

detect(path, format=None) picks the reader: the named one, else the first whose sniff accepts the
content (readers whose SUFFIXES match the name are asked first; a folder is OpenPose);
read(path, format=None, **options) detects and reads. Cleaning (head motion, scale, 2-D lift, gaps,
smoothing, time base) is rigs/capture_cleaning.py. docs/CAPTURE_FORMATS.md lists the variants and
options. The capture source (pipeline/capture.py), the import operator's file filter and the CLI's
--format derive from READERS. Adding a format: ARCHITECTURE.md, "A new capture format".
"""

from __future__ import annotations

import os

from ...errors import FormatError
from . import livelink_csv, mediapipe_json, openface_csv, openpose, video
from .track import CaptureTrack

# Fixed order: the most specific sniffers first (both CSV readers look at the header only).
READERS: tuple = (openpose, livelink_csv, openface_csv, mediapipe_json, video)
FORMATS: dict = {reader.NAME: reader for reader in READERS}

__all__ = ["READERS", "FORMATS", "CaptureTrack", "detect", "read", "known_formats"]


def known_formats() -> str:
    return "; ".join(f"{r.NAME}: {r.LABEL}" for r in READERS)


def detect(path, format: str | None = None):
    """The reader module for `path`: FORMATS[format] when given, else by content (suffix as a hint)."""
    path = str(path)
    if format:
        reader = FORMATS.get(format.lower())
        if reader is None:
            raise FormatError(path, None, f"unknown format '{format}'; known: {', '.join(FORMATS)}")
    if not os.path.exists(path):
        raise FormatError(path, None, "no such file or folder")
    if format:
        return reader
    name = path.lower()
    hinted = sorted(READERS, key=lambda r: not any(name.endswith(s) for s in r.SUFFIXES))
    for reader in hinted:
        if reader.sniff(path):
            return reader
    raise FormatError(path, None, f"not a face capture this version reads; known formats: {known_formats()}")


def read(path, format: str | None = None, **options) -> CaptureTrack:
    """Detect the format (or take `format`) and read the file with the reader's options."""
    return detect(path, format).read(path, **options)
