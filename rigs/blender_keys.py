"""Blender adapter: check a target and write a performance as a new Action (a "take").

Non-destructive by construction: a fresh Action per run, the shape keys' previous action kept
alive with a fake user, no key block value or existing F-curve ever modified.
"""

from __future__ import annotations

import bpy
import numpy as np
from bpy_extras import anim_utils

from ..errors import EmotiveError
from ..pipeline.keys import reduce_keys
from .arkit import ARKIT_INDEX

TAKE_PREFIX = "Emotive: "


def check_target(obj, needed: list[str] | None = None) -> None:
    """Raise EmotiveError saying exactly why `obj` cannot take the animation; None if it can."""
    if obj is None:
        raise EmotiveError("no target object: pick a mesh with ARKit-named shape keys "
                           "(or add the default head)")
    if obj.type != 'MESH':
        raise EmotiveError(f"'{obj.name}' is a {obj.type.lower()} object; the target must be a mesh "
                           "with ARKit-named shape keys")
    if obj.library or obj.data.library:
        raise EmotiveError(f"'{obj.name}' is linked from a library; make it local before animating")
    key = obj.data.shape_keys
    have = set(key.key_blocks.keys()) if key else set()
    if needed is None:
        return
    missing = [name for name in needed if name not in have]
    if missing:
        raise EmotiveError(f"'{obj.name}' lacks {len(missing)} shape key(s) the animation needs: "
                           f"{', '.join(missing)}")
    if key.animation_data:
        driven = {d.data_path for d in key.animation_data.drivers}
        clash = [n for n in needed if f'key_blocks["{n}"].value' in driven]
        if clash:
            raise EmotiveError(f"'{obj.name}': shape key(s) {', '.join(clash[:10])} are driven by drivers, "
                               "which would override the keyframes; remove the drivers first")


def take_name(text: str) -> str:
    """Action name from the text's first words (Blender adds .001, .002 for later takes)."""
    words = " ".join(text.split())
    return TAKE_PREFIX + (words[:48] + "…" if len(words) > 48 else words)


def write_shape_key_take(obj, weights: np.ndarray, channels: list[str], *, name: str,
                         frame_start: int = 1, tolerance: float = 0.002):
    """Key `weights` (F, 52 over ARKit order) for `channels` into a new Action on obj's shape keys.

    Keys are thinned to those needed to stay within `tolerance` of the performance, so curves
    stay editable by hand. Returns the Action.
    """
    columns = np.asarray(weights)[:, [ARKIT_INDEX[channel] for channel in channels]]
    return write_named_take(obj, columns, channels, name=name, frame_start=frame_start,
                            tolerance=tolerance)


def write_named_take(obj, weights: np.ndarray, names: list[str], *, name: str,
                     frame_start: int = 1, tolerance: float = 0.002):
    """Key `weights` (F, len(names)), column i for shape key names[i], into a new Action on obj's
    shape keys (any key names: ARKit or the character's own). Same thinning and non-destructive
    rules as write_shape_key_take. Returns the Action."""
    weights = np.asarray(weights)
    if weights.ndim != 2 or weights.shape[1] != len(names):
        raise ValueError(f"weights: expected (F, {len(names)}), got {weights.shape}")
    key = obj.data.shape_keys
    action = bpy.data.actions.new(name)
    action.use_fake_user = True  # every take survives saving even when another one is assigned
    slot = action.slots.new(id_type='KEY', name=key.name)
    bag = anim_utils.action_ensure_channelbag_for_slot(action, slot)
    for column, channel in enumerate(names):
        values = weights[:, column]
        kept = reduce_keys(values, tolerance)
        path = f'key_blocks["{bpy.utils.escape_identifier(channel)}"].value'
        curve = bag.fcurves.new(path, index=0)
        curve.group = bag.groups.get("Emotive") or bag.groups.new("Emotive")
        co = np.empty(2 * len(kept), dtype=np.float32)
        co[0::2] = frame_start + kept
        co[1::2] = values[kept]
        curve.keyframe_points.add(len(kept))
        curve.keyframe_points.foreach_set("co", co)
        curve.update()  # sorts and computes the (auto-clamped) Bezier handles

    anim = key.animation_data or key.animation_data_create()
    previous = anim.action
    if previous is not None and not previous.use_fake_user:
        previous.use_fake_user = True  # the user's own animation must not vanish on save
    anim.action = action
    anim.action_slot = slot
    return action


def set_scene_range(scene, frame_start: int, frame_count: int, fps: float | None = None) -> None:
    if fps is not None:
        scene.render.fps = int(round(fps))
        scene.render.fps_base = scene.render.fps / fps
    scene.frame_start = frame_start
    scene.frame_end = frame_start + max(frame_count, 1) - 1
