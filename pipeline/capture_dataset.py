"""Captures as training data: a capture take's windows as sequences the expression LSTM trains on
(`python -m emotive.ml.train_expressions --data FILE.npz`), bpy-free.

Each labelled window of the take (pipeline/capture.py) becomes one sequence in ml/expression_data's
format: absolute landmark positions on the default head (its neutral plus the captured offsets),
at the generator's 30 fps; its emotion is the window's label (or one label for the whole take),
its intensity the label's confidence (0 for neutral). The window cuts sit on still frames, so a
sequence's first frame is close to the rest face the trainer takes it for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import EmotiveError
from ..ml.labels import EKMAN


def check_dataset_options(path, label: str | None) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise EmotiveError(f"the dataset '{path}' must end in .npz")
    if label is not None and label not in EKMAN:
        raise EmotiveError(f"unknown emotion '{label}' for the dataset; use one of {', '.join(EKMAN)}")
    return path


def take_sequences(take, label: str | None = None, landmarks=None):
    """The take's windows as an ml.expression_data.SequenceSet (EmotiveError when unusable);
    `landmarks` (F, 70, 3) stands in for a take that kept none (an ARKit target's)."""
    from ..ml import expression_data as ed
    from ..rigs.head_mesh import default_head_rig

    landmarks = take.landmarks if landmarks is None else landmarks
    if landmarks is None:
        raise EmotiveError("this take kept no landmark motion to save as training data")
    if abs(take.fps - ed.FPS) > 1e-6:
        raise EmotiveError(f"training data is {ed.FPS} fps; import the capture at --fps {ed.FPS} "
                           f"(this take is {take.fps:g} fps)")
    neutral, _ = default_head_rig()
    spans = [(round(s.start * take.fps), round(s.end * take.fps), s) for s in take.segments]
    spans = [(a, min(b, take.n_frames - 1), s) for a, b, s in spans if min(b, take.n_frames - 1) - a >= 1]
    if not spans:
        raise EmotiveError("the take has no window of two frames or more to save")
    longest = max(b - a + 1 for a, b, _ in spans)
    out = np.empty((len(spans), longest, *neutral.shape), dtype=np.float32)
    lengths, emotion, intensity = [], [], []
    for i, (a, b, seg) in enumerate(spans):
        part = neutral[None] + landmarks[a:b + 1]
        out[i, :len(part)] = part
        out[i, len(part):] = part[-1]   # padded by repeating the last frame
        name = label or seg.emotion
        if name not in EKMAN:
            raise EmotiveError(f"window {i + 1} ({seg.start:.1f}-{seg.end:.1f} s) is '{name}', not an Ekman "
                               "emotion: give the take one label")
        lengths.append(len(part))
        emotion.append(EKMAN.index(name))
        intensity.append(0.0 if name == "neutral" else float(np.clip(seg.confidence if label is None else 1.0, 0, 1)))
    return ed.SequenceSet(out, np.array(lengths, np.int32), np.array(emotion, np.int32),
                          np.array(intensity, np.float32), np.zeros(len(spans), np.int32), ed.FPS)


def save_dataset(take, path, label: str | None = None, landmarks=None) -> tuple[Path, int]:
    """Write the take's windows as a training npz; -> (path, sequences)."""
    from ..ml import expression_data as ed

    path = check_dataset_options(path, label)
    sequences = take_sequences(take, label, landmarks)
    try:
        ed.save_sequences(str(path), sequences)
    except OSError as exc:
        raise EmotiveError(f"cannot write the dataset '{path}': {exc.strerror or exc}") from exc
    return path, len(sequences)
