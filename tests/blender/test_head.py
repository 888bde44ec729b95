"""The default head built in Blender: shape keys, placement, shading, materials, speed."""

import time

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
