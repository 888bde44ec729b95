"""Video capture, closed loop in real Blender: the default head rendered (Workbench, its skin
texture) with a known smile, jaw and brow animation, written to an MP4 by OpenCV, imported with the
capture source (MediaPipe FaceMesh on every frame), and the recovered ARKit weights compared with
the keyed ones. The full-size loop with blinks, pucker, funnel, head rotation and an identity
variant is bench/bench_capture_loop.py."""

import subprocess
import sys

import bpy
import numpy as np
import pytest

from emotive.pipeline import make_take
from emotive.rigs.arkit import ARKIT_NAMES

cv2 = pytest.importorskip("cv2")
pytest.importorskip("mediapipe")

SIZE, N, FPS = 320, 36, 30
INDEX = {name: i for i, name in enumerate(ARKIT_NAMES)}


def bump(start, frames, peak):
    k = np.arange(N)
    inside = (k >= start) & (k < start + frames)
    return np.where(inside, peak * 0.5 * (1 - np.cos(2 * np.pi * (k - start) / frames)), 0.0)


def animation():
    """(N, 52): rest for 4 frames, then a jaw opening, a smile and a brow raise that overlap."""
    w = np.zeros((N, len(ARKIT_NAMES)))
    w[:, INDEX["jawOpen"]] = bump(4, 16, 0.7) + bump(24, 12, 0.5)
    w[:, INDEX["mouthSmileLeft"]] = w[:, INDEX["mouthSmileRight"]] = bump(12, 18, 0.8)
    w[:, INDEX["browInnerUp"]] = bump(6, 24, 0.8)
    return w


def render_video(weights, folder):
    from mathutils import Vector

    from emotive.headless.preview import _configure, ensure_camera_and_light
    from emotive.rigs.blender.head import create_default_head

    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    obj = create_default_head(scene.collection)
    ensure_camera_and_light(scene, obj)
    _configure(scene, "workbench", SIZE)
    scene.display.render_aa = 'FXAA'
    scene.render.image_settings.file_format = 'PNG'
    scene.render.film_transparent = False
    corners = np.array([obj.matrix_world @ Vector(c) for c in obj.bound_box])
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    size = max(hi[0] - lo[0], hi[2] - lo[2])   # frame the face, brows to chin
    scene.camera.location = ((lo[0] + hi[0]) / 2, lo[1] - 2.4 * size, (lo[2] + hi[2]) / 2 - 0.1 * size)
    blocks = obj.data.shape_keys.key_blocks
    moving = np.flatnonzero(weights.any(axis=0))
    for f in range(N):
        for i in moving:
            blocks[ARKIT_NAMES[i]].value = float(weights[f, i])
            blocks[ARKIT_NAMES[i]].keyframe_insert("value", frame=f + 1)
    scene.frame_start, scene.frame_end = 1, N
    scene.render.filepath = str(folder / "f_")
    bpy.ops.render.render(animation=True)
    path = folder / "face.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (SIZE, SIZE))
    for f in range(1, N + 1):
        writer.write(cv2.imread(str(folder / f"f_{f:04d}.png")))
    writer.release()
    return path


def test_a_rendered_head_comes_back_from_its_video(tmp_path):
    weights = animation()
    path = render_video(weights, tmp_path)
    take = make_take("capture", path, neutral_frame=0)
    assert take.n_frames == N and take.fps == FPS
    got = take.arkit.astype(np.float64)
    for name in ("jawOpen", "mouthSmileLeft", "mouthSmileRight", "browInnerUp"):
        i = INDEX[name]
        r = np.corrcoef(got[:, i], weights[:, i])[0, 1]
        assert r >= 0.8, f"{name}: r = {r:.3f}"
    assert np.abs(take.head_pose).max() < np.radians(3)   # the head never turned


def test_a_video_without_a_face_exits_2_naming_the_file(tmp_path):
    path = tmp_path / "empty_room.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (160, 120))
    for i in range(10):
        writer.write(np.full((120, 160, 3), 20 * i, np.uint8))   # black, then greys: no face
    writer.release()
    out = tmp_path / "take.blend"
    proc = subprocess.run([sys.executable, "-m", "emotive", "capture", str(path), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "empty_room.mp4" in proc.stderr and "no face in any of its 10 frames" in proc.stderr
    assert not out.exists()   # nothing half-imported
