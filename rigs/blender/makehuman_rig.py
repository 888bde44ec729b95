"""Blender adapter: MakeHuman's Rigify face rig (rigs/makehuman_rig.py) built as a Rigify metarig,
generated headless, and the default head skinned to it with MakeHuman's own weights.

- `build_metarig(description, collection)`: an armature with the description's bones (face +
  spine chain), rolls (ALIGN_Z_WORLD_Z: EditBone.align_roll towards world Z, as MPFB does),
  parents, bone collections with their Rigify UI rows, rigify types and parameters (the
  `*_coll_refs` parameters are lists of collection references).
- `makehuman_face_rig(collection)`: the metarig generated with bpy.ops.pose.rigify_generate
  (bpy 5.0's Rigify generates the modern skin-based face, face.skin_jaw / skin.stretchy_chain /
  skin.glue / face.skin_eye, in ~0.25 s; the metarig is removed afterwards) and the default head
  skinned to the generated DEF- bones: one vertex group per MakeHuman weight group, named after
  the deform bone Rigify makes for it ("lip.T.L" -> "DEF-lip.T.L"; "DEF-eye_master.L" as is).
  No bone heat: the rig and the head share the default head's frame, nothing is moved.
- MAKEHUMAN_FACE_CONTROLS: the generated rig's controls a retarget drives, in the format of
  rigify_face.FACE_CONTROLS (use rigify_face.face_layout / sample_examples / apply_params /
  actions.write_bone_take with it). The rig also carries them as a JSON string in
  rig["emotive_face_controls"] (the property rigs/blender/face_rig.py reads).
"""

from __future__ import annotations

import json

import bpy
import numpy as np

from ..makehuman_rig import MakeHumanRig, load_face_rig
from .head import create_default_head
from .rigify_face import _set_active, enable_rigify, generate_rig

# Controls of the generated MakeHuman face and the ranges sample_examples draws from: per
# channel the half-range per local axis (metres; radians of rotation vector). jaw_master: the
# jaw's master control (rotation about local x opens the mouth, as on Blender's own face rig);
# lip_end.*.001: the mouth corners, where the upper and lower lip chains meet; brow.T.*.002:
# the middle of the upper brow; lid.T.*.002: the middle of the upper lid. Ranges as for the
# legacy face (rigify_face.FACE_CONTROLS), except the lids: they move in their local x/y plane
# only (sideways, up/down along the eyeball). Their local z (out of the eye) moves the lid
# landmarks along nearly the same line as y, a quarter as far (the lid margin slides on the
# eyeball: landmark 43 goes (0, 0.19, 1.04) mm per -4 mm of z, (0, 1.0, 3.0) mm per +4 mm of y),
# so y and z cannot be told apart from landmarks: with z free the fit confuses them (16 mm
# errors on +-4 mm), without it the lids come back within 0.3 mm.
MAKEHUMAN_FACE_CONTROLS: dict[str, dict[str, tuple[float, float, float]]] = {
    "jaw_master": {"location": (0.0, 0.0, 0.0), "rotation": (0.2, 0.05, 0.05)},
    "lip_end.L.001": {"location": (0.006, 0.006, 0.006)},
    "lip_end.R.001": {"location": (0.006, 0.006, 0.006)},
    "brow.T.L.002": {"location": (0.006, 0.006, 0.006)},
    "brow.T.R.002": {"location": (0.006, 0.006, 0.006)},
    "lid.T.L.002": {"location": (0.004, 0.004, 0.0)},
    "lid.T.R.002": {"location": (0.004, 0.004, 0.0)},
}
CONTROLS_PROPERTY = "emotive_face_controls"
RIG_NAME = "MakeHuman Face Rig"   # the generated rig (.001 ... when the name is taken)


def _link(obj, collection):
    (collection or bpy.context.scene.collection).objects.link(obj)


def build_metarig(description: MakeHumanRig, collection: bpy.types.Collection | None = None,
                  name: str = "MakeHuman Face Metarig", rig_name: str = RIG_NAME):
    """The Rigify metarig of `description` (bones in the default head's frame); returns it.
    Rigify names the rig it generates `rig_name` (a new object each time: .001 .. if taken)."""
    enable_rigify()
    if bpy.context.object and bpy.context.object.mode != 'OBJECT':
        bpy.ops.object.mode_set(mode='OBJECT')
    arm = bpy.data.armatures.new(name)
    meta = bpy.data.objects.new(name, arm)
    _link(meta, collection)
    arm.rigify_rig_basename = rig_name
    _set_active(meta)
    bpy.ops.armature.rigify_add_color_sets()  # the colour sets the collections' ids refer to
    for cname, ui in description.collections_ui.items():
        bc = arm.collections.new(cname)
        bc.rigify_ui_row = ui.get("ui_row", 0)
        bc.rigify_ui_title = ui.get("ui_title", "")
        bc.rigify_sel_set = ui.get("sel_set", False)
        bc.rigify_color_set_id = ui.get("color_set_id", 0)
        bc.is_visible = ui.get("is_visible", True)
    bpy.ops.object.mode_set(mode='EDIT')
    try:
        ebs = arm.edit_bones
        for b in description.bones.values():
            eb = ebs.new(b.name)
            eb.head, eb.tail, eb.roll = tuple(b.head), tuple(b.tail), b.roll
        for b in description.bones.values():
            eb = ebs[b.name]
            if b.parent:
                eb.parent = ebs[b.parent]
            eb.use_connect = b.use_connect
            eb.use_local_location = b.use_local_location
            eb.use_inherit_rotation = b.use_inherit_rotation
            eb.inherit_scale = b.inherit_scale
            if b.roll_strategy == "ALIGN_Z_WORLD_Z":
                eb.align_roll((0.0, 0.0, 1.0))
            elif b.roll_strategy:
                raise ValueError(f"{b.name}: unsupported roll strategy {b.roll_strategy!r}")
            for cname in b.collections:
                arm.collections[cname].assign(eb)
    finally:
        bpy.ops.object.mode_set(mode='OBJECT')
    for b in description.bones.values():
        pb = meta.pose.bones[b.name]
        pb.rotation_mode = b.rotation_mode
        pb.rigify_type = b.rigify_type
        params = pb.rigify_parameters
        for key, value in b.rigify_parameters.items():
            if key.endswith("_coll_refs"):
                refs = getattr(params, key)
                for cname in value:
                    refs.add().set_collection(arm.collections[cname])
            elif not hasattr(params, key):
                raise RuntimeError(f"{b.name}: Rigify ({b.rigify_type}) has no parameter {key!r}")
            else:
                setattr(params, key, value)
    return meta


def skin_head(rig, head, description: MakeHumanRig) -> None:
    """Vertex groups from MakeHuman's weights (named after the generated DEF- bones), an
    Armature modifier and the rig as parent. Raises if a group has no deform bone."""
    groups = description.deform_groups()
    missing = sorted(d for d in groups.values()
                     if d not in rig.data.bones or not rig.data.bones[d].use_deform)
    if missing:
        raise RuntimeError(f"the generated rig has no deform bones {missing}")
    for group, bone in groups.items():
        vg = head.vertex_groups.new(name=bone)
        ids, w = description.weights[group]
        for i, wi in zip(ids.tolist(), w.tolist()):
            vg.add([i], wi, 'REPLACE')
    head.modifiers.new("Armature", 'ARMATURE').object = rig  # deforms the shape keys' mix
    head.parent = rig  # both at the origin: no parent inverse needed


def _datablocks() -> set:
    """The datablocks building a rig creates: objects and their data (the head's shape keys
    go with its mesh), Rigify's widget collection and its rig_ui script."""
    return {*bpy.data.objects, *bpy.data.armatures, *bpy.data.meshes, *bpy.data.materials,
            *bpy.data.collections, *bpy.data.texts}


def makehuman_face_rig(collection: bpy.types.Collection | None = None,
                       description: MakeHumanRig | None = None, keep_metarig: bool = False):
    """MakeHuman's Rigify face rig, generated, with the default head skinned to it by MakeHuman's
    weights; returns (rig, head). Both stand at the origin in the default head's frame. On
    failure nothing it made is left behind."""
    description = description or load_face_rig()
    before = _datablocks()
    try:
        meta = build_metarig(description, collection)
        rig = generate_rig(meta, collection)
        rig[CONTROLS_PROPERTY] = json.dumps(MAKEHUMAN_FACE_CONTROLS)
        head = create_default_head(collection, name="Emotive MakeHuman Head")
        skin_head(rig, head, description)
    except Exception:
        # leave the file as it was: the metarig, the rig, Rigify's widgets, the head
        if bpy.context.object and bpy.context.object.mode != 'OBJECT':
            bpy.ops.object.mode_set(mode='OBJECT')
        bpy.data.batch_remove(_datablocks() - before)
        raise
    if not keep_metarig:
        arm = meta.data
        bpy.data.objects.remove(meta, do_unlink=True)
        bpy.data.armatures.remove(arm)
    bpy.context.view_layer.update()
    _set_active(head)
    return rig, head


def vertex_weights(head) -> dict[str, np.ndarray]:
    """group name -> (V,) weights of each vertex (0 where not in the group): what was skinned."""
    out = {vg.name: np.zeros(len(head.data.vertices)) for vg in head.vertex_groups}
    names = [vg.name for vg in head.vertex_groups]
    for v in head.data.vertices:
        for g in v.groups:
            out[names[g.group]][v.index] = g.weight
    return out
