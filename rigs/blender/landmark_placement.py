"""Blender adapter for manual landmark placement (rigs/landmark_placement.py does the maths).

While a mesh's landmarks are being edited they are 70 empties in a collection "Emotive Landmarks:
<object>", parented to the mesh (identity parent inverse: an empty's location is the landmark in
the mesh's object space, and the empties follow the object's transform). Each empty holds its
canonical index in ["emotive_landmark"] (users may rename them); the collection points to its mesh
in ["emotive_landmarks_for"] and remembers the evaluated mesh's topology checksum from when the
edit began. Snapping uses a mathutils BVHTree over the evaluated mesh in object space, the mesh a
binding refers to (rigs/blender/binding.py).

`apply_landmarks` snaps the empties, builds the full binding (the 70 and the 478) and stores it
in obj["emotive_binding"] in bind_object's JSON format (method "manual" in its report), then
removes the empties. It refuses, changing nothing, when an empty is missing or doubled or when
the mesh's topology changed since the edit began. `GuidedPlacement` is the guided mode's state
without events: the modal operator turns clicks into `place(index, world_point)` calls.
"""

from __future__ import annotations

import bpy
import numpy as np
from mathutils import Matrix, Vector
from mathutils.bvhtree import BVHTree

from .. import landmark_placement as lp
from .. import landmarks as lm
from ..auto_binding import BindingError
from ..landmark_placement import LandmarkPlacementError
from .binding import PROPERTY, EvaluatedMesh, check_bindable, load_binding, store_binding

OWNER = "emotive_landmarks_for"      # collection -> the mesh object
INDEX = "emotive_landmark"           # empty -> canonical index
TOPOLOGY = "emotive_topology"        # collection -> topology checksum when the edit began
SOURCE = "emotive_source"            # collection -> "binding" or "guess": where the edit started
COLLECTION_PREFIX = "Emotive Landmarks: "
GENERATOR = "emotive.rigs.blender.landmark_placement"
EMPTY_SIZE = 0.008                   # empty radius as a share of the mesh's bounding-box diagonal

__all__ = ["edit_landmarks", "apply_landmarks", "discard_landmarks", "fit_guides", "symmetrize",
           "landmark_collection", "landmark_empties", "read_points", "GuidedPlacement",
           "LandmarkPlacementError"]


class _Target:
    """The evaluated mesh (object space) and a BVHTree to snap points onto it."""

    def __init__(self, obj, depsgraph=None):
        try:
            check_bindable(obj)
        except BindingError as e:
            raise LandmarkPlacementError(str(e)) from e
        self.mesh = EvaluatedMesh(obj, depsgraph or bpy.context.evaluated_depsgraph_get())
        if len(self.mesh.triangles) == 0:
            raise LandmarkPlacementError(f"{obj.name!r} has no faces: landmarks need a surface")
        self.bvh = BVHTree.FromPolygons(self.mesh.vertices.tolist(), self.mesh.triangles.tolist())

    def nearest(self, points):
        """auto_binding.Nearest over the evaluated mesh, object space."""
        pts = np.asarray(points, np.float64).reshape(-1, 3)
        out, idx = np.zeros_like(pts), np.full(len(pts), -1, np.int64)
        for i, p in enumerate(pts):
            loc, _, index, _ = self.bvh.find_nearest(Vector(p))
            if index is not None:
                out[i], idx[i] = loc, index
        return out, idx


def _plane(target: _Target, symmetry: str) -> lp.Plane:
    if symmetry == 'OBJECT_X':
        return lp.X_PLANE
    if symmetry == 'FITTED':
        return lp.fit_symmetry_plane(target.mesh.vertices)
    raise LandmarkPlacementError(f"symmetry must be 'OBJECT_X' or 'FITTED', not {symmetry!r}")


# --- the empties ---------------------------------------------------------------------------

def landmark_collection(obj):
    """The collection holding obj's landmark empties while they are edited, or None."""
    for coll in bpy.data.collections:
        if coll.get(OWNER) == obj:
            return coll
    return None


def landmark_empties(obj) -> dict[int, list]:
    """canonical index -> the empties carrying it (normally one each)."""
    coll = landmark_collection(obj)
    out: dict[int, list] = {}
    for ob in (coll.objects if coll is not None else ()):
        i = ob.get(INDEX)
        if ob.type == 'EMPTY' and isinstance(i, int) and 0 <= i < lm.N_CANONICAL:
            out.setdefault(i, []).append(ob)
    return out


def _local(obj, empty) -> np.ndarray:
    """The empty's position in obj's object space (also when the user re-parented it)."""
    if empty.parent == obj:
        return np.array(empty.matrix_parent_inverse @ empty.location)
    return np.array(obj.matrix_world.inverted() @ empty.matrix_world.translation)


def _set_local(obj, empty, point) -> None:
    if empty.parent != obj:
        empty.parent = obj
        empty.matrix_parent_inverse = Matrix.Identity(4)
    empty.location = empty.matrix_parent_inverse.inverted() @ Vector(point)


def _single_empties(obj) -> dict:
    coll = landmark_collection(obj)
    if coll is None:
        raise LandmarkPlacementError(f"{obj.name!r} has no landmarks being edited: press Edit "
                                     "Landmarks (or Guided Placement) first")
    empties = landmark_empties(obj)
    missing = [i for i in range(lm.N_CANONICAL) if i not in empties]
    if missing:
        raise LandmarkPlacementError(
            f"{len(missing)} landmark empties of {obj.name!r} are missing ("
            + ", ".join(lp.label(i) for i in missing[:5]) + (", ..." if len(missing) > 5 else "")
            + "): press Edit Landmarks to put them back, the others keep their places")
    doubled = [i for i, e in empties.items() if len(e) > 1]
    if doubled:
        raise LandmarkPlacementError(
            "more than one empty is landmark " + ", ".join(lp.label(i) for i in doubled[:5])
            + " (a duplicate?): delete the extra ones")
    return {i: e[0] for i, e in empties.items()}


def read_points(obj) -> np.ndarray:
    """The 70 empties' positions in obj's object space -> (70, 3)."""
    empties = _single_empties(obj)
    return np.array([_local(obj, empties[i]) for i in range(lm.N_CANONICAL)])


def write_points(obj, points: dict) -> None:
    """Move the empties: {index: (3,) object-space point}."""
    empties = _single_empties(obj)
    for i, p in points.items():
        _set_local(obj, empties[int(i)], p)


def _start_points(obj, target: _Target) -> tuple[np.ndarray, str, str | None]:
    """(70, 3) where editing starts, "binding" or "guess", and why the binding was not used."""
    problem = None
    if PROPERTY in obj:
        try:
            b = load_binding(obj)
            return b.canonical70.evaluate(target.mesh.vertices), "binding", None
        except BindingError as e:
            problem = str(e)
    return lp.box_guess(target.mesh.vertices, target.nearest), "guess", problem


def _new_empty(obj, coll, index: int, point, size: float):
    e = bpy.data.objects.new(lp.label(index), None)
    guide = index in lp.GUIDES
    e.empty_display_type = 'CUBE' if guide else 'SPHERE'   # the guides stand out
    e.empty_display_size = size * (1.3 if guide else 1.0)
    e.show_in_front = True
    e.hide_render = True
    e[INDEX] = index
    coll.objects.link(e)
    e.parent = obj
    e.location = Vector(point)
    return e


def edit_landmarks(obj, scene=None) -> dict:
    """Show obj's 70 landmarks as empties -> {"source": "binding" | "guess" | "resumed",
    "created": n, "problem": why a stored binding was not used or None}. A bound mesh starts
    from its binding, an unbound one from lp.box_guess. If the landmarks are already being
    edited, the empties keep their places; missing ones come back at their starting place, and
    the current topology becomes the one Apply checks against."""
    target = _Target(obj)
    scene = scene or bpy.context.scene
    coll = landmark_collection(obj)
    empties = landmark_empties(obj)
    missing = [i for i in range(lm.N_CANONICAL) if i not in empties]
    start, source, problem = None, "resumed", None
    if missing:
        start, source, problem = _start_points(obj, target)
    if coll is None:
        coll = bpy.data.collections.new(COLLECTION_PREFIX + obj.name)
        scene.collection.children.link(coll)
        coll[OWNER] = obj
        coll[SOURCE] = source
    else:
        source = "resumed"
    coll[TOPOLOGY] = target.mesh.checksum
    size = EMPTY_SIZE * float(np.linalg.norm(np.ptp(target.mesh.vertices, axis=0)))
    for i in missing:
        _new_empty(obj, coll, i, start[i], size)
    return {"source": source, "created": len(missing), "problem": problem}


def discard_landmarks(obj) -> None:
    """Remove the landmark empties and their collection (the stored binding stays as it was)."""
    coll = landmark_collection(obj)
    if coll is None:
        return
    for ob in list(coll.objects):
        if ob.get(INDEX) is not None:
            bpy.data.objects.remove(ob)
    if len(coll.objects) == 0 and len(coll.children) == 0:
        bpy.data.collections.remove(coll)
    else:   # the user put other things in it: keep those, stop treating it as ours
        del coll[OWNER]


def fit_guides(obj) -> list[int]:
    """Re-place every landmark but the GUIDES from the guide empties -> the indices moved."""
    target = _Target(obj)
    points = read_points(obj)
    new = lp.fit_to_guides({i: points[i] for i in lp.GUIDES}, target.nearest)
    moved = [i for i in range(lm.N_CANONICAL) if i not in lp.GUIDES]
    write_points(obj, {i: new[i] for i in moved})
    return moved


def symmetrize(obj, source: str = 'SELECTED', symmetry: str = 'OBJECT_X') -> list[int]:
    """Mirror one side onto the other: source 'SELECTED' (the selected landmark empties), 'RIGHT'
    or 'LEFT' (the subject's side, with the centre line) -> the indices moved."""
    empties = _single_empties(obj)
    if source == 'SELECTED':
        idx = [i for i, e in empties.items() if e.select_get()]
        if not idx:
            raise LandmarkPlacementError("select the landmark empties to mirror (one side) first")
    elif source in ('RIGHT', 'LEFT'):
        idx = [i for i in range(lm.N_CANONICAL) if lp.SIDE[i] in (source[0], "C")]
    else:
        raise LandmarkPlacementError(f"source must be SELECTED, RIGHT or LEFT, not {source!r}")
    target = _Target(obj)
    new, moved = lp.mirror_into(read_points(obj), idx, _plane(target, symmetry), target.nearest)
    write_points(obj, {i: new[i] for i in moved})
    return moved


def apply_landmarks(obj) -> tuple:
    """Snap the empties, bind the 70 + 478 landmarks, store the binding as bind_object does and
    remove the empties -> (LandmarkBinding, report). Nothing changes when it fails."""
    target = _Target(obj)
    coll = landmark_collection(obj)
    points = read_points(obj)   # refuses a missing or doubled empty
    if coll.get(TOPOLOGY) != target.mesh.checksum:
        raise LandmarkPlacementError(
            f"the mesh {obj.name!r} changed its topology since its landmarks were placed (now "
            f"{len(target.mesh.vertices)} vertices): undo that change, or press Edit Landmarks "
            "to go on editing the landmarks on the new mesh, then Apply")
    binding, report = lp.binding_from_points(target.mesh.vertices, target.mesh.triangles,
                                             points, target.nearest)
    report.update(vertex_count=len(target.mesh.vertices), topology_checksum=target.mesh.checksum,
                  started_from=coll.get(SOURCE))
    store_binding(obj, binding, report, target.mesh, generator=GENERATOR)
    discard_landmarks(obj)
    return binding, report


# --- guided placement -----------------------------------------------------------------------

class GuidedPlacement:
    """The guided mode without events. Steps through lp.steps(mirror); `place` snaps a point
    onto the surface (with mirror also its partner); on a mesh that started from a guess (no
    binding), each guide placed re-fits all landmarks not placed yet (lp.fit_to_guides, from 3
    guides on). `back` undoes the last step; `cancel` restores where the session began."""

    def __init__(self, obj, mirror: bool = True, symmetry: str = 'OBJECT_X', scene=None):
        self.obj = obj
        self.created = landmark_collection(obj) is None
        edit_landmarks(obj, scene)
        self.target = _Target(obj)
        self.plane = _plane(self.target, symmetry)
        self.refit = landmark_collection(obj).get(SOURCE) == "guess"
        self.initial = read_points(obj)
        self.placed: set[int] = set()
        self.history: list[tuple[int, np.ndarray, set]] = []
        self.mirror = mirror
        self.sequence = lp.steps(mirror)
        self.step = 0

    @property
    def current(self) -> int | None:
        """The landmark to place next, None when every step is done."""
        return self.sequence[self.step] if self.step < len(self.sequence) else None

    def prompt(self) -> str:
        i = self.current
        if i is None:
            return "all landmarks placed: Enter to finish, Backspace to go back"
        return (f"click the {lp.label(i)} ({self.step + 1}/{len(self.sequence)}"
                + (", mirrored" if self.mirror and lm.MIRROR[i] != i else "") + ")")

    def set_mirror(self, mirror: bool) -> None:
        here = self.current
        self.mirror, self.sequence = mirror, lp.steps(mirror)
        if here is not None and here in self.sequence:
            self.step = self.sequence.index(here)
        else:
            self._advance(0)

    def _advance(self, start: int) -> None:
        self.step = start
        while self.step < len(self.sequence) and self.sequence[self.step] in self.placed:
            self.step += 1

    def place(self, index: int, world_point) -> list[int]:
        """Put landmark `index` at the surface point nearest `world_point` (and, with mirror on,
        its partner) -> the indices moved."""
        index = int(index)
        if not 0 <= index < lm.N_CANONICAL:
            raise LandmarkPlacementError(f"no landmark {index}: 0..{lm.N_CANONICAL - 1}")
        before = read_points(self.obj)
        self.history.append((self.step, before, set(self.placed)))
        local = np.array(self.obj.matrix_world.inverted() @ Vector(world_point))
        points = before.copy()
        points[index] = lp.snap(local[None], self.target.nearest)[0]
        moved = [index]
        if self.mirror:
            points, also = lp.mirror_into(points, [index], self.plane, self.target.nearest)
            moved += [i for i in also if i != index]
        self.placed.update(moved)
        if self.refit and index in lp.GUIDES:
            guides = {i: points[i] for i in lp.GUIDES if i in self.placed}
            if len(guides) >= lp.MIN_GUIDES:
                fit = lp.fit_to_guides(guides, self.target.nearest)
                rest = [i for i in range(lm.N_CANONICAL) if i not in self.placed]
                points[rest] = fit[rest]
                moved += rest
        write_points(self.obj, {i: points[i] for i in moved})
        self._advance(self.step)    # past the landmarks placed, the current one included
        return moved

    def place_next(self, world_point) -> list[int]:
        if self.current is None:
            raise LandmarkPlacementError("every landmark is placed: finish or go back")
        return self.place(self.current, world_point)

    def back(self) -> bool:
        """Undo the last step; False when there is none."""
        if not self.history:
            return False
        self.step, points, self.placed = self.history.pop()
        write_points(self.obj, dict(enumerate(points)))
        return True

    def cancel(self) -> None:
        """Everything as before the session: the empties back in place, or gone if it made them."""
        if self.created:
            discard_landmarks(self.obj)
        else:
            write_points(self.obj, dict(enumerate(self.initial)))
