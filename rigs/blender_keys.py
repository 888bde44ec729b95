"""Blender adapter: check a target and write a performance as a new Action (a "take").

Non-destructive by construction: a fresh Action per run, the shape keys' previous action kept
alive with a fake user, no key block value or existing F-curve ever modified.

prepare_take(obj, drive, motion) is the one door every animation path goes through: it checks
that the character can take a take on the chosen channels ("arkit": its ARKit-named shape keys;
"custom": its own, non-ARKit keys, rigs/blender_custom_keys.py; "bones": the face rig deforming
it, rigs/blender_bone_retarget.py) before anything is computed, and returns a TakeTarget whose
write() keys a finished TextAnimation. Failures raise EmotiveError and change nothing.
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


DRIVES = ("arkit", "custom", "bones")


class TakeTarget:
    """What a take is keyed on; made by prepare_take once everything is checked."""

    drive = "arkit"
    needs_landmarks = False  # the take must keep its landmark motion (keep_landmarks=True)

    def __init__(self, obj):
        self.obj = obj

    def write(self, animation, *, name: str, frame_start: int = 1) -> dict:
        """Key the TextAnimation as a new Action -> {"action", "keyed" (names), "notes" (lines)}."""
        channels = animation.active_channels
        check_target(self.obj, channels)  # raises before anything is written
        action = write_shape_key_take(self.obj, animation.performance.weights, channels,
                                      name=name, frame_start=frame_start)
        return {"action": action, "keyed": channels, "notes": []}


class CustomKeyTarget(TakeTarget):
    drive = "custom"
    needs_landmarks = True

    def __init__(self, obj, names, retarget, skipped):
        super().__init__(obj)
        self.names, self.retarget, self.skipped = names, retarget, skipped

    def write(self, animation, *, name: str, frame_start: int = 1) -> dict:
        from .blender_custom_keys import custom_text_take, write_custom_key_take

        take = custom_text_take(self.obj, animation, self.names, self.retarget)
        if not take["names"]:
            raise EmotiveError(f"'{self.obj.name}': the take moves none of its own shape keys "
                               f"({', '.join(self.names)}); nothing was keyed")
        action = write_custom_key_take(self.obj, take["names"], take["weights"], frame_start=frame_start,
                                       name=name)
        notes = [f"blinks on {', '.join(take['blink_keys'])}" if take["blink_keys"]
                 else "no blinks: none of its keys closes the eyelids"]
        if take["still"]:
            notes.append(f"not moved by this take: {', '.join(take['still'])}")
        if self.skipped:
            notes.append(f"skipped (they move no face landmark): {', '.join(self.skipped)}")
        return {"action": action, "keyed": take["names"], "notes": notes}


class BoneTarget(TakeTarget):
    drive = "bones"
    needs_landmarks = True

    def __init__(self, obj, rig, model, record):
        super().__init__(obj)
        self.rig, self.model, self.record = rig, model, record

    def write(self, animation, *, name: str, frame_start: int = 1) -> dict:
        from .blender_bone_retarget import (check_bone_target, param_limits, predict_params,
                                            write_bone_take)

        check_bone_target(self.rig, self.model)
        limits = param_limits(self.model, self.record["controls"])
        params = np.zeros((len(animation.performance.frames), self.model.n_params))
        for start, motion in animation.iter_landmark_motion(life=True):
            params[start:start + len(motion)] = predict_params(self.model, motion, limits)
        action = write_bone_take(self.rig, self.model.layout, params, name=name, frame_start=frame_start)
        return {"action": action, "keyed": list(self.model.layout.bones),
                "notes": [f"keyed on the face rig '{self.rig.name}'"]}


def prepare_take(obj, drive: str = "arkit", motion: str = "landmark") -> TakeTarget:
    """Check that obj can take a take on `drive` ("arkit", "custom" or "bones"); -> its TakeTarget.
    EmotiveError says exactly what is missing; nothing is changed either way."""
    from .arkit import ARKIT_NAMES

    if drive not in DRIVES:
        raise EmotiveError(f"unknown target channels {drive!r}; use one of {', '.join(DRIVES)}")
    check_target(obj)
    if drive != "arkit" and motion != "landmark":
        what = "its own shape keys" if drive == "custom" else "face bones"
        raise EmotiveError(f"keying {what} needs the generated (landmark) motion: the {motion} motion "
                           "makes ARKit weights only")
    key = obj.data.shape_keys
    if drive == "arkit":
        if not key or not any(n in key.key_blocks for n in ARKIT_NAMES):
            raise EmotiveError(f"'{obj.name}' has no ARKit-named shape keys (browDownLeft … tongueOut): "
                               "click Add ARKit Shape Keys, or use the default head")
        check_single_user(obj)
        return TakeTarget(obj)
    if drive == "custom":
        from .blender_custom_keys import custom_key_retarget, own_key_names

        names = own_key_names(obj)
        if not names:
            raise EmotiveError(f"'{obj.name}' has no shape keys of its own (non-ARKit): use the ARKit keys, "
                               "or add the character's own keys")
        check_key_drivers(obj, names)
        check_single_user(obj)
        report = {}
        names, retarget = custom_key_retarget(obj, names, report=report)
        return CustomKeyTarget(obj, names, retarget, sorted(report.get("skipped", {})))
    from .blender_bone_retarget import check_bone_target, face_rig_of, load_fit

    rig = face_rig_of(obj)
    if rig is None:
        raise EmotiveError(f"'{obj.name}' is not deformed by a face rig (no Armature modifier): skin it to "
                           "its rig, or key shape keys instead")
    model, record = load_fit(rig)
    check_bone_target(rig, model)
    return BoneTarget(obj, rig, model, record)
