"""Blender adapter: live drivers on a fitted face rig, for interactive preview.

The armature gets 52 custom properties, rig["arkit_browDownLeft"] … rig["arkit_tongueOut"]
(0..1, the ARKit weights), and each fitted control channel a SCRIPTED driver reading them.
The fitted RBF (rigs/blender/face_rig.py) is nonlinear; a driver has to be a Blender
"simple expression" (arithmetic on its variables only) to run without Auto Run Python Scripts,
so each channel gets the RBF's linearisation around neutral:

    param ~= sum_k J[param, k] * weight_k,   J[:, k] = d model(w * signature_k) / dw at w = 0

(central differences, the signatures being the default head's per-key landmark motion).
Rotation vectors become quaternion x, y, z = r / 2 (first order; w is left at 1). A driver's
expression holds at most 256 characters, so each channel keeps its largest terms (those above
MIN_SHARE of its largest, while they fit). The drivers override keys on the same channels:
remove them (remove_live_drivers) to play a take.
"""

from __future__ import annotations

import bpy
import numpy as np

from ...errors import EmotiveError
from ..arkit import ARKIT_NAMES

PREFIX = "arkit_"
STEP = 0.01           # weight step of the central differences
MIN_SHARE = 0.02      # terms below this share of a channel's largest coefficient are dropped
MAX_EXPRESSION = 250  # characters (Blender stores 256)
DECIMALS = 6          # metres / radians per unit weight: 1e-6 is far below anything visible


def property_name(arkit: str) -> str:
    return PREFIX + arkit


def linearise(model) -> np.ndarray:
    """(D, 52) d params / d ARKit weight at neutral, for the model's parameter layout."""
    from ..head_mesh import default_head_rig

    sigs = default_head_rig()[1]
    up = model.predict(STEP * sigs)
    down = model.predict(-STEP * sigs)
    return ((up - down) / (2 * STEP)).T


def _expression(coefficients, scale: float = 1.0):
    """(expression, [key indices]) for one channel, or (None, []) when nothing moves it."""
    c = np.asarray(coefficients) * scale
    biggest = float(np.abs(c).max()) if len(c) else 0.0
    if round(biggest, DECIMALS) == 0:
        return None, []
    order = [int(k) for k in np.argsort(-np.abs(c)) if abs(c[k]) >= MIN_SHARE * biggest
             and round(float(c[k]), DECIMALS) != 0]
    expr, used = "", []
    for k in order:
        term = f"{c[k]:+.{DECIMALS}f}*w{k}"
        if len(expr) + len(term) > MAX_EXPRESSION:
            break
        expr, used = expr + term, used + [k]
    return expr.lstrip("+"), used


def _ours(fcurve) -> bool:
    return any(t.data_path.startswith(f'["{PREFIX}') for v in fcurve.driver.variables for t in v.targets)


def live_driver_curves(rig) -> list:
    """The driver F-curves add_live_drivers made on `rig`."""
    anim = rig.animation_data
    return [fc for fc in anim.drivers if _ours(fc)] if anim else []


def add_live_drivers(rig) -> int:
    """Drive the fitted controls of `rig` from 52 ARKit-weight properties; -> drivers added.
    Replaces drivers it added before; refuses channels other drivers own (nothing changed)."""
    from .face_rig import driven_channels, load_fit

    model, _ = load_fit(rig)
    layout = model.layout
    ours = {(fc.data_path, fc.array_index) for fc in live_driver_curves(rig)}
    foreign = [p for p in driven_channels(rig, layout.bones)
               if not any(p == path for path, _ in ours)]
    if foreign:
        raise EmotiveError(f"{rig.name!r}: other drivers own {', '.join(foreign[:6])}; remove them first")
    jacobian = linearise(model)
    remove_live_drivers(rig)
    for name in ARKIT_NAMES:
        prop = property_name(name)
        rig[prop] = 0.0
        rig.id_properties_ui(prop).update(min=0.0, max=1.0, soft_min=0.0, soft_max=1.0,
                                          description=f"ARKit weight {name} (Emotive live drivers)")
    added = 0
    for bone in layout.bones:
        pb = rig.pose.bones[bone]
        escaped = bpy.utils.escape_identifier(bone)
        for channel in layout.channels:
            columns = layout.columns(bone, channel)
            if channel == "rotation":
                pb.rotation_mode = 'QUATERNION'
                prop, indices, scale = "rotation_quaternion", (1, 2, 3), 0.5  # q ~ (1, r / 2)
            else:
                prop, indices, scale = "location", (0, 1, 2), 1.0
            for axis, index in enumerate(indices):
                expr, used = _expression(jacobian[columns][axis], scale)
                if expr is None:
                    continue
                fc = rig.driver_add(f'pose.bones["{escaped}"].{prop}', index)
                driver = fc.driver
                driver.type = 'SCRIPTED'
                for k in used:
                    var = driver.variables.new()
                    var.name, var.type = f"w{k}", 'SINGLE_PROP'
                    var.targets[0].id_type = 'OBJECT'
                    var.targets[0].id = rig
                    var.targets[0].data_path = f'["{property_name(ARKIT_NAMES[k])}"]'
                driver.expression = expr
                added += 1
    return added


def remove_live_drivers(rig) -> int:
    """Remove what add_live_drivers added (drivers and the 52 properties) and put the channels
    they drove back at rest (a driver leaves its last value behind); -> drivers removed."""
    curves = live_driver_curves(rig)
    for fc in curves:
        path, index = fc.data_path, fc.array_index
        rig.animation_data.drivers.remove(fc)
        owner, prop = rig.path_resolve(path.rsplit(".", 1)[0]), path.rsplit(".", 1)[1]
        getattr(owner, prop)[index] = 0.0  # location 0, quaternion x/y/z 0 (w untouched, 1)
    for name in ARKIT_NAMES:
        if property_name(name) in rig:
            del rig[property_name(name)]
    return len(curves)
