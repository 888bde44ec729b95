"""Live Link Face CSV (Epic's iPhone app: ARKit face tracking). bpy-free.

Header `Timecode, BlendShapeCount (or BlendshapeCount), EyeBlinkLeft, ..., TongueOut, HeadYaw,
HeadPitch, HeadRoll, LeftEyeYaw, ..., RightEyeRoll`; names are matched to rigs.arkit.ARKIT_NAMES
case-insensitively, in whatever column order. Timecode is `HH:MM:SS:FF.fff` on a 60 fps base
(`timecode_fps`), FF the frame and .fff its fraction. The app writes a row every 1.001 or 2.002
timecode frames (59.94 or 29.97 rows/s; the fraction carries the drift): the rate is derived from
the median step and snapped to a whole number within 1 % (60, 30), each row is a frame, and a
longer step leaves missing frames (invalid). Tracking-lost rows hold only a timecode and a zero:
they become invalid frames too. `*_cal.csv` files hold neutral-subtracted
values (negative ones included): `neutral_subtracted` is set and the values are kept as written.
Head and eye rotations are kept as written (the app writes radians); all-zero head columns (head
rotation not recorded) give head_rotation None.

The file is streamed a row at a time with lines bounded in length, so memory grows only with the
frames kept (max_frames). Options: timecode_fps (60), fps (overrides the derived rate),
neutral_subtracted (None = from the `_cal` name), max_frames.
"""

from __future__ import annotations

import csv
import os
import re

import numpy as np

from ...errors import FormatError
from ..arkit import ARKIT_NAMES
from .track import MAX_FRAMES, CaptureTrack, bounded_lines, check_frames, describe_runs, missing_runs, to_float

NAME = "livelink"
SUFFIXES = (".csv",)
LABEL = "Live Link Face CSV (iPhone ARKit capture)"
_LOWER_ARKIT = {name.lower(): i for i, name in enumerate(ARKIT_NAMES)}
_HEAD = ("headyaw", "headpitch", "headroll")
_EYES = (("lefteyeyaw", "lefteyepitch", "lefteyeroll"), ("righteyeyaw", "righteyepitch", "righteyeroll"))
_TIMECODE = re.compile(r"^\s*(\d+):(\d{1,2}):(\d{1,2})[:;](\d+)(\.\d+)?\s*$")


def _head_line(path) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.readline(4096).lower()
    except OSError:
        return ""


def sniff(path) -> bool:
    if os.path.isdir(str(path)):
        return False
    head = _head_line(path)
    return "timecode" in head and ("blendshapecount" in head or "eyeblinkleft" in head)


def _seconds(text, path, frame, base) -> float:
    m = _TIMECODE.match(text)
    if not m:
        raise FormatError(path, frame, f"timecode '{text.strip()[:40]}' is not HH:MM:SS:FF.fff")
    h, mi, s, ff = (int(g) for g in m.groups()[:4])
    fraction = float(m.group(5)) if m.group(5) else 0.0
    if ff >= base:
        raise FormatError(path, frame, f"timecode '{text.strip()}' has frame {ff}, beyond a {base} fps base "
                                       "(pass timecode_fps)")
    return h * 3600 + mi * 60 + s + (ff + fraction) / base


def read(path, *, timecode_fps: int = 60, fps: float | None = None, neutral_subtracted: bool | None = None,
         max_frames: int = MAX_FRAMES) -> CaptureTrack:
    path = str(path)
    if os.path.isdir(path):
        raise FormatError(path, None, "a folder, not a Live Link Face CSV file")
    warnings: list[str] = []
    times, rows, valid = [], [], []
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(bounded_lines(f, path))
            header = next(reader, None)
            if not header:
                raise FormatError(path, None, "empty file")
            names = [h.strip().lower() for h in header]
            if "timecode" not in names:
                raise FormatError(path, None, "no Timecode column: not a Live Link Face CSV")
            t_col = names.index("timecode")
            count_col = next((i for i, h in enumerate(names) if h in ("blendshapecount", "blendshapescount")), None)
            arkit_cols = np.full(52, -1)
            for i, h in enumerate(names):
                if h in _LOWER_ARKIT:
                    arkit_cols[_LOWER_ARKIT[h]] = i
            if np.any(arkit_cols < 0):
                lacking = [ARKIT_NAMES[i] for i in np.flatnonzero(arkit_cols < 0)]
                raise FormatError(path, None, f"the header lacks {len(lacking)} of the 52 ARKit blendshapes "
                                              f"({', '.join(lacking[:4])}{'...' if len(lacking) > 4 else ''})")
            extra = [names.index(h) if h in names else -1 for h in _HEAD + _EYES[0] + _EYES[1]]
            value_cols = np.concatenate([arkit_cols, extra])
            data_idx = [i for i in range(len(names)) if i not in (t_col, count_col)]
            for frame, row in enumerate(reader):
                if not row or not any(cell.strip() for cell in row):
                    continue
                check_frames(path, frame + 1, frame, max_frames)
                times.append(_seconds(row[t_col], path, frame, timecode_fps))
                if not any(row[i].strip() for i in data_idx if i < len(row)):   # tracking lost: a timecode, a zero
                    rows.append(None)
                    valid.append(False)
                    continue
                if len(row) != len(header):
                    raise FormatError(path, frame, f"{len(row)} fields where the header has {len(header)}")
                try:   # the fast path; per cell only to say which one is bad
                    r = np.array([row[c] if c >= 0 else "0" for c in value_cols], dtype=np.float32)
                    ok = bool(np.isfinite(r).all())
                except ValueError:
                    ok = False
                if not ok:
                    r = np.array([to_float(row[c], path, frame, header[c].strip()) if c >= 0 else 0.0
                                  for c in value_cols], dtype=np.float32)
                rows.append(r)
                valid.append(True)
    except UnicodeDecodeError:
        raise FormatError(path, None, "not a text file") from None
    except csv.Error as e:
        raise FormatError(path, None, f"malformed CSV ({e})") from None
    n = len(rows)
    if not n:
        raise FormatError(path, None, "a header but no rows")
    valid = np.array(valid, dtype=bool)
    if not valid.any():
        raise FormatError(path, None, "tracking was lost in every row")
    t = np.asarray(times, dtype=np.float64)
    back = np.flatnonzero(np.diff(t) <= 0)
    if len(back):
        raise FormatError(path, int(back[0]) + 1, "the timecode does not advance (rows out of order, or the "
                                                  "recording crosses midnight)")
    # The app's rows step by 1.001 timecode frames (59.94 rows/s on a 60 fps base; the .fff part
    # carries the drift), or twice that. Each row is a frame at the median step; the rate is snapped
    # to a whole number within 1 %; a step of two or more is a missing frame (a gap).
    step = float(np.median(np.diff(t))) if n > 1 else 1.0 / timecode_fps
    if fps is not None:
        rate = float(fps)
    elif n > 1:
        rate = 1.0 / step
        rate = float(round(rate)) if abs(rate - round(rate)) <= 0.01 * round(rate) else rate
    else:
        rate = float(timecode_fps)
    # Rows are placed by their own steps, each rounded to whole frames, and not by (t - t0) / step:
    # a median step a thousandth of a frame off (23.976 fps written to three decimals) would add up
    # to whole frames over a long take.
    steps = np.rint(np.diff(t) / step).astype(np.int64)
    if np.any(steps <= 0):
        raise FormatError(path, int(np.flatnonzero(steps <= 0)[0]) + 1,
                          "two rows fall on the same frame (an uneven timecode)")
    index = np.concatenate([[0], np.cumsum(steps)])
    n_rows, n = n, int(index[-1]) + 1
    check_frames(path, n, n_rows - 1, max_frames)
    values = np.full((n, 52 + 9), np.nan, dtype=np.float32)
    row_valid, valid = valid, np.zeros(n, dtype=bool)
    for i, r in zip(index, rows):
        if r is not None:
            values[i] = r
    valid[index] = row_valid
    skipped = n - n_rows
    if neutral_subtracted is None:
        neutral_subtracted = os.path.splitext(os.path.basename(path))[0].lower().endswith("_cal")
    arkit = values[:, :52]
    if not neutral_subtracted:
        outside = int(np.sum((arkit[valid] < -1e-3) | (arkit[valid] > 1 + 1e-3)))
        if outside:
            warnings.append(f"{outside} blendshape values lie outside [0, 1] (a neutral-subtracted '_cal' file? "
                            "pass neutral_subtracted=True)")
    head = values[:, 52:55].astype(np.float64)
    head_rotation = None
    if any(c >= 0 for c in extra[:3]):
        if np.allclose(head[valid], 0.0):
            warnings.append("the head rotation columns are all zero (not recorded): no head rotation")
        else:
            head_rotation = head
    eye_rotation = None
    if any(c >= 0 for c in extra[3:]):
        eye_rotation = values[:, 55:61].astype(np.float64).reshape(n, 2, 3)
    runs = missing_runs(valid, np.arange(n))
    if runs:
        warnings.append(f"tracking lost in {int((~valid).sum())} of {n} frames"
                        f"{f' ({skipped} with no row)' if skipped else ''}: {describe_runs(runs)}")
    if abs(rate - timecode_fps) > 0.5 and abs(rate - timecode_fps / 2) > 0.5:
        warnings.append(f"rows arrive at {rate:.2f}/s, neither {timecode_fps} nor {timecode_fps // 2}")
    return CaptureTrack(
        format=NAME, path=path, fps=rate, times=np.arange(n) / rate, valid=valid, arkit=arkit,
        neutral_subtracted=bool(neutral_subtracted), head_rotation=head_rotation, eye_rotation=eye_rotation,
        frame_numbers=np.arange(n), warnings=warnings).check()


# --- writing (the export a game engine or this reader takes back) --------------------------------

# The app's column order (ARKit's ARFaceAnchor order), which engines' importers expect.
APP_ORDER = tuple("""EyeBlinkLeft EyeLookDownLeft EyeLookInLeft EyeLookOutLeft EyeLookUpLeft EyeSquintLeft
EyeWideLeft EyeBlinkRight EyeLookDownRight EyeLookInRight EyeLookOutRight EyeLookUpRight EyeSquintRight
EyeWideRight JawForward JawRight JawLeft JawOpen MouthClose MouthFunnel MouthPucker MouthRight MouthLeft
MouthSmileLeft MouthSmileRight MouthFrownLeft MouthFrownRight MouthDimpleLeft MouthDimpleRight
MouthStretchLeft MouthStretchRight MouthRollLower MouthRollUpper MouthShrugLower MouthShrugUpper
MouthPressLeft MouthPressRight MouthLowerDownLeft MouthLowerDownRight MouthUpperUpLeft MouthUpperUpRight
BrowDownLeft BrowDownRight BrowInnerUp BrowOuterUpLeft BrowOuterUpRight CheekPuff CheekSquintLeft
CheekSquintRight NoseSneerLeft NoseSneerRight TongueOut""".split())
HEADER_EXTRA = ("HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
                "RightEyeYaw", "RightEyePitch", "RightEyeRoll")


def timecode(seconds: float, base: int = 60) -> str:
    """`HH:MM:SS:FF.fff` on a `base` fps timecode, as the app writes it."""
    frames = round(seconds * base * 1000) / 1000          # whole milli-frames: no float drift
    whole = int(frames // 1)
    s = whole // base
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}:{whole % base:02d}.{round((frames - whole) * 1000):03d}"


def write(path, weights, fps: float, *, head_rotation=None, eye_rotation=None, timecode_fps: int = 60) -> str:
    """Write (F, 52) ARKit weights (ARKIT_NAMES order) at `fps` as a Live Link Face CSV: the app's
    header (its column order, BlendShapeCount 61), a row per frame, head (F, 3) yaw/pitch/roll and
    eye (F, 2, 3) rotations in radians or zeros. -> the path."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] != len(ARKIT_NAMES):
        raise ValueError(f"weights: expected (F, {len(ARKIT_NAMES)}), got {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError("weights: contain NaN or inf")
    if not (np.isfinite(fps) and 0 < fps <= timecode_fps):
        raise ValueError(f"fps must be in (0, {timecode_fps}], got {fps}")
    n = len(w)
    head = np.zeros((n, 3)) if head_rotation is None else np.asarray(head_rotation, np.float64).reshape(n, 3)
    eyes = np.zeros((n, 6)) if eye_rotation is None else np.asarray(eye_rotation, np.float64).reshape(n, 6)
    order = [_LOWER_ARKIT[name.lower()] for name in APP_ORDER]
    with open(path, "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["Timecode", "BlendShapeCount", *APP_ORDER, *HEADER_EXTRA])
        for i in range(n):
            out.writerow([timecode(i / fps, timecode_fps), 61,
                          *(f"{v:.6f}" for v in np.concatenate([w[i, order], head[i], eyes[i]]))])
    return str(path)
