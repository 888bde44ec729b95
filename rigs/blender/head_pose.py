"""A captured head's rotation keyed on the character: a new object-level Action turning the head
mesh about its origin (the default head's origin is the base of the neck), composed with the rest
rotation it has now. The face's keys stay where the targets put them; this is the rigid motion
capture cleaning took out of the landmarks (rigs/capture_cleaning.py, its Euler convention).

Keyed only where it cannot break what the user built: a head parented to a rig or a body
follows its parent (its rig's neck carries the motion), and a head with its own object animation
keeps it. Either way a note says so.
"""

from __future__ import annotations

import bpy
import numpy as np
from bpy_extras import anim_utils
from mathutils import Matrix

from ..capture_cleaning import euler_to_matrix
from .actions import key_curve

TOLERANCE = 2e-4          # radians (about 0.01 degrees) for key thinning
STILL = 1e-4              # radians: a capture whose head never turns more keys nothing


def key_head_rotation(obj, head_pose: np.ndarray, *, name: str, frame_start: int = 1):
    """Key (F, 3) yaw, pitch, roll (radians, relative to the take's rest pose) as obj's rotation
    in a new Action. -> (the Action or None, a note for the report, or None for a head that never
    turned)."""
    head_pose = np.asarray(head_pose, np.float64)
    if not len(head_pose) or np.abs(head_pose).max() < STILL:
        return None, None
    if obj.parent is not None:
        return None, (f"head rotation not keyed: '{obj.name}' is parented to '{obj.parent.name}' (key its "
                      "neck or head bone to turn the head)")
    anim = obj.animation_data
    if anim is not None and anim.action is not None:
        return None, f"head rotation not keyed: '{obj.name}' already has object animation ('{anim.action.name}')"
    rest = obj.matrix_basis.to_3x3()
    turns = euler_to_matrix(head_pose)
    mode = obj.rotation_mode
    if mode == 'AXIS_ANGLE':
        return None, f"head rotation not keyed: '{obj.name}' uses axis-angle rotation"
    values, previous = [], None
    for m in turns:
        rotation = rest @ Matrix(m.tolist())
        if mode == 'QUATERNION':
            q = rotation.to_quaternion()
            if previous is not None and q.dot(previous) < 0:
                q.negate()              # the short way between neighbours
            previous = q
            values.append(tuple(q))
        else:
            e = rotation.to_euler(mode, previous) if previous is not None else rotation.to_euler(mode)
            previous = e
            values.append(tuple(e))
    values = np.asarray(values, np.float64)
    prop = "rotation_quaternion" if mode == 'QUATERNION' else "rotation_euler"
    action = bpy.data.actions.new(name)
    action.use_fake_user = True
    slot = action.slots.new(id_type='OBJECT', name=obj.name)
    bag = anim_utils.action_ensure_channelbag_for_slot(action, slot)
    group = bag.groups.new("Head")
    for axis in range(values.shape[1]):
        key_curve(bag, prop, axis, values[:, axis], TOLERANCE, frame_start, group)
    anim = obj.animation_data or obj.animation_data_create()
    anim.action = action
    anim.action_slot = slot
    peak = float(np.degrees(np.abs(head_pose).max()))
    return action, f"head rotation keyed on '{obj.name}' as '{action.name}' (up to {peak:.1f}°)"
