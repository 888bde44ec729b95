"""*Import Face Capture* inside real Blender: a capture file keyed as a new Action per import."""

import bpy
import numpy as np
import pytest

from blender_helpers import peak, take_curves
from shared_fixtures import smile_and_jaw, write_livelink


def import_capture(head, path, **options):
    bpy.context.scene.emotive.target = head
    return bpy.ops.emotive.import_capture('EXEC_DEFAULT', True, filepath=str(path), smoothing=0.0, **options)


def test_each_import_is_a_new_action_holding_the_capture(head, tmp_path):
    bpy.context.scene.render.fps = 30
    csv = write_livelink(tmp_path / "smile.csv", smile_and_jaw(120))
    assert import_capture(head, csv) == {'FINISHED'}
    first = head.data.shape_keys.animation_data.action
    scene = bpy.context.scene
    curves = take_curves(head)
    assert peak(curves, "mouthSmileLeft", scene.frame_start, scene.frame_end) == pytest.approx(0.8, abs=0.02)
    assert scene.frame_end - scene.frame_start + 1 == 60      # 2 s at the scene's 30 fps
    assert import_capture(head, csv, lower=0.0) == {'FINISHED'}  # damped mouth, a second take
    second = head.data.shape_keys.animation_data.action
    assert second != first and first.name in bpy.data.actions     # the first take is kept
    assert peak(take_curves(head), "mouthSmileLeft", scene.frame_start, scene.frame_end) < 0.4
    assert scene.emotive.results[0].emotion  # each window is labelled (pipeline/capture.py)


def test_a_bad_file_changes_nothing(head, tmp_path):
    junk = tmp_path / "junk.csv"
    junk.write_text("Timecode,BlendShapeCount,EyeBlinkLeft\n00:00:00:00.000,61,oops\n")
    actions = set(bpy.data.actions)
    with pytest.raises(RuntimeError, match="junk.csv"):
        import_capture(head, junk)
    assert set(bpy.data.actions) == actions and head.data.shape_keys.animation_data is None


def test_the_panel_offers_it(addon):
    assert hasattr(bpy.ops.emotive, "import_capture")
    assert "*.csv" in bpy.ops.emotive.import_capture.get_rna_type().properties["filter_glob"].default


def test_the_captured_head_turn_is_keyed_on_the_head_object(head, tmp_path):
    """The head's rigid motion, taken out of the face, comes back as the object's rotation, about
    the neck, in a new Action; a head that has its own object animation keeps it."""
    bpy.context.scene.render.fps = 30
    n = 120
    turn = np.zeros((n, 3))
    turn[40:80, 0] = np.radians(20) * np.sin(np.linspace(0, np.pi, 40))  # at rest, a yaw out and back, rest
    csv = write_livelink(tmp_path / "turn.csv", smile_and_jaw(n), head=turn)
    assert import_capture(head, csv) == {'FINISHED'}
    action = head.animation_data.action
    assert action is not None and action.name.endswith("(head)")
    scene = bpy.context.scene
    yaws = []
    for frame in range(scene.frame_start, scene.frame_end + 1, 5):
        scene.frame_set(frame)
        yaws.append(head.matrix_world.to_euler('YXZ').z)
    assert np.degrees(max(np.abs(yaws))) == pytest.approx(20, abs=1.5)
    assert abs(yaws[0]) < np.radians(1) and abs(yaws[-1]) < np.radians(2)   # back to rest
    scene.frame_set(scene.frame_start)
    assert import_capture(head, csv) == {'FINISHED'}                 # object animation now exists
    assert head.animation_data.action == action                      # kept, not replaced


def test_a_still_head_keys_no_rotation(head, tmp_path):
    csv = write_livelink(tmp_path / "still.csv", smile_and_jaw(60))
    assert import_capture(head, csv) == {'FINISHED'}
    assert head.animation_data is None or head.animation_data.action is None
