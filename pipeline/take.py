"""The Take: what every input produces and every target consumes (bpy-free).

An input (text today; speech and face captures next) turns into a Take through its source in
pipeline/__init__.py:SOURCES; a target (rigs/blender/targets.py:TARGETS) solves it onto its
channels and keys it into a new Action; report.py describes it. Nothing downstream of a source
knows which input made the take.

Motion comes in one or both of two forms, frame by frame at `fps`:
- `arkit` (F, 52): ARKit weights over rigs.arkit.ARKIT_NAMES, keyed directly on ARKit keys;
- `landmarks` (F, 70, 3): offsets from the default head's neutral 70 landmarks (its space, in
  metres), which own shape keys and face rigs are solved from.
Blinks and idle drift are part of `arkit`; for the landmark form they are added on the fly
(`landmark_motion(life=True)`) through the default head's ARKit signatures, with the same seed,
so they fall on the same frames whichever target keys the take.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import EmotiveError
from ..rigs.arkit import ARKIT_NAMES


@dataclass
class TakeSegment:
    """A timed stretch of the take with what was recognised in it (report rows, panel list)."""

    start: float                      # seconds from the take's first frame
    end: float
    emotion: str                      # the label shown (an Ekman name for text)
    confidence: float                 # of `emotion`, 0..1
    text: str = ""                    # the words spoken or read in it, when known
    labels: list[tuple[str, float]] = field(default_factory=list)  # the model's top labels
    warning: str | None = None
    details: dict = field(default_factory=dict)   # what the source adds to the report's row


@dataclass
class Take:
    fps: float
    n_frames: int
    arkit: np.ndarray | None = None          # (F, 52) float32 over ARKIT_NAMES
    landmarks: np.ndarray | None = None      # (F, 70, 3) float32, default-head offsets
    segments: list[TakeSegment] = field(default_factory=list)
    head_pose: np.ndarray | None = None      # (F, 3) yaw, pitch, roll in radians, when captured
    audio: str | None = None                 # a sound file that plays from the take's first frame
    warnings: list[str] = field(default_factory=list)
    seed: int = 0                            # of blinks and idle drift
    source: str = ""                         # the SOURCES entry that made it
    synthetic_life: bool = True              # landmark motion gets blinks and idle drift (a capture has its own)
    details: dict = field(default_factory=dict)  # what the source adds to the report (a transcript)
    _life: tuple | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if self.arkit is None and self.landmarks is None:
            raise ValueError("a take needs ARKit weights, landmark motion or both")
        for name, array, tail in (("arkit", self.arkit, (len(ARKIT_NAMES),)),
                                  ("landmarks", self.landmarks, (70, 3))):
            if array is not None and array.shape != (self.n_frames, *tail):
                raise ValueError(f"take.{name}: expected {(self.n_frames, *tail)}, got {array.shape}")

    @property
    def duration(self) -> float:
        return (self.n_frames - 1) / self.fps

    @property
    def active_channels(self) -> list[str]:
        """ARKit channels that move at all: the shape keys an ARKit target needs, and keys."""
        if self.arkit is None:
            return []
        moving = np.abs(self.arkit).max(axis=0) > 1e-4 if self.n_frames else np.zeros(len(ARKIT_NAMES), bool)
        return [name for name, m in zip(ARKIT_NAMES, moving) if m]

    def landmark_motion(self, life: bool = True, start: int = 0, stop: int | None = None) -> np.ndarray:
        """(stop - start, 70, 3) frames [start, stop) as default-head landmark offsets, for targets
        other than ARKit keys; take long takes in chunks (iter_landmark_motion).

        life: add the take's blinks and idle drift (pipeline/performance.add_life, same seed, so
        they fall on the ARKit weights' frames); the generated landmarks hold the expressions only."""
        if self.landmarks is None:
            raise EmotiveError("this take kept no landmark motion: run it with keep_landmarks=True "
                               "and the generated (landmark) motion")
        part = self.landmarks[start:stop]
        if not life or not self.synthetic_life:
            return part
        if self._life is None:
            self._life = life_weights(self.n_frames, self.fps, self.seed)
        from ..rigs.head_mesh import default_head_rig

        weights, keys = self._life
        return part + np.einsum("fk,kld->fld", weights[start:stop], default_head_rig()[1][keys]).astype(np.float32)

    def iter_landmark_motion(self, life: bool = True, chunk: int = 8192):
        """Yield (start, landmark_motion(life, start, start + chunk)) over the whole take."""
        for start in range(0, self.n_frames, chunk):
            yield start, self.landmark_motion(life, start, start + chunk)


def life_weights(n_frames: int, fps: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The blinks and idle drift add_life gives a neutral face: ((F, n) weights, (n,) the ARKit
    key indices that move)."""
    from .performance import add_life

    life = add_life(np.zeros((n_frames, len(ARKIT_NAMES)), np.float32), np.random.default_rng(int(seed)), fps)
    keys = np.flatnonzero(np.abs(life).max(axis=0) > 0)
    return life[:, keys], keys


def within(steps, start: float, end: float, message: str = ""):
    """Run a step generator as one part of another: its fractions, or (fraction, message) pairs,
    yielded again with the fraction mapped onto [start, end]; -> what it returns. Use: `value =
    yield from within(iter_x(...), 0.2, 0.7, "doing x")`."""
    try:
        while True:
            step = next(steps)
            fraction, text = step if isinstance(step, tuple) else (step, message)
            yield start * (1 - fraction) + end * fraction, text   # ends on `end` exactly
    except StopIteration as done:
        return done.value
    finally:
        steps.close()        # Esc closes the outer generator: the inner one lets go of its files now


def drain(steps, progress=None):
    """Run a source's iter_take generator to the end; `progress(fraction, message)` at each step.
    -> the Take it returns."""
    try:
        while True:
            fraction, message = next(steps)
            if progress:
                progress(fraction, message)
    except StopIteration as done:
        return done.value
