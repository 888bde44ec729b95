"""Blender adapter for automatic landmark binding (rigs/auto_binding.py does the work).

`bind_object(obj)` renders the object's evaluated mesh (modifiers and shape-key mix applied via
the depsgraph) in a temporary scene (its own camera, world, Workbench studio lighting, 512 px),
so the user's scenes, objects and render settings stay untouched: everything temporary is
removed afterwards, also on error. Rays are cast in world space with a mathutils BVHTree over
the target plus `extra_objects` (eyes, teeth as separate objects occlude but are not bound: a
landmark hitting them is moved to the nearest point of the target and listed in the report's
`on_extra`). The binding refers to the evaluated mesh's triangles (vertex indices, object space;
barycentric weights are the same in world and object space, so any object transform works).

`obj["emotive_binding"]` stores the binding as a JSON string with the evaluated mesh's vertex
count and a checksum of its topology; `load_binding(obj)` reads it back and refuses it when the
topology has changed since.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile

import bpy
import numpy as np
from mathutils import Matrix, Vector
from mathutils.bvhtree import BVHTree

from ...errors import EmotiveError
from ..auto_binding import SIZE, BindingError, LandmarkBinding, NoFaceFound, auto_bind

PROPERTY = "emotive_binding"
FORMAT_VERSION = 1
_TMP = "Emotive Binding (temporary)"

__all__ = ["bind_object", "load_binding", "store_binding", "check_bindable", "EvaluatedMesh",
           "BindingError", "NoFaceFound", "PROPERTY"]


class EvaluatedMesh:
    """Vertices (object space), loop triangles and topology checksum of an evaluated mesh."""

    def __init__(self, obj, depsgraph):
        ob = obj.evaluated_get(depsgraph)
        mesh = ob.to_mesh()
        try:
            n = len(mesh.vertices)
            co = np.empty(n * 3, np.float64)
            mesh.vertices.foreach_get("co", co)
            self.vertices = co.reshape(n, 3)
            mesh.calc_loop_triangles()
            tri = np.empty(len(mesh.loop_triangles) * 3, np.int64)
            mesh.loop_triangles.foreach_get("vertices", tri)
            self.triangles = tri.reshape(-1, 3)
            self.n_polygons = len(mesh.polygons)
            totals = np.empty(len(mesh.polygons), np.int32)
            mesh.polygons.foreach_get("loop_total", totals)
            loops = np.empty(len(mesh.loops), np.int32)
            mesh.loops.foreach_get("vertex_index", loops)
            self.checksum = topology_checksum(n, totals, loops)
        finally:
            ob.to_mesh_clear()
        self.matrix = np.array(ob.matrix_world, dtype=np.float64)
        self.world = self.vertices @ self.matrix[:3, :3].T + self.matrix[:3, 3]


def topology_checksum(n_vertices: int, loop_totals, loop_vertices) -> str:
    h = hashlib.sha1()
    h.update(np.int64(n_vertices).tobytes())
    h.update(np.ascontiguousarray(loop_totals, np.int32).tobytes())
    h.update(np.ascontiguousarray(loop_vertices, np.int32).tobytes())
    return h.hexdigest()


def check_bindable(obj, what: str = "object") -> None:
    if obj is None or obj.type != 'MESH':
        raise BindingError(f"{what} {getattr(obj, 'name', obj)!r} is not a mesh object")
    for idb in (obj, obj.data):
        if idb.library is not None:
            raise BindingError(
                f"{idb.name!r} is linked from the library {idb.library.filepath!r} and cannot be "
                "changed here: make it local (Object > Relations > Make Local) or add a library "
                "override, then bind again")


def _tri_areas(v: np.ndarray, t: np.ndarray) -> np.ndarray:
    return 0.5 * np.linalg.norm(np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]]), axis=1)


def _render_scene(meshes):
    """A temporary scene holding copies of the evaluated meshes at their world transforms."""
    scene = bpy.data.scenes.new(_TMP)
    scene.render.engine = 'BLENDER_WORKBENCH'
    scene.display.shading.light = 'STUDIO'
    scene.display.shading.color_type = 'MATERIAL'
    scene.view_settings.view_transform = 'Standard'
    scene.world = bpy.data.worlds.new(_TMP)
    scene.world.color = (0.35, 0.35, 0.35)
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = 'PNG'
    scene.render.film_transparent = False
    for mesh, matrix in meshes:
        ob = bpy.data.objects.new(_TMP, mesh)
        ob.matrix_world = matrix
        scene.collection.objects.link(ob)
    cam = bpy.data.objects.new(_TMP, bpy.data.cameras.new(_TMP))
    scene.collection.objects.link(cam)
    scene.camera = cam
    # Workbench lights with its studio light; a sun lamp keeps the scene usable in EEVEE too.
    sun = bpy.data.objects.new(_TMP, bpy.data.lights.new(_TMP, 'SUN'))
    scene.collection.objects.link(sun)
    return scene


def _remove_scene(scene, meshes) -> None:
    for ob in list(scene.collection.objects):
        data = ob.data
        bpy.data.objects.remove(ob)
        if isinstance(data, bpy.types.Camera):
            bpy.data.cameras.remove(data)
        elif isinstance(data, bpy.types.Light):
            bpy.data.lights.remove(data)
    for mesh, _ in meshes:
        if mesh.name in bpy.data.meshes:
            bpy.data.meshes.remove(mesh)
    world = scene.world
    bpy.data.scenes.remove(scene)
    if world is not None:
        bpy.data.worlds.remove(world)


def _render(scene, cam: dict) -> np.ndarray:
    """Render `scene` through the camera dict -> (H, W, 3) uint8 RGB, top row first."""
    ob = scene.camera
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = cam["rotation"], cam["location"]
    ob.matrix_world = Matrix(m.tolist())
    ob.data.lens, ob.data.sensor_width = cam["lens_mm"], cam["sensor_mm"]
    ob.data.sensor_fit = 'AUTO'
    ob.data.clip_start, ob.data.clip_end = 1e-3, 1e4
    w, h = cam["resolution"]
    scene.render.resolution_x, scene.render.resolution_y = w, h
    with tempfile.TemporaryDirectory() as tmp:
        scene.render.filepath = os.path.join(tmp, "face.png")
        bpy.ops.render.render(write_still=True, scene=scene.name)
        image = bpy.data.images.load(scene.render.filepath)
        try:
            px = np.empty(w * h * 4, dtype=np.float32)
            image.pixels.foreach_get(px)
        finally:
            bpy.data.images.remove(image)
    return np.ascontiguousarray(np.round(px.reshape(h, w, 4)[::-1, :, :3] * 255).astype(np.uint8))


def _caster(target: EvaluatedMesh, extras: list):
    """(cast, nearest) over world-space triangles: target first, then the extras."""
    verts, tris, off = [target.world], [target.triangles], len(target.world)
    for e in extras:
        verts.append(e.world)
        tris.append(e.triangles + off)
        off += len(e.world)
    allv, allt = np.concatenate(verts), np.concatenate(tris)
    scene_bvh = BVHTree.FromPolygons(allv.tolist(), allt.tolist())
    target_bvh = (scene_bvh if not extras else
                  BVHTree.FromPolygons(target.world.tolist(), target.triangles.tolist()))

    def cast(origins, dirs):
        n = len(origins)
        hit, pts, idx = np.zeros(n, bool), np.zeros((n, 3)), np.full(n, -1, np.int64)
        for i, (o, d) in enumerate(zip(origins, dirs)):
            loc, _, index, _ = scene_bvh.ray_cast(Vector(o), Vector(d))
            if index is not None:
                hit[i], pts[i], idx[i] = True, loc, index
        return hit, pts, idx

    def nearest(points):
        n = len(points)
        pts, idx = np.zeros((n, 3)), np.full(n, -1, np.int64)
        for i, p in enumerate(points):
            loc, _, index, _ = target_bvh.find_nearest(Vector(p))
            if index is not None:
                pts[i], idx[i] = loc, index
        return pts, idx

    return cast, nearest


def bind_object(obj, facing: str = "AUTO", extra_objects=(), store: bool = True):
    """Bind MediaPipe's 478 landmarks (+ the canonical 70) to `obj`'s evaluated mesh ->
    (LandmarkBinding, report). Stores it in obj["emotive_binding"] unless store=False.
    BindingError (NoFaceFound when no view shows a face) leaves everything unchanged."""
    check_bindable(obj)
    extra_objects = [e for e in extra_objects if e is not None and e != obj]
    for e in extra_objects:
        check_bindable(e, "extra object")
    depsgraph = bpy.context.evaluated_depsgraph_get()
    target = EvaluatedMesh(obj, depsgraph)
    if target.n_polygons == 0 or len(target.triangles) == 0:
        raise BindingError(f"{obj.name!r} has no faces (only vertices/edges): automatic binding "
                           "needs a surface mesh of a face")
    areas = _tri_areas(target.world, target.triangles)
    if not (areas > 1e-12).any():
        raise BindingError(f"{obj.name!r} has only zero-area faces: nothing to render or bind")
    extras = [EvaluatedMesh(e, depsgraph) for e in extra_objects]
    extras = [e for e in extras if len(e.triangles)]
    cast, nearest = _caster(target, extras)

    meshes = []
    scene = None
    had_result = "Render Result" in bpy.data.images
    try:
        for ob in [obj, *extra_objects]:
            ob_eval = ob.evaluated_get(depsgraph)
            mesh = bpy.data.meshes.new_from_object(ob_eval, preserve_all_data_layers=False,
                                                   depsgraph=depsgraph)
            meshes.append((mesh, ob_eval.matrix_world.copy()))
        scene = _render_scene(meshes)
        result = auto_bind(lambda cam: _render(scene, cam), cast, target.world,
                           target.triangles, nearest, facing=facing, size=SIZE)
    finally:
        if scene is not None:
            _remove_scene(scene, meshes)
        else:
            for mesh, _ in meshes:
                bpy.data.meshes.remove(mesh)
        if not had_result and "Render Result" in bpy.data.images:
            bpy.data.images.remove(bpy.data.images["Render Result"])
    binding = result.binding
    report = dict(result.report, vertex_count=len(target.vertices),
                  topology_checksum=target.checksum)
    if store:
        store_binding(obj, binding, {k: v for k, v in report.items() if k != "camera"}, target,
                      facing=report["facing"])
    return binding, report


def store_binding(obj, binding: LandmarkBinding, report: dict, mesh: EvaluatedMesh,
                  facing: str | None = None, generator: str = "emotive.rigs.blender.binding"
                  ) -> None:
    """Write obj["emotive_binding"]: the binding with the evaluated mesh's vertex count and
    topology checksum (what load_binding checks), how it was made and its report."""
    obj[PROPERTY] = json.dumps({
        "version": FORMAT_VERSION, "generator": generator,
        "vertex_count": len(mesh.vertices), "topology_checksum": mesh.checksum,
        "facing": facing, "report": report, **binding.to_dict()}, separators=(",", ":"))


def load_binding(obj, depsgraph=None) -> LandmarkBinding:
    """The binding stored on `obj` by bind_object; BindingError if there is none, it is
    unreadable, or the evaluated mesh's topology changed since it was made."""
    if obj is None or obj.type != 'MESH':
        raise BindingError(f"{getattr(obj, 'name', obj)!r} is not a mesh object")
    raw = obj.get(PROPERTY)
    if raw is None:
        raise BindingError(f"{obj.name!r} has no landmark binding: bind it first")
    try:
        data = json.loads(raw)
        binding = LandmarkBinding.from_dict(data)
    except (TypeError, ValueError, KeyError) as e:
        raise BindingError(f"{obj.name!r}: the stored landmark binding is unreadable ({e})") from e
    if data.get("version") != FORMAT_VERSION:
        raise BindingError(f"{obj.name!r}: landmark binding format {data.get('version')!r} is "
                           f"not {FORMAT_VERSION}: bind again")
    target = EvaluatedMesh(obj, depsgraph or bpy.context.evaluated_depsgraph_get())
    if len(target.vertices) != data["vertex_count"] or target.checksum != data["topology_checksum"]:
        raise BindingError(
            f"{obj.name!r}: the mesh topology changed since the landmarks were bound "
            f"({data['vertex_count']} -> {len(target.vertices)} vertices): bind again")
    if binding.mediapipe478.triangles.max() >= len(target.vertices):
        raise BindingError(f"{obj.name!r}: the stored binding refers to missing vertices")
    return binding


def character_binding(obj):
    """The LandmarkBinding of obj: its stored one, or (unbound) the default head's own when obj has
    the default head's topology (Add Default Head, then sculpted keys). EmotiveError otherwise."""
    if obj is None or obj.type != 'MESH':
        raise EmotiveError(f"{getattr(obj, 'name', obj)!r} is not a mesh object")
    if PROPERTY not in obj and _has_default_topology(obj):
        from ..head_mesh import default_head_binding

        return LandmarkBinding(None, default_head_binding())
    try:
        return load_binding(obj)
    except BindingError as exc:
        raise EmotiveError(f"{exc} (click Bind Face)") from exc


def _has_default_topology(obj) -> bool:
    from ..head_mesh import load_default_head

    head = load_default_head()
    mesh = obj.data
    if len(mesh.vertices) != len(head.vertices) or len(mesh.loops) != len(head.loop_vertices):
        return False
    loops = np.empty(len(mesh.loops), np.int64)
    mesh.loops.foreach_get("vertex_index", loops)
    return bool(np.array_equal(loops, head.loop_vertices))
