"""*Export Live Link CSV*: what plays on the ARKit keys, out and back in through the capture reader."""

import bpy
import numpy as np
import pytest

from emotive.rigs.formats import read
from emotive.rigs.arkit import ARKIT_NAMES


def scene_state(head):
    scene = bpy.context.scene
    keys = head.data.shape_keys.key_blocks
    return (scene.frame_current, {kb.name: kb.value for kb in keys}, len(bpy.data.actions),
            len(bpy.data.objects), head.data.shape_keys.animation_data.action.name)


def test_a_text_take_round_trips_through_the_csv(head, tmp_path):
    scene = bpy.context.scene
    scene.render.fps = 30
    s = scene.emotive
    s.target, s.text_source, s.text_line = head, 'LINE', "I am so happy to see you! Why did you lie to me?"
    assert bpy.ops.emotive.animate_text() == {'FINISHED'}
    scene.frame_set(7)
    before = scene_state(head)
    path = tmp_path / "take.csv"
    assert bpy.ops.emotive.export_livelink(filepath=str(path)) == {'FINISHED'}
    assert scene_state(head) == before                       # the scene is as it was
    track = read(path)
    assert track.format == "livelink" and track.fps == 30
    assert track.n_frames == scene.frame_end - scene.frame_start + 1
    blocks = head.data.shape_keys.key_blocks
    for name in ("mouthSmileLeft", "browDownRight", "eyeBlinkLeft"):
        k = ARKIT_NAMES.index(name)
        curve = head.data.shape_keys.animation_data.action.layers[0].strips[0].channelbags[0].fcurves.find(
            f'key_blocks["{name}"].value')
        played = np.array([curve.evaluate(f) for f in range(scene.frame_start, scene.frame_end + 1)])
        played = np.clip(played, blocks[name].slider_min, blocks[name].slider_max)
        assert np.abs(track.arkit[:, k] - played).max() < 1e-5, name
    assert track.arkit[:, ARKIT_NAMES.index("mouthSmileLeft")].max() > 0.3


def test_without_keys_it_is_greyed_out_with_the_reason(scene):
    bpy.ops.mesh.primitive_cube_add()
    scene.emotive.target = bpy.context.active_object
    assert not bpy.ops.emotive.export_livelink.poll()


def test_an_unknown_suffix_is_refused(head, tmp_path):
    from emotive.errors import EmotiveError
    from emotive.rigs.blender.export import export

    with pytest.raises(EmotiveError, match=r"use one of .glb, .gltf, .fbx, .csv"):
        export(tmp_path / "take.xyz", head, bpy.context.scene)


def test_a_scene_faster_than_the_timecode_is_refused_by_name(head, tmp_path):
    from emotive.errors import EmotiveError
    from emotive.rigs.blender.export import export

    scene = bpy.context.scene
    scene.render.fps = 120
    with pytest.raises(EmotiveError, match="120 fps"):
        export(tmp_path / "fast.csv", head, scene)
    assert not (tmp_path / "fast.csv").exists()
