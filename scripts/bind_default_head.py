"""Bind MediaPipe's 478 face landmarks (and the 70-point canonical subset) to the default head.

Renders the neutral default head from the front (Workbench, studio light, 512 px, a known
perspective camera), runs MediaPipe FaceMesh on the image, casts a ray from the camera through
each detected landmark onto the head and keeps the hit (triangle + barycentric weights).
Writes rigs/data/default_head_landmarks.json with the bindings, the camera and the reprojection
error: in the binding view (~0 by construction, shows rays that missed) and in check views
orbited +-10 degrees about Z (MediaPipe re-run there vs the bound points projected: the binding
lies on the 3D surface, not just in one image).

Run: .venv/bin/python scripts/bind_default_head.py [--check-image /tmp/landmarks_check.png]
The test tests/blender/test_landmark_binding.py imports this file for the render/detect helpers.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

import numpy as np

try:
    from emotive.rigs import landmarks as lm
    from emotive.rigs.head_mesh import load_default_head
    from emotive.rigs.landmark_binding import (
        Binding,
        barycentric,
        camera_dict,
        look_at,
        pixel_rays,
        project,
        triangulate,
    )
except ImportError:  # checkout not linked as `emotive` (make venv does that)
    raise SystemExit("import emotive failed: run `make venv` first")

OUT_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "rigs", "data", "default_head_landmarks.json")
SIZE = 512
# Framing: the face (chin z ~0.08 to hairline ~0.26 m) fills most of the image, the way
# MediaPipe's face detector and mesh model expect a face crop.
TARGET = (0.0, -0.08, 0.15)
DISTANCE = 0.75
LENS_MM, SENSOR_MM = 85.0, 36.0
BOUND_MATERIALS = ("skin", "eyes", "iris")  # the visible surface; pupils land on the iris


def camera(yaw_deg: float = 0.0) -> dict:
    """The front camera (on -Y, looking at the face), orbited yaw_deg about the Z axis."""
    a = np.radians(yaw_deg)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    target = np.asarray(TARGET)
    loc = rz @ (target + [0.0, -DISTANCE, 0.0])
    return camera_dict(loc, look_at(loc, rz @ target), LENS_MM, SENSOR_MM, SIZE, SIZE)


def head_triangles(head) -> np.ndarray:
    keep = np.isin(np.asarray(head.material_names)[head.material_index], BOUND_MATERIALS)
    return triangulate(head.loop_starts, head.loop_totals, head.loop_vertices, keep)


def build_scene():
    """Empty scene with the default head, Workbench studio lighting; returns (scene, head obj)."""
    import bpy
    from emotive.rigs.blender.head import create_default_head

    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    obj = create_default_head()
    scene.render.engine = 'BLENDER_WORKBENCH'
    scene.display.shading.light = 'STUDIO'
    scene.display.shading.color_type = 'MATERIAL'
    scene.view_settings.view_transform = 'Standard'  # plain sRGB, no filmic grading
    scene.world = bpy.data.worlds.new("Emotive Backdrop")
    scene.world.color = (0.35, 0.35, 0.35)  # mid grey, so the dark hairline edge still reads
    scene.render.resolution_x = scene.render.resolution_y = SIZE
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = 'PNG'
    cam = bpy.data.objects.new("Landmark Camera", bpy.data.cameras.new("Landmark Camera"))
    scene.collection.objects.link(cam)
    scene.camera = cam
    return scene, obj


def render(scene, cam: dict) -> np.ndarray:
    """Render through `cam` -> (H, W, 3) uint8 RGB, top row first."""
    import bpy
    from mathutils import Matrix

    obj = scene.camera
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = cam["rotation"], cam["location"]
    obj.matrix_world = Matrix(m.tolist())
    obj.data.lens, obj.data.sensor_width, obj.data.sensor_fit = cam["lens_mm"], cam["sensor_mm"], 'AUTO'
    w, h = cam["resolution"]
    scene.render.resolution_x, scene.render.resolution_y = w, h
    with tempfile.TemporaryDirectory() as tmp:
        scene.render.filepath = os.path.join(tmp, "face.png")
        bpy.ops.render.render(write_still=True)
        image = bpy.data.images.load(scene.render.filepath)
        px = np.empty(w * h * 4, dtype=np.float32)
        image.pixels.foreach_get(px)  # byte PNG: the stored sRGB values / 255
        bpy.data.images.remove(image)
    return np.ascontiguousarray(
        np.round(px.reshape(h, w, 4)[::-1, :, :3] * 255).astype(np.uint8))


class Detector:
    """MediaPipe FaceMesh (legacy solutions API; models ship inside the wheel)."""

    def __init__(self):
        import mediapipe as mp

        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, refine_landmarks=True, max_num_faces=1)

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        """(H, W, 3) uint8 RGB -> (478, 2) landmark pixels (x right, y down), None: no face."""
        result = self._mesh.process(rgb)
        if not result.multi_face_landmarks:
            return None
        h, w = rgb.shape[:2]
        pts = result.multi_face_landmarks[0].landmark
        return np.array([(p.x * w, p.y * h) for p in pts], dtype=np.float64)

    def close(self):
        self._mesh.close()


def unproject(vertices: np.ndarray, triangles: np.ndarray, cam: dict,
              pixels: np.ndarray) -> tuple[Binding, np.ndarray]:
    """Cast a ray through each pixel onto the mesh -> (binding, hit mask). A ray that misses
    (just off the silhouette) or slips through a gap binds to the front-most surface point
    closest to it."""
    from mathutils import Vector
    from mathutils.bvhtree import BVHTree

    bvh = BVHTree.FromPolygons(vertices.tolist(), triangles.tolist())
    origin, dirs = pixel_rays(pixels, cam)
    ring = 3.0 * np.stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], 1)
    depths = np.linalg.norm(np.asarray(TARGET) - origin) + np.linspace(-0.2, 0.2, 401)
    tri_idx, points, hit = [], [], []
    for px, d in zip(pixels, dirs):
        loc, _, index, dist = bvh.ray_cast(Vector(origin), Vector(d))
        # A landmark on a depth edge (the lips' slit, the cheek's silhouette over the ear) must
        # sit on the front surface: if rays 3 px around it hit > 1 cm nearer, this ray slipped
        # through the gap, so search in front of that hit instead.
        near = [r[3] for r in (bvh.ray_cast(Vector(origin), Vector(n))
                               for n in pixel_rays(px + ring, cam)[1]) if r[2] is not None]
        hit.append(index is not None and dist < min(near, default=dist) + 0.01)
        if not hit[-1]:
            far = depths[-1] if index is None else dist
            samples = [bvh.find_nearest(Vector(origin + t * d)) for t in depths if t < far]
            off = [np.linalg.norm(np.cross(np.asarray(r[0]) - origin, d)) for r in samples]
            # the front-most surface point within 0.5 mm of the ray's closest approach
            best = samples[next(i for i, o in enumerate(off) if o <= min(off) + 5e-4)]
            loc, index = best[0], best[2]
        tri_idx.append(index)
        points.append(tuple(loc))
    tris = triangles[np.asarray(tri_idx)]
    v = np.asarray(vertices, np.float64)[tris]
    w = barycentric(v[:, 0], v[:, 1], v[:, 2], np.asarray(points))
    return Binding(tris, w), np.asarray(hit)


def errors(binding: Binding, vertices: np.ndarray, cam: dict, detected: np.ndarray) -> np.ndarray:
    """Pixel distance between the bound points projected through cam and the detections."""
    return np.linalg.norm(project(binding.evaluate(vertices), cam) - detected, axis=1)


def draw_dots(rgb: np.ndarray, pixels: np.ndarray, color, radius: int = 2) -> np.ndarray:
    out = rgb.copy()
    h, w = out.shape[:2]
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    disk = xx ** 2 + yy ** 2 <= radius ** 2
    for x, y in np.round(pixels).astype(int):
        ys, xs = y + yy[disk], x + xx[disk]
        ok = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
        out[ys[ok], xs[ok]] = color
    return out


def save_png(rgb: np.ndarray, path: str) -> None:
    import bpy

    h, w = rgb.shape[:2]
    img = bpy.data.images.new("landmark check", w, h, alpha=True)
    rgba = np.concatenate([rgb, np.full((h, w, 1), 255, np.uint8)], axis=2)[::-1]
    img.pixels.foreach_set((rgba.astype(np.float32) / 255).ravel())
    img.filepath_raw, img.file_format = path, 'PNG'
    img.save()
    bpy.data.images.remove(img)


def _stats(e: np.ndarray) -> dict:
    return {"mean_px": round(float(e.mean()), 3), "max_px": round(float(e.max()), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=OUT_PATH)
    ap.add_argument("--check-image", help="also save the front render with the 70 points drawn")
    args = ap.parse_args()

    head = load_default_head()
    tris = head_triangles(head)
    scene, _ = build_scene()
    detect = Detector()
    front = camera(0.0)
    rgb = render(scene, front)
    det = detect(rgb)
    if det is None:
        raise SystemExit("MediaPipe found no face in the front render")
    binding, hit = unproject(head.vertices, tris, front, det)
    c = lm.MEDIAPIPE_TO_CANONICAL
    canon = binding.subset(c)
    e_front = errors(binding, head.vertices, front, det)

    checks, shots = {}, {}
    for yaw in (10.0, -10.0):
        cam = camera(yaw)
        rgb_side = render(scene, cam)
        det_side = detect(rgb_side)
        if det_side is None:
            raise SystemExit(f"MediaPipe found no face in the {yaw:+.0f} degree check render")
        e = errors(binding, head.vertices, cam, det_side)
        shots[yaw] = (cam, rgb_side, det_side)
        # Jaw points are silhouette (contour) landmarks that slide over the surface as the head
        # turns, so the features without them (canonical 17-69) are reported apart.
        checks[f"yaw{yaw:+.0f}"] = {"all478": _stats(e), "canonical70": _stats(e[c]),
                                   "canonical70_without_jaw": _stats(e[c][17:])}
    detect.close()
    pts = canon.evaluate(head.vertices)
    sym = np.linalg.norm(pts - lm.mirror_points(pts), axis=1) / 2  # distance to the mirror image

    report = {
        "binding_view": {"all478": _stats(e_front), "canonical70": _stats(e_front[c]),
                         "rays_missed": int((~hit).sum()),
                         "missed_canonical": [int(i) for i in np.flatnonzero(~hit[c])]},
        "check_views": checks,
        "symmetry_mm": {"mean": round(float(sym.mean() * 1000), 3),
                        "max": round(float(sym.max() * 1000), 3)},
    }
    data = {
        "description": "MediaPipe FaceMesh landmarks bound to the default head's neutral surface "
                       "(triangle vertex indices into default_head.npz + barycentric weights); "
                       "canonical70 = iBUG 68 + pupils, see rigs/landmarks.py",
        "generator": "scripts/bind_default_head.py",
        "detector": "mediapipe 0.10.21 FaceMesh(static_image_mode, refine_landmarks)",
        "render": "Workbench, studio light, material colours, %d x %d px" % (SIZE, SIZE),
        "camera": front, "check_cameras": {k: camera(float(k[3:])) for k in checks},
        "reprojection_error": report,
        "mediapipe478": binding.to_dict(),
        "canonical70": canon.to_dict(),
    }
    with open(args.out, "w") as f:
        json.dump(data, f, separators=(",", ":"))
        f.write("\n")
    print(json.dumps(report, indent=1))
    if args.check_image:
        img = draw_dots(rgb, det[c], (255, 255, 0), 3)                        # MediaPipe: yellow
        img = draw_dots(img, project(pts, front), (255, 0, 0), 1)             # bound: red
        save_png(img, args.check_image)
        side, rgb_side, det_side = shots[10.0]
        side_img = draw_dots(rgb_side, det_side[c], (255, 255, 0), 3)
        side_img = draw_dots(side_img, project(pts, side), (255, 0, 0), 1)
        save_png(side_img, args.check_image.replace(".png", "_yaw10.png"))
        print("wrote", args.check_image)


if __name__ == "__main__":
    main()
