"""Landmark sets and the default head's bound landmarks (bpy-free)."""

import json

import numpy as np
import pytest

from emotive.rigs import landmarks as lm
from emotive.rigs.head_mesh import load_default_head
from emotive.rigs.landmark_binding import (Binding, bind_points, camera_dict, look_at, pixel_rays,
                                           project)

JSON = lm.__file__.replace("landmarks.py", "data/default_head_landmarks.json")
# Ear-level ends of the jaw line: on the front view's silhouette, so the ray that bound them
# grazes the surface and their depth is ill-conditioned (1 px ~ several mm); their image-plane
# position is still held to the 3 mm bound.
SILHOUETTE = [0, 16]


@pytest.fixture(scope="module")
def bound():
    with open(JSON) as f:
        data = json.load(f)
    head = load_default_head()
    return data, head, Binding.from_dict(data["canonical70"]).evaluate(head.vertices)


def test_mapping_indices():
    for table, n in ((lm.MEDIAPIPE_TO_IBUG68, 68), (lm.MEDIAPIPE_TO_CANONICAL, 70)):
        assert table.shape == (n,) and len(np.unique(table)) == n
        assert table.min() >= 0 and table.max() < lm.N_MEDIAPIPE
    assert tuple(lm.MEDIAPIPE_TO_CANONICAL[68:]) == (468, 473)
    assert np.all(lm.MEDIAPIPE_TO_IBUG68 < 468)  # the 68 are mesh vertices, not iris points


def test_groups_cover_the_set_in_order():
    flat = [i for g in lm.GROUPS.values() for i in g]
    assert flat == list(range(lm.N_CANONICAL))


def test_mirror_is_an_involution():
    assert lm.MIRROR.shape == (70,)
    assert np.array_equal(lm.MIRROR[lm.MIRROR], np.arange(70))
    centre = {8, 27, 28, 29, 30, 33, 51, 57, 62, 66}
    assert {int(i) for i in np.flatnonzero(lm.MIRROR == np.arange(70))} == centre
    assert lm.MIRROR[36] == 45 and lm.MIRROR[68] == 69 and lm.MIRROR[48] == 54


def test_regions_partition_and_are_mirror_symmetric():
    parts = [lm.region_indices(r) for r in lm.REGIONS]
    assert all(len(p) for p in parts)
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(70))
    assert np.array_equal(lm.REGION[lm.MIRROR], lm.REGION)
    assert set(lm.GROUPS["right_eye"]) <= set(parts[lm.UPPER])
    assert set(lm.GROUPS["nose_base"]) <= set(parts[lm.MIDDLE])
    assert set(lm.GROUPS["outer_lips"]) <= set(parts[lm.LOWER])


def test_conversion_shapes():
    pts = np.random.default_rng(0).random((478, 3))
    assert lm.to_ibug68(pts).shape == (68, 3)
    assert lm.to_ibug68(pts[:468, :2]).shape == (68, 2)
    assert lm.to_ibug68(np.stack([pts, pts])).shape == (2, 68, 3)
    assert lm.to_canonical(pts).shape == (70, 3)
    np.testing.assert_array_equal(lm.to_canonical(pts)[36], pts[33])


def test_bound_landmarks_are_left_right_symmetric(bound):
    _, _, pts = bound
    err = np.linalg.norm(pts - lm.mirror_points(pts), axis=1) / 2  # distance to mirror image
    plane = np.linalg.norm((pts - lm.mirror_points(pts))[:, [0, 2]], axis=1) / 2
    inner = np.setdiff1d(np.arange(70), SILHOUETTE)
    print(f"\nsymmetry: mean {err.mean() * 1e3:.2f} mm, max {err[inner].max() * 1e3:.2f} mm "
          f"(silhouette {err[SILHOUETTE].max() * 1e3:.2f} mm)")
    assert err[inner].max() <= 3e-3
    assert plane.max() <= 3e-3 and err.max() <= 6e-3


def test_bound_landmarks_sit_on_their_features(bound):
    """Subject's right (iBUG 36-41) at x < 0 on the head; eyes above nose above mouth above chin."""
    _, _, pts = bound
    assert pts[36, 0] < pts[39, 0] < 0 < pts[42, 0] < pts[45, 0]
    assert abs(pts[68, 0] - pts[[36, 39], 0].mean()) < 5e-3  # pupil between the eye corners
    z = lambda g: pts[list(lm.GROUPS[g]), 2].mean()  # noqa: E731
    assert z("right_brow") > z("right_eye") > z("nose_base") > z("outer_lips") > pts[8, 2]
    assert pts[30, 1] == pts[:68, 1].min()  # the nose tip is the front-most point


def test_json_canonical_is_the_mapped_subset(bound):
    data, head, pts = bound
    all478 = Binding.from_dict(data["mediapipe478"])
    assert all478.triangles.shape == (478, 3)
    np.testing.assert_allclose(all478.evaluate(head.vertices)[lm.MEDIAPIPE_TO_CANONICAL], pts)
    np.testing.assert_allclose(all478.weights.sum(1), 1.0, atol=1e-5)
    assert (all478.weights > -1e-5).all()
    for view in data["reprojection_error"]["check_views"].values():
        assert view["canonical70_without_jaw"]["mean_px"] <= 3.0


def test_binding_follows_shape_keys(bound):
    data, head, pts = bound
    b = Binding.from_dict(data["canonical70"])
    opened = b.evaluate(head.vertices + head.shape_keys["jawOpen"])
    assert opened[8, 2] < pts[8, 2] - 5e-3      # chin drops
    assert abs(opened[37, 2] - pts[37, 2]) < 1e-4  # eyelid stays


def test_bind_points_recovers_surface_points(bound):
    data, head, pts = bound
    from emotive.rigs.landmark_binding import triangulate

    tris = triangulate(head.loop_starts, head.loop_totals, head.loop_vertices)
    b = bind_points(head.vertices, tris, pts)
    np.testing.assert_allclose(b.evaluate(head.vertices), pts, atol=1e-6)
    off = bind_points(head.vertices, tris, pts + [0, -0.002, 0])  # 2 mm in front of the face
    d = np.linalg.norm(off.evaluate(head.vertices) - pts, axis=1)
    assert d.max() < 2.5e-3
    again = Binding.from_dict(json.loads(json.dumps(b.to_dict())))
    np.testing.assert_allclose(again.evaluate(head.vertices), pts, atol=1e-6)


def test_camera_round_trip():
    cam = camera_dict((0.3, -0.7, 0.2), look_at((0.3, -0.7, 0.2), (0, 0, 0.15)), 85, 36, 512, 512)
    assert np.allclose(project(np.array([[0, 0, 0.15]]), cam), 256)
    px = np.array([[10.0, 20.0], [300.5, 400.25]])
    origin, dirs = pixel_rays(px, cam)
    np.testing.assert_allclose(project(origin + 0.5 * dirs, cam), px, atol=1e-9)
