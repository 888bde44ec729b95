"""Blender adapter: what a character supports, and making an unbound mesh animatable.

The one place that ties binding (rigs/blender/binding.py) and shape-key transfer
(rigs/blender/shape_transfer.py) together, for the panel, the operators and the CLI.
"""

from __future__ import annotations

import importlib.util

from ...errors import EmotiveError
from ..arkit import ARKIT_NAMES


def character_status(obj, verify: bool = True) -> dict:
    """{'bound': bool, 'binding_problem': str | None, 'arkit_keys': n of 52, 'custom_keys': n}.

    verify=False only looks for a stored binding (cheap enough for a panel's every redraw);
    verify=True also checks it still fits the evaluated mesh."""
    from ..auto_binding import BindingError
    from .binding import PROPERTY, load_binding

    status = {"bound": False, "binding_problem": None, "arkit_keys": 0, "custom_keys": 0}
    if obj is None or obj.type != 'MESH':
        return status
    key = obj.data.shape_keys
    names = [k.name for k in key.key_blocks[1:]] if key else []
    status["arkit_keys"] = sum(n in ARKIT_NAMES for n in names)
    status["custom_keys"] = len(names) - status["arkit_keys"]
    if PROPERTY in obj and not verify:
        status["bound"] = True
    elif PROPERTY in obj:
        try:
            load_binding(obj)
            status["bound"] = True
        except BindingError as exc:
            status["binding_problem"] = str(exc)
    return status


def bind_face(obj, facing: str = "AUTO") -> dict:
    """Bind landmarks to obj automatically (stored on it); -> the quality report."""
    if importlib.util.find_spec("mediapipe") is None:
        raise EmotiveError("automatic binding needs MediaPipe's face model (the mediapipe package), "
                           "which this Python lacks: run it from Emotive's environment")
    from ..auto_binding import BindingError
    from .binding import bind_object

    try:
        _, report = bind_object(obj, facing=facing)
    except BindingError as exc:
        raise EmotiveError(str(exc)) from exc
    return binding_quality(report)


def binding_quality(report: dict) -> dict:
    """The figures a user judges a binding by (landmarks found, reprojection error in px)."""
    keys = ("facing", "face_found", "landmarks_found", "mean_reprojection_px", "max_reprojection_px")
    return {k: report[k] for k in keys if k in report}


def make_animatable(obj) -> dict:
    """Give obj the ARKit keys it lacks, binding it first when needed; -> what was done.

    Nothing changes when it fails: binding and transfer both check before they write.
    """
    from ..auto_binding import BindingError
    from .shape_transfer import ShapeKeyTransferError, add_arkit_keys

    done = {"binding": None, "added_keys": []}
    status = character_status(obj)
    if status["arkit_keys"] == len(ARKIT_NAMES):
        return done
    if status["bound"]:
        import json

        from .binding import PROPERTY
        done["binding"] = binding_quality(json.loads(obj[PROPERTY]).get("report", {}))
    else:
        done["binding"] = bind_face(obj)
    try:
        done["added_keys"] = add_arkit_keys(obj)
    except (ShapeKeyTransferError, BindingError) as exc:
        raise EmotiveError(str(exc)) from exc
    return done
