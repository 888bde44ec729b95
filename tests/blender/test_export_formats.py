"""*Export Take* to glTF/GLB and FBX: a text take on the default head (plus a driven shape key and a
jaw bone played from an NLA strip) out through Blender's bundled exporters, checked by the Khronos
glTF-Validator, imported into a fresh scene, and compared with what played, frame by frame. The
user's scene must be exactly as it was after each export."""

import subprocess
import time
from pathlib import Path

import bpy
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = ROOT / "scripts" / "gltf_validate.mjs"
FPS = 30
SHAPE_TOLERANCE = 1e-4   # key values 0..1 (float32 in glTF; FBX keeps DeformPercent, 0..100)
BONE_TOLERANCE = 1e-4    # entries of the jaw's world-space deformation matrix (metres, rotation)
EXTRA = "Extra"          # a shape key that a driver moves (no keyframes)


def rig_head(head, name="Face Rig"):
    """A two-bone face rig ("head", "jaw") deforming `head` through an Armature modifier (every
    vertex weighted to the two, the lower face to the jaw), its jaw keyed in an Action that is
    pushed onto an NLA strip: only the NLA plays it."""
    scene = bpy.context.scene
    co = np.empty(3 * len(head.data.vertices), np.float32)
    head.data.vertices.foreach_get("co", co)
    co = co.reshape(-1, 3)
    lo, hi = co.min(0), co.max(0)
    rig = bpy.data.objects.new(name, bpy.data.armatures.new(name))
    scene.collection.objects.link(rig)
    view_layer = bpy.context.view_layer
    previous = view_layer.objects.active
    view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode='EDIT')
    bone = rig.data.edit_bones.new("head")
    bone.head, bone.tail = (0, 0, lo[2]), (0, 0, hi[2])
    jaw = rig.data.edit_bones.new("jaw")
    mid_z = (lo[2] + hi[2]) / 2
    jaw.head, jaw.tail, jaw.parent = (0, (lo[1] + hi[1]) / 2, mid_z - 0.02), (0, lo[1], lo[2]), bone
    bpy.ops.object.mode_set(mode='OBJECT')
    view_layer.objects.active = previous
    weight = np.clip(2 * (mid_z - co[:, 2]) / (mid_z - lo[2]), 0, 1)
    groups = head.vertex_groups.new(name="head"), head.vertex_groups.new(name="jaw")
    for i, w in enumerate(weight):
        groups[1].add([i], float(w), 'REPLACE')
        groups[0].add([i], float(1 - w), 'REPLACE')
    head.modifiers.new("Armature", 'ARMATURE').object = rig
    pose = rig.pose.bones["jaw"]
    pose.rotation_mode = 'XYZ'
    for f in range(scene.frame_start, scene.frame_end + 1, 9):
        pose.rotation_euler = (0.3 * np.sin(f / 6), 0.05 * np.cos(f / 5), 0.02 * np.sin(f / 4))
        pose.keyframe_insert("rotation_euler", frame=f)
    anim = rig.animation_data
    action = anim.action
    anim.nla_tracks.new().strips.new("jaw", scene.frame_start, action)
    anim.action = None
    pose.rotation_euler = (0, 0, 0)
    return rig


def add_driven_key(head):
    """A shape key moved only by a driver (a simple expression of the frame)."""
    key = head.shape_key_add(name=EXTRA, from_mix=False)
    key.value = 0.0
    driver = key.driver_add("value").driver
    driver.type, driver.expression = 'SCRIPTED', "0.5 + 0.4 * sin(frame / 5)"


def jaw_deform(rig):
    """The jaw's deformation in world space: independent of how an importer orients the bone."""
    w, pose = rig.matrix_world, rig.pose.bones["jaw"]
    return np.array(w @ pose.matrix @ pose.bone.matrix_local.inverted() @ w.inverted())


def played(scene, mesh, rig, names):
    """({key: (F,) values}, (F, 4, 4) jaw deformations) on every frame of the scene's range."""
    keys = mesh.data.shape_keys.key_blocks
    values, jaw = {n: [] for n in names}, []
    for f in range(scene.frame_start, scene.frame_end + 1):
        scene.frame_set(f)
        for n in names:
            values[n].append(keys[n].value)
        jaw.append(jaw_deform(rig))
    return {n: np.array(v) for n, v in values.items()}, np.array(jaw)


def scene_state():
    """What a user could notice changed: selection, active object, frame, mode, every datablock,
    shape-key values, the pose, which Actions are assigned, the scene's own properties."""
    scene, view_layer = bpy.context.scene, bpy.context.view_layer
    head = bpy.data.objects["Emotive Head"]
    rig = bpy.data.objects["Face Rig"]
    kinds = ("objects", "meshes", "actions", "armatures", "materials", "images", "textures", "shape_keys",
             "collections", "node_groups", "cameras", "lights", "scenes", "worlds")
    key = head.data.shape_keys
    return {
        "frame": (scene.frame_current, scene.frame_subframe, scene.frame_start, scene.frame_end),
        "selected": sorted(o.name for o in view_layer.objects if o.select_get()),
        "active": view_layer.objects.active.name if view_layer.objects.active else None,
        "mode": bpy.context.mode,
        "data": {k: sorted(getattr(bpy.data, k).keys()) for k in kinds},
        "values": [round(kb.value, 7) for kb in key.key_blocks],
        "pose": [np.round(np.array(p.matrix_basis), 7).tolist() for p in rig.pose.bones],
        "assigned": (key.animation_data.action.name, rig.animation_data.action,
                     [t.name for t in rig.animation_data.nla_tracks]),
        "scene props": sorted(scene.keys()),
        "object props": {o.name: sorted(o.keys()) for o in bpy.data.objects},
    }


@pytest.fixture(scope="module")
def take_file(addon, tmp_path_factory):
    """A saved scene: the default head keyed by a text take at 30 fps, a driven shape key, a jaw
    bone on an NLA strip; another object selected and active; frame 7. -> its .blend path."""
    bpy.ops.wm.read_homefile(use_empty=True)
    if "bl_ext.user_default.emotive" not in bpy.context.preferences.addons:
        bpy.ops.preferences.addon_enable(module="bl_ext.user_default.emotive")
    scene = bpy.context.scene
    scene.render.fps = FPS
    assert bpy.ops.emotive.add_default_head() == {'FINISHED'}
    head = bpy.context.view_layer.objects.active
    s = scene.emotive
    s.target, s.text_source, s.text_line = head, 'LINE', "I am so happy to see you!"
    assert bpy.ops.emotive.animate_text() == {'FINISHED'}
    add_driven_key(head)
    rig_head(head)
    bpy.ops.mesh.primitive_cube_add(location=(1, 0, 0))  # selected and active: not the character
    scene.frame_set(7)
    path = tmp_path_factory.mktemp("scene") / "take.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return path


def moving_keys(values):
    return sorted(n for n, v in values.items() if np.ptp(v) > 0.05)


def validate(path: Path) -> str:
    """The Khronos validator's verdict; fails the test on any error."""
    result = subprocess.run(["node", str(VALIDATOR), str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode != 2, f"validator did not run (make gltf-validator): {result.stderr}"
    assert result.returncode == 0, f"glTF-Validator errors:\n{result.stdout}"
    return result.stdout.splitlines()[0]


IMPORTERS = {
    ".glb": lambda p: bpy.ops.import_scene.gltf(filepath=str(p)),
    ".gltf": lambda p: bpy.ops.import_scene.gltf(filepath=str(p)),
    # anim_offset: the importer's default shifts keys one frame later; frame f was written at f / fps
    ".fbx": lambda p: bpy.ops.import_scene.fbx(filepath=str(p), anim_offset=0.0),
}


@pytest.mark.parametrize("suffix", [".glb", ".gltf", ".fbx"])
def test_a_take_round_trips_and_the_scene_is_left_alone(take_file, tmp_path, suffix):
    bpy.ops.wm.open_mainfile(filepath=str(take_file))
    scene = bpy.context.scene
    head, rig = bpy.data.objects["Emotive Head"], bpy.data.objects["Face Rig"]
    names = [kb.name for kb in head.data.shape_keys.key_blocks[1:]]
    want, want_jaw = played(scene, head, rig, names)
    scene.frame_set(7)
    assert EXTRA in moving_keys(want) and len(moving_keys(want)) >= 4
    assert np.abs(want_jaw - want_jaw[0]).max() > 0.05  # the jaw moves (NLA only)

    before = scene_state()
    path = tmp_path / f"take{suffix}"
    started = time.perf_counter()
    assert bpy.ops.emotive.export_take(filepath=str(path)) == {'FINISHED'}
    seconds = time.perf_counter() - started
    assert scene_state() == before
    verdict = validate(path) if suffix != ".fbx" else "(FBX: no validator)"
    if suffix == ".gltf":
        assert (tmp_path / "take.bin").stat().st_size > 0

    frames = scene.frame_start, scene.frame_end
    bpy.ops.wm.read_homefile(use_empty=True)
    fresh = bpy.context.scene
    fresh.render.fps, (fresh.frame_start, fresh.frame_end) = FPS, frames
    assert IMPORTERS[suffix](path) == {'FINISHED'}
    (mesh,) = [o for o in fresh.objects if o.type == 'MESH' and o.data.shape_keys]
    (arm,) = [o for o in fresh.objects if o.type == 'ARMATURE']
    assert {kb.name for kb in mesh.data.shape_keys.key_blocks} >= set(names)
    got, got_jaw = played(fresh, mesh, arm, names)
    errors = {n: float(np.abs(got[n] - want[n]).max()) for n in names}
    worst = max(errors, key=errors.get)
    jaw_error = float(np.abs(got_jaw - want_jaw).max())
    print(f"\n{suffix}: {path.stat().st_size / 1e6:.2f} MB, export {seconds:.2f} s, {len(want[worst])} frames, "
          f"{len(names)} keys: max error {errors[worst]:.2e} ({worst}), jaw {jaw_error:.2e}; {verdict}")
    assert errors[worst] < SHAPE_TOLERANCE, (worst, errors[worst])
    assert jaw_error < BONE_TOLERANCE


def test_the_operator_reports_what_it_wrote_and_the_format_menu_can_override(take_file, tmp_path):
    from emotive.rigs.blender.export import export

    bpy.ops.wm.open_mainfile(filepath=str(take_file))
    scene = bpy.context.scene
    written = export(tmp_path / "take.fbx", bpy.data.objects["Emotive Head"], scene)
    assert (written.format, written.frames, written.bones) == ("FBX", scene.frame_end - scene.frame_start + 1, 2)
    assert written.shape_keys == 53 and written.size == (tmp_path / "take.fbx").stat().st_size
    assert "53 shape keys, 2 bones" in written.summary()
    # a path without the chosen format's suffix gets it
    assert bpy.ops.emotive.export_take(filepath=str(tmp_path / "named"), export_format='GLB') == {'FINISHED'}
    assert (tmp_path / "named.glb").stat().st_size > 100_000


def test_a_mesh_without_keys_or_rig_is_refused_and_nothing_is_written(scene, tmp_path):
    from emotive.errors import EmotiveError
    from emotive.rigs.blender.export import export

    bpy.ops.mesh.primitive_cube_add()
    cube = bpy.context.active_object
    scene.emotive.target = cube
    with pytest.raises(RuntimeError, match="no shape keys and no face rig"):
        bpy.ops.emotive.export_take(filepath=str(tmp_path / "cube.glb"))
    with pytest.raises(EmotiveError, match="nothing moves"):
        export(tmp_path / "cube.fbx", cube, scene)
    assert list(tmp_path.iterdir()) == []
