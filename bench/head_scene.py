"""The benches' render scene: a fresh empty file with one head (the default or a variant mesh), the
preview's camera and light, Workbench (or Cycles set up as the preview's but at 32 samples, denoised,
where the preview takes 16 undenoised), PNG stills on an opaque background."""

import bpy


def head_scene(head_mesh, width: int, height: int | None = None, engine: str = "workbench"):
    """-> (scene, head object)."""
    from emotive.headless.preview import _configure, ensure_camera_and_light
    from emotive.rigs.blender.head import create_default_head

    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    obj = create_default_head(scene.collection, head=head_mesh)
    ensure_camera_and_light(scene, obj)
    _configure(scene, engine, width)
    if engine == "cycles":
        scene.cycles.samples = 32
        scene.cycles.use_denoising = True  # a clean still: grain would be read as skin texture
    scene.render.resolution_y = height or width
    scene.render.image_settings.media_type = 'IMAGE'
    scene.render.image_settings.file_format = 'PNG'
    scene.render.film_transparent = False
    return scene, obj


def frame_face(scene, obj, distance: float = 2.4, dx: float = 0.0, dz: float = -0.1) -> None:
    """Aim the camera at the face (brows to chin), not the whole skull, for a 4:3 video: `distance`
    head sizes in front, moved `dx` sideways and `dz` up (in head sizes)."""
    import numpy as np
    from mathutils import Vector

    corners = np.array([obj.matrix_world @ Vector(c) for c in obj.bound_box])
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    size = max(hi[0] - lo[0], hi[2] - lo[2])
    scene.camera.data.sensor_fit = 'VERTICAL'
    scene.camera.location = ((lo[0] + hi[0]) / 2 + dx * size, lo[1] - distance * size, (lo[2] + hi[2]) / 2 + dz * size)


def render_keyed_video(scene, obj, weights, euler, out, fps: float, keep_frames: bool = True):
    """Key the (n, 52) ARKit weights and the head's (n, 3) rotation_euler on frames 1..n, render them
    and write an mp4v MP4 at `fps` (the PNG frames in OUT's stem + "_frames", kept or removed)."""
    from pathlib import Path

    import cv2
    import numpy as np

    from emotive.rigs.arkit import ARKIT_NAMES

    out = Path(out)
    n = len(weights)
    blocks = obj.data.shape_keys.key_blocks
    moving = [i for i in range(len(ARKIT_NAMES)) if np.any(weights[:, i])]
    for f in range(n):
        for i in moving:
            blocks[ARKIT_NAMES[i]].value = float(weights[f, i])
            blocks[ARKIT_NAMES[i]].keyframe_insert("value", frame=f + 1)
        obj.rotation_euler = tuple(float(a) for a in euler[f])
        obj.keyframe_insert("rotation_euler", frame=f + 1)
    scene.frame_start, scene.frame_end = 1, n
    frames_dir = out.parent / f"{out.stem}_frames"
    frames_dir.mkdir(exist_ok=True)
    scene.render.filepath = str(frames_dir / "f_")
    bpy.ops.render.render(animation=True)
    size = (scene.render.resolution_x, scene.render.resolution_y)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for f in range(1, n + 1):
        writer.write(cv2.imread(str(frames_dir / f"f_{f:04d}.png")))
    writer.release()
    if not keep_frames:
        for f in frames_dir.iterdir():
            f.unlink()
        frames_dir.rmdir()
    return out
