"""Blender adapter for landmark -> bone retargeting (rigs/bone_rbf.py): a Rigify face rig, a test
head skinned to it, example poses, and keys written into a new Action.

- `rigify_face_rig(collection)`: Rigify's human metarig (the rigify add-on that ships in Blender's
  addons_core), cut down to the torso/neck/head chain and the face (arms, legs, breasts, pelvis
  removed), generated headless with bpy.ops.pose.rigify_generate (works in bpy 5.0: ~1.5 s;
  the legacy `faces.super_face` rig type that the human metarig uses).
- `bind_head_to_rig(rig, collection)`: the default head (rigs/blender/head.create_default_head)
  scaled and moved so its pupils and mouth corners sit on the rig's eye bones and lip corners
  (least squares, uniform scale + translation), then skinned to the rig's deform bones with
  automatic (bone heat) weights, ARMATURE_AUTO.
- `landmarks(head, binding)`: the 70 bound landmarks on the evaluated (skinned) mesh, in the
  head object's local space, i.e. the default head's metres (what the text pipeline produces).
- `sample_examples(rig, head, bones, n, rng)`: random known transforms of chosen controls ->
  (n, 70, 3) landmark displacements from rest + (n, D) parameters in BoneRBF's layout.
Keys go into a new Action through actions.write_bone_take, as for every take.
"""

from __future__ import annotations

import addon_utils
import bpy
import numpy as np

from ..bone_rbf import BoneLayout, quat_to_rotvec, rotvec_to_quat
from ..head_mesh import default_head_binding
from .head import create_default_head

# Controls of the generated Rigify face (legacy super_face) a retarget can drive, and the
# random ranges sample_examples draws from: per channel, the half-range per local axis.
# Location in metres (pose-bone local axes), rotation in radians (rotation-vector components).
# Jaw: up to ~23 deg open (x) with a few degrees of side sway; lip corners and brows +-6 mm;
# eyelids +-4 mm (the lids' own travel on the default head is ~8 mm).
FACE_CONTROLS: dict[str, dict[str, tuple[float, float, float]]] = {
    "jaw_master": {"location": (0.0, 0.0, 0.0), "rotation": (0.2, 0.05, 0.05)},
    "lips.L": {"location": (0.006, 0.006, 0.006)},
    "lips.R": {"location": (0.006, 0.006, 0.006)},
    "brow.T.L.002": {"location": (0.006, 0.006, 0.006)},
    "brow.T.R.002": {"location": (0.006, 0.006, 0.006)},
    "lid.T.L.002": {"location": (0.004, 0.004, 0.004)},
    "lid.T.R.002": {"location": (0.004, 0.004, 0.004)},
}
# The jaw's rotation is drawn from [-0.2 * JAW_CLOSE_FRACTION, 0.2] about x: mostly opening.
JAW_CLOSE_FRACTION = 0.25

_KEEP_CHAIN = ("spine", "spine.001", "spine.002", "spine.003", "spine.004", "spine.005", "spine.006")


def enable_rigify():
    """Enable the bundled Rigify add-on (module 'rigify' in addons_core); returns its module."""
    mod = addon_utils.enable("rigify", default_set=True, handle_error=None)
    if mod is None:
        raise RuntimeError("could not enable the bundled Rigify add-on")
    return mod


def _set_active(obj):
    for o in bpy.context.view_layer.objects:
        o.select_set(False)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj


def rigify_face_rig(collection: bpy.types.Collection | None = None, keep_metarig: bool = False):
    """Build the human metarig, keep the spine chain + face, generate the rig; returns the rig
    object (armature). The metarig is deleted unless keep_metarig."""
    enable_rigify()
    if bpy.context.object and bpy.context.object.mode != 'OBJECT':
        bpy.ops.object.mode_set(mode='OBJECT')
    bpy.ops.object.armature_human_metarig_add()
    meta = bpy.context.view_layer.objects.active
    if collection is not None and meta.name not in collection.objects:
        for c in list(meta.users_collection):
            c.objects.unlink(meta)
        collection.objects.link(meta)
        _set_active(meta)
    arm = meta.data
    keep = set(_KEEP_CHAIN)
    stack = [arm.bones["face"]]
    while stack:
        b = stack.pop()
        keep.add(b.name)
        stack.extend(b.children)
    bpy.ops.object.mode_set(mode='EDIT')
    for eb in list(arm.edit_bones):
        if eb.name not in keep:
            arm.edit_bones.remove(eb)
    bpy.ops.object.mode_set(mode='OBJECT')
    rig = generate_rig(meta, collection)
    if not keep_metarig:
        bpy.data.objects.remove(meta, do_unlink=True)
    return rig


def generate_rig(meta, collection: bpy.types.Collection | None = None):
    """bpy.ops.pose.rigify_generate on the metarig `meta`; returns the generated rig object,
    moved into `collection` when given."""
    _set_active(meta)
    before = set(bpy.data.objects)
    result = bpy.ops.pose.rigify_generate()
    if result != {'FINISHED'}:
        raise RuntimeError(f"rigify_generate: {result}")
    rig = bpy.context.view_layer.objects.active
    if rig is meta or rig.type != 'ARMATURE':
        rig = next(o for o in set(bpy.data.objects) - before if o.type == 'ARMATURE')
    if collection is not None and rig.name not in collection.objects:
        for c in list(rig.users_collection):
            c.objects.unlink(rig)
        collection.objects.link(rig)
    return rig


def _rig_anchor_points(rig) -> np.ndarray:
    """World positions on the rig matching landmarks 68 (right pupil), 69 (left pupil), 48 (right
    mouth corner), 54 (left mouth corner): the eye bones' heads (moved forward by the eye's
    radius to the pupil, the eye bones point forward) and the lip chains' outer tails."""
    mw = rig.matrix_world
    b = rig.data.bones

    pts = []
    for side in ("R", "L"):
        e = b[f"ORG-eye.{side}"]
        pts.append(mw @ (e.head_local + (e.tail_local - e.head_local).normalized() * 0.012))
    for side in ("R", "L"):
        pts.append(mw @ b[f"ORG-lip.T.{side}.001"].tail_local)
    return np.array([tuple(p) for p in pts])


def bind_head_to_rig(rig, collection: bpy.types.Collection | None = None, binding=None):
    """The default head placed on the rig's face and skinned with automatic weights; returns
    the head object. Raises if bone heat leaves face landmarks without weights."""
    binding = binding or default_head_binding()
    head = create_default_head(collection, name="Emotive Bone Test Head")
    co = np.empty(len(head.data.vertices) * 3)
    head.data.vertices.foreach_get("co", co)
    lm = binding.evaluate(co.reshape(-1, 3))[[68, 69, 48, 54]]
    target = _rig_anchor_points(rig)
    # least squares: target ~ s * lm + t
    lc, tc = lm - lm.mean(0), target - target.mean(0)
    s = float((lc * tc).sum() / (lc * lc).sum())
    t = target.mean(0) - s * lm.mean(0)
    head.scale = (s, s, s)
    head.location = tuple(t)
    bpy.context.view_layer.update()
    _set_active(rig)
    head.select_set(True)
    bpy.context.view_layer.objects.active = rig
    result = bpy.ops.object.parent_set(type='ARMATURE_AUTO')
    if result != {'FINISHED'}:
        raise RuntimeError(f"automatic weights failed: {result}")
    _set_active(head)
    return head


def landmarks(head, binding=None, depsgraph=None) -> np.ndarray:
    """(70, 3) landmarks on the evaluated (deformed) head, in its object space (metres)."""
    binding = binding or default_head_binding()
    dg = depsgraph or bpy.context.evaluated_depsgraph_get()
    mesh = head.evaluated_get(dg).data
    co = np.empty(len(mesh.vertices) * 3)
    mesh.vertices.foreach_get("co", co)
    return binding.evaluate(co.reshape(-1, 3))


def _prepare_bones(rig, layout: BoneLayout):
    for name in layout.bones:
        pb = rig.pose.bones[name]
        if "rotation" in layout.channels and pb.rotation_mode != 'QUATERNION':
            pb.rotation_mode = 'QUATERNION'


def apply_params(rig, layout: BoneLayout, params) -> None:
    """Set the pose bones of `layout` from one (D,) parameter vector (rest = zeros)."""
    parts = layout.split(np.asarray(params, np.float64))
    for name, ch in parts.items():
        pb = rig.pose.bones[name]
        if "location" in ch:
            pb.location = tuple(ch["location"])
        if "rotation" in ch:
            pb.rotation_quaternion = tuple(rotvec_to_quat(ch["rotation"]))
        if "scale" in ch:
            pb.scale = tuple(np.exp(ch["scale"]))


def read_params(rig, layout: BoneLayout) -> np.ndarray:
    """The current pose of `layout`'s bones as a (D,) vector."""
    out = np.zeros(layout.size)
    for name in layout.bones:
        pb = rig.pose.bones[name]
        for c in layout.channels:
            sl = layout.columns(name, c)
            if c == "location":
                out[sl] = tuple(pb.location)
            elif c == "rotation":
                out[sl] = quat_to_rotvec(np.array(tuple(pb.rotation_quaternion)))
            else:
                out[sl] = np.log(np.array(tuple(pb.scale)))
    return out


def face_layout(bones=None) -> BoneLayout:
    """The layout of FACE_CONTROLS (or a subset): location + rotation per bone."""
    return BoneLayout(tuple(bones or FACE_CONTROLS), ("location", "rotation"))


def random_params(layout: BoneLayout, n: int, rng: np.random.Generator,
                  ranges: dict | None = None) -> np.ndarray:
    """(n, D) uniform random parameters within `ranges` (default FACE_CONTROLS); channels a
    bone has no range for stay at rest (0)."""
    ranges = ranges or FACE_CONTROLS
    out = np.zeros((n, layout.size))
    for name in layout.bones:
        for c, half in ranges.get(name, {}).items():
            if c not in layout.channels:
                continue
            half = np.asarray(half, np.float64)
            lo = -half.copy()
            if name == "jaw_master" and c == "rotation":
                lo[0] = -half[0] * JAW_CLOSE_FRACTION  # the jaw opens, it barely closes past rest
            out[:, layout.columns(name, c)] = rng.uniform(lo, half, (n, 3))
    return out


def sample_examples(rig, head, layout: BoneLayout, n: int, rng: np.random.Generator,
                    binding=None, ranges: dict | None = None, params=None):
    """Pose `layout`'s bones with n random known transforms (or the given (n, D) `params`);
    returns (disps (n, 70, 3) from the rest landmarks, params (n, D)). The pose is reset after."""
    binding = binding or default_head_binding()
    _prepare_bones(rig, layout)
    zero = np.zeros(layout.size)
    apply_params(rig, layout, zero)
    bpy.context.view_layer.update()
    dg = bpy.context.evaluated_depsgraph_get()
    rest = landmarks(head, binding, dg)
    if params is None:
        params = random_params(layout, n, rng, ranges)
    params = np.asarray(params, np.float64)
    disps = np.empty((len(params), len(rest), 3))
    try:
        for i, p in enumerate(params):
            apply_params(rig, layout, p)
            dg.update()
            disps[i] = landmarks(head, binding, dg) - rest
    finally:
        apply_params(rig, layout, zero)
        bpy.context.view_layer.update()
    return disps, params
