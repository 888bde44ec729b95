"""Blender adapter: a new Action per take (shape keys or bones), the checks that guard it, the
scene range.

Non-destructive by construction: a fresh Action per run, the previous action kept alive with a
fake user, no key block value or existing F-curve ever modified. Keys are thinned
(pipeline/keys.reduce_keys) so curves stay editable by hand. Imports nothing else from
rigs/blender: the targets (targets.py) and their helpers build on this module, never the reverse.
"""

from __future__ import annotations

import bpy
import numpy as np
from bpy_extras import anim_utils

from ...errors import EmotiveError
from ...pipeline.keys import reduce_keys
from ..arkit import ARKIT_INDEX
from ..bone_rbf import CHANNELS, BoneLayout, rotvec_to_quat

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
    check_key_drivers(obj, needed)
    check_single_user(obj)


def check_key_drivers(obj, names) -> None:
    """Refuse keys that drivers own: a driver overrides keyframes on the same channel."""
    key = obj.data.shape_keys
    if key is None or key.animation_data is None:
        return
    driven = {d.data_path for d in key.animation_data.drivers}
    clash = [n for n in names if f'key_blocks["{bpy.utils.escape_identifier(n)}"].value' in driven]
    if clash:
        raise EmotiveError(f"'{obj.name}': shape key(s) {', '.join(clash[:10])}{' …' if len(clash) > 10 else ''} "
                           f"are driven by drivers, which would override the keyframes; remove the drivers first")


def check_single_user(obj) -> None:
    """Refuse a mesh shared by several objects: shape keys live on the mesh, so a take keyed
    there would animate every object using it."""
    others = sorted(o.name for o in bpy.data.objects if o.data == obj.data and o != obj)
    if others:
        raise EmotiveError(f"'{obj.name}' shares its mesh '{obj.data.name}' with {', '.join(others[:8])}"
                           f"{' …' if len(others) > 8 else ''}: the keys would land on the shared mesh and "
                           "animate them too; make it single-user first (Object > Relations > Make Single User)")


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
        path = f'key_blocks["{bpy.utils.escape_identifier(channel)}"].value'
        key_curve(bag, path, 0, weights[:, column], tolerance, frame_start,
                  bag.groups.get("Emotive") or bag.groups.new("Emotive"))

    anim = key.animation_data or key.animation_data_create()
    previous = anim.action
    if previous is not None and not previous.use_fake_user:
        previous.use_fake_user = True  # the user's own animation must not vanish on save
    anim.action = action
    anim.action_slot = slot
    return action


def key_curve(bag, path: str, index: int, values: np.ndarray, tolerance: float, frame_start: int, group):
    """One new F-curve in channelbag `bag`: `values` (one per frame from frame_start) thinned to
    the keys needed within `tolerance`, in `group`. -> the F-curve."""
    kept = reduce_keys(values, tolerance)
    curve = bag.fcurves.new(path, index=index)
    curve.group = group
    co = np.empty(2 * len(kept), dtype=np.float32)
    co[0::2] = frame_start + kept
    co[1::2] = values[kept]
    curve.keyframe_points.add(len(kept))
    curve.keyframe_points.foreach_set("co", co)
    curve.update()  # sorts and computes the (auto-clamped) Bezier handles
    return curve


def set_scene_range(scene, frame_start: int, frame_count: int, fps: float | None = None) -> None:
    if fps is not None:
        scene.render.fps = int(round(fps))
        scene.render.fps_base = scene.render.fps / fps
    scene.frame_start = frame_start
    scene.frame_end = frame_start + max(frame_count, 1) - 1


# Bone key thinning per property: 0.05 mm of location, ~0.006 deg of rotation (quaternion components).
BONE_TOLERANCE = {"location": 5e-5, "rotation_quaternion": 5e-5}


def write_bone_take(rig, layout: BoneLayout, params, *, name: str, frame_start: int = 1,
                    tolerance: dict | None = None):
    """Key (F, D) parameters into a new Action on `rig` (fake user; the previous action keeps one
    and is left untouched). Location and rotation (as rotation_quaternion, the bones switched to
    QUATERNION mode) F-curves, thinned within `tolerance` per property (default BONE_TOLERANCE;
    zeros keep every frame not on a straight run). Returns the Action."""
    tolerance = BONE_TOLERANCE if tolerance is None else tolerance
    params = np.atleast_2d(np.asarray(params, np.float64))
    if params.shape[1] != layout.size:
        raise ValueError(f"params: expected (F, {layout.size}), got {params.shape}")
    bad = [c for c in layout.channels if c not in CHANNELS[:2]]
    if bad:
        raise ValueError(f"bone takes key location and rotation only, not {bad}")
    action = bpy.data.actions.new(name)
    action.use_fake_user = True
    slot = action.slots.new(id_type='OBJECT', name=rig.name)
    bag = anim_utils.action_ensure_channelbag_for_slot(action, slot)
    for bone, channels in layout.split(params).items():
        if "rotation" in channels:
            rig.pose.bones[bone].rotation_mode = 'QUATERNION'
        group = bag.groups.get(bone) or bag.groups.new(bone)
        for channel, values in channels.items():
            if channel == "rotation":
                prop, values = "rotation_quaternion", rotvec_to_quat(values)
                # neighbours on one hemisphere, so interpolation takes the short way (q ~ -q)
                flip = np.cumsum(np.r_[False, (values[1:] * values[:-1]).sum(1) < 0]) % 2 == 1
                values[flip] *= -1
            else:
                prop = "location"
            path = f'pose.bones["{bpy.utils.escape_identifier(bone)}"].{prop}'
            for axis in range(values.shape[1]):
                key_curve(bag, path, axis, values[:, axis], tolerance[prop], frame_start, group)
    anim = rig.animation_data or rig.animation_data_create()
    previous = anim.action
    if previous is not None and not previous.use_fake_user:
        previous.use_fake_user = True
    anim.action = action
    anim.action_slot = slot
    return action
