"""Reading back what the add-on wrote, the way a user inspects it in the Graph Editor."""

import numpy as np


def take_curves(obj):
    """{shape key name: F-curve} of the action assigned to obj's shape keys."""
    anim = obj.data.shape_keys.animation_data
    assert anim is not None and anim.action is not None, "no action on the shape keys"
    from bpy_extras import anim_utils

    bag = anim_utils.action_get_channelbag_for_slot(anim.action, anim.action_slot)
    return {fc.data_path.split('"')[1]: fc for fc in bag.fcurves}


def sampled(curve, start, end):
    return np.array([curve.evaluate(f) for f in range(start, end + 1)])


def peak(curves, name, start, end):
    return float(sampled(curves[name], start, end).max()) if name in curves else 0.0
