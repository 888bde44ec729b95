"""Undo of the character operators, called the way the UI calls them (an undo step pushed on
success): one Ctrl+Z brings the file back to what it was before the click."""

import bpy
import pytest


def run(op):
    """The operator as a button click runs it: EXEC with an undo push."""
    return op('EXEC_DEFAULT', True)


def state():
    return {"objects": sorted(bpy.data.objects.keys()), "actions": sorted(bpy.data.actions.keys()),
            "armatures": sorted(bpy.data.armatures.keys()), "collections": sorted(bpy.data.collections.keys()),
            "props": {o.name: sorted(k for k in o.keys() if k.startswith("emotive")) for o in bpy.data.objects}}


@pytest.fixture()
def before(scene):
    bpy.ops.ed.undo_push(message="before Emotive")
    return state


def test_undo_edit_and_apply_landmarks(head, before):
    settings = bpy.context.scene.emotive
    settings.target = head
    start = before()
    assert run(bpy.ops.emotive.edit_landmarks) == {'FINISHED'}
    assert any(c.startswith("Emotive Landmarks") for c in bpy.data.collections.keys())
    assert run(bpy.ops.emotive.apply_landmarks) == {'FINISHED'}
    assert "emotive_binding" in bpy.data.objects[head.name]
    bpy.ops.ed.undo()
    bpy.ops.ed.undo()
    assert state() == start


def test_undo_add_head_with_face_rig_and_live_drivers(before):
    start = before()
    assert run(bpy.ops.emotive.add_rigged_head) == {'FINISHED'}
    assert "MakeHuman Face Rig" in bpy.data.objects
    rig = bpy.data.objects["MakeHuman Face Rig"]
    assert "emotive_face_rig_fit" in rig
    assert run(bpy.ops.emotive.add_live_drivers) == {'FINISHED'}
    assert len(bpy.data.objects["MakeHuman Face Rig"].animation_data.drivers) > 0
    after_add = state()
    bpy.ops.ed.undo()                       # the drivers go, the fitted rig stays
    rig = bpy.data.objects["MakeHuman Face Rig"]
    assert not any("arkit_" in d.data_path for d in rig.animation_data.drivers)
    assert state()["objects"] == after_add["objects"]
    bpy.ops.ed.undo()                       # the head and rig go
    assert state() == start
