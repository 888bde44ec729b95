"""The text path inside real Blender: the installed extension's operators on the default head."""

import bpy
import pytest

from blender_helpers import peak, sampled, take_curves

JOY = "I am so happy today, this is wonderful news and I love it!"
ANGER = "I am furious, this makes me so angry, I hate it!"


def animate(head, text, undo=False, **settings):
    s = bpy.context.scene.emotive
    s.target = head
    s.text_source = 'LINE'
    s.text_line = text
    for key, value in settings.items():
        setattr(s, key, value)
    if undo:  # as the UI calls it: with an undo step pushed on success
        return bpy.ops.emotive.animate_text('EXEC_DEFAULT', True)
    return bpy.ops.emotive.animate_text()


def test_extension_registers_its_ui(addon):
    assert hasattr(bpy.types, "EMOTIVE_PT_text")
    assert bpy.types.EMOTIVE_PT_text.bl_category == "Emotive"
    assert hasattr(bpy.ops.emotive, "animate_text") and hasattr(bpy.ops.emotive, "add_default_head")


def test_add_default_head_is_ready_to_animate(head):
    keys = head.data.shape_keys.key_blocks
    assert len(keys) == 53 and keys[0].name == "Basis"
    assert bpy.context.scene.emotive.target == head


def test_joyful_sentence_smiles_without_frowning(head):
    assert animate(head, JOY) == {'FINISHED'}
    scene = bpy.context.scene
    curves = take_curves(head)
    for side in ("Left", "Right"):
        assert peak(curves, f"mouthSmile{side}", scene.frame_start, scene.frame_end) >= 0.4
        assert peak(curves, f"browDown{side}", scene.frame_start, scene.frame_end) < 0.1
    assert scene.emotive.results[0].emotion == "joy"


def test_angry_sentence_lowers_brows_without_smiling(head):
    assert animate(head, ANGER) == {'FINISHED'}
    scene = bpy.context.scene
    curves = take_curves(head)
    for side in ("Left", "Right"):
        assert peak(curves, f"browDown{side}", scene.frame_start, scene.frame_end) >= 0.4
        assert peak(curves, f"mouthSmile{side}", scene.frame_start, scene.frame_end) < 0.1
    assert scene.emotive.results[0].emotion == "anger"


def test_take_starts_and_ends_neutral_and_sets_the_frame_range(head):
    animate(head, JOY + " " + ANGER)
    scene = bpy.context.scene
    curves = take_curves(head)
    assert scene.frame_end - scene.frame_start > 2 * 24  # two sentences last seconds, not frames
    for name, curve in curves.items():
        assert abs(curve.evaluate(scene.frame_start)) < 1e-3, name
        assert abs(curve.evaluate(scene.frame_end)) < 1e-3, name
        values = sampled(curve, scene.frame_start, scene.frame_end)
        assert values.min() >= -0.02 and values.max() <= 1.0, name
    assert [r.emotion for r in scene.emotive.results] == ["joy", "anger"]
    assert min(r.strength for r in scene.emotive.results) > 0.5  # the panel's "face" figure
    assert "eyeBlinkLeft" in curves  # the face keeps blinking


class RecordingLayout:
    """Stands in for a UI layout: keeps the labels drawn into it."""

    def __init__(self):
        self.labels = []

    def row(self, **_):
        return self

    def label(self, text="", **_):
        self.labels.append(text)


def test_the_results_list_shows_each_segments_emotion_and_how_strongly_the_face_shows_it(head):
    animate(head, JOY + " " + ANGER)
    results = bpy.context.scene.emotive.results
    drawn = []
    for item in results:
        layout = RecordingLayout()
        bpy.types.EMOTIVE_UL_results.draw_item(None, bpy.context, layout, None, item, 0, None, "")
        drawn.append(layout.labels[1])
    assert drawn == [f"{r.emotion} {r.confidence:.0%}, face {r.strength:.0%}" for r in results]
    assert drawn[0].startswith("joy ") and drawn[1].startswith("anger ")


def test_a_second_run_is_a_new_take_and_leaves_the_first_intact(head):
    animate(head, JOY)
    first = head.data.shape_keys.animation_data.action
    before = {n: [tuple(k.co) for k in c.keyframe_points] for n, c in take_curves(head).items()}
    animate(head, ANGER, seed=3)
    second = head.data.shape_keys.animation_data.action
    assert second != first and second.name != first.name
    assert first.name in bpy.data.actions and first.use_fake_user
    from bpy_extras import anim_utils
    bag = anim_utils.action_get_channelbag_for_slot(first, first.slots[0])
    after = {fc.data_path.split('"')[1]: [tuple(k.co) for k in fc.keyframe_points] for fc in bag.fcurves}
    assert after == before


def test_users_own_action_is_kept(head):
    key = head.data.shape_keys
    key.key_blocks["jawOpen"].value = 0.3
    key.key_blocks["jawOpen"].keyframe_insert("value", frame=5)
    mine = key.animation_data.action
    animate(head, JOY)
    assert key.animation_data.action != mine
    assert mine.name in bpy.data.actions and mine.use_fake_user
    bag = mine.layers[0].strips[0].channelbags[0]
    assert [tuple(k.co) for k in bag.fcurves[0].keyframe_points] == [(5.0, pytest.approx(0.3))]


def test_undo_restores_the_scene(head):
    name = head.name  # undo rebuilds the data: Python references go stale
    bpy.ops.ed.undo_push(message="before Emotive")
    actions_before = set(bpy.data.actions.keys())
    assert animate(head, JOY, undo=True) == {'FINISHED'}
    assert set(bpy.data.actions.keys()) != actions_before
    bpy.ops.ed.undo()
    head = bpy.data.objects[name]
    assert set(bpy.data.actions.keys()) == actions_before
    anim = head.data.shape_keys.animation_data
    assert anim is None or anim.action is None
    assert len(bpy.context.scene.emotive.results) == 0


def test_intensity_scales_the_expression(head):
    animate(head, JOY, intensity=1.0)
    scene = bpy.context.scene
    full = peak(take_curves(head), "mouthSmileLeft", scene.frame_start, scene.frame_end)
    animate(head, JOY, intensity=0.5)
    half = peak(take_curves(head), "mouthSmileLeft", scene.frame_start, scene.frame_end)
    assert half == pytest.approx(full / 2, rel=0.15)


@pytest.mark.parametrize("text", ["", "   \n\t  "])
def test_empty_text_is_refused_and_changes_nothing(head, text):
    actions = set(bpy.data.actions.keys())
    with pytest.raises(RuntimeError, match="text is empty"):
        animate(head, text)
    assert set(bpy.data.actions.keys()) == actions
    assert head.data.shape_keys.animation_data is None


def test_non_english_text_stays_neutral_with_a_warning(head):
    assert animate(head, "Der Hund läuft sehr schnell über die große Straße.") == {'FINISHED'}
    result = bpy.context.scene.emotive.results[0]
    assert result.emotion == "neutral" and result.warning and result.strength == 0.0
    scene = bpy.context.scene
    curves = take_curves(head)
    assert peak(curves, "mouthSmileLeft", scene.frame_start, scene.frame_end) < 0.05
    assert peak(curves, "browDownLeft", scene.frame_start, scene.frame_end) < 0.05


def test_target_without_arkit_keys_names_what_is_missing(scene):
    bpy.ops.mesh.primitive_cube_add()
    cube = bpy.context.object
    cube.shape_key_add(name="Basis")
    cube.shape_key_add(name="mouthSmileLeft")
    with pytest.raises(RuntimeError, match="mouthSmileRight"):
        animate(cube, JOY)
    assert not bpy.data.actions


def test_wrong_object_type_is_refused(scene):
    bpy.ops.object.empty_add()
    empty = bpy.context.object
    bpy.context.scene.emotive.text_line = JOY
    bpy.context.scene.emotive.target = None
    with pytest.raises(RuntimeError, match="no target object"):
        bpy.ops.emotive.animate_text()
    with pytest.raises(RuntimeError, match="not a mesh|empty object"):
        bpy.context.scene.emotive["target"] = empty  # bypasses the UI's mesh filter, as a script could
        bpy.ops.emotive.animate_text()


def test_text_block_source(head):
    block = bpy.data.texts.new("script")
    block.write("I am so happy to see you!\nWhy would you do this to me? I am so angry.")
    s = bpy.context.scene.emotive
    s.target, s.text_source, s.text_block = head, 'BLOCK', block
    assert bpy.ops.emotive.animate_text() == {'FINISHED'}
    assert len(s.results) >= 2


def test_disable_leaves_blender_clean(addon):
    bpy.ops.preferences.addon_disable(module="bl_ext.user_default.emotive")
    try:
        assert not hasattr(bpy.types.Scene, "emotive")
        assert not hasattr(bpy.types, "EMOTIVE_PT_text")
        assert not hasattr(bpy.types, "EMOTIVE_OT_animate_text")
    finally:
        bpy.ops.preferences.addon_enable(module="bl_ext.user_default.emotive")
    assert hasattr(bpy.types.Scene, "emotive")


def test_install_brings_the_weights_reader(addon):
    """A user's Blender has NumPy but no safetensors: the extension's own wheel must be installed."""
    from pathlib import Path

    user = Path(bpy.utils.resource_path('USER'))
    installed = list(user.glob("extensions/.local/lib/python3.*/site-packages/safetensors/__init__.py"))
    assert installed, f"safetensors wheel not installed under {user}/extensions/.local"
