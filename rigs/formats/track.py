"""What every capture reader returns (CaptureTrack), and the checks and limits readers share. bpy-free.

A CaptureTrack holds a recording as the file gives it: nothing is cleaned, rotated, scaled or
smoothed here (rigs/capture_cleaning.py does that). Frames the tracker lost, and frame numbers the
file skips, are kept as frames with `valid` False (landmarks NaN, confidence 0, ARKit rows NaN), so
the time base stays the file's.

Coordinates of `landmarks` are in the capture's camera axes, whatever the units: x to the image's
right, y down, z away from the camera (MediaPipe's z, OpenFace's Z). `coords` names the units:
"pixels", "normalised" (x by the image width, y by its height, z about as x) or "metres".
"""

from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import dataclass, field

import numpy as np

from ...errors import FormatError

# Landmark sets a reader may name, and their point counts.
LANDMARK_SETS: dict[str, int] = {"ibug68": 68, "openpose70": 70, "mediapipe468": 468, "mediapipe478": 478}
COORDS = ("pixels", "normalised", "metres")

# Limits that keep a huge or runaway file from taking all memory: one hour at 60 fps, a line of
# CSV (a Live Link row is ~700 bytes, an OpenFace row ~5 kB) and one JSON document read whole.
MAX_FRAMES = 216_000
MAX_LINE_BYTES = 1 << 20
MAX_JSON_BYTES = 256 << 20


@dataclass
class CaptureTrack:
    """One face recording as read from a file (see the module docstring for the conventions).

    fps:            frames per second, from the file when it has a time base, else the `fps` option
    times:          (F,) seconds from the first frame
    valid:          (F,) bool, False where the face was lost or the frame is missing from the file
    landmarks:      (F, N, 3) float32 or None; z is 0 where `dims` is 2
    landmark_set:   a LANDMARK_SETS name, or None without landmarks
    confidence:     (F, N) float32 in [0, 1] or None (then every valid point counts as sure)
    arkit:          (F, 52) float32 over rigs.arkit.ARKIT_NAMES or None
    head_rotation:  (F, 3) yaw, pitch, roll in radians as the file gives them, or (F, 3, 3)
                    rotation matrices (MediaPipe's facial transformation), or None
    head_translation: (F, 3) metres or None;  eye_rotation: (F, 2, 3) (left, right) x (yaw,
                    pitch, roll) radians or None
    curves:         other named per-frame values (OpenFace AUs and gaze angles, ...), each (F,)
    """

    format: str
    path: str
    fps: float
    times: np.ndarray
    valid: np.ndarray
    landmarks: np.ndarray | None = None
    landmark_set: str | None = None
    dims: int = 3
    coords: str | None = None
    confidence: np.ndarray | None = None
    image_size: tuple[int, int] | None = None
    arkit: np.ndarray | None = None
    neutral_subtracted: bool = False
    head_rotation: np.ndarray | None = None
    head_translation: np.ndarray | None = None
    eye_rotation: np.ndarray | None = None
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    frame_numbers: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        return int(len(self.times))

    @property
    def duration(self) -> float:
        return float(self.times[-1] - self.times[0]) if self.n_frames else 0.0

    def check(self) -> "CaptureTrack":
        """Hold the track to the contract above (a reader's last step; AssertionError = a reader bug)."""
        n = self.n_frames
        assert n > 0 and self.fps > 0 and self.valid.shape == (n,) and self.valid.dtype == bool
        assert self.landmarks is not None or self.arkit is not None
        if self.landmarks is not None:
            assert self.landmark_set in LANDMARK_SETS and self.coords in COORDS and self.dims in (2, 3)
            assert self.landmarks.shape == (n, LANDMARK_SETS[self.landmark_set], 3)
            if self.confidence is not None:
                assert self.confidence.shape == self.landmarks.shape[:2]
        if self.arkit is not None:
            assert self.arkit.shape == (n, 52)
        if self.head_rotation is not None:
            assert self.head_rotation.shape in ((n, 3), (n, 3, 3))
        for name, values in self.curves.items():
            assert values.shape == (n,), name
        return self


# ---- shared by the readers ----------------------------------------------------------------------

def check_file_size(path, limit: int, hint: str) -> None:
    size = os.path.getsize(path)
    if size > limit:
        raise FormatError(path, None, f"the file is {size / 2**20:,.0f} MiB, more than the {limit / 2**20:,.0f} MiB "
                                      f"this reader loads whole; {hint}")


def parse_json(data: bytes | str):
    """JSON text -> Python objects: orjson where installed (about twice as fast on landmark dumps,
    which are mostly numbers); the standard library otherwise, and whenever orjson refuses the text,
    so what it accepts beyond the standard (NaN and Infinity tokens, which Python's json.dump
    writes) still reads, and a broken file gets the standard library's message."""
    try:
        import orjson
    except ImportError:
        return json.loads(data)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


_JSON_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"


def _row_pattern(columns: int) -> str:
    row = r" *\[ *" + r" *, *".join([_JSON_NUMBER] * columns) + r" *\] *"
    return rf"^\[{row}(?:,{row})*\]$"


def number_lists(data: bytes, spans, columns: int):
    """Lists of number lists in JSON text read without a Python float per number, for a file of
    millions of them: `spans` (start, end) of candidates in `data`, each `[[x, y, ...], ...]` with
    `columns` numbers per row (spaces allowed between tokens) -> {index of the span: (rows,
    columns) float64, all finite} for those that are exactly that in strict JSON (the others are
    left to the caller's whole parse), or None where it cannot tell (no pyarrow). pyarrow's RE2
    checks the text (in a thread, beside the parse) and its CSV reader parses the numbers
    (fast_float: exact, ~10x faster than orjson, which builds a Python float per number)."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pacsv
    except ImportError:
        return None
    if not spans:
        return {}
    bounds = np.asarray(spans, dtype=np.int64).ravel()
    if len(data) >= 2**31:
        return None
    offsets = np.concatenate([[0], bounds, [len(data)]]).astype(np.int32)   # gap, span, gap, ..., span, gap
    text = pa.Array.from_buffers(pa.binary(), len(offsets) - 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    checked: dict = {}

    def check():
        try:
            checked["ok"] = pc.match_substring_regex(text, _row_pattern(columns)).to_numpy(
                zero_copy_only=False)[1::2]
        except Exception as e:   # noqa: BLE001  (handed to the caller's thread below)
            checked["error"] = e

    thread = threading.Thread(target=check, name="emotive-json-check")
    thread.start()
    try:
        found = _number_rows(pa, pacsv, data, spans, columns)
    finally:
        thread.join()
    if "error" in checked:   # a pyarrow without RE2, say: the caller parses the whole text
        return None
    ok = checked["ok"]
    keep = np.flatnonzero(ok)
    if not len(keep):
        return {}
    if len(keep) < len(spans) or found is None:   # parse again without the spans that are not lists of numbers
        found = _number_rows(pa, pacsv, data, [spans[i] for i in keep], columns) if len(keep) < len(spans) else None
        if found is None:
            return None
    return dict(zip(keep.tolist(), found))


def _number_rows(pa, pacsv, data: bytes, spans, columns: int):
    """The spans' numbers, one (rows, columns) array per span, or None where the CSV reader refuses
    them. The text from the first span to the last becomes CSV rows ',x,y,z' (an empty first
    column): the text between the spans blank lines, brackets gone."""
    first = spans[0][0]
    text = bytearray(memoryview(data)[first:spans[-1][1]])
    text[0] = 44   # "[[x" -> ",[x": every row starts with its ','
    for (_, gap_start), (gap_end, _) in zip(spans[:-1], spans[1:]):
        text[gap_start - first:gap_end - first] = b"\n" * (gap_end - gap_start - 1) + b","
    rows = text.translate(_ROWS, b"[ ")
    del text
    names = [f"c{i}" for i in range(columns + 1)]
    try:
        # one block on this thread: RE2 has the other core, and on two busy cores the reader's
        # own threads cost more than they give (measured: 0.21 s against 0.29-0.44 s)
        table = pacsv.read_csv(pa.BufferReader(pa.py_buffer(rows)),
                               read_options=pacsv.ReadOptions(column_names=names, use_threads=False,
                                                              block_size=max(len(rows), 1 << 20)),
                               convert_options=pacsv.ConvertOptions(
                                   column_types={name: pa.float64() for name in names[1:]},
                                   include_columns=names[1:]))
    except (pa.ArrowInvalid, ValueError):
        return None
    counts = [data.count(b"]", start, end) - 1 for start, end in spans]
    if table.num_rows != sum(counts) or any(col.null_count for col in table.columns):
        return None   # an empty field in the file itself
    values = np.stack([col.to_numpy() for col in table.columns], axis=1)
    if not np.isfinite(values).all():
        return None   # 1e999 is a JSON number too
    return np.split(values, np.cumsum(counts)[:-1])


_ROWS = bytes.maketrans(b"]", b"\n")


def bounded_lines(f, path, max_line: int = MAX_LINE_BYTES):
    """The lines of an open text file, refusing (FormatError) any longer than max_line characters,
    so a binary or corrupt file never pulls gigabytes into one string."""
    number = 0
    while True:
        line = f.readline(max_line + 1)
        if not line:
            return
        if len(line) > max_line and not line.endswith("\n"):
            raise FormatError(path, None, f"line {number + 1} is longer than {max_line:,} characters: "
                                          "not a capture file of this format (or a corrupt one)")
        number += 1
        yield line


def finite(values: np.ndarray, path, frame, what: str) -> np.ndarray:
    if not np.all(np.isfinite(values)):
        raise FormatError(path, frame, f"{what} holds NaN or infinity")
    return values


def to_float(text: str, path, frame, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FormatError(path, frame, f"column '{column}' holds '{text.strip()[:40]}', not a number") from None
    if not math.isfinite(value):
        raise FormatError(path, frame, f"column '{column}' holds {text.strip()}, not a finite number")
    return value


def check_frames(path, count: int, frame, max_frames: int) -> None:
    if count > max_frames:
        raise FormatError(path, frame, f"more than {max_frames:,} frames (max_frames); split the recording "
                                       "or pass a larger max_frames")


def fps_from_times(times: np.ndarray, path) -> float:
    """Frames per second from time stamps: the median step, snapped to a whole rate within 1 %."""
    steps = np.diff(np.asarray(times, dtype=np.float64))
    steps = steps[steps > 0]
    if not len(steps):
        raise FormatError(path, None, "the time stamps never advance, so the frame rate cannot be derived; "
                                      "pass fps")
    fps = 1.0 / float(np.median(steps))
    whole = round(fps)
    return float(whole) if whole and abs(fps - whole) <= 0.01 * whole else fps


def frame_grid(numbers, path, max_frames: int):
    """Sorted unique frame numbers -> (all numbers first..last, index of each given number in it)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    order = np.argsort(numbers, kind="stable")
    sorted_numbers = numbers[order]
    dup = np.flatnonzero(np.diff(sorted_numbers) == 0)
    if len(dup):
        raise FormatError(path, int(sorted_numbers[dup[0]]), "this frame number appears twice")
    first, last = int(sorted_numbers[0]), int(sorted_numbers[-1])
    check_frames(path, last - first + 1, last, max_frames)
    return np.arange(first, last + 1), numbers - first


def missing_runs(valid: np.ndarray, numbers: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) frame numbers of each run of invalid frames."""
    bad = ~np.asarray(valid, dtype=bool)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], bad.astype(np.int8), [0]])))
    return [(int(numbers[a]), int(numbers[b - 1])) for a, b in zip(edges[::2], edges[1::2])]


def describe_runs(runs: list[tuple[int, int]], limit: int = 6) -> str:
    text = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs[:limit])
    return text + (f" and {len(runs) - limit} more" if len(runs) > limit else "")


class ImageSize:
    """Checks that every frame stating an image size states the same one (a take is one video)."""

    def __init__(self, path, given=None):
        self.path, self.size, self.frame = path, (tuple(int(v) for v in given) if given else None), None

    def see(self, size, frame) -> None:
        if size is None:
            return
        size = tuple(int(v) for v in size)
        if self.size is None:
            self.size, self.frame = size, frame
        elif size != self.size:
            where = f"frame {self.frame}" if self.frame is not None else "the image_size option"
            raise FormatError(self.path, frame, f"image size {size[0]}x{size[1]} differs from "
                                                f"{self.size[0]}x{self.size[1]} ({where}): mixed image sizes "
                                                "cannot be one take")
