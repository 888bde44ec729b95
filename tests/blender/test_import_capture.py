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
