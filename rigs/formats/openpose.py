"""OpenPose face keypoints: a folder of `<name>_<frame>_keypoints.json`, one file per frame. bpy-free.

Each file is `{"version": ..., "people": [{"person_id": [-1]?, "face_keypoints_2d": [x, y, c] * 70,
...}]}` (OpenPose 1.2+; `person_id` only from 1.3). The 70 face points are the iBUG 68 plus the two
pupils, in pixels. Handled: files with and without `person_id`; a missing face written as `[]` or as
70 zero triples; several people per frame (the `person` option picks one in the first frame that
has a face, by index into `people` or "largest"; later frames keep that person by `person_id`, else
by the nearest face); gaps in the frame numbers (frames kept, invalid). Files are read one at a
time, so the folder's size does not matter; each file must be under MAX_JSON_BYTES.

Options: fps (OpenPose stores no time base; default 30, with a warning), person ("largest" or an
index), image_size ((width, height), only recorded), max_frames.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np

from ...errors import FormatError
from .track import (MAX_FRAMES, MAX_JSON_BYTES, CaptureTrack, ImageSize, check_file_size, describe_runs,
                    finite, frame_grid, missing_runs)

NAME = "openpose"
SUFFIXES = ("_keypoints.json",)
LABEL = "OpenPose face keypoints (a folder of *_keypoints.json)"
N_POINTS = 70
_NUMBER = re.compile(r"(\d+)_keypoints\.json$", re.IGNORECASE)


def _files(folder: str) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.lower().endswith("_keypoints.json"))


def sniff(path) -> bool:
    path = str(path)
    if os.path.isdir(path):
        return True   # the only folder format: read() says what a folder lacks
    if not path.lower().endswith(".json"):
        return False
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(4096)
    except OSError:
        return False
    return '"people"' in head and head.lstrip().startswith("{")


def _person_id(person) -> int:
    pid = person.get("person_id", -1)
    if isinstance(pid, list):
        pid = pid[0] if pid else -1
    try:
        return int(pid)
    except (TypeError, ValueError):
        return -1


def _faces(path, frame, doc):
    """[(index in people, person_id, (70, 3) array)] for the people with a face in one file."""
    if not isinstance(doc, dict) or not isinstance(doc.get("people"), list):
        raise FormatError(path, frame, "no 'people' list: not an OpenPose keypoints file")
    faces = []
    for i, person in enumerate(doc["people"]):
        if not isinstance(person, dict):
            raise FormatError(path, frame, f"people[{i}] is not an object")
        values = person.get("face_keypoints_2d", [])
        if not isinstance(values, list):
            raise FormatError(path, frame, f"people[{i}].face_keypoints_2d is not a list")
        if not values:
            continue
        if len(values) != 3 * N_POINTS:
            raise FormatError(path, frame, f"people[{i}].face_keypoints_2d has {len(values)} values, not "
                                           f"{3 * N_POINTS} (70 points x (x, y, confidence)); was the face "
                                           "model run with another keypoint count?")
        try:
            points = np.asarray(values, dtype=np.float64).reshape(N_POINTS, 3)
        except (TypeError, ValueError):
            raise FormatError(path, frame, f"people[{i}].face_keypoints_2d holds something not a number") from None
        finite(points, path, frame, f"people[{i}].face_keypoints_2d")
        if not np.any(points[:, 2] > 0):
            continue   # all zeros: OpenPose's way of writing "no face"
        faces.append((i, _person_id(person), points))
    return faces


def _size(points) -> float:
    sure = points[points[:, 2] > 0, :2]
    return float(np.linalg.norm(sure.max(axis=0) - sure.min(axis=0)))


def _centre(points) -> np.ndarray:
    return points[points[:, 2] > 0, :2].mean(axis=0)


def read(path, *, fps: float | None = None, person="largest", image_size=None,
         max_frames: int = MAX_FRAMES) -> CaptureTrack:
    folder = str(path)
    if os.path.isdir(folder):
        names = _files(folder)
        if not names:
            raise FormatError(folder, None, "the folder holds no *_keypoints.json files (OpenPose writes one per "
                                            "frame with --write_json)")
        paths = [os.path.join(folder, n) for n in names]
    else:
        paths = [folder]
    numbers = []
    for i, p in enumerate(paths):
        m = _NUMBER.search(os.path.basename(p))
        numbers.append(int(m.group(1)) if m else i)
    if len(paths) > 1 and len({bool(_NUMBER.search(os.path.basename(p))) for p in paths}) > 1:
        raise FormatError(folder, None, "some *_keypoints.json names carry a frame number and some do not")
    grid, slot = frame_grid(numbers, folder, max_frames)
    n = len(grid)
    points = np.full((n, N_POINTS, 3), np.nan, dtype=np.float32)
    conf = np.zeros((n, N_POINTS), dtype=np.float32)
    valid = np.zeros(n, dtype=bool)
    sizes = ImageSize(folder, image_size)
    warnings: list[str] = []
    chosen_pid, last_centre, last_size, crowded = None, None, None, 0
    for p, number, s in sorted(zip(paths, numbers, slot), key=lambda t: t[1]):
        check_file_size(p, MAX_JSON_BYTES, "an OpenPose frame file is a few kB")
        try:
            with open(p, encoding="utf-8") as f:
                doc = json.load(f)
        except json.JSONDecodeError as e:
            raise FormatError(p, number, f"not valid JSON ({e.msg}, line {e.lineno} column {e.colno})") from None
        except UnicodeDecodeError:
            raise FormatError(p, number, "not a text file") from None
        if isinstance(doc, dict):
            sizes.see(doc.get("image_size"), number)
        faces = _faces(p, number, doc)
        if len(faces) > 1:
            crowded += 1
        if not faces:
            continue
        if last_centre is None:   # the first frame with a face: choose the person
            if person == "largest":
                pick = max(faces, key=lambda f: _size(f[2]))
            else:
                try:
                    index = int(person)
                except (TypeError, ValueError):
                    raise FormatError(p, number, f"person={person!r}: give 'largest' or an index") from None
                pick = next((f for f in faces if f[0] == index), None)
                if pick is None:
                    continue   # that person shows no face yet
            chosen_pid = pick[1] if pick[1] >= 0 else None
        else:
            pick = next((f for f in faces if chosen_pid is not None and f[1] == chosen_pid), None)
            if pick is None:
                near = min(faces, key=lambda f: np.linalg.norm(_centre(f[2]) - last_centre))
                # The nearest face, unless it is more than a face width away (the person left).
                if np.linalg.norm(_centre(near[2]) - last_centre) <= max(last_size, 1e-6):
                    pick = near
                if pick is None:
                    continue
        _, _, chosen = pick
        points[s, :, :2] = chosen[:, :2]
        points[s, :, 2] = 0.0
        conf[s] = np.clip(chosen[:, 2], 0.0, 1.0)
        valid[s] = True
        last_centre, last_size = _centre(chosen), _size(chosen)
    if not valid.any():
        raise FormatError(folder, None, "no face in any frame (every face_keypoints_2d is empty or all zero)")
    if crowded:
        warnings.append(f"{crowded} frame(s) show more than one face; kept one person throughout "
                        f"(person={person!r})")
    runs = missing_runs(valid, grid)
    if runs:
        warnings.append(f"no face in {int((~valid).sum())} of {n} frames: {describe_runs(runs)}")
    if fps is None:
        fps = 30.0
        warnings.append("OpenPose files carry no frame rate: assumed 30 fps (pass fps)")
    fps = float(fps)
    return CaptureTrack(
        format=NAME, path=folder, fps=fps, times=(grid - grid[0]) / fps, valid=valid,
        landmarks=points, landmark_set="openpose70", dims=2, coords="pixels", confidence=conf,
        image_size=sizes.size, frame_numbers=grid, warnings=warnings).check()
