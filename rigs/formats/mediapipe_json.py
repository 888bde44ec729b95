"""MediaPipe face landmarks dumped as JSON (468 or 478 points per face). bpy-free.

The layouts people write, per frame (a file is a list of frames, or `{"frames": [...], "fps": ...,
"image_size": [w, h], "coords": "normalised" | "pixels"}`, or JSON Lines with one frame a line):
  - a bare point list `[[x, y, z], ...]` (or `{"x":, "y":, "z":}` objects);
  - an object with `landmarks` (a point list, or a list of faces) and optional `timestamp_ms`;
    the legacy solution's `multi_face_landmarks: [{"landmark": [...]}]` too;
  - the Tasks layout (FaceLandmarkerResult): `faceLandmarks` (faces x points), `faceBlendshapes`
    (per face a list of categories, or `{"categories": [...]}`, whose first category is `_neutral`:
    scores are matched to ARKit by `categoryName`, or without names by index minus one), and
    `facialTransformationMatrixes` (per face `{"rows": 4, "columns": 4, "data": [16]}` or a flat 16,
    both column-major as MediaPipe writes them, or a nested 4x4 read as rows; translation in cm);
  - tfjs face-landmarks-detection output: a list of faces, each `{"keypoints": [{x, y, z, name?}]}`
    or the older `{"scaledMesh": [[x, y, z], ...]}`, in pixels.
Coordinates are "normalised" (Tasks, legacy) or "pixels" (tfjs) unless the file (`coords`,
`normalized`) or the `coords` option says; a bare layout is judged from its range, with a warning.

A single .json document is read whole, so files above `max_bytes` (MAX_JSON_BYTES) are refused
with a message; JSON Lines (.jsonl/.ndjson) is streamed a line at a time, bounded by max_frames.
Where pyarrow is installed, a document's landmark lists ([[x, y, z], ...] of 468 or 478 points)
are checked and parsed in bulk (track.number_lists) and the rest of it as before: a 3,000-frame
dump reads in ~0.5 s instead of ~3 s, to the same track and the same errors.
Options: fps (default 30 when the file has neither fps nor timestamps), coords, image_size, face
(index, default 0), max_bytes, max_frames.
"""

from __future__ import annotations

import json
import os

import numpy as np

from ...errors import FormatError
from ..arkit import ARKIT_NAMES
from .track import (MAX_FRAMES, MAX_JSON_BYTES, CaptureTrack, ImageSize, bounded_lines, check_file_size, parse_json,
                    check_frames, describe_runs, finite, fps_from_times, missing_runs, number_lists)

NAME = "mediapipe"
SUFFIXES = (".json", ".jsonl", ".ndjson")
LABEL = "MediaPipe face landmarks (JSON: Tasks, legacy, tfjs, or point lists)"
_KEYS = ('"faceLandmarks"', '"landmarks"', '"keypoints"', '"scaledMesh"', '"multi_face_landmarks"',
         '"faceBlendshapes"')
_LOWER_ARKIT = {name.lower(): i for i, name in enumerate(ARKIT_NAMES)}
_STREAMED = (".jsonl", ".ndjson")


def sniff(path) -> bool:
    path = str(path)
    if os.path.isdir(path):
        return False
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(65536)
    except OSError:
        return False
    start = head.lstrip()
    if not start[:1] in ("[", "{") or '"people"' in head:
        return False
    if any(key in head for key in _KEYS):
        return True
    compact = "".join(start[:200].split())
    return compact.startswith("[[[") or compact.startswith('[[{"x"') or compact.startswith('[{"x"')


# ---- one frame ----------------------------------------------------------------------------------

def _is_point(item) -> bool:
    return (isinstance(item, dict) and "x" in item) or (
        isinstance(item, list) and len(item) in (2, 3) and all(isinstance(v, (int, float)) for v in item))


def _points(path, frame, items) -> np.ndarray:
    if len(items) not in (468, 478):
        raise FormatError(path, frame, f"{len(items)} landmarks, not 468 or 478 (MediaPipe FaceMesh)")
    if isinstance(items, _PointList):
        return items.array   # finite: number_lists took no other
    try:
        if isinstance(items[0], dict):
            pts = np.array([[p["x"], p["y"], p.get("z", 0.0)] for p in items], dtype=np.float64)
        else:
            pts = np.array([list(p) + [0.0] * (3 - len(p)) for p in items], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        raise FormatError(path, frame, "a landmark is not [x, y, z] or {x, y, z} numbers") from None
    if pts.shape != (len(items), 3):
        raise FormatError(path, frame, "landmarks of mixed shapes")
    return finite(pts, path, frame, "the landmarks")


def _face_points(path, frame, face):
    """A face as the layouts give it -> (points (N, 3), layout default coords or None)."""
    if isinstance(face, list):
        return _points(path, frame, face), None
    if isinstance(face, dict):
        for key, coords in (("keypoints", "pixels"), ("scaledMesh", "pixels"), ("landmark", "normalised"),
                            ("landmarks", None)):
            if key in face and isinstance(face[key], list):
                return _points(path, frame, face[key]), coords
    raise FormatError(path, frame, "a face is neither a list of landmarks nor an object with "
                                   "keypoints / scaledMesh / landmarks")


def _pick(path, frame, faces, index, what):
    if not isinstance(faces, list):
        raise FormatError(path, frame, f"{what} is not a list")
    if not faces:
        return None
    if index >= len(faces):
        return None
    return faces[index]


def _blendshapes(path, frame, item) -> np.ndarray:
    cats = item.get("categories", item) if isinstance(item, dict) else item
    if not isinstance(cats, list):
        raise FormatError(path, frame, "faceBlendshapes is not a list of categories")
    out = np.full(52, np.nan)
    named = cats and isinstance(cats[0], dict) and any(
        k in cats[0] for k in ("categoryName", "category_name", "displayName", "display_name"))
    if named:
        for c in cats:
            name = c.get("categoryName") or c.get("category_name") or c.get("displayName") or c.get("display_name")
            if name is None or name == "_neutral":
                continue
            i = _LOWER_ARKIT.get(str(name).lower())
            if i is None:
                raise FormatError(path, frame, f"blendshape '{name}' is not an ARKit name")
            out[i] = c.get("score", np.nan)
    else:
        scores = [c.get("score") if isinstance(c, dict) else c for c in cats]
        if len(scores) == 53:
            scores = scores[1:]   # _neutral first: MediaPipe's order is ARKit's shifted by one
        if len(scores) != 52:
            raise FormatError(path, frame, f"{len(scores)} blendshape scores without names, not 52 or 53")
        out[:] = scores
    try:
        out = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError):
        raise FormatError(path, frame, "a blendshape score is not a number") from None
    if np.isnan(out).any():
        missing = [ARKIT_NAMES[i] for i in np.flatnonzero(np.isnan(out))[:4]]
        raise FormatError(path, frame, f"blendshapes lack {', '.join(missing)} (or hold NaN)")
    return finite(out, path, frame, "the blendshape scores")


def _matrix(path, frame, item) -> np.ndarray:
    try:
        if isinstance(item, dict):   # {"rows": 4, "columns": 4, "data": [...]}, column-major
            m = np.asarray(item["data"], dtype=np.float64).reshape(4, 4).T
        elif len(item) == 16:         # flat: column-major, as MediaPipe's Matrix.data
            m = np.asarray(item, dtype=np.float64).reshape(4, 4).T
        else:                         # nested 4x4: rows (numpy's tolist)
            m = np.asarray(item, dtype=np.float64).reshape(4, 4)
    except (KeyError, TypeError, ValueError):
        raise FormatError(path, frame, "a facialTransformationMatrixes entry is not 16 numbers") from None
    return finite(m, path, frame, "the facial transformation matrix")


def _timestamp(frame_doc):
    for key, scale in (("timestampMs", 1e-3), ("timestamp_ms", 1e-3), ("timestamp", 1.0), ("time", 1.0),
                       ("t", 1.0)):
        value = frame_doc.get(key)
        if isinstance(value, (int, float)):
            return float(value) * scale
    return None


def _frame_size(doc):
    if not isinstance(doc, dict):
        return None
    if isinstance(doc.get("image_size"), list) and len(doc["image_size"]) == 2:
        return doc["image_size"]
    for w, h in (("image_width", "image_height"), ("width", "height")):
        if isinstance(doc.get(w), (int, float)) and isinstance(doc.get(h), (int, float)):
            return doc[w], doc[h]
    return None


def _stated_coords(doc):
    if not isinstance(doc, dict):
        return None
    c = doc.get("coords") or doc.get("coordinates")
    if isinstance(c, str):
        c = c.lower().replace("normalized", "normalised")
        if c in ("pixels", "normalised"):
            return c
    if isinstance(doc.get("normalized", doc.get("normalised")), bool):
        return "normalised" if doc.get("normalized", doc.get("normalised")) else "pixels"
    return None


def _parse_frame(path, frame, doc, face_index):
    """-> dict(points, coords, blend, matrix, time, size, stated) with points None for no face."""
    out = {"points": None, "coords": None, "blend": None, "matrix": None, "time": None,
           "size": _frame_size(doc), "stated": _stated_coords(doc)}
    if isinstance(doc, dict):
        out["time"] = _timestamp(doc)
        if "faceLandmarks" in doc:
            face = _pick(path, frame, doc["faceLandmarks"], face_index, "faceLandmarks")
            if face is None:
                return out
            out["points"], out["coords"] = _points(path, frame, face), "normalised"
            shapes = doc.get("faceBlendshapes") or []
            if shapes:
                item = _pick(path, frame, shapes, face_index, "faceBlendshapes")
                if item is not None:
                    out["blend"] = _blendshapes(path, frame, item)
            mats = doc.get("facialTransformationMatrixes") or doc.get("facial_transformation_matrixes") or []
            if mats:
                item = _pick(path, frame, mats, face_index, "facialTransformationMatrixes")
                if item is not None:
                    out["matrix"] = _matrix(path, frame, item)
            return out
        for key in ("faces", "predictions", "multi_face_landmarks"):
            if key in doc:
                face = _pick(path, frame, doc[key], face_index, key)
                if face is not None:
                    out["points"], out["coords"] = _face_points(path, frame, face)
                    if key == "multi_face_landmarks":
                        out["coords"] = "normalised"
                return out
        if "landmarks" in doc:
            items = doc["landmarks"]
            if isinstance(items, list) and items and not _is_point(items[0]):
                items = _pick(path, frame, items, face_index, "landmarks")   # a list of faces
            if items:
                out["points"], out["coords"] = _face_points(path, frame, items)
            return out
        if "keypoints" in doc or "scaledMesh" in doc:
            if face_index == 0:
                out["points"], out["coords"] = _face_points(path, frame, doc)
            return out
        raise FormatError(path, frame, "a frame object without faceLandmarks, landmarks, keypoints or scaledMesh")
    if isinstance(doc, list):
        if not doc:
            return out
        if _is_point(doc[0]):
            if face_index == 0:
                out["points"], out["coords"] = _face_points(path, frame, doc)
            return out
        face = _pick(path, frame, doc, face_index, "the faces")   # a list of faces (tfjs estimateFaces)
        if face is not None:
            out["points"], out["coords"] = _face_points(path, frame, face)
        return out
    raise FormatError(path, frame, "a frame is neither a list nor an object")


# ---- the file -----------------------------------------------------------------------------------

# A whole document's landmark lists are read in one pass of a number parser rather than as a
# Python float per number (4.3 M of them in a 3,000-frame dump: most of the reading time). The
# rest of the document (frames, time stamps, blendshapes, ...) is parsed as before, each landmark
# list standing in it as a _PointList, so every layout, check and message stays the same.
_PLACEHOLDER = b'"\\u0000%d"'             # a JSON string the rest of the text does not hold
_MIN_LIST_BYTES = 468 * 4                   # shorter than [[0,0],[0,0],...] of 468 points
_MAX_LIST_BYTES = 478 * 3 * 32              # longer than any 478 points of 3 numbers
_NUMBER_START = frozenset(b" -0123456789")


class _PointList(list):
    """A landmark list read ahead (_fast_document): its (N, 3) float64 points, standing where the
    list of [x, y(, z)] number lists was, as that list to len(), truth, indexing and iteration."""

    def __init__(self, array: np.ndarray, dims: int):
        super().__init__()
        self.array, self.dims = array, dims

    def _point(self, row) -> list:
        return row[:self.dims].tolist()

    def __len__(self):
        return len(self.array)

    def __bool__(self):
        return len(self.array) > 0

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._point(row) for row in self.array[i]]
        return self._point(self.array[i])

    def __iter__(self):
        return (self._point(row) for row in self.array)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.array[:, :self.dims], dtype=dtype)


def _candidate_spans(data: bytes) -> list:
    """(start, end) of each [[number, ...], ...] in the text long enough to be 468 or 478 points.
    The search for a list's end starts 3/4 of the last list's length in (the lists of a file are
    about as long as each other: this skips most of the scanning); a list shorter than that comes
    out with text after it that is not a list of numbers, which number_lists refuses, so the
    whole parse reads it, as it reads every list of another shape."""
    spans, pos, skip = [], 0, _MIN_LIST_BYTES
    while True:
        start = data.find(b"[[", pos)
        if start < 0:
            return spans
        while data[start + 2:start + 3] == b"[":
            start += 1
        short = data.find(b"]]", start, start + _MIN_LIST_BYTES)   # a matrix, a box: not points
        if short >= 0:
            pos = short + 2
            continue
        end = data.find(b"]]", start + skip, start + _MAX_LIST_BYTES)
        if end < 0 or data[start + 2] not in _NUMBER_START:
            pos, skip = start + 2, _MIN_LIST_BYTES
            continue
        spans.append((start, end + 2))
        pos, skip = end + 2, max(_MIN_LIST_BYTES, (end + 2 - start) * 3 // 4)


def _fast_document(data: bytes):
    """The document with its landmark lists as _PointList, or None where that does not apply (no
    such list, no pyarrow, a number that is not plain JSON, ...): the caller then parses it whole."""
    if b"[[" not in data:
        return None
    spans = _candidate_spans(data)
    lists: dict = {}
    for dims in (3, 2):
        todo = [i for i in range(len(spans)) if i not in lists]
        if not todo:
            break
        found = number_lists(data, [spans[i] for i in todo], dims)
        if found is None:
            return None
        for j, values in found.items():
            if len(values) in (468, 478):
                if dims == 2:
                    values = np.concatenate([values, np.zeros((len(values), 1))], axis=1)
                lists[todo[j]] = _PointList(values, dims)
    if not lists:
        return None
    pieces, pos = [], 0
    for i in sorted(lists):
        start, end = spans[i]
        pieces += [data[pos:start], _PLACEHOLDER % i]
        pos = end
    pieces.append(data[pos:])
    if any(b"\\u0000" in piece for piece in pieces[::2]):
        return None
    try:
        doc = parse_json(b"".join(pieces))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    placed = 0

    def put(value):
        nonlocal placed
        if isinstance(value, str) and value[:1] == "\0":
            placed += 1
            return lists[int(value[1:])]
        return value

    doc = put(doc)
    stack = [doc]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if type(node) is list else ()
        for key, value in items:
            if isinstance(value, str):
                node[key] = put(value)
            elif isinstance(value, dict) or type(value) is list:
                stack.append(value)
    return doc if placed == len(lists) else None


def _frames_from_document(path, max_bytes):
    check_file_size(path, max_bytes, "write one frame per line as JSON Lines (.jsonl), which is streamed, "
                                     "or split the recording (max_bytes raises the limit)")
    try:
        with open(path, "rb") as f:
            data = f.read()
        doc = _fast_document(data)
        if doc is None:
            doc = parse_json(data)
    except json.JSONDecodeError as e:
        raise FormatError(path, None, f"not valid JSON ({e.msg}, line {e.lineno} column {e.colno})") from None
    except UnicodeDecodeError:
        raise FormatError(path, None, "not a text file") from None
    header = {}
    if isinstance(doc, dict) and isinstance(doc.get("frames"), list):
        header, doc = doc, doc["frames"]
    elif isinstance(doc, dict):
        doc = [doc]   # a single FaceLandmarkerResult
    if not isinstance(doc, list):
        raise FormatError(path, None, "the document is neither a list of frames nor an object with 'frames'")
    if doc and _is_point(doc[0]):
        doc = [doc]   # a single frame's point list
    return header, iter(enumerate(doc))


def _frames_from_lines(path):
    def frames(f):
        number = 0
        for line in bounded_lines(f, path):
            if not line.strip():
                continue
            try:
                yield number, parse_json(line)
            except json.JSONDecodeError as e:
                raise FormatError(path, number, f"line {number + 1} is not valid JSON ({e.msg})") from None
            number += 1
    f = open(path, encoding="utf-8", errors="strict")
    return f, frames(f)


def read(path, *, fps: float | None = None, coords: str | None = None, image_size=None, face: int = 0,
         max_bytes: int = MAX_JSON_BYTES, max_frames: int = MAX_FRAMES) -> CaptureTrack:
    path = str(path)
    if os.path.isdir(path):
        raise FormatError(path, None, "a folder, not a MediaPipe JSON file")
    if coords is not None:
        coords = coords.lower().replace("normalized", "normalised")
        if coords not in ("pixels", "normalised"):
            raise FormatError(path, None, f"coords={coords!r}: give 'normalised' or 'pixels'")
    handle = None
    if path.lower().endswith(_STREAMED):
        handle, frames = _frames_from_lines(path)
        header = {}
    else:
        header, frames = _frames_from_document(path, max_bytes)
    sizes = ImageSize(path, image_size)
    sizes.see(_frame_size(header), None)
    points, blends, mats, times, layouts, stated = [], [], [], [], set(), _stated_coords(header)
    n_points = None
    try:
        for number, doc in frames:
            check_frames(path, number + 1, number, max_frames)
            f = _parse_frame(path, number, doc, int(face))
            sizes.see(f["size"], number)
            stated = stated or f["stated"]
            times.append(f["time"])
            p = f["points"]
            if p is not None:
                if n_points is None:
                    n_points = len(p)
                elif len(p) != n_points:
                    raise FormatError(path, number, f"{len(p)} landmarks where earlier frames have {n_points}")
                layouts.add(f["coords"])
            points.append(p)
            blends.append(f["blend"])
            mats.append(f["matrix"])
    except UnicodeDecodeError:
        raise FormatError(path, None, "not a text file") from None
    finally:
        if handle is not None:
            handle.close()
    n = len(points)
    if not n:
        raise FormatError(path, None, "no frames")
    if n_points is None:
        raise FormatError(path, None, "no face in any frame")
    warnings: list[str] = []
    valid = np.array([p is not None for p in points])
    landmarks = np.full((n, n_points, 3), np.nan, dtype=np.float32)
    for i, p in enumerate(points):
        if p is not None:
            landmarks[i] = p
    # Units: the option, else what the file states, else the layout's, else judged from the range.
    unit = coords or stated
    if unit is None:
        known = layouts - {None}
        if len(known) == 1:
            unit = known.pop()
        else:
            span = np.nanmax(np.abs(landmarks[..., :2]))
            unit = "normalised" if span <= 2.0 else "pixels"
            warnings.append(f"the file does not say whether its coordinates are normalised or pixels: "
                            f"taken as {unit} from their range (pass coords)")
    # Time base: the option, else the header's fps, else per-frame timestamps, else 30 fps.
    header_fps = header.get("fps") if isinstance(header, dict) else None
    stamps = [t for t in times if t is not None]
    if fps is not None or isinstance(header_fps, (int, float)):
        rate = float(fps if fps is not None else header_fps)
        t = np.arange(n) / rate
    elif len(stamps) == n and n > 1:
        t = np.asarray(stamps, dtype=np.float64)
        if np.any(np.diff(t) <= 0):
            bad = int(np.flatnonzero(np.diff(t) <= 0)[0]) + 1
            raise FormatError(path, bad, "time stamps do not increase")
        rate = fps_from_times(t, path)
        t = t - t[0]
    else:
        rate = 30.0
        t = np.arange(n) / rate
        warnings.append("no frame rate or time stamps in the file: assumed 30 fps (pass fps)")
    arkit = None
    if any(b is not None for b in blends):
        arkit = np.full((n, 52), np.nan, dtype=np.float32)
        for i, b in enumerate(blends):
            if b is not None:
                arkit[i] = b
    head_rotation = head_translation = None
    if any(m is not None for m in mats):
        head_rotation = np.full((n, 3, 3), np.nan, dtype=np.float64)
        head_translation = np.full((n, 3), np.nan, dtype=np.float64)
        for i, m in enumerate(mats):
            if m is not None:
                head_rotation[i] = m[:3, :3]
                head_translation[i] = m[:3, 3] / 100.0   # MediaPipe's face geometry is in centimetres
    # [x, y] points (or z written as 0 throughout): a 2-D dump, to be lifted like OpenPose's.
    dims = 2 if np.all(landmarks[valid][..., 2] == 0) else 3
    runs = missing_runs(valid, np.arange(n))
    if runs:
        warnings.append(f"no face in {int((~valid).sum())} of {n} frames: {describe_runs(runs)}")
    return CaptureTrack(
        format=NAME, path=path, fps=rate, times=t, valid=valid, landmarks=landmarks,
        landmark_set=f"mediapipe{n_points}", dims=dims, coords=unit, confidence=None, image_size=sizes.size,
        arkit=arkit, head_rotation=head_rotation, head_translation=head_translation,
        frame_numbers=np.arange(n), warnings=warnings).check()
