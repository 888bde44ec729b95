"""*Bake Take*: a face played by layers (a take on an NLA strip, a user's Action added on top at
half influence, a driven shape key, a jaw bone on an NLA strip) flattened into plain new Actions
that play the same on every frame by themselves; the user's Actions, strips and drivers untouched."""

import bpy
import numpy as np
import pytest
from bpy_extras import anim_utils

from test_export_formats import EXTRA, add_driven_key, jaw_deform, played, rig_head


def curves(action, slot):
    return {fc.data_path: fc for fc in anim_utils.action_get_channelbag_for_slot(action, slot).fcurves}


def keyframes(action):
    """Every key of every F-curve of every slot: to show an Action was not touched."""
    out = {}
    for slot in action.slots:
        bag = anim_utils.action_get_channelbag_for_slot(action, slot)
        for fc in bag.fcurves if bag else ():
            co = np.empty(2 * len(fc.keyframe_points), np.float32)
            fc.keyframe_points.foreach_get("co", co)
            out[(slot.identifier, fc.data_path, fc.array_index)] = co.tolist()
    return out


@pytest.fixture
def layered(head):
    """The head played by layers (see the module docstring). -> (head, rig, user action)."""
    scene = bpy.context.scene
    s = scene.emotive
    # a surprised line: its take opens the jaw, which the user's Action then adds to (Blender
    # plays an ADD layer's curve only on channels that the strips below it animate)
    s.target, s.text_source, s.text_line = head, 'LINE', "Wow, I did not see that coming at all!"
    assert bpy.ops.emotive.animate_text() == {'FINISHED'}
    anim = head.data.shape_keys.animation_data
    take = anim.action
    anim.nla_tracks.new().strips.new("take", scene.frame_start, take)
    anim.action = None
    jaw_open = head.data.shape_keys.key_blocks["jawOpen"]
    for f, v in ((scene.frame_start, 0.0), (scene.frame_start + 20, 0.8), (scene.frame_end, 0.2)):
        jaw_open.value = v
        jaw_open.keyframe_insert("value", frame=f)
    anim.action.name = "My Tweak"
    anim.action_blend_type, anim.action_influence = 'ADD', 0.5
    add_driven_key(head)
    rig = rig_head(head)
    return head, rig, anim.action


def test_the_bake_plays_what_the_layers_played_and_keeps_them(layered):
    head, rig, tweak = layered
    scene = bpy.context.scene
    key = head.data.shape_keys
    names = [kb.name for kb in key.key_blocks[1:]]
    want, want_jaw = played(scene, head, rig, names)
    scene.frame_set(5)
    originals = {a.name: keyframes(a) for a in bpy.data.actions}
    tracks = [[s.action.name for t in idt.animation_data.nla_tracks for s in t.strips] for idt in (key, rig)]

    assert bpy.ops.emotive.bake_take('EXEC_DEFAULT', True) == {'FINISHED'}

    anim = key.animation_data
    baked = anim.action
    assert baked.name == "My Tweak (baked)" and baked.use_fake_user and tweak.use_fake_user
    assert len(baked.slots) == 1 and len(baked.layers) == 1 and len(baked.layers[0].strips) == 1
    assert (anim.action_blend_type, anim.action_influence) == ('REPLACE', 1.0)
    assert scene.frame_current == 5
    # the user's Actions, strips and drivers are as they were
    assert {name: keyframes(bpy.data.actions[name]) for name in originals} == originals
    assert [[s.action.name for t in idt.animation_data.nla_tracks for s in t.strips] for idt in (key, rig)] == tracks
    assert [d.data_path for d in anim.drivers] == [key.key_blocks[EXTRA].path_from_id("value")]

    # the baked curves alone hold every frame that played (the driver's and the added layer's too)
    frames = np.arange(scene.frame_start, scene.frame_end + 1)
    baked_curves = curves(baked, anim.action_slot)
    moving = [n for n in names if np.ptp(want[n]) > 0]
    assert EXTRA in moving and "jawOpen" in moving and len(moving) >= 10
    errors = {}
    for n in moving:
        curve = baked_curves[key.key_blocks[n].path_from_id("value")]
        errors[n] = np.abs(np.array([curve.evaluate(f) for f in frames]) - want[n]).max()
    assert max(errors.values()) < 1e-6, max(errors.items(), key=lambda kv: kv[1])
    # ... and the scene plays the same with them
    again, _ = played(scene, head, rig, names)
    assert max(np.abs(again[n] - want[n]).max() for n in names) < 1e-6

    # the rig's bake plays the jaw alone, its NLA muted
    bones = rig.animation_data.action
    assert bones.name == "Face Rig NLA (baked)"
    for track in rig.animation_data.nla_tracks:
        track.mute = True
    _, jaw = played(scene, head, rig, [])
    # Blender's baker drops keys within 1e-4 of both neighbours (its clean step): ~0.001 deg here
    assert np.abs(jaw - want_jaw).max() < 1e-4
    assert np.abs(want_jaw - want_jaw[0]).max() > 0.05


def test_a_second_bake_is_a_new_action_and_undo_takes_it_back(layered):
    head, rig, tweak = layered
    scene, name = bpy.context.scene, head.name
    assert bpy.ops.emotive.bake_take('EXEC_DEFAULT', True) == {'FINISHED'}
    first = head.data.shape_keys.animation_data.action
    first_keys = keyframes(first)
    bpy.ops.ed.undo_push(message="after the first bake")
    actions = sorted(bpy.data.actions.keys())
    assert bpy.ops.emotive.bake_take('EXEC_DEFAULT', True, frame_range='TAKE') == {'FINISHED'}
    second = head.data.shape_keys.animation_data.action
    assert second.name == "My Tweak (baked).001"  # named after what it flattened, first kept
    assert keyframes(bpy.data.actions[first.name]) == first_keys
    bpy.ops.ed.undo()
    assert sorted(bpy.data.actions.keys()) == actions
    assert bpy.data.objects[name].data.shape_keys.animation_data.action.name == "My Tweak (baked)"
    assert bpy.context.scene.frame_start == 1


def test_the_take_range_is_the_strips_and_actions_span(layered):
    from emotive.rigs.blender.bake import bake_take, take_range

    head, rig, tweak = layered
    scene = bpy.context.scene
    scene.frame_end = scene.frame_end + 30
    start, end = take_range(head)
    assert (start, end) == (1, scene.frame_end - 30)
    baked = bake_take(head, scene, 10, 20)
    co = baked.shape_keys.layers[0].strips[0].channelbags[0].fcurves[0].keyframe_points
    assert (co[0].co[0], co[-1].co[0]) == (10, 20)


def test_a_name_taken_by_the_user_is_not_overwritten(layered):
    head, rig, tweak = layered
    mine = bpy.data.actions.new("My Tweak (baked)")
    mine.use_fake_user = True
    assert bpy.ops.emotive.bake_take() == {'FINISHED'}
    baked = head.data.shape_keys.animation_data.action
    assert baked != mine and baked.name == "My Tweak (baked).001" and len(mine.slots) == 0
