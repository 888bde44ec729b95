"""Video (MP4, MOV, AVI, WebM, MKV): MediaPipe FaceMesh run on every frame, in-process. bpy-free.

Frames are decoded by OpenCV's VideoCapture (its bundled FFmpeg: H.264, HEVC, MPEG-4, VP8/VP9,
ProRes, MJPEG, ...; the first video stream is taken, whatever stream comes first, so a file whose
audio is stream 0 reads the same) and given to the legacy MediaPipe FaceMesh solution (bundled
model, refine_landmarks: 478 points with the irises, one face, tracking between frames: the
detector runs again only when the face is lost, so a face that leaves and comes back is found
again). A frame where the face is found afresh (the first, or the first after a loss) goes through
FaceMesh SETTLE more times: on the detector's box its points differ from the tracked ones of the same
face (~1 mm, 0.5-1.5 degrees of head turn: the first frame is often a take's rest pose), and
tracking the same frame again settles the face's region as the next frames would. The track is in
"normalised" coordinates (x by the width, y by the height, z about as x)
with the frame size as `image_size`.

Time base: `fps` is the container's rate as it states it (29.97 stays 29.97, not 30); `times`
are the decoder's time stamps (seconds from the first frame), or frame / fps where the container
has none that increase. Frames without a face (black frames, the face out of the picture) are kept
with `valid` False; a video in which no frame shows a face raises FormatError naming the file.

Options: fps (overrides the container's), max_frames, progress (a callable (done, total) called
every few frames while reading; return False, or raise, to cancel: ReadCancelled), save_json (a
path: the landmarks also written as MediaPipe JSON, `{"fps", "image_size", "coords": "normalised",
"frames": [{"timestamp_ms", "landmarks": [[x, y, z], ...]}, ...]}`, which rigs/formats/mediapipe_json
reads back to the same landmarks, fps and image size), min_detection_confidence and
min_tracking_confidence (MediaPipe's, 0.5). iter_read(path, ...) is the same read as a generator
yielding (done, total) and returning the track, for callers that step it (Esc between frames).

Audio: a capture track holds no sound; pipeline/audio.py (PyAV) finds and decodes a video's sound
track for the speech path (the take's sound strip, and migration toward the emotions heard in it).
opencv and mediapipe are imported inside read(): rigs/ stays importable without them.
"""

from __future__ import annotations

import json
import os

import numpy as np

from ...errors import EmotiveError, FormatError
from .track import MAX_FRAMES, CaptureTrack, check_frames, describe_runs, fps_from_times, missing_runs

NAME = "video"
SUFFIXES = (".mp4", ".mov", ".avi", ".webm", ".mkv", ".m4v")
LABEL = "Video (MP4, MOV, AVI, WebM, MKV): MediaPipe FaceMesh on every frame"
N_POINTS = 478
PROGRESS_EVERY = 8   # frames between progress reports
SETTLE = 5           # extra FaceMesh passes over a frame where the face was found afresh
# ISO-BMFF brands that are still images, not video
_IMAGE_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis", b"jp2 ")
_QT_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


class ReadCancelled(EmotiveError):
    """The progress callback asked to stop (Esc): nothing was imported."""


def sniff(path) -> bool:
    """By the container's magic bytes: ftyp (MP4/MOV/M4V), a QuickTime atom, RIFF....AVI, EBML (WebM/MKV)."""
    path = str(path)
    if os.path.isdir(path):
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(32)
    except OSError:
        return False
    if len(head) < 12:
        return False
    if head[4:8] == b"ftyp":
        return head[8:12] not in _IMAGE_BRANDS
    if head[4:8] in _QT_ATOMS and path.lower().endswith((".mov", ".mp4", ".m4v", ".qt")):
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return True
    return head[:4] == b"\x1a\x45\xdf\xa3"


# ---- reading ------------------------------------------------------------------------------------

def _modules(path):
    try:
        import cv2
        import mediapipe as mp
    except ImportError as e:  # pragma: no cover - depends on the install
        raise FormatError(path, None, f"reading video needs the 'opencv-python' and 'mediapipe' packages "
                                      f"({e.name} is missing)") from e
    return cv2, mp


def _check_rate(path, value, what):
    if not isinstance(value, (int, float)) or not np.isfinite(value) or not 0 < value <= 1000:
        raise FormatError(path, None, f"{what} {value!r} is not a frame rate")
    return float(value)


def iter_read(path, *, fps: float | None = None, max_frames: int = MAX_FRAMES, save_json=None,
              min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5):
    """Yield (done, total) every PROGRESS_EVERY frames (total 0 when the container does not say);
    return the CaptureTrack. Closing the generator stops decoding; nothing is returned then."""
    path = str(path)
    if os.path.isdir(path):
        raise FormatError(path, None, "a folder, not a video file")
    if fps is not None:
        fps = _check_rate(path, fps, "fps")
    cv2, mp = _modules(path)
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        capture.release()
        raise FormatError(path, None, "OpenCV (FFmpeg) cannot open this file as a video: a damaged file, "
                                      "or a codec its FFmpeg lacks")
    mesh = None
    try:
        stated = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        total = int(max(0, capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
        if total > max_frames:
            raise FormatError(path, max_frames, f"{total:,} frames, more than max_frames ({max_frames:,}); "
                                                "split the video or pass a larger max_frames")
        mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=False, refine_landmarks=True, max_num_faces=1,
            min_detection_confidence=min_detection_confidence, min_tracking_confidence=min_tracking_confidence)
        points, stamps, size = [], [], None
        number, tracking = 0, False
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            check_frames(path, number + 1, number, max_frames)
            if frame.ndim == 2:
                frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
            h, w = frame.shape[:2]
            if size is None:
                size = (w, h)
            elif size != (w, h):
                raise FormatError(path, number, f"the frame size changes from {size[0]}x{size[1]} to {w}x{h}")
            stamps.append(float(capture.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0)
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            result = mesh.process(rgb)
            if result.multi_face_landmarks and not tracking:
                # a fresh detection: FaceMesh's region is still the detector's box, and its points
                # differ from the tracked ones of the same face by ~1 mm and 0.5-1.5 degrees of head
                # turn (on a take's first frame: its rest pose). The same frame again lets the region
                # settle on the face's own points, as it does over the next frames.
                for _ in range(SETTLE):
                    again = mesh.process(rgb)
                    if not again.multi_face_landmarks:
                        break
                    result = again
            tracking = bool(result.multi_face_landmarks)
            if result.multi_face_landmarks:
                lm = result.multi_face_landmarks[0].landmark
                points.append(np.array([(p.x, p.y, p.z) for p in lm], dtype=np.float32))
            else:
                points.append(None)
            number += 1
            if number % PROGRESS_EVERY == 0:
                yield number, max(total, number)
    finally:
        capture.release()
        if mesh is not None:
            mesh.close()
    n = len(points)
    if not n:
        raise FormatError(path, 0, "no frame could be decoded (a damaged file, or a codec OpenCV's FFmpeg lacks)")
    valid = np.array([p is not None for p in points])
    if not valid.any():
        raise FormatError(path, None, f"no face in any of its {n} frames (0-{n - 1}): MediaPipe FaceMesh "
                                      "found none; a face should be in view, lit, and at least ~100 pixels high")
    bad = [len(p) for p in points if p is not None and len(p) != N_POINTS]
    if bad:
        raise FormatError(path, None, f"FaceMesh gave {bad[0]} points, not {N_POINTS}")
    warnings: list[str] = []
    if fps is not None:
        rate = fps
    elif 0 < stated <= 1000:
        rate = stated
    else:
        rate = None
    t = np.asarray(stamps, dtype=np.float64)
    if n > 1 and np.all(np.diff(t) > 0):
        t = t - t[0]
        if rate is None:
            rate = fps_from_times(t, path)
    else:
        if rate is None:
            rate = 30.0
            warnings.append("the video states no frame rate and no time stamps: assumed 30 fps (pass fps)")
        elif n > 1:
            warnings.append("the decoder's time stamps do not increase: frame times taken as frame / fps")
        t = np.arange(n) / rate
    landmarks = np.full((n, N_POINTS, 3), np.nan, dtype=np.float32)
    for i, p in enumerate(points):
        if p is not None:
            landmarks[i] = p
    runs = missing_runs(valid, np.arange(n))
    if runs:
        warnings.append(f"no face in {int((~valid).sum())} of {n} frames: {describe_runs(runs)}")
    track = CaptureTrack(
        format=NAME, path=path, fps=float(rate), times=t, valid=valid, landmarks=landmarks,
        landmark_set=f"mediapipe{N_POINTS}", dims=3, coords="normalised", confidence=None, image_size=size,
        frame_numbers=np.arange(n), warnings=warnings).check()
    if save_json is not None:
        write_json(track, save_json)
    return track


def read(path, *, fps: float | None = None, max_frames: int = MAX_FRAMES, progress=None, save_json=None,
         min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5) -> CaptureTrack:
    """Read the video (see the module docstring); progress(done, total) returning False cancels."""
    steps = iter_read(path, fps=fps, max_frames=max_frames, save_json=save_json,
                      min_detection_confidence=min_detection_confidence,
                      min_tracking_confidence=min_tracking_confidence)
    while True:
        try:
            done, total = next(steps)
        except StopIteration as stop:
            return stop.value
        if progress is not None and progress(done, total) is False:
            steps.close()
            raise ReadCancelled(f"'{path}': reading cancelled at frame {done}; nothing was imported")


def write_json(track: CaptureTrack, path) -> str:
    """The track's landmarks as MediaPipe JSON (the layout mediapipe_json reads): fps, image size,
    normalised coordinates, a frame object per video frame (no face: empty landmarks)."""
    path = str(path)
    frames = []
    for t, ok, pts in zip(track.times, track.valid, track.landmarks):
        frames.append({"timestamp_ms": round(float(t) * 1000.0, 3), "landmarks": pts.tolist() if ok else []})
    doc = {"fps": track.fps, "image_size": list(track.image_size), "coords": track.coords,
           "source": os.path.basename(track.path), "frames": frames}
    tmp = path + ".part"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, separators=(",", ":"))
    os.replace(tmp, path)
    return path
