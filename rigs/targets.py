"""What each kind of target is, bpy-free: its name in the panel, the CLI and job files, and what it
needs from a take. The Blender side (rigs/blender/targets.py:TARGETS) adds how each is prepared,
solved and keyed; job files and the command line are checked against KINDS without loading Blender.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import EmotiveError


@dataclass(frozen=True)
class TargetKind:
    kind: str                   # the key: CLI --target, job specs, report "drive"
    label: str                  # the panel's name for it
    noun: str                   # what it keys, in messages
    description: str            # the panel's tooltip
    needs_landmarks: bool       # solved from landmark motion, not ARKit weights
    keys_bones: bool = False    # keys bones (the report lists them apart from shape keys)


KINDS = {k.kind: k for k in (
    TargetKind("arkit", "ARKit Shape Keys", "ARKit shape keys", "Key the target's ARKit-named shape keys",
               needs_landmarks=False),
    TargetKind("custom", "Own Shape Keys", "its own shape keys",
               "Retarget the generated landmark motion onto the target's own, non-ARKit shape keys "
               "(needs a landmark binding)", needs_landmarks=True),
    TargetKind("bones", "Face Rig Bones", "face bones",
               "Key the face rig deforming the target (its Armature modifier), from the fit made by "
               "Fit Face Rig", needs_landmarks=True, keys_bones=True),
)}


def target_kind(kind: str) -> TargetKind:
    if kind not in KINDS:
        raise EmotiveError(f"unknown target {kind!r}; use one of {', '.join(KINDS)}")
    return KINDS[kind]


def check_motion(kind: str, motion: str | None, needed: str = "the generated (landmark) motion") -> None:
    """Refuse a motion that cannot reach this kind of target (None: not known yet). `needed` names
    the right setting in the caller's words (the CLI: "the generated motion (--motion landmark)")."""
    info = target_kind(kind)
    if info.needs_landmarks and motion not in (None, "landmark"):
        raise EmotiveError(f"keying {info.noun} needs {needed}: the {motion} motion makes ARKit weights only")
