"""ARKit shape-key transfer onto an unknown head in Blender (rigs/blender/shape_transfer.py): keys
added from a stored landmark binding, the user's own keys left alone. The transfer itself
(rigs/shape_transfer.py) and its ground truth are tests/unit/rigs/test_shape_transfer.py."""

import json

import numpy as np
import pytest

from emotive.rigs.arkit import ARKIT_NAMES
from shared_fixtures import bench, head, reference  # noqa: F401 (fixtures)



def _mesh_object(bpy, name, verts, tris):
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(np.asarray(verts).tolist(), [], np.asarray(tris).tolist())
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def _key_coords(obj, name):
    kb = obj.data.shape_keys.key_blocks[name]
    co = np.empty(len(kb.data) * 3, np.float32)
    kb.data.foreach_get("co", co)
    return co.reshape(-1, 3)


def test_blender_adds_keys_and_leaves_existing_alone(head, reference, bench):
    bpy = pytest.importorskip("bpy")
    from emotive.rigs.blender.binding import PROPERTY, topology_checksum
    from emotive.rigs.blender.shape_transfer import ShapeKeyTransferError, add_arkit_keys

    bpy.ops.wm.read_homefile(use_empty=True)
    tris = bench.head_triangles(head)
    verts = bench.variant_vertices(head, bench.VARIANTS["young_female"])
    tv, tt, perm = bench.shuffled_target(verts, tris, seed=5)
    inv = np.argsort(perm)
    obj = _mesh_object(bpy, "Unknown Head", tv, tt)

    # no binding, no landmarks: refused, nothing changed
    with pytest.raises(ShapeKeyTransferError, match="no landmark binding.*bind the mesh first"):
        add_arkit_keys(obj)
    assert obj.data.shape_keys is None

    # a user's key that happens to carry an ARKit name, plus one of their own
    obj.shape_key_add(name="Basis", from_mix=False)
    mine = obj.shape_key_add(name="jawOpen", from_mix=False)
    mine.data.foreach_set("co", (tv + 0.001).astype(np.float32).ravel())
    mine.value = 0.3
    obj.shape_key_add(name="MyKey", from_mix=False)
    before = _key_coords(obj, "jawOpen").copy()

    # a stored binding (the reference, re-indexed to the shuffled mesh) gives the landmarks
    b = reference
    loops = np.empty(len(obj.data.loops), np.int32)
    obj.data.loops.foreach_get("vertex_index", loops)
    totals = np.full(len(obj.data.polygons), 3, np.int32)
    tri_dict = {"triangles": inv[b.triangles].tolist(), "weights": b.weights.tolist()}
    obj[PROPERTY] = json.dumps({"version": 1, "vertex_count": len(tv),
                                "topology_checksum": topology_checksum(len(tv), totals, loops),
                                "mediapipe478": tri_dict, "canonical70": tri_dict})
    report = {}
    added = add_arkit_keys(obj, report=report)
    assert added == [n for n in ARKIT_NAMES if n != "jawOpen"]
    assert report["skipped"] == ["jawOpen"]
    names = list(obj.data.shape_keys.key_blocks.keys())
    assert names[:3] == ["Basis", "jawOpen", "MyKey"] and names[3:] == added
    assert set(ARKIT_NAMES) <= set(names)
    np.testing.assert_array_equal(_key_coords(obj, "jawOpen"), before)
    assert abs(obj.data.shape_keys.key_blocks["jawOpen"].value - 0.3) < 1e-6
    kb = obj.data.shape_keys.key_blocks["mouthSmileLeft"]
    assert kb.value == 0.0 and kb.slider_min == 0.0 and kb.slider_max == 1.0
    err = np.linalg.norm(_key_coords(obj, "mouthSmileLeft") - tv
                         - head.shape_keys["mouthSmileLeft"][perm], axis=1) * 1e3
    moved = np.linalg.norm(head.shape_keys["mouthSmileLeft"][perm], axis=1) * 1e3 > 0.1
    assert err[moved].mean() < 1.0

    # running again adds nothing; a shared mesh is refused unchanged
    assert add_arkit_keys(obj) == []
    other = bpy.data.objects.new("Twin", obj.data)
    bpy.context.scene.collection.objects.link(other)
    n_keys = len(obj.data.shape_keys.key_blocks)
    obj.shape_key_remove(obj.data.shape_keys.key_blocks["browInnerUp"])
    with pytest.raises(ShapeKeyTransferError, match="used by 2 objects"):
        add_arkit_keys(obj, landmarks=b.evaluate(verts))
    assert len(obj.data.shape_keys.key_blocks) == n_keys - 1
