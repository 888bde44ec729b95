"""OpenFace 2.x CSV (FeatureExtraction, FaceLandmarkVidMulti). bpy-free.

OpenFace writes its header with ", " between names, so every name but the first has a leading
space; names are stripped. Columns used: `frame`, `face_id` (2.x; several faces per frame in
FaceLandmarkVidMulti), `timestamp` (seconds), `confidence`, `success`, `gaze_0_*`/`gaze_1_*`
(unit gaze vectors of the image-left and image-right eye, i.e. the subject's right and left),
`gaze_angle_x/y`, `pose_Tx..Tz` (mm), `pose_Rx..Rz` (radians: pitch, yaw, roll), the 68 landmarks
`x_i, y_i` (pixels) and `X_i, Y_i, Z_i` (mm, camera axes), and the AU intensities `AUxx_r` and
presences `AUxx_c`. Rows with success 0 become invalid frames; missing frame numbers are gaps.

Landmarks are the 3-D ones when the file has them (coords "metres"), else the 2-D (pixels); the
`landmarks` option ("2d", "3d") chooses. Confidence is OpenFace's per-frame value for every point.
head_rotation is (yaw, pitch, roll) = (pose_Ry, pose_Rx, pose_Rz); eye_rotation (left, right) x (yaw,
pitch, 0) from the gaze vectors. AUs and gaze angles are in `curves` (the PDM p_* columns are skipped).
Streamed a row at a time (bounded lines). Options: landmarks, face_id (default: the first seen), fps
(overrides the rate derived from the timestamps), max_frames.
"""

from __future__ import annotations

import os

import numpy as np

from ...errors import FormatError
from .track import (MAX_FRAMES, CaptureTrack, bounded_lines, check_frames, describe_runs, fps_from_times,
                    frame_grid, missing_runs, to_float)

NAME = "openface"
SUFFIXES = (".csv",)
LABEL = "OpenFace 2.x CSV (FeatureExtraction)"
N_POINTS = 68


def _header(path) -> list[str]:
    with open(path, encoding="utf-8", errors="replace") as f:
        return [h.strip() for h in f.readline(65536).split(",")]


def sniff(path) -> bool:
    if os.path.isdir(str(path)):
        return False
    try:
        names = set(_header(path))
    except OSError:
        return False
    return "frame" in names and ("x_0" in names or "AU01_r" in names or "pose_Rx" in names)


def read(path, *, landmarks: str = "auto", face_id=None, fps: float | None = None,
         max_frames: int = MAX_FRAMES) -> CaptureTrack:
    path = str(path)
    if os.path.isdir(path):
        raise FormatError(path, None, "a folder, not an OpenFace CSV file")
    rows, numbers, stamps, faces_seen = [], [], [], set()
    try:
        with open(path, encoding="utf-8-sig") as f:
            lines = bounded_lines(f, path)
            first = next(lines, None)
            if first is None:
                raise FormatError(path, None, "empty file")
            names = [h.strip() for h in first.split(",")]
            col = {h: i for i, h in enumerate(names)}
            if "frame" not in col:
                raise FormatError(path, None, "no 'frame' column: not an OpenFace CSV")
            has3d = all(f"{a}_{i}" in col for a in "XYZ" for i in range(N_POINTS))
            has2d = all(f"{a}_{i}" in col for a in "xy" for i in range(N_POINTS))
            mode = landmarks.lower()
            if mode == "auto":
                mode = "3d" if has3d else "2d"
            if mode not in ("2d", "3d"):
                raise FormatError(path, None, f"landmarks={landmarks!r}: give 'auto', '2d' or '3d'")
            if not (has2d or has3d):
                raise FormatError(path, None, "no landmark columns (x_0..x_67, y_0..y_67 or X_0..Z_67): run "
                                              "FeatureExtraction with -2Dfp or -3Dfp")
            if (mode == "3d" and not has3d) or (mode == "2d" and not has2d):
                raise FormatError(path, None, f"no {mode.upper()} landmark columns in the file")
            axes = "XYZ" if mode == "3d" else "xy"
            lm_cols = [col[f"{a}_{i}"] for i in range(N_POINTS) for a in axes] if mode else []
            extra_names = [h for h in names if h.startswith(("AU", "gaze_")) or h in
                           ("pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz", "confidence",
                            "success")]
            extra_cols = [col[h] for h in extra_names]
            for line_no, line in enumerate(lines):
                if not line.strip():
                    continue
                cells = line.split(",")
                if len(cells) != len(names):
                    raise FormatError(path, line_no, f"row {line_no + 1} has {len(cells)} fields where the "
                                                     f"header has {len(names)}")
                frame = int(to_float(cells[col["frame"]], path, line_no, "frame"))
                if "face_id" in col:
                    fid = int(to_float(cells[col["face_id"]], path, frame, "face_id"))
                    faces_seen.add(fid)
                    if face_id is None:
                        face_id = fid
                    if fid != int(face_id):
                        continue
                check_frames(path, len(rows) + 1, frame, max_frames)
                values = [to_float(cells[c], path, frame, names[c]) for c in lm_cols + extra_cols]
                rows.append(np.asarray(values, dtype=np.float32))   # ~1 kB a row: 216k rows stay in RAM
                numbers.append(frame)
                if "timestamp" in col:
                    stamps.append(to_float(cells[col["timestamp"]], path, frame, "timestamp"))
    except UnicodeDecodeError:
        raise FormatError(path, None, "not a text file") from None
    if not rows:
        raise FormatError(path, None, "a header but no rows" + (f" for face_id {face_id}" if faces_seen else ""))
    grid, slot = frame_grid(numbers, path, max_frames)
    n = len(grid)
    data = np.stack(rows)
    k = len(lm_cols)
    extra = {h: np.full(n, np.nan) for h in extra_names}
    for j, h in enumerate(extra_names):
        extra[h][slot] = data[:, k + j]
    success = extra.get("success", np.ones(n))
    valid = np.zeros(n, dtype=bool)
    valid[slot] = True
    valid &= np.nan_to_num(success) > 0.5
    if not valid.any():
        raise FormatError(path, None, "OpenFace found no face in any frame (success is 0 throughout)")
    warnings: list[str] = []
    if len(faces_seen) > 1:
        warnings.append(f"{len(faces_seen)} faces in the file (face_id {sorted(faces_seen)}): kept face_id "
                        f"{face_id} (pass face_id)")
    track_landmarks = confidence = None
    if mode:
        track_landmarks = np.full((n, N_POINTS, 3), np.nan, dtype=np.float32)
        pts = data[:, :k].reshape(len(rows), N_POINTS, len(axes))
        if mode == "3d":
            pts = pts / 1000.0   # mm -> metres
        track_landmarks[slot, :, :len(axes)] = pts
        if mode == "2d":
            track_landmarks[slot, :, 2] = 0.0
        track_landmarks[~valid] = np.nan
        conf = np.clip(np.nan_to_num(extra.get("confidence", np.ones(n))), 0.0, 1.0)
        confidence = np.where(valid[:, None], conf[:, None], 0.0).repeat(N_POINTS, axis=1).astype(np.float32)
    if fps is not None:
        rate = float(fps)
    elif len(stamps) == len(rows) and len(rows) > 1:
        t_given = np.asarray(stamps)
        steps = np.diff(t_given) / np.maximum(np.diff(np.asarray(numbers)), 1)
        rate = fps_from_times(np.concatenate([[0.0], np.cumsum(steps)]), path)
    else:
        rate = 30.0
        warnings.append("no timestamps: assumed 30 fps (pass fps)")
    head_rotation = head_translation = None
    if all(h in extra for h in ("pose_Rx", "pose_Ry", "pose_Rz")):
        head_rotation = np.stack([extra["pose_Ry"], extra["pose_Rx"], extra["pose_Rz"]], axis=1)
    if all(h in extra for h in ("pose_Tx", "pose_Ty", "pose_Tz")):
        head_translation = np.stack([extra["pose_Tx"], extra["pose_Ty"], extra["pose_Tz"]], axis=1) / 1000.0
    eye_rotation = None
    if all(f"gaze_{e}_{a}" in extra for e in "01" for a in "xyz"):
        eye_rotation = np.zeros((n, 2, 3))
        for side, e in ((0, "1"), (1, "0")):   # gaze_1 = image-right eye = subject's left
            gx, gy, gz = (extra[f"gaze_{e}_{a}"] for a in "xyz")
            eye_rotation[:, side, 0] = np.arctan2(gx, -gz)
            eye_rotation[:, side, 1] = np.arctan2(gy, -gz)
    curves = {h: v for h, v in extra.items() if h.startswith(("AU", "gaze_angle"))}
    runs = missing_runs(valid, grid)
    if runs:
        warnings.append(f"no face in {int((~valid).sum())} of {n} frames: {describe_runs(runs)}")
    return CaptureTrack(
        format=NAME, path=path, fps=rate, times=(grid - grid[0]) / rate, valid=valid,
        landmarks=track_landmarks, landmark_set="ibug68" if mode else None, dims=3 if mode == "3d" else 2,
        coords=("metres" if mode == "3d" else "pixels") if mode else None, confidence=confidence,
        head_rotation=head_rotation, head_translation=head_translation, eye_rotation=eye_rotation,
        curves=curves, frame_numbers=grid, warnings=warnings).check()
