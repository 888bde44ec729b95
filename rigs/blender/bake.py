"""Blender adapter: Bake Take. What moves the face now (the active Action, NLA tracks, drivers, on
the shape keys and on the face rig deforming the mesh) flattened into one plain new Action per
datablock, keyed on every frame of a range where it bends.

- Shape keys: the key blocks some F-curve addresses (the active Action's slot, NLA strips,
  drivers) are sampled on each frame (scene.frame_set: the depsgraph writes what plays back to the
  key blocks), keyed LINEAR on the frames a straight line needs (pipeline/keys.reduce_keys with
  tolerance 0: exact on every frame).
- Bones: Blender's own baker (bpy_extras.anim_utils.bake_action_iter, what Pose > Animation >
  Bake Action runs) on every pose bone of the face rig (rigs/blender/face_rig.face_rig_of), in the
  same frame loop: location, rotation (in each bone's rotation mode), scale and custom properties,
  not visual keying, so constraints (left in place) act on the baked channels as they did before.

The new Actions are named after what they flatten ("<action> (baked)"; Blender adds .001 rather
than overwrite an Action of that name), get a fake user and are assigned in REPLACE at full
influence, so the face plays as before. The previous Actions keep a fake user; NLA tracks,
drivers and constraints are left as they are (drivers still override the keys they drive).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import bpy
import numpy as np
from bpy_extras import anim_utils

from ...errors import EmotiveError
from ...pipeline.keys import reduce_keys
from .face_rig import face_rig_of

SUFFIX = " (baked)"
GROUP = "Baked"


@dataclass
class Baked:
    frame_start: int
    frame_end: int
    shape_keys: object | None = None      # the new Action on the mesh's shape keys
    shape_key_names: list[str] = field(default_factory=list)
    rig: object | None = None             # the armature baked, if any
    bones: object | None = None           # the new Action on it
    bone_curves: int = 0
    notes: list[str] = field(default_factory=list)


def _paths(anim) -> set[str]:
    """Data paths some F-curve of `anim` animates: its Action's slot, its NLA strips, its drivers."""
    if anim is None:
        return set()
    bags = [anim_utils.action_get_channelbag_for_slot(anim.action, anim.action_slot)]

    def strips(items):
        for strip in items:
            yield strip
            yield from strips(strip.strips)  # meta strips

    for track in anim.nla_tracks:
        bags += [anim_utils.action_get_channelbag_for_slot(s.action, s.action_slot)
                 for s in strips(track.strips) if s.action is not None]
    paths = {fc.data_path for bag in bags if bag is not None for fc in bag.fcurves}
    return paths | {fc.data_path for fc in anim.drivers}


def _moves(anim) -> bool:
    return anim is not None and (anim.action is not None or len(anim.nla_tracks) > 0 or len(anim.drivers) > 0)


def animated_keys(obj) -> list:
    """The shape keys (key blocks, the reference key aside) something animates."""
    key = obj.data.shape_keys if obj.type == 'MESH' else None
    if key is None:
        return []
    paths = _paths(key.animation_data)
    return [kb for kb in key.key_blocks if kb != key.reference_key and kb.path_from_id("value") in paths]


def bake_sources(obj) -> tuple[list, object | None]:
    """(animated shape keys of obj, its face rig if something moves the rig, else None)."""
    rig = face_rig_of(obj)
    return animated_keys(obj), (rig if rig is not None and _moves(rig.animation_data) else None)


def nothing_to_bake(obj) -> str:
    """Why `obj` has nothing to bake, or ""."""
    if obj is None:
        return "no target object: pick the animated mesh in the Emotive panel"
    if obj.type != 'MESH':
        return f"'{obj.name}' is a {obj.type.lower()} object; the target must be a mesh"
    keys, rig = bake_sources(obj)
    if not keys and rig is None:
        return (f"nothing animates '{obj.name}': its shape keys have no Action, NLA strips or drivers "
                "and no animated face rig deforms it")
    return ""


def take_range(obj) -> tuple[int, int]:
    """The frames the shape keys' and face rig's animation spans (Actions and NLA strips)."""
    starts, ends = [], []
    key = obj.data.shape_keys if obj.type == 'MESH' else None
    for idt in (key, face_rig_of(obj)):
        anim = idt.animation_data if idt is not None else None
        if anim is None:
            continue
        if anim.action is not None:
            a, b = anim.action.frame_range
            starts.append(a), ends.append(b)
        for track in anim.nla_tracks:
            for strip in track.strips:
                starts.append(strip.frame_start), ends.append(strip.frame_end)
    if not starts:
        raise EmotiveError(f"'{obj.name}' has no Action or NLA strip to take a frame range from; "
                           "bake over the scene's range instead")
    return int(np.floor(min(starts))), int(np.ceil(max(ends)))


def _source_name(anim, owner) -> str:
    if anim.action is not None:  # a bake of a bake is named after the first: "… (baked).001"
        base = re.sub(r"\.\d{3}$", "", anim.action.name)
        return base[:-len(SUFFIX)] if base.endswith(SUFFIX) else anim.action.name
    return f"{owner.name} NLA" if len(anim.nla_tracks) else f"{owner.name} drivers"


def _check(obj, rig, frame_start, frame_end):
    reason = nothing_to_bake(obj)
    if reason:
        raise EmotiveError(reason)
    if frame_end < frame_start:
        raise EmotiveError(f"the frame range {frame_start}–{frame_end} is empty")
    for idt in (obj.data.shape_keys, rig):
        if idt is None:
            continue
        if idt.library or getattr(idt, "data", idt).library:
            raise EmotiveError(f"'{idt.name}' is linked from a library; make it local before baking")
        if idt.animation_data is not None and idt.animation_data.use_tweak_mode:
            raise EmotiveError(f"'{idt.name}' is in NLA tweak mode: leave it (Tab in the NLA editor) before baking")


def _assign(anim, action, slot) -> None:
    previous = anim.action
    if previous is not None and not previous.use_fake_user:
        previous.use_fake_user = True  # the user's animation survives saving
    anim.action = action
    anim.action_slot = slot
    anim.action_blend_type = 'REPLACE'  # the bake already holds what the NLA below adds up to
    anim.action_influence = 1.0


def _write_keys(key, names, values, frame_start, name):
    action = bpy.data.actions.new(name)
    action.use_fake_user = True
    slot = action.slots.new(id_type='KEY', name=key.name)
    bag = anim_utils.action_ensure_channelbag_for_slot(action, slot)
    group = bag.groups.new(GROUP)
    linear = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items["LINEAR"].value
    for column, channel in enumerate(names):
        kept = reduce_keys(values[:, column], 0.0)  # exact on every frame between LINEAR keys
        curve = bag.fcurves.new(f'key_blocks["{bpy.utils.escape_identifier(channel)}"].value', index=0)
        curve.group = group
        co = np.empty(2 * len(kept), dtype=np.float32)
        co[0::2] = frame_start + kept
        co[1::2] = values[kept, column]
        curve.keyframe_points.add(len(kept))
        curve.keyframe_points.foreach_set("co", co)
        curve.keyframe_points.foreach_set("interpolation", [linear] * len(kept))
        curve.update()
    _assign(key.animation_data, action, slot)
    return action


BONE_OPTIONS = dict(only_selected=False, do_pose=True, do_object=False, do_visual_keying=False,
                    do_constraint_clear=False, do_parents_clear=False, do_clean=True, do_location=True,
                    do_rotation=True, do_scale=True, do_bbone=True, do_custom_props=True)


def bake_take(obj, scene, frame_start: int | None = None, frame_end: int | None = None) -> Baked:
    """Bake what plays on `obj`'s shape keys and face rig over frames start..end (default: the
    scene's range) into new Actions (see the module docstring). Checks first (EmotiveError,
    nothing changed); the scene's current frame is restored."""
    if obj is None or obj.type != 'MESH':
        raise EmotiveError(nothing_to_bake(obj))
    frame_start = scene.frame_start if frame_start is None else int(frame_start)
    frame_end = scene.frame_end if frame_end is None else int(frame_end)
    blocks, rig = bake_sources(obj)
    _check(obj, rig, frame_start, frame_end)
    if scene != bpy.context.scene:
        raise EmotiveError("bake in the active scene")  # Blender's baker frames bpy.context.scene
    key = obj.data.shape_keys
    names = [kb.name for kb in blocks]
    frames = range(frame_start, frame_end + 1)
    values = np.zeros((len(frames), len(blocks)), dtype=np.float64)
    baked = Baked(frame_start, frame_end, shape_key_names=names, rig=rig)
    key_source = _source_name(key.animation_data, key) if blocks else ""
    rig_source = _source_name(rig.animation_data, rig) if rig is not None else ""

    bones = None
    if rig is not None:
        bones = anim_utils.bake_action_iter(rig, action=None, bake_options=anim_utils.BakeOptions(**BONE_OPTIONS))
        previous = rig.animation_data.action
        if previous is not None:
            previous.use_fake_user = True  # the baker assigns its new Action in place of this one
        bones.send(None)
    current = scene.frame_current, scene.frame_subframe
    try:
        for i, frame in enumerate(frames):
            scene.frame_set(frame)
            for k, kb in enumerate(blocks):
                values[i, k] = kb.value
            if bones is not None:
                bones.send(frame)
    finally:
        scene.frame_set(current[0], subframe=current[1])
    if not np.all(np.isfinite(values)):
        raise EmotiveError(f"'{obj.name}': a shape key plays NaN or infinity (a driver?); nothing baked")

    if blocks:
        baked.shape_keys = _write_keys(key, names, values, frame_start, key_source + SUFFIX)
        driven = {fc.data_path for fc in key.animation_data.drivers if not fc.mute}
        n = sum(kb.path_from_id("value") in driven for kb in blocks)
        if n:
            baked.notes.append(f"{n} shape key(s) stay driven by drivers, which override the baked keys "
                               "(mute the drivers to edit the bake)")
    if bones is not None:
        action = bones.send(None)
        action.name = rig_source + SUFFIX
        action.use_fake_user = True
        _assign(rig.animation_data, action, rig.animation_data.action_slot)
        baked.bones = action
        bag = anim_utils.action_get_channelbag_for_slot(action, rig.animation_data.action_slot)
        baked.bone_curves = len(bag.fcurves) if bag is not None else 0
        scene.frame_set(current[0], subframe=current[1])  # the new Action plays from here
    return baked
