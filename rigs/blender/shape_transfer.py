"""Blender adapter: add the 52 ARKit shape keys to any bound head mesh (rigs/shape_transfer.py works).

`add_arkit_keys(obj, landmarks=None)` reads the mesh (object space: the Basis key's coordinates
when there are shape keys, else the vertices), its loop triangles and its 70 canonical landmarks
(the landmark binding stored by rigs/blender/binding.bind_object evaluated on those coordinates,
or `landmarks` (70, 3) in object space), transfers the default head's keys and adds one key per
ARKit name: value 0, slider 0..1, relative to Basis (created first when the mesh has no keys).
Existing keys are never touched: ARKit-named ones are skipped and listed in `report["skipped"]`.
Every check happens before the first change, so a refused object is left exactly as it was.
"""

from __future__ import annotations

import numpy as np

from ..arkit import ARKIT_NAMES
from ..auto_binding import BindingError
from ..head_mesh import default_head_binding, load_default_head
from ..landmark_binding import triangulate
from ..shape_transfer import ShapeTransferError, transfer_shape_keys

__all__ = ["add_arkit_keys", "ShapeKeyTransferError"]


class ShapeKeyTransferError(ShapeTransferError):
    """The object cannot get ARKit keys (message says why and what to do); nothing was changed."""


def _driven_names(key) -> set[str]:
    """Shape-key names that a driver or an animation F-curve of the Key datablock refers to."""
    ad = getattr(key, "animation_data", None)
    if ad is None:
        return set()
    curves = list(ad.drivers) + (list(ad.action.fcurves) if ad.action is not None
                                 and hasattr(ad.action, "fcurves") else [])
    out = set()
    for fc in curves:
        p = fc.data_path
        if p.startswith('key_blocks["'):
            out.add(p[len('key_blocks["'):].split('"]', 1)[0])
    return out


def _check(obj):
    if obj is None or getattr(obj, "type", None) != 'MESH':
        raise ShapeKeyTransferError(f"{getattr(obj, 'name', obj)!r} is not a mesh object")
    mesh = obj.data
    for idb in (obj, mesh):
        if idb.library is not None or getattr(idb, "override_library", None) is not None:
            raise ShapeKeyTransferError(
                f"{idb.name!r} is linked from a library and its shape keys cannot be added here: "
                "make it local (Object > Relations > Make Local) first")
    if mesh.users > 1:
        raise ShapeKeyTransferError(
            f"the mesh {mesh.name!r} is used by {mesh.users} objects: shape keys would change "
            "all of them; make it single-user (Object > Relations > Make Single User) first")
    if len(mesh.polygons) == 0:
        raise ShapeKeyTransferError(f"{obj.name!r} has no faces: shape keys need a surface mesh")


def _mesh_arrays(obj):
    mesh = obj.data
    n = len(mesh.vertices)
    co = np.empty(n * 3, np.float32)
    key = mesh.shape_keys
    if key is not None and len(key.key_blocks):
        key.reference_key.data.foreach_get("co", co)
    else:
        mesh.vertices.foreach_get("co", co)
    totals = np.empty(len(mesh.polygons), np.int32)
    starts = np.empty(len(mesh.polygons), np.int32)
    loops = np.empty(len(mesh.loops), np.int32)
    mesh.polygons.foreach_get("loop_total", totals)
    mesh.polygons.foreach_get("loop_start", starts)
    mesh.loops.foreach_get("vertex_index", loops)
    return co.reshape(n, 3).astype(np.float64), triangulate(starts, totals, loops)


def add_arkit_keys(obj, landmarks=None, report: dict | None = None) -> list[str]:
    """Add the ARKit shape keys missing on `obj` -> the names added (ARKIT_NAMES order).
    `report` (a dict, optional) receives "skipped" (ARKit keys that already existed) and the
    transfer's report. ShapeKeyTransferError / BindingError leave the object unchanged."""
    _check(obj)
    mesh = obj.data
    key = mesh.shape_keys
    existing = set(key.key_blocks.keys()) if key is not None else set()
    skipped = [n for n in ARKIT_NAMES if n in existing]
    todo = [n for n in ARKIT_NAMES if n not in existing]
    if key is not None:
        dangling = sorted((_driven_names(key) & set(todo)))
        if dangling:
            raise ShapeKeyTransferError(
                f"{obj.name!r} has drivers or animation on shape keys named {dangling[:5]} that do "
                "not exist yet: a new key of that name would be driven by them; remove those "
                "drivers (or add the keys by hand) first")
    verts, tris = _mesh_arrays(obj)
    if landmarks is None:
        from .binding import load_binding  # bpy + mathutils; raises BindingError
        try:
            binding = load_binding(obj)
        except BindingError as e:
            raise ShapeKeyTransferError(
                f"{e}. add_arkit_keys needs the face's landmarks: bind the mesh first (automatic "
                "landmark binding) or pass landmarks") from e
        if binding.canonical70.triangles.max() >= len(verts):
            raise ShapeKeyTransferError(f"{obj.name!r}: the binding refers to missing vertices")
        landmarks = binding.canonical70.evaluate(verts)
    landmarks = np.asarray(landmarks, np.float64)
    if landmarks.shape != (70, 3) or not np.isfinite(landmarks).all():
        raise ShapeKeyTransferError(f"landmarks: expected 70 finite (x, y, z), got "
                                    f"{landmarks.shape}")
    result = {"skipped": skipped, "added": []}
    if todo:
        head = load_default_head()
        src_tris = triangulate(head.loop_starts, head.loop_totals, head.loop_vertices)
        src_lm = default_head_binding().evaluate(head.vertices)
        deltas, info = transfer_shape_keys(head.vertices, src_tris, head.shape_keys, src_lm,
                                           verts, tris, landmarks, names=todo,
                                           return_report=True)
        result["transfer"] = {k: v for k, v in info.items()
                              if k not in ("rotation", "translation")}
        # all checks passed and all deltas computed: only now change the object
        if key is None:
            obj.shape_key_add(name="Basis", from_mix=False)
        for name in todo:
            kb = obj.shape_key_add(name=name, from_mix=False)
            kb.slider_min, kb.slider_max = 0.0, 1.0
            kb.value = 0.0
            kb.data.foreach_set("co", (verts + deltas[name]).astype(np.float32).ravel())
        mesh.update()
        result["added"] = list(todo)
    if report is not None:
        report.update(result)
    return list(result["added"])
