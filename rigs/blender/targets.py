"""Blender adapter: what a take is keyed on. One class per kind of channels, listed in TARGETS.

A Target is made by `prepare(obj, motion)`, which runs every check before anything is computed
(raises EmotiveError saying what is missing and what to do; changes nothing). Then
`solve(take)` turns the Take (pipeline/take.py) into values per channel, and `write(solved,
name=, frame_start=)` keys them into a new Action (actions.py), leaving earlier takes and the
user's own actions as they were. `key(take, ...)` does both. `make_ready(obj, ...)` is the one
step a job may take before prepare to make a character fit the target (add ARKit keys to an
unbound mesh, fit a face rig); the panel offers those as buttons instead.

Each class takes its name, label and needs from the bpy-free rigs/targets.py:KINDS (which job
files and the command line are checked against without Blender); the panel's Drive enum, the CLI's
--target and batch jobs list TARGETS. A new kind of target is a KINDS entry, a class here (and its
pure solver in rigs/) and a line in TARGETS.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from ...errors import EmotiveError
from ..arkit import ARKIT_INDEX, ARKIT_NAMES
from ..targets import KINDS, TargetKind, check_motion
from .actions import check_key_drivers, check_single_user, check_target, write_bone_take, write_named_take


@dataclass
class Solved:
    """A take solved onto a target's channels: (F, len(names)) values, and what to tell the user."""

    names: list[str]
    values: np.ndarray
    notes: list[str] = field(default_factory=list)


@dataclass
class Keyed:
    action: object              # the new bpy.types.Action
    keyed: list[str]            # shape keys or bones keyed
    notes: list[str]


class Target(ABC):
    info: TargetKind            # from rigs/targets.py:KINDS

    def __init__(self, obj):
        self.obj = obj

    @property
    def kind(self) -> str:
        return self.info.kind

    @property
    def needs_landmarks(self) -> bool:
        return self.info.needs_landmarks

    @classmethod
    def make_ready(cls, obj, *, rig=None, stage=contextlib.nullcontext) -> dict:
        """Make obj fit this target where a job can do so unattended (jobs, the CLI): -> what was
        done, for the report. `stage(message)` is a context manager around each long step."""
        return {}

    @classmethod
    def prepare(cls, obj, motion: str = "landmark") -> Target:
        """Check that obj can take a take on these channels; -> the Target. Changes nothing."""
        check_target(obj)
        check_motion(cls.info.kind, motion)
        return cls._prepare(obj)

    @classmethod
    @abstractmethod
    def _prepare(cls, obj) -> Target:
        """The target's own checks after the common ones; -> an instance holding what solve needs."""

    @abstractmethod
    def solve(self, take) -> Solved:
        """The take's values on this target's channels (computes; changes nothing)."""

    @abstractmethod
    def write(self, solved: Solved, *, name: str, frame_start: int = 1):
        """Key `solved` into a new Action named `name`; -> the Action."""

    def key(self, take, *, name: str, frame_start: int = 1) -> Keyed:
        """solve + write: the take as a new Action on this target."""
        solved = self.solve(take)
        action = self.write(solved, name=name, frame_start=frame_start)
        notes = list(solved.notes)
        if take.head_pose is not None and self.obj.type == 'MESH':
            from .head_pose import key_head_rotation

            _, note = key_head_rotation(self.obj, take.head_pose, name=name + " (head)", frame_start=frame_start)
            notes += [note] if note else []
        return Keyed(action, list(solved.names), notes)


def _has_arkit_keys(obj) -> bool:
    key = obj.data.shape_keys if obj is not None and obj.type == 'MESH' else None
    return bool(key) and any(n in key.key_blocks for n in ARKIT_NAMES)


class ArkitKeys(Target):
    info = KINDS["arkit"]

    @classmethod
    def make_ready(cls, obj, *, rig=None, stage=contextlib.nullcontext):
        if _has_arkit_keys(obj):
            return {}
        from .character import make_animatable

        with stage(f"'{obj.name}' has no ARKit shape keys: binding its face and adding them"):
            done = make_animatable(obj)
        return {"binding": done["binding"], "added_shape_keys": done["added_keys"]}

    @classmethod
    def _prepare(cls, obj):
        if not _has_arkit_keys(obj):
            raise EmotiveError(f"'{obj.name}' has no ARKit-named shape keys (browDownLeft … tongueOut): "
                               "click Add ARKit Shape Keys, or use the default head")
        check_single_user(obj)
        return cls(obj)

    def solve(self, take) -> Solved:
        if take.arkit is None:
            raise EmotiveError("this take has no ARKit weights to key")
        channels = take.active_channels
        check_target(self.obj, channels)  # names every key the take needs that the mesh lacks
        columns = [ARKIT_INDEX[name] for name in channels]
        return Solved(channels, take.arkit[:, columns], [])

    def write(self, solved, *, name, frame_start=1):
        return write_named_take(self.obj, solved.values, solved.names, name=name, frame_start=frame_start)


class OwnKeys(Target):
    info = KINDS["custom"]

    def __init__(self, obj, names, retarget, skipped):
        super().__init__(obj)
        self.names, self.retarget, self.skipped = names, retarget, skipped

    @classmethod
    def _prepare(cls, obj):
        from .shape_keys import custom_key_retarget, own_key_names

        names = own_key_names(obj)
        if not names:
            raise EmotiveError(f"'{obj.name}' has no shape keys of its own (non-ARKit): use the ARKit keys, "
                               "or add the character's own keys")
        check_key_drivers(obj, names)
        check_single_user(obj)
        report = {}
        names, retarget = custom_key_retarget(obj, names, report=report)
        return cls(obj, names, retarget, sorted(report.get("skipped", {})))

    def solve(self, take) -> Solved:
        from .shape_keys import solve_own_keys

        solved = solve_own_keys(take, self.names, self.retarget)
        if not solved["names"]:
            raise EmotiveError(f"'{self.obj.name}': the take moves none of its own shape keys "
                               f"({', '.join(self.names)}); nothing was keyed")
        notes = [f"blinks on {', '.join(solved['blink_keys'])}" if solved["blink_keys"]
                 else "no blinks: none of its keys closes the eyelids"]
        if solved["still"]:
            notes.append(f"not moved by this take: {', '.join(solved['still'])}")
        if self.skipped:
            notes.append(f"skipped (they move no face landmark): {', '.join(self.skipped)}")
        return Solved(solved["names"], solved["weights"], notes)

    def write(self, solved, *, name, frame_start=1):
        from .shape_keys import write_custom_key_take

        return write_custom_key_take(self.obj, solved.names, solved.values, frame_start=frame_start, name=name)


class FaceRig(Target):
    info = KINDS["bones"]

    def __init__(self, obj, rig, model, record):
        super().__init__(obj)
        self.rig, self.model, self.record = rig, model, record

    @classmethod
    def make_ready(cls, obj, *, rig=None, stage=contextlib.nullcontext):
        """Fit the face rig deforming obj (or `rig`, which must) when it has no stored fit."""
        from .face_rig import FIT_PROPERTY, check_fittable, fit_face_rig

        rig, _ = check_fittable(obj, rig)
        if FIT_PROPERTY in rig:
            return {"rig": {"name": rig.name, "fitted_now": False}}
        with stage(f"fitting the face rig '{rig.name}' to '{obj.name}'"):
            record = fit_face_rig(obj, rig)
        return {"rig": {"name": rig.name, "fitted_now": True, "held_out": record["held_out"]}}

    @classmethod
    def _prepare(cls, obj):
        from .face_rig import check_bone_target, face_rig_of, load_fit

        rig = face_rig_of(obj)
        if rig is None:
            raise EmotiveError(f"'{obj.name}' is not deformed by a face rig (no Armature modifier): skin it to "
                               "its rig, or key shape keys instead")
        model, record = load_fit(rig)
        check_bone_target(rig, model)
        return cls(obj, rig, model, record)

    def solve(self, take) -> Solved:
        from .face_rig import check_bone_target, param_limits, predict_params

        check_bone_target(self.rig, self.model)
        limits = param_limits(self.model, self.record["controls"])
        params = np.zeros((take.n_frames, self.model.n_params))
        for start, motion in take.iter_landmark_motion(life=True):
            params[start:start + len(motion)] = predict_params(self.model, motion, limits)
        return Solved(list(self.model.layout.bones), params, [f"keyed on the face rig '{self.rig.name}'"])

    def write(self, solved, *, name, frame_start=1):
        return write_bone_take(self.rig, self.model.layout, solved.values, name=name, frame_start=frame_start)


TARGETS: dict[str, type[Target]] = {t.info.kind: t for t in (ArkitKeys, OwnKeys, FaceRig)}


def prepare_take(obj, kind: str = "arkit", motion: str = "landmark") -> Target:
    """The Target of `kind` for obj, every check done (EmotiveError says what is missing);
    nothing is changed either way."""
    if kind not in TARGETS:
        raise EmotiveError(f"unknown target {kind!r}; use one of {', '.join(TARGETS)}")
    return TARGETS[kind].prepare(obj, motion)
