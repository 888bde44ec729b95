"""The default head's bound landmarks against MediaPipe run on renders of the head.

Tolerances at 512 px (the face spans ~300 px): in the front view the binding was made from, the
70 bound canonical points projected into the image lie within mean <= 3 px, max <= 8 px of
MediaPipe's detections. In views orbited +-10 degrees about Z, which it was not made from (so the
binding holds on the 3D surface, not just in one image), the same bound holds for the features
(canonical 17-69: brows, eyes, nose, mouth, pupils); the jaw points 0-16 are contour landmarks
that slide over the surface as the head turns, so all 70 only need mean <= 5 px, max <= 15 px.
"""

import importlib.util
import json
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mediapipe", reason="needs mediapipe (requirements.txt) for FaceMesh")
bpy = pytest.importorskip("bpy")

from emotive.rigs import landmarks as lm  # noqa: E402
from emotive.rigs.head_mesh import load_default_head  # noqa: E402
from emotive.rigs.landmark_binding import Binding, project  # noqa: E402

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bind_default_head.py"
MEAN_PX, MAX_PX = 3.0, 8.0
CONTOUR_MEAN_PX, CONTOUR_MAX_PX = 5.0, 15.0


@pytest.fixture(scope="module")
def setup():
    spec = importlib.util.spec_from_file_location("bind_default_head", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    with open(script.OUT_PATH) as f:
        data = json.load(f)
    scene, _ = script.build_scene()
    detect = script.Detector()
    yield script, data, scene, detect
    detect.close()


@pytest.mark.parametrize("yaw", [0.0, 10.0, -10.0])
def test_bound_landmarks_match_mediapipe(setup, yaw):
    script, data, scene, detect = setup
    start = time.perf_counter()
    cam = script.camera(yaw)
    if yaw == 0.0:
        assert cam == data["camera"]  # the stored binding was made from this camera
    det = detect(script.render(scene, cam))
    assert det is not None, "MediaPipe found no face"
    head = load_default_head()
    pts = Binding.from_dict(data["canonical70"]).evaluate(head.vertices)
    err = np.linalg.norm(project(pts, cam) - det[lm.MEDIAPIPE_TO_CANONICAL], axis=1)
    feat = err[17:]
    print(f"\nyaw {yaw:+.0f}: all 70 mean {err.mean():.2f} px, max {err.max():.2f} px; "
          f"without jaw mean {feat.mean():.2f} px, max {feat.max():.2f} px; "
          f"{time.perf_counter() - start:.2f} s")
    assert feat.mean() <= MEAN_PX and feat.max() <= MAX_PX
    if yaw == 0.0:
        assert err.mean() <= MEAN_PX and err.max() <= MAX_PX
    else:
        assert err.mean() <= CONTOUR_MEAN_PX and err.max() <= CONTOUR_MAX_PX


def test_front_view_in_cycles_matches_mediapipe(setup):
    """The same check on a path-traced render (Cycles on the CPU), as a user's renders would be."""
    script, data, scene, detect = setup
    import bpy

    scene.render.engine = 'CYCLES'
    scene.cycles.device = 'CPU'
    scene.cycles.samples = 16
    scene.cycles.use_denoising = False
    key = bpy.data.objects.new("Key", bpy.data.lights.new("Key", 'SUN'))
    key.rotation_euler = (np.radians(60), 0.0, np.radians(15))  # from the front, above, a bit aside
    key.data.energy = 3.0
    scene.collection.objects.link(key)
    try:
        cam = script.camera(0.0)
        det = detect(script.render(scene, cam))
    finally:
        scene.render.engine = 'BLENDER_WORKBENCH'
        bpy.data.objects.remove(key)
    assert det is not None, "MediaPipe found no face in the Cycles render"
    pts = Binding.from_dict(data["canonical70"]).evaluate(load_default_head().vertices)
    err = np.linalg.norm(project(pts, cam) - det[lm.MEDIAPIPE_TO_CANONICAL], axis=1)
    feat = err[17:]
    print(f"\ncycles front: all 70 mean {err.mean():.2f} px, max {err.max():.2f} px; "
          f"without jaw mean {feat.mean():.2f} px, max {feat.max():.2f} px")
    # Shading moves where MediaPipe draws the jaw contour (a silhouette, not a surface point):
    # the features keep the strict bound, the contour the looser one, as for turned views.
    assert feat.mean() <= MEAN_PX and feat.max() <= MAX_PX
    assert err.mean() <= CONTOUR_MEAN_PX and err.max() <= CONTOUR_MAX_PX
