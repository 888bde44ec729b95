"""Blender adapter: takes out of Blender. EXPORTERS maps a file suffix to (label, exporter); each
exporter reads the evaluated scene (Actions, NLA, drivers: what plays) over the scene's frame range
and leaves the scene as it found it (selection, active object, current frame, values, datablocks).
`export(path, obj, scene)` picks one by the path's suffix and says what it wrote (`Exported`).

- Live Link Face CSV (.csv): the ARKit shape keys, frame by frame, in the iPhone app's layout
  (game engines; Emotive's own capture importer reads it back).
- glTF 2.0 (.glb binary, .gltf JSON + .bin + textures): Blender's bundled exporter on the character
  and the face rig deforming it only, in its SCENE animation mode: every frame of the scene range
  sampled as it plays, shape keys as morph-target weights (named in the mesh's extras.targetNames)
  and bones as node rotations/translations/scales, in one animation.
- FBX (.fbx): Blender's bundled exporter on the same objects, the scene's animation baked on every
  frame (no simplification, no per-Action or per-strip stacks): shape keys as blend-shape channels
  (DeformPercent), bones as curves. Frame f lies at f / fps seconds in both glTF and FBX.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import bpy
import numpy as np

from ...errors import EmotiveError
from ..arkit import ARKIT_NAMES
from .face_rig import face_rig_of


@dataclass
class Exported:
    path: Path
    format: str                       # the EXPORTERS label
    files: list[Path] = field(default_factory=list)   # everything written (.gltf: + .bin, textures)
    frame_start: int = 1
    frame_end: int = 1
    fps: float = 24.0
    shape_keys: int = 0               # shape-key channels written
    bones: int = 0                    # deforming bones written (their transforms on every frame)

    @property
    def size(self) -> int:
        return sum(p.stat().st_size for p in self.files)

    @property
    def frames(self) -> int:
        return self.frame_end - self.frame_start + 1

    def summary(self) -> str:
        extra = f" (+{len(self.files) - 1} file(s) beside it)" if len(self.files) > 1 else ""
        size = self.size
        size = f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.1f} kB"
        bones = f", {self.bones} bones" if self.bones else ""
        return (f"wrote {self.path.name}{extra}, {self.format}, {size}: frames {self.frame_start}–"
                f"{self.frame_end} ({self.frames} at {self.fps:.6g} fps), {self.shape_keys} shape keys{bones}")


def _fps(scene) -> float:
    return scene.render.fps / scene.render.fps_base


def sample_arkit(obj, scene, frame_start: int, frame_end: int) -> np.ndarray:
    """(F, 52) the ARKit shape-key values of `obj` as they play on frames start..end (keys the
    mesh lacks read 0); the scene's current frame is restored."""
    keys = obj.data.shape_keys.key_blocks if obj.type == 'MESH' and obj.data.shape_keys else None
    present = [(k, keys[name]) for k, name in enumerate(ARKIT_NAMES) if keys and name in keys]
    if not present:
        raise EmotiveError(f"'{obj.name}' has no ARKit shape keys to export")
    current = scene.frame_current, scene.frame_subframe
    out = np.zeros((frame_end - frame_start + 1, len(ARKIT_NAMES)), dtype=np.float32)
    try:
        for i, frame in enumerate(range(frame_start, frame_end + 1)):
            scene.frame_set(frame)
            for k, block in present:
                out[i, k] = block.value
    finally:
        scene.frame_set(current[0], subframe=current[1])
    return out


def export_livelink_csv(path: Path, obj, scene) -> Exported:
    from ..formats import livelink_csv

    fps = _fps(scene)
    if fps > 60:  # the app's timecode counts 60 frames a second
        raise EmotiveError(f"Live Link Face CSV holds at most 60 frames a second; the scene runs at "
                           f"{fps:.6g} fps: set the frame rate to 60 or lower")
    weights = sample_arkit(obj, scene, scene.frame_start, scene.frame_end)
    try:
        written = Path(livelink_csv.write(path, weights, fps))
    except ValueError as exc:  # NaN from a driver, say
        raise EmotiveError(f"cannot export '{obj.name}': {exc}") from exc
    keys = obj.data.shape_keys.key_blocks
    return Exported(written, "Live Link Face CSV", [written], scene.frame_start, scene.frame_end, fps,
                    shape_keys=sum(name in keys for name in ARKIT_NAMES))


def _character(obj):
    """(objects to export, the face rig or None, shape-key channels): the mesh and its rig."""
    if obj is None or obj.type != 'MESH':
        raise EmotiveError("export a mesh: pick the animated character as the target")
    rig = face_rig_of(obj)
    key = obj.data.shape_keys
    n_keys = len(key.key_blocks) - 1 if key is not None else 0
    if n_keys <= 0 and rig is None:
        raise EmotiveError(f"'{obj.name}' has no shape keys and no face rig: nothing moves to export")
    return [o for o in (obj, rig) if o is not None], rig, n_keys


def _deform_bones(rig) -> int:
    return sum(b.use_deform for b in rig.data.bones) if rig is not None else 0


def _beyond_trs(rig) -> bool:
    """Whether Blender poses some deforming bone by more than a TRS node hierarchy reproduces:
    constraints (Rigify's stretch-to lips), scale or rotation not fully inherited."""
    return rig is not None and any(
        pb.bone.use_deform and (len(pb.constraints) or pb.bone.inherit_scale != 'FULL'
                                or not pb.bone.use_inherit_rotation) for pb in rig.pose.bones)


@contextlib.contextmanager
def _selected_alone(scene, objects):
    """Select exactly `objects` (the bundled exporters' use_selection) and give back the
    selection, the active object and the current frame afterwards, whatever happens."""
    view_layer = bpy.context.view_layer
    if bpy.context.mode != 'OBJECT':
        raise EmotiveError("switch to Object Mode before exporting")
    for o in objects:
        if view_layer.objects.get(o.name) is not o:
            raise EmotiveError(f"'{o.name}' is not in the view layer '{view_layer.name}': it cannot be exported")
        if not o.visible_get(view_layer=view_layer):
            raise EmotiveError(f"'{o.name}' is hidden: unhide it to export it")
    selected = [o for o in view_layer.objects if o.select_get(view_layer=view_layer)]
    active = view_layer.objects.active
    current = scene.frame_current, scene.frame_subframe
    try:
        for o in selected:
            o.select_set(False, view_layer=view_layer)
        for o in objects:
            o.select_set(True, view_layer=view_layer)
        view_layer.objects.active = objects[0]
        yield
    finally:
        for o in view_layer.objects:
            o.select_set(o in selected, view_layer=view_layer)
        view_layer.objects.active = active
        scene.frame_set(current[0], subframe=current[1])


def _gltf_files(path: Path) -> list[Path]:
    """The .gltf and the files its buffers and images name (data: URIs aside)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    uris = [item.get("uri", "") for kind in ("buffers", "images") for item in doc.get(kind, [])]
    return [path] + [path.parent / u for u in uris if u and not u.startswith("data:")]


def export_gltf(path: Path, obj, scene) -> Exported:
    objects, rig, n_keys = _character(obj)
    binary = path.suffix.lower() == ".glb"
    with _selected_alone(scene, objects):
        result = bpy.ops.export_scene.gltf(
            filepath=str(path), export_format='GLB' if binary else 'GLTF_SEPARATE', use_selection=True,
            export_cameras=False, export_lights=False, export_extras=False, export_yup=True,
            export_apply=False,                       # modifiers would drop the shape keys
            export_animations=True, export_animation_mode='SCENE', export_anim_scene_split_object=False,
            export_force_sampling=True, export_frame_step=1, export_anim_slide_to_zero=False,
            export_optimize_animation_size=False,     # every frame, as it plays
            export_morph=True, export_morph_normal=True, export_morph_animation=True,
            export_skins=True, export_leaf_bone=False,
            export_def_bones=True,                    # control bones deform nothing without their constraints
            # a stretched parent shears its children, which glTF's TRS nodes cannot hold: each bone's
            # world transform is exact when every bone hangs off the armature directly
            export_hierarchy_flatten_bones=_beyond_trs(rig),
            export_rest_position_armature=True, will_save_settings=False)
    if result != {'FINISHED'} or not path.exists():
        raise EmotiveError(f"Blender's glTF exporter did not write '{path.name}'")
    files = [path] if binary else _gltf_files(path)
    return Exported(path, "glTF 2.0 binary" if binary else "glTF 2.0", files, scene.frame_start,
                    scene.frame_end, _fps(scene), shape_keys=n_keys,
                    bones=_deform_bones(rig))


def export_fbx(path: Path, obj, scene) -> Exported:
    objects, rig, n_keys = _character(obj)
    with _selected_alone(scene, objects):
        result = bpy.ops.export_scene.fbx(
            filepath=str(path), use_selection=True, object_types={'MESH', 'ARMATURE'},
            use_mesh_modifiers=False,                 # applying them would drop the shape keys
            add_leaf_bones=False, use_custom_props=False, use_armature_deform_only=True,
            bake_anim=True, bake_anim_use_all_bones=True, bake_anim_use_nla_strips=False,
            bake_anim_use_all_actions=False, bake_anim_force_startend_keying=True,
            bake_anim_step=1.0, bake_anim_simplify_factor=0.0, path_mode='AUTO')
    if result != {'FINISHED'} or not path.exists():
        raise EmotiveError(f"Blender's FBX exporter did not write '{path.name}'")
    return Exported(path, "FBX", [path], scene.frame_start, scene.frame_end, _fps(scene), shape_keys=n_keys,
                    bones=_deform_bones(rig))


EXPORTERS = {
    ".glb": ("glTF 2.0 binary", export_gltf),
    ".gltf": ("glTF 2.0 (JSON + .bin)", export_gltf),
    ".fbx": ("FBX", export_fbx),
    ".csv": ("Live Link Face CSV", export_livelink_csv),
}


def export(path, obj, scene) -> Exported:
    """Export what plays on `obj` (its shape keys; its face rig's bones where the format holds
    them) over the scene's frame range to `path`, the format picked by its suffix."""
    path = Path(path)
    entry = EXPORTERS.get(path.suffix.lower())
    if entry is None:
        raise EmotiveError(f"cannot export '{path.name}': use one of {', '.join(EXPORTERS)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return entry[1](path, obj, scene)
    except RuntimeError as exc:  # a bundled exporter's own error, raised through bpy.ops
        raise EmotiveError(f"cannot export '{path.name}': {str(exc).strip()}") from exc
    except OSError as exc:
        raise EmotiveError(f"cannot write '{path}': {exc.strerror or exc}") from exc
