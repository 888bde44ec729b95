"""The default head built in Blender: shape keys, placement, shading, materials, speed."""

import time
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from emotive.rigs.arkit import ARKIT_NAMES  # noqa: E402
from emotive.rigs.blender.head import create_default_head  # noqa: E402
from emotive.rigs.head_mesh import load_default_head  # noqa: E402


def _co(data) -> np.ndarray:
    out = np.empty(len(data) * 3, dtype=np.float32)
    data.foreach_get("co", out)
    return out.reshape(-1, 3)


@pytest.fixture(scope="module")
def built():
    bpy.ops.wm.read_homefile(use_empty=True)
    start = time.perf_counter()
    obj = create_default_head()
    seconds = time.perf_counter() - start
    print(f"\ncreate_default_head: {seconds:.3f} s (target < 2 s)")
    return obj, seconds


def test_created_quickly(built):
    assert built[1] < 10.0  # loose sanity bound; the 2 s target is printed above


def test_linked_at_origin(built):
    obj, _ = built
    assert obj.name == "Emotive Head" and obj.type == 'MESH'
    assert obj.name in bpy.context.scene.collection.objects
    assert tuple(obj.location) == (0.0, 0.0, 0.0)
    assert tuple(obj.rotation_euler) == (0.0, 0.0, 0.0) and tuple(obj.scale) == (1.0, 1.0, 1.0)


def test_geometry_matches_asset(built):
    obj, _ = built
    head = load_default_head()
    mesh = obj.data
    assert len(mesh.vertices) == len(head.vertices)
    assert len(mesh.polygons) == len(head.loop_totals)
    assert np.array_equal(_co(mesh.vertices), head.vertices)
    totals = np.empty(len(mesh.polygons), dtype=np.int32)
    mesh.polygons.foreach_get("loop_total", totals)
    assert np.array_equal(totals, head.loop_totals)
    assert not mesh.validate(verbose=False)  # False: nothing needed fixing


def test_53_shape_keys_exact(built):
    obj, _ = built
    head = load_default_head()
    blocks = obj.data.shape_keys.key_blocks
    assert [kb.name for kb in blocks] == ["Basis", *ARKIT_NAMES]
    assert obj.data.shape_keys.use_relative
    assert np.array_equal(_co(blocks["Basis"].data), head.vertices)
    for name in ARKIT_NAMES:
        kb = blocks[name]
        assert (kb.slider_min, kb.slider_max, kb.value) == (0.0, 1.0, 0.0)
        assert kb.relative_key.name == "Basis"
        np.testing.assert_allclose(_co(kb.data), head.vertices + head.shape_keys[name],
                                   atol=1e-7, err_msg=name)


def test_smooth_and_materials(built):
    obj, _ = built
    mesh = obj.data
    smooth = np.empty(len(mesh.polygons), dtype=bool)
    mesh.polygons.foreach_get("use_smooth", smooth)
    assert smooth.all()
    names = load_default_head().material_names
    assert len(mesh.materials) == len(names)
    for mat in mesh.materials:
        assert mat is not None and mat.node_tree is not None
        assert any(n.type == 'BSDF_PRINCIPLED' for n in mat.node_tree.nodes)
    used = np.empty(len(mesh.polygons), dtype=np.int32)
    mesh.polygons.foreach_get("material_index", used)
    assert set(np.unique(used)) == set(range(len(names)))


def test_deterministic_and_collection_argument():
    bpy.ops.wm.read_homefile(use_empty=True)
    coll = bpy.data.collections.new("Heads")
    bpy.context.scene.collection.children.link(coll)
    a = create_default_head(coll, name="A")
    b = create_default_head(coll, name="B")
    assert {o.name for o in coll.objects} == {"A", "B"}
    for ka, kb in zip(a.data.shape_keys.key_blocks, b.data.shape_keys.key_blocks):
        assert ka.name == kb.name and np.array_equal(_co(ka.data), _co(kb.data))


def _skin_material(obj):
    return obj.data.materials[load_default_head().material_names.index("skin")]


def test_skin_material_shows_the_generated_texture(head, extension_zip):
    import zipfile

    from emotive.rigs.head_texture import SIZE, TEXTURE_PATH

    assert f"rigs/data/{Path(TEXTURE_PATH).name}" in zipfile.ZipFile(extension_zip).namelist()
    mat = _skin_material(head)
    tex = next(n for n in mat.node_tree.nodes if n.type == 'TEX_IMAGE')
    assert tex.image is not None and tuple(tex.image.size) == (SIZE, SIZE)
    assert tex.image.packed_file is not None  # a saved .blend carries it
    assert mat.node_tree.nodes.active == tex  # what Workbench's Texture colour shows
    bsdf = next(n for n in mat.node_tree.nodes if n.type == 'BSDF_PRINCIPLED')
    assert bsdf.inputs["Base Color"].links[0].from_node == tex
    for other in head.data.materials:  # eyes, iris, teeth, tongue keep their plain colours
        if other != mat:
            assert not any(n.type == 'TEX_IMAGE' for n in other.node_tree.nodes)
    # A second head shares the image instead of loading it again.
    bpy.ops.emotive.add_default_head()
    assert sum(1 for im in bpy.data.images if im.get("emotive_skin")) == 1


def _brow_profile(scene, obj, tmp_path, name, **keys):
    """Render (Workbench, front) and return the luminance column through the left inner brow,
    from the top of the eye up to the forehead, bottom first, and the forehead's luminance."""
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    blocks = obj.data.shape_keys.key_blocks
    for kb in blocks[1:]:
        kb.value = keys.get(kb.name, 0.0)
    scene.render.filepath = str(tmp_path / f"{name}.png")
    bpy.ops.render.render(write_still=True)
    image = bpy.data.images.load(scene.render.filepath)
    size = scene.render.resolution_x
    px = np.empty(size * size * 4, np.float32)
    image.pixels.foreach_get(px)
    bpy.data.images.remove(image)
    lum = px.reshape(size, size, 4)[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)

    def pixel(x, z):  # a point on the face's front, in pixels (row 0 at the bottom)
        v = load_default_head().vertices
        near = v[np.argsort(np.hypot(v[:, 0] - x, v[:, 2] - z))[:4]]
        p = world_to_camera_view(scene, scene.camera, Vector((x, near[:, 1].min(), z)))
        return int(p.y * size), int(p.x * size)

    eye_row, col = pixel(0.022, 0.142)
    top_row, _ = pixel(0.022, 0.19)
    return lum[eye_row:top_row, col - 1:col + 2].mean(axis=1), lum[top_row, col]


def test_brows_render_dark_and_move_with_the_brow_keys(tmp_path):
    from emotive.headless.preview import _configure, ensure_camera_and_light

    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    obj = create_default_head()
    ensure_camera_and_light(scene, obj)
    _configure(scene, "workbench", 320)
    scene.render.image_settings.file_format = 'PNG'
    neutral, forehead = _brow_profile(scene, obj, tmp_path, "neutral")
    raised, _ = _brow_profile(scene, obj, tmp_path, "raised", browInnerUp=1.0)
    lowered, _ = _brow_profile(scene, obj, tmp_path, "lowered", browDownLeft=1.0)
    assert neutral.min() < 0.45 * forehead  # a dark brow on the skin
    rows = [int(np.argmin(p)) for p in (lowered, neutral, raised)]
    assert rows[0] < rows[1] < rows[2], rows  # browDown lowers it, browInnerUp raises it
