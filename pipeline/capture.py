"""The capture source: a face-capture file -> cleaned motion -> Take (bpy-free).

A reader of rigs/formats (detected by content) reads the file as it is; rigs/capture_cleaning
removes the head's rigid motion, normalises scale, fills gaps and smooths; the result becomes a
Take in the default head's space, so every target keys it as it keys a text take:
- a landmark capture (OpenPose, MediaPipe, OpenFace) gives `landmarks`; its ARKit weights are
  solved from them against the default head's key signatures (rigs/retarget.py), unless the file
  carries its own blendshape scores (MediaPipe Tasks), which are kept; a MediaPipe FaceMesh
  capture's solve and head yaw/pitch are then corrected by a model learned from rendered videos
  tracked by FaceMesh (ml/capture_solver.py; learned_solve=False keeps the linear solve);
- an ARKit capture (Live Link Face) gives `arkit`; its landmark motion, for own keys and face rigs,
  is those weights through the same signatures.
The captured face blinks and breathes by itself: the take adds no synthetic life. Head rotation
relative to the take's rest pose goes to `head_pose`.

The take is cut into WINDOW_S stretches (report rows, the panel's list), each classified from its
landmark motion by ml/capture_expression.py (Ekman's six + neutral, trained on the expression
generator's data): `emotion` is the top label and `confidence` its probability, `labels` the top
three; a stretch whose face moves less than ml.capture_expression.NEUTRAL_MM stays 'neutral'.
An ARKit capture's motion is measured from its least-active frames (its rest face).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import EmotiveError
from ..rigs.arkit import ARKIT_NAMES
from ..rigs.landmarks import REGIONS, region_indices
from . import audio as audio_io
from .take import Take, TakeSegment, within

NAME = "capture"
SOLVE_CHUNK = 4096          # frames per retarget step (progress, bounded memory)
REGULARISATION = 1e-3       # captured motion is cleaner than generated motion: a light ridge
MAX_REGION_GAIN = 3.0       # exaggeration per face region, 0 (still) .. this
WINDOW_S = 2.0              # s per report segment (classified window)


def check_options(path, smoothing: float, min_confidence: float, fps, region_gains) -> Path:
    path = Path(path)
    if not path.exists():
        raise EmotiveError(f"'{path}': no such file or folder")
    for name, value, low, high in (("smoothing", smoothing, 0.0, 1.0),
                                   ("min_confidence", min_confidence, 0.0, 1.0)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or not low <= value <= high:
            raise EmotiveError(f"{name} must be a number between {low} and {high}, got {value!r}")
    if fps is not None and (not isinstance(fps, (int, float)) or not math.isfinite(fps) or not 1 <= fps <= 240):
        raise EmotiveError(f"fps must be a number between 1 and 240, got {fps!r}")
    for region, gain in (region_gains or {}).items():
        if region not in REGIONS:
            raise EmotiveError(f"unknown face region {region!r}; use {', '.join(REGIONS)}")
        if not isinstance(gain, (int, float)) or not math.isfinite(gain) or not 0 <= gain <= MAX_REGION_GAIN:
            raise EmotiveError(f"the {region} face's gain must be between 0 and {MAX_REGION_GAIN}, got {gain!r}")
    return path


def _solver(tracked=None):
    """The retarget against the default head's surface signatures, or against the keys as the
    capture's tracker sees them (`tracked`: rigs.head_mesh.tracked_signatures' (signatures,
    variance); each key's variance is its own ridge)."""
    from ..rigs.head_mesh import default_head_rig
    from ..rigs.retarget import ShapeKeySolver

    if tracked is None:
        return ShapeKeySolver(default_head_rig()[1], regularisation=REGULARISATION)
    return ShapeKeySolver(tracked[0], regularisation=REGULARISATION, key_regularisation=tracked[1])


def _learned_solver(landmark_set, wanted: bool, warnings: list[str]):
    """The learned correction of the linear solve for captures of `landmark_set`
    (ml/capture_solver.py: MediaPipe FaceMesh's 478 points), or None: not wanted, another tracker,
    or no model file (a broken one is reported in `warnings` and the linear solve kept)."""
    if not wanted or not landmark_set:
        return None
    from ..ml import capture_solver

    try:
        return capture_solver.shipped(landmark_set)
    except (OSError, ValueError) as e:
        warnings.append(f"the learned capture solve is not used: {e}")
        return None


def iter_take(path, *, format: str | None = None, fps: float | None = None, smoothing: float = 0.5,
              min_confidence: float = 0.3, neutral_frame: int | None = None,
              region_gains: dict | None = None, emotion_text: str | None = None,
              emotion_from_audio: bool = False, text_model_path: str | None = None,
              voice_model_path: str | None = None, alpha_mouth: float = 0.3, alpha_face: float = 1.0,
              save_dataset: str | None = None, dataset_label: str | None = None, keep_landmarks: bool = True,
              learned_solve: bool = True, **_ignored):
    """Yield (fraction, message) while working; return the Take.

    format: a rigs.formats name (detected when None); fps: the take's rate (the file's when
    None); smoothing: One-Euro strength 0..1; neutral_frame: a frame of the take (at its rate,
    `fps`, counted from 0) where the performer rests (the take's median face when None; a
    recording of blendshape scores only has its neutral in the scores already); region_gains: {"upper"|"middle"|"lower": gain} to
    exaggerate (> 1) or damp (< 1) part of the face; emotion_text: migrate the performance toward
    this text's emotions (pipeline/migration.py), emotion_from_audio: toward the emotions the
    speech path hears in the video's own sound track (text_model_path / voice_model_path: the
    user's models, None the shipped ones), alpha_mouth / alpha_face their blend weights;
    save_dataset: also write the take's windows as expression-LSTM training data (an .npz,
    pipeline/capture_dataset.py), labelled by the classifier or with dataset_label; learned_solve:
    a MediaPipe FaceMesh capture's linear solve and head yaw/pitch corrected by ml/capture_solver.py
    (False: the linear solve and the rigid fit alone)."""
    from ..rigs import capture_cleaning
    from ..rigs.head_mesh import default_head_rig, tracked_signatures

    path = check_options(path, smoothing, min_confidence, fps, region_gains)
    if save_dataset is not None:
        from .capture_dataset import check_dataset_options

        check_dataset_options(save_dataset, dataset_label)
    if emotion_text is not None or emotion_from_audio:
        from .attention import check_alphas

        check_alphas(alpha_mouth, alpha_face)
    if emotion_text is not None:
        from .text import check_text

        if emotion_from_audio:
            raise EmotiveError("the emotion comes from a text or from the video's sound, not both")
        check_text(emotion_text)
    sound = audio_io.has_sound(path)
    if emotion_from_audio:
        if not sound:
            raise EmotiveError(f"'{path}' has no sound track to hear the emotion in: the emotion can come from "
                               "the sound of a video (MP4, MOV, AVI, WebM, MKV) only; give a text instead")
        audio_io.check_audio_file(path)      # its length and decoder, before the tracking
    yield 0.0, f"reading {path.name}"
    track = yield from _iter_read(path, format)  # FormatError names the file and frame
    yield 0.3, "cleaning the capture"
    clean = capture_cleaning.clean(track, fps=fps, min_confidence=min_confidence, smoothing=smoothing)
    n = clean.n_frames
    if n < 2:
        raise EmotiveError(f"'{path}': {n} usable frame(s); a take needs at least two")
    if neutral_frame is not None and not 0 <= int(neutral_frame) < n:
        raise EmotiveError(f"neutral frame {neutral_frame} is outside the take (0..{n - 1} at {clean.fps:g} fps)")
    if neutral_frame is not None and clean.points is None:
        clean.warnings.append("the neutral frame is not used: this recording holds blendshape scores, "
                              "not landmarks")
    _, signatures = default_head_rig()
    learned = None
    arkit = None if clean.arkit is None else np.clip(clean.arkit, 0.0, 1.0).astype(np.float32)
    landmarks = None
    if clean.points is not None:
        landmarks = clean.offsets(neutral_frame).astype(np.float32)
    elif arkit is not None and keep_landmarks:
        landmarks = np.einsum("fk,kld->fld", arkit, signatures).astype(np.float32)
    captured = landmarks   # the keys are solved from the motion as captured, then take the region gains
    if landmarks is not None and region_gains:
        landmarks = landmarks.copy()
        for region, gain in region_gains.items():
            landmarks[:, region_indices(region)] *= float(gain)
    if arkit is None:
        yield 0.6, "solving ARKit weights"
        # a tracker whose view of the keys was measured (FaceMesh) is solved against that view
        tracked = tracked_signatures(track.landmark_set) if track.landmark_set else None
        solver, linear = _solver(tracked), np.zeros((n, len(ARKIT_NAMES)), np.float32)
        learned = _learned_solver(track.landmark_set, learned_solve, clean.warnings)
        for start in range(0, n, SOLVE_CHUNK):
            linear[start:start + SOLVE_CHUNK] = solver.solve(captured[start:start + SOLVE_CHUNK])
            yield 0.6 + 0.15 * min(n, start + SOLVE_CHUNK) / n, "solving ARKit weights"
        arkit = linear.copy()
        if learned is not None:
            # the learned correction of how the tracker answers keys in a video; it reads a few frames
            # either side (learned.margin), so each part takes its neighbours' frames along
            for start in range(0, n, SOLVE_CHUNK):
                end = min(n, start + SOLVE_CHUNK)
                lo, hi = max(0, start - learned.margin), min(n, end + learned.margin)
                arkit[start:end] = learned.correct(captured[lo:hi], linear[lo:hi])[start - lo:end - lo]
                yield 0.75 + 0.15 * end / n, "solving ARKit weights"
        head_inputs = (captured, linear)
    if region_gains:   # each key times its region's gain: a lower-face gain of 0.5 halves the mouth's keys
        arkit = _scale_arkit_by_region(arkit, signatures, region_gains)
    yield 0.9, "classifying expressions"
    motion = landmarks if landmarks is not None else np.einsum("fk,kld->fld", arkit, signatures)
    warnings = list(clean.warnings)
    try:
        segments = classify_windows(motion, float(clean.fps), path.name,
                                    arkit=arkit if clean.points is None else None, neutral_frame=neutral_frame)
    except (FileNotFoundError, ValueError) as e:   # a missing or broken model file: keep the take
        segments = windows(n, float(clean.fps), path.name)
        warnings.append(f"expressions not classified: {e}")
    if emotion_text is not None or emotion_from_audio:
        from .migration import migration

        wanted = emotion_text
        if emotion_from_audio:
            wanted = yield from _iter_hear_timeline(path, warnings, voice_model_path, text_model_path)
        yield 0.95, "migrating the expressions"
        delta, wanted = migration(segments, wanted, n, float(clean.fps), alpha_mouth=alpha_mouth,
                                  alpha_face=alpha_face, model_path=text_model_path)
        arkit = np.clip(arkit + _solver().solve(delta), 0.0, 1.0).astype(np.float32)
        motion = motion + delta
        if landmarks is not None:
            landmarks = landmarks + delta
        captured_emotions = ", ".join(sorted({s.emotion for s in segments}))
        segments = classify_windows(motion, float(clean.fps), path.name, neutral_frame=neutral_frame)
        warnings.append(f"migrated from {captured_emotions} toward the {'sound' if emotion_from_audio else 'text'}'s "
                        f"{', '.join(s.emotion for s in wanted.segments)} (mouth {alpha_mouth:g}, face {alpha_face:g})")
    head = None
    if clean.head_matrix is not None:
        head = clean.relative_head_rotation(neutral_frame)
        if learned is not None:   # less the rigid fit's learned error with the expression
            head = learned.correct_head(*head_inputs, head)
        head = head.astype(np.float32)
    elif clean.head_rotation is not None and np.abs(clean.head_rotation).max() > 0:
        head = (clean.head_rotation - np.median(clean.head_rotation, axis=0)).astype(np.float32)
    take = Take(fps=float(clean.fps), n_frames=n, arkit=arkit,
                landmarks=landmarks if keep_landmarks else None, head_pose=head,
                segments=segments, audio=str(path) if sound else None,   # the sound lands in the sequencer
                warnings=warnings, source=NAME, synthetic_life=False)
    if save_dataset is not None:
        from .capture_dataset import save_dataset as write_dataset

        written, count = write_dataset(take, save_dataset, dataset_label, landmarks=motion)
        take.warnings.append(f"saved {count} window(s) as training data: {written}")
    yield 1.0, "capture read"
    return take


def _iter_read(path: Path, format: str | None):
    """Yield progress; return the capture's CaptureTrack. A video is tracked frame by frame (so a
    long one shows its progress and Esc stops it between frames), and its landmarks are kept in the
    cache folder: importing it again skips FaceMesh (pipeline/capture_cache.py)."""
    from ..rigs import formats
    from ..rigs.formats import video
    from . import capture_cache
    from .settings import load as load_settings

    reader = formats.detect(path, format)
    if reader is not video:
        return reader.read(path)
    try:
        entry = capture_cache.entry(load_settings().cache(capture_cache.FOLDER), path)
    except EmotiveError as exc:         # no cache folder: track anyway, and say why it is not kept
        entry, why = None, str(exc)
    track = capture_cache.load(entry) if entry else None
    if track is not None:
        return track
    track = yield from within(_tracked_frames(video.iter_read(path)), 0.0, 0.3)
    if entry is None:
        track.warnings.append(f"the tracked landmarks are not cached: {why}")
    else:
        try:
            capture_cache.store(entry, track)
        except OSError as exc:
            track.warnings.append(f"the tracked landmarks are not cached: cannot write '{entry}' ({exc.strerror})")
    return track


def _tracked_frames(steps):
    """video.iter_read's (done, total) as (fraction, message); -> the track."""
    try:
        while True:
            done, total = next(steps)
            yield (done / total if total else 0.0), "tracking the face"   # one stage: the fraction moves
    except StopIteration as stop:
        return stop.value


def _iter_hear_timeline(path: Path, warnings: list[str], voice_model_path=None, text_model_path=None):
    """Yield progress; return the emotion timeline the speech path hears in a video's sound
    (recognised words fused with the voice, per utterance), on the capture's clock."""
    from .speech import iter_hear

    audio = yield from within(audio_io.iter_load(path), 0.9, 0.91, "reading the sound")
    heard = yield from within(iter_hear(audio, None, voice_model_path, text_model_path), 0.91, 0.95)
    warnings += [f"sound: {w}" for w in heard.warnings]
    return heard.timeline(audio.duration)


def windows(n_frames: int, fps: float, name: str, edges=None) -> list[TakeSegment]:
    """The take cut into WINDOW_S stretches (report rows, contact-sheet tiles), not yet classified;
    `edges` (seconds) overrides the even cut."""
    from ..ml.capture_expression import window_edges

    edges = window_edges(n_frames, fps, WINDOW_S) if edges is None else edges
    return [TakeSegment(start=float(a), end=float(b), emotion="unclassified", confidence=0.0,
                        text=f"{a:.1f}-{b:.1f} s of {name}") for a, b in zip(edges[:-1], edges[1:])]


def classify_windows(motion: np.ndarray, fps: float, name: str, arkit: np.ndarray | None = None,
                     neutral_frame: int | None = None, model=None) -> list[TakeSegment]:
    """windows() with each stretch's expression: (F, 70, 3) landmark motion (default head's space;
    `arkit` given for an ARKit capture, whose motion is then measured from its rest face). The cuts
    move to nearby frames where the face is still (ml.capture_expression.segment_edges)."""
    from ..ml import capture_expression as ce

    still = ce.rest_offsets(motion, arkit, neutral_frame)
    edges = ce.segment_edges(still, fps, WINDOW_S)
    segments = windows(len(motion), fps, name, edges)
    for seg, r in zip(segments, ce.label_windows(still, edges, fps, model)):
        seg.emotion, seg.confidence = r["emotion"], round(r["confidence"], 4)
        seg.labels = [(label, round(p, 4)) for label, p in r["labels"]]
    return segments


def _scale_arkit_by_region(arkit, signatures, region_gains) -> np.ndarray:
    """Each key times the gain of the region it moves most (its landmark motion at full strength),
    so a gain of 0 stills that region's keys outright and the slider stays linear."""
    from ..rigs.landmarks import REGION

    motion = np.linalg.norm(signatures, axis=2)                             # (52, 70)
    share = np.stack([motion[:, REGION == i].sum(axis=1) for i in range(len(REGIONS))], axis=1)
    gains = np.array([region_gains.get(r, 1.0) for r in REGIONS])
    return np.clip(arkit * gains[np.argmax(share, axis=1)], 0.0, 1.0).astype(np.float32)
