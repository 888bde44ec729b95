"""Automatic facial-landmark binding for any head mesh: the pure part (bpy-free).

Pipeline (rigs/blender/binding.py supplies the renderer and the ray caster from Blender):

1. Choose the view. `facing` names the world axis the face looks along ('-Y' = Blender's front
   view, the default head's convention); the camera sits on that side looking back at the
   object. With facing='AUTO' the object is rendered from -Y, +Y, -X and +X and the view with the
   most confident detection is kept. The rule (`view_score`): MediaPipe FaceMesh must find a face;
   the view's score is then the BlazeFace detector's confidence for the largest face times the
   frontality of the FaceMesh landmarks, min(dl, dr) / max(dl, dr) with dl, dr the image distances
   from the nose tip (landmark 1) to the two outer eye corners (33, 263): 1 for a face seen
   straight on, towards 0 in profile. Highest score wins; ties go to the earlier axis in
   AUTO_AXES order. No view with a face -> NoFaceFound.
2. Frame the face. The first view frames the whole object's bounding box; the landmarks found
   there are cast onto the mesh and the camera is moved to look at their 3D centre from the same
   side, framed as the reference binding of the default head was (`face_camera`), and the image
   is rendered and detected again.
3. Bind (`bind_image`): a ray from the camera through each of the 478 detected pixels; the hit's
   triangle + barycentric weights is the binding. Lip-slit rule (as scripts/bind_default_head.py):
   a landmark on a depth edge (the lips' slit, the cheek's silhouette over the ear) must sit on
   the front surface, so if any of 8 rays 3 px around it hits more than 1 cm nearer (or the ray
   misses), the ray slipped through the gap: the landmark binds to the front-most surface point
   within 0.5 mm of the ray's closest approach, searched in front of the far hit. For the lip
   line (OPENING_EDGE) a probe 2 mm nearer already counts: the teeth lie close behind the lips.
4. Average: the face is detected and cast again from JITTER_VIEWS (the bound view orbited by
   2 degrees left/right/up/down); each landmark becomes the per-coordinate median of its five
   surface points, snapped back onto the target (`nearest`). MediaPipe's landmarks move by a
   millimetre or two between near-identical views; the median keeps that out of the binding.

Assumes Z up (Blender's convention) and a face roughly upright in the chosen view.

Ray casting is a callable `cast(origins (N, 3), directions (N, 3)) -> (hit (N,) bool, points
(N, 3), triangle ids (N,))` in world space; triangle ids index `triangles` (the target mesh,
vertex indices into `vertices`), ids >= len(triangles) are hits on extra occluding objects (eyes,
teeth as separate objects). `nearest(points (N, 3)) -> (points (N, 3), triangle ids (N,))` (the
target only) serves the lip-slit search and rebinds landmarks that hit an extra object onto the
target (reported as `on_extra`). Barycentric weights are affine-invariant, so a binding computed
from world-space vertices holds for the object-space mesh (any scale, rotation, shear).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import landmarks as lm
from .landmark_binding import Binding, barycentric, camera_dict, look_at, pixel_rays, project

SIZE = 512                          # render size, px
LENS_MM, SENSOR_MM = 85.0, 36.0     # a portrait lens, as scripts/bind_default_head.py
# Re-framing on the face (face_camera), in units of the face landmarks' extent H: measured on
# the reference framing of scripts/bind_default_head.py (H = 0.157 m there).
FACE_AIM_UP, FACE_AIM_DEPTH, FACE_DISTANCE = 0.25, 0.40, 4.78
BOX_MARGIN = 1.15                   # first view: bounding box extent * this = image extent
AUTO_AXES = ("-Y", "+Y", "-X", "+X")
AXES = {"-Y": (0.0, -1.0, 0.0), "+Y": (0.0, 1.0, 0.0), "-X": (-1.0, 0.0, 0.0),
        "+X": (1.0, 0.0, 0.0)}
# Extra views (yaw, pitch degrees about the aim point) whose bindings are median-averaged.
JITTER_VIEWS = ((2.0, 0.0), (-2.0, 0.0), (0.0, 2.0), (0.0, -2.0))
RING_PX = 3.0                       # lip-slit rule: probe rays this far around each landmark
SLIT_M = 0.01                       # ... a probe hit this much nearer means the ray slipped
# Landmarks that by definition lie on the mouth's opening (MediaPipe's inner lip line and the
# lip corners): they belong to the lips' front surface, so for them a probe hit EDGE_SLIT_M
# nearer already means the ray slipped into the mouth (teeth and tongue sit only mm behind the
# lips); elsewhere (steep jaw and cheek, eyelids over the eyeball) only SLIT_M does. Eyelid
# margins are left out: there the lid rim and the eyeball behind it are both fair hits and the
# shipped reference binding keeps the eyeball where the ray meets it.
OPENING_EDGE = np.array([
    61, 291, 78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311,
    310, 415])
EDGE_SLIT_M = 0.002
NEAR_RAY_M = 5e-4                   # fallback: surface points within this of the closest one

Cast = Callable[[np.ndarray, np.ndarray], tuple]
Nearest = Callable[[np.ndarray], tuple]


class BindingError(Exception):
    """Automatic binding cannot run on this object (the message says why); nothing changed."""


class NoFaceFound(BindingError):
    """MediaPipe found no face in any rendered view."""

    def __init__(self, views=()):
        tried = ", ".join(views) if views else "the requested view"
        super().__init__(
            f"No face was found in renders of the mesh from {tried}. Automatic binding needs a "
            "recognisable human face with eyes, nose and mouth. Set 'facing' to the axis the face "
            "looks along, or place the landmarks manually: Emotive tab > Face Landmarks > Guided "
            "Placement (clicks on the mesh, mirrored left/right) or Edit Landmarks.")


@dataclass
class Detection:
    pixels: np.ndarray   # (478, 2) x right, y down
    score: float         # view_score (detector confidence x frontality)
    confidence: float    # detector confidence
    frontality: float


@dataclass(frozen=True)
class LandmarkBinding:
    """The 478 MediaPipe landmarks and the 70-point canonical subset, bound to one mesh."""
    mediapipe478: Binding
    canonical70: Binding

    def to_dict(self) -> dict:
        return {"mediapipe478": self.mediapipe478.to_dict(),
                "canonical70": self.canonical70.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "LandmarkBinding":
        return cls(Binding.from_dict(d["mediapipe478"]), Binding.from_dict(d["canonical70"]))


@dataclass
class BindResult:
    mediapipe478: Binding
    canonical70: Binding
    report: dict = field(default_factory=dict)

    @property
    def binding(self) -> LandmarkBinding:
        return LandmarkBinding(self.mediapipe478, self.canonical70)


class Detector:
    """MediaPipe FaceMesh (static image, refine_landmarks, 1 face) + BlazeFace for confidence."""

    def __init__(self):
        try:
            import mediapipe as mp
        except ImportError as e:  # pragma: no cover - depends on the install
            raise BindingError("automatic binding needs the 'mediapipe' package") from e
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, refine_landmarks=True, max_num_faces=1)
        self._faces = mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=0.2)

    def __call__(self, rgb: np.ndarray) -> Detection | None:
        rgb = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
        result = self._mesh.process(rgb)
        if not result.multi_face_landmarks:
            return None
        h, w = rgb.shape[:2]
        pts = result.multi_face_landmarks[0].landmark
        pixels = np.array([(p.x * w, p.y * h) for p in pts], dtype=np.float64)
        faces = self._faces.process(rgb).detections or []
        conf = max((float(d.score[0]) for d in faces), default=0.5)  # FaceMesh found one: >= 0.5
        front = frontality(pixels)
        return Detection(pixels, conf * front, conf, front)

    def close(self):
        self._mesh.close()
        self._faces.close()


def frontality(pixels: np.ndarray) -> float:
    """min/max of the nose tip's image distances to the two outer eye corners (1 = frontal)."""
    dl, dr = (np.linalg.norm(pixels[i] - pixels[1]) for i in (33, 263))
    return float(min(dl, dr) / max(dl, dr, 1e-9))


def facing_axes(facing: str) -> tuple[str, ...]:
    f = facing.upper()
    if f == "AUTO":
        return AUTO_AXES
    if f not in AXES:
        raise BindingError(f"facing must be AUTO or one of {', '.join(AXES)}, not {facing!r}")
    return (f,)


def _half_fov() -> float:
    return SENSOR_MM / 2 / LENS_MM


def box_camera(lo, hi, axis: str, size: int = SIZE) -> dict:
    """Camera on the `axis` side of the world box [lo, hi], looking at its centre, Z up."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    d = np.asarray(AXES[axis])
    centre, ext = (lo + hi) / 2, hi - lo
    across = max(float(np.abs(np.cross(d, [0, 0, 1])) @ ext), float(ext[2]), 1e-6)
    depth = float(np.abs(d) @ ext)
    dist = across * BOX_MARGIN / 2 / _half_fov() + depth / 2
    loc = centre + d * dist
    return camera_dict(loc, look_at(loc, centre), LENS_MM, SENSOR_MM, size, size)


def face_camera(points: np.ndarray, axis: str, size: int = SIZE) -> dict:
    """Camera on the `axis` side framing the 3D face points (the 478 landmarks cast from a first
    view) the way the shipped reference binding (scripts/bind_default_head.py) frames the default
    head's face, in face-relative terms: with H the points' larger extent across the view (width
    or height), it aims FACE_AIM_UP * H above their box centre and FACE_AIM_DEPTH * H behind the
    front-most point, from FACE_DISTANCE * H away."""
    d = np.asarray(AXES[axis])
    side = np.cross([0.0, 0.0, 1.0], d)
    centre = (points.min(0) + points.max(0)) / 2
    size_h = max(np.ptp(points @ side), np.ptp(points[:, 2]), 1e-6)
    front = float((points @ d).max())
    target = centre - d * float(centre @ d) + d * (front - FACE_AIM_DEPTH * size_h)
    target = target + np.array([0.0, 0.0, FACE_AIM_UP * size_h])
    loc = target + d * FACE_DISTANCE * size_h
    cam = camera_dict(loc, look_at(loc, target), LENS_MM, SENSOR_MM, size, size)
    cam["aim_distance"] = FACE_DISTANCE * size_h
    return cam


def cast_pixels(pixels: np.ndarray, cam: dict, cast: Cast):
    origin, dirs = pixel_rays(pixels, cam)
    hit, pts, tri = cast(np.broadcast_to(origin, dirs.shape).copy(), dirs)
    hit = np.asarray(hit, bool)
    pts = np.asarray(pts, np.float64).reshape(-1, 3)
    dist = np.where(hit, np.linalg.norm(pts - origin, axis=1), np.inf)
    return origin, dirs, hit, pts, np.asarray(tri, np.int64), dist


def unproject(pixels: np.ndarray, cam: dict, cast: Cast, n_target_tris: int,
              nearest: Nearest | None = None, depth_range: tuple[float, float] | None = None):
    """Cast each pixel onto the surface with the lip-slit rule ->
    (points (N, 3), triangle ids (N,), direct hit mask, on-extra mask)."""
    n = len(pixels)
    origin, dirs, hit, pts, tri, dist = cast_pixels(pixels, cam, cast)
    ring = RING_PX * np.stack([np.cos(np.arange(8) * np.pi / 4),
                               np.sin(np.arange(8) * np.pi / 4)], 1)
    probe = (pixels[:, None, :] + ring[None]).reshape(-1, 2)
    *_, rdist = cast_pixels(probe, cam, cast)
    near = rdist.reshape(n, 8).min(axis=1)
    slit = np.full(n, SLIT_M)
    if n == lm.N_MEDIAPIPE:
        slit[OPENING_EDGE] = EDGE_SLIT_M
    direct = hit & (dist < np.minimum(near, dist) + slit)
    pts, tri = pts.copy(), tri.copy()
    if depth_range is None:
        finite = dist[np.isfinite(dist)]
        mid = float(np.median(finite)) if len(finite) else float(np.linalg.norm(origin))
        depth_range = (mid - 0.2, mid + 0.2)
    depths = np.arange(depth_range[0], depth_range[1] + 1e-9, 1e-3)
    for i in np.flatnonzero(~direct):
        if nearest is None:   # no search possible: the nearest probe hit stands in
            j = int(np.argmin(rdist.reshape(n, 8)[i]))
            if np.isfinite(rdist[i * 8 + j]):
                _, _, _, p2, t2, _ = cast_pixels(probe[i * 8 + j][None], cam, cast)
                pts[i], tri[i] = p2[0], t2[0]
            continue
        far = depths[-1] if not hit[i] else dist[i]
        t = depths[depths < far]
        if len(t) == 0:
            continue
        q, qt = nearest(origin + t[:, None] * dirs[i])
        q = np.asarray(q, np.float64).reshape(-1, 3)
        off = np.linalg.norm(np.cross(q - origin, dirs[i]), axis=1)
        best = int(np.flatnonzero(off <= off.min() + NEAR_RAY_M)[0])  # the front-most
        pts[i], tri[i] = q[best], int(np.asarray(qt)[best])
    on_extra = (tri >= n_target_tris) | (tri < 0)
    if on_extra.any() and nearest is not None:
        q, qt = nearest(pts[on_extra])
        pts[on_extra], tri[on_extra] = np.asarray(q, np.float64).reshape(-1, 3), np.asarray(qt)
    return pts, tri, direct, on_extra


def make_binding(vertices: np.ndarray, triangles: np.ndarray, tri: np.ndarray,
                 points: np.ndarray) -> Binding:
    tris = np.asarray(triangles, np.int64)[tri]
    v = np.asarray(vertices, np.float64)[tris]
    w = barycentric(v[:, 0], v[:, 1], v[:, 2], points)
    return Binding(tris, w)


def _stats(e: np.ndarray) -> dict:
    return {"mean_px": round(float(e.mean()), 3), "max_px": round(float(e.max()), 3)}


def bind_image(rgb: np.ndarray, cam: dict, cast: Cast, vertices: np.ndarray,
               triangles: np.ndarray, nearest: Nearest | None = None,
               detector: Detector | None = None, detection: Detection | None = None
               ) -> BindResult:
    """Detect the face in `rgb` (rendered through `cam`) and bind the 478 landmarks to the
    surface. `vertices` are the target's vertices in the space `cast` works in (world);
    `triangles` (T, 3) index them. NoFaceFound without a face."""
    if detection is None:
        own = detector is None
        detector = detector or Detector()
        try:
            detection = detector(rgb)
        finally:
            if own:
                detector.close()
    if detection is None:
        raise NoFaceFound()
    px = detection.pixels
    points, tri, direct, on_extra = unproject(px, cam, cast, len(triangles), nearest)
    ok = (tri >= 0) & (tri < len(triangles))
    if not ok.all():
        raise BindingError(f"{int((~ok).sum())} landmarks could not be placed on the mesh")
    b478 = make_binding(vertices, triangles, tri, points)
    c = lm.MEDIAPIPE_TO_CANONICAL
    err = np.linalg.norm(project(b478.evaluate(vertices), cam) - px, axis=1)
    report = {
        "face_found": True, "landmarks_found": int(len(px)),
        "reprojection_px": {"all478": _stats(err), "canonical70": _stats(err[c])},
        "mean_reprojection_px": round(float(err.mean()), 3),
        "max_reprojection_px": round(float(err.max()), 3),
        "rays_missed": int((~direct).sum()),
        "on_extra": [int(i) for i in np.flatnonzero(on_extra)],
        "detector_confidence": round(detection.confidence, 4),
        "frontality": round(detection.frontality, 4),
    }
    return BindResult(b478, b478.subset(c), report)


def orbit_camera(cam: dict, yaw_deg: float, pitch_deg: float) -> dict:
    """`cam` orbited about its aim point (at the distance it was framed for) by yaw (about
    world Z) and pitch (about the camera's right axis)."""
    r, loc = np.asarray(cam["rotation"]), np.asarray(cam["location"])
    target = loc - r[:, 2] * cam["aim_distance"]
    off = loc - target

    def rot(axis, deg):
        a = np.radians(deg)
        k = np.asarray(axis, float) / np.linalg.norm(axis)
        kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        return np.eye(3) + np.sin(a) * kx + (1 - np.cos(a)) * kx @ kx

    off = rot([0, 0, 1], yaw_deg) @ rot(r[:, 0], pitch_deg) @ off
    new = camera_dict(target + off, look_at(target + off, target), cam["lens_mm"],
                      cam["sensor_mm"], *cam["resolution"])
    new["aim_distance"] = cam["aim_distance"]
    return new


def _average_views(result: BindResult, cam, det, render, detector, cast, vertices, triangles,
                   nearest) -> None:
    """Re-bind from JITTER_VIEWS (small orbits of the bound view) and replace each landmark by
    the per-coordinate median of its surface points over all views, snapped onto the surface:
    MediaPipe's landmarks move by a millimetre or two between near-identical views, the median
    keeps that noise out of the binding."""
    pts = [result.mediapipe478.evaluate(vertices)]
    for yaw, pitch in JITTER_VIEWS:
        c = orbit_camera(cam, yaw, pitch)
        d = detector(render(c))
        if d is None:
            continue
        p, t, _, _ = unproject(d.pixels, c, cast, len(triangles), nearest)
        if ((t >= 0) & (t < len(triangles))).all():
            pts.append(p)
    stack = np.stack(pts)
    med = np.median(stack, axis=0)
    q, qt = nearest(med)
    qt = np.asarray(qt, np.int64)
    if (qt < 0).any():
        return
    b = make_binding(vertices, triangles, qt, np.asarray(q, np.float64).reshape(-1, 3))
    err = np.linalg.norm(project(b.evaluate(vertices), cam) - det.pixels, axis=1)
    spread = np.linalg.norm(stack - med, axis=2).max(axis=0) * 1000
    c70 = lm.MEDIAPIPE_TO_CANONICAL
    result.mediapipe478, result.canonical70 = b, b.subset(c70)
    result.report.update({
        "views_averaged": int(len(pts)),
        "view_spread_mm": {"canonical70_mean": round(float(spread[c70].mean()), 3),
                           "canonical70_max": round(float(spread[c70].max()), 3)},
        "reprojection_px": {"all478": _stats(err), "canonical70": _stats(err[c70])},
        "mean_reprojection_px": round(float(err.mean()), 3),
        "max_reprojection_px": round(float(err.max()), 3)})


def auto_bind(render: Callable[[dict], np.ndarray], cast: Cast, vertices: np.ndarray,
              triangles: np.ndarray, nearest: Nearest | None = None, facing: str = "AUTO",
              size: int = SIZE, jitter: bool = True) -> BindResult:
    """Views, framing and binding (module docstring). `render(cam) -> (H, W, 3) uint8` renders
    the scene through the camera dict; `vertices` (world) / `triangles` are the target mesh."""
    axes = facing_axes(facing)
    v = np.asarray(vertices, np.float64)
    lo, hi = v.min(0), v.max(0)
    detector = Detector()
    try:
        views = {}
        for axis in axes:
            cam = box_camera(lo, hi, axis, size)
            rgb = render(cam)
            views[axis] = (cam, detector(rgb), rgb)
        scores = {a: (round(d.score, 4) if d else None) for a, (_, d, _) in views.items()}
        found = [a for a in axes if views[a][1] is not None]
        if not found:
            raise NoFaceFound(axes)
        axis = max(found, key=lambda a: views[a][1].score)   # max keeps the first of ties
        cam, det, rgb = views[axis]
        # Re-frame on the face: its 3D extent from the first view's landmarks.
        points, tri, direct, _ = unproject(det.pixels, cam, cast, len(triangles), nearest)
        ok = direct & (tri >= 0)
        if ok.sum() >= 50:
            cam2 = face_camera(points[ok], axis, size)
            rgb2 = render(cam2)
            det2 = detector(rgb2)
            if det2 is not None:
                cam, det, rgb = cam2, det2, rgb2
        result = bind_image(rgb, cam, cast, v, triangles, nearest, detection=det)
        if jitter and nearest is not None:
            _average_views(result, cam, det, render, detector, cast, v, triangles, nearest)
    finally:
        detector.close()
    result.report.update({"facing": axis, "view_scores": scores, "camera": cam})
    return result
