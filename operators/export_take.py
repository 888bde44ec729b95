"""*Export Take*: what plays on the target (shape keys, face-rig bones) out to a file; the file's
suffix picks the format (rigs/blender/export.py:EXPORTERS: glTF/GLB, FBX, Live Link Face CSV).
*Export Live Link CSV* is the same with the CSV format fixed."""

from pathlib import Path

import bpy
from bpy_extras.io_utils import ExportHelper

from ..errors import EmotiveError
from ..rigs.blender.export import EXPORTERS, export
from .explain import Explained, not_object_mode

_FORMATS = [(suffix[1:].upper(), suffix, label) for suffix, (label, _) in EXPORTERS.items()]


def _suffix(fmt: str) -> str:
    return "." + fmt.lower()


class EMOTIVE_OT_export_take(Explained, ExportHelper, bpy.types.Operator):
    """Write what plays on the target (shape keys and its face rig's bones) over the scene's frame range: glTF/GLB, FBX or Live Link Face CSV, picked by the file's suffix"""

    bl_idname = "emotive.export_take"
    bl_label = "Export Take"
    bl_options = {'REGISTER'}  # writes a file; the scene is left as it was

    filename_ext = ".glb"
    filter_glob: bpy.props.StringProperty(default=";".join(f"*{s}" for s in EXPORTERS), options={'HIDDEN'})
    export_format: bpy.props.EnumProperty(
        name="Format", items=_FORMATS, default=_FORMATS[0][0],
        description="The file's format (a script's file path with one of these suffixes picks it by itself)")

    @classmethod
    def disabled_reason(cls, context) -> str:
        obj = context.scene.emotive.target
        if obj is None:
            return "no target object: pick the animated mesh in the Emotive panel"
        if obj.type != 'MESH':
            return f"'{obj.name}' is a {obj.type.lower()} object; the target must be a mesh"
        from ..rigs.blender.face_rig import face_rig_of

        if not obj.data.shape_keys and face_rig_of(obj) is None:
            return f"'{obj.name}' has no shape keys and no face rig to export"
        return not_object_mode(context)

    def check(self, context):
        """File browser: the suffix follows the Format menu."""
        path = Path(self.filepath)
        wanted = _suffix(self.export_format)
        if self.filepath and path.suffix.lower() != wanted:
            self.filepath = str(path.with_suffix(wanted) if path.suffix.lower() in EXPORTERS
                                else path.with_name(path.name + wanted))
            return True
        return False

    def invoke(self, context, event):
        if not self.filepath:
            blend = context.blend_data.filepath
            self.filepath = str(Path(blend).with_suffix("") if blend else Path("untitled")) + \
                _suffix(self.export_format)
        context.window_manager.fileselect_add(self)
        return {'RUNNING_MODAL'}

    def target_path(self) -> Path:
        """The path to write: a known suffix picks the format unless the format was set."""
        path = Path(self.filepath)
        if path.suffix.lower() in EXPORTERS and not self.properties.is_property_set("export_format"):
            return path
        wanted = _suffix(self.export_format)
        return path if path.suffix.lower() == wanted else path.with_name(path.name + wanted)

    def execute(self, context):
        scene = context.scene
        try:
            written = export(self.target_path(), scene.emotive.target, scene)
        except EmotiveError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        self.report({'INFO'}, written.summary() + f" of '{scene.emotive.target.name}'")
        return {'FINISHED'}


class EMOTIVE_OT_export_livelink(EMOTIVE_OT_export_take):
    """Write the target's ARKit shape keys over the scene's frame range as a Live Link Face CSV"""

    bl_idname = "emotive.export_livelink"
    bl_label = "Export Live Link CSV"

    filename_ext = ".csv"
    filter_glob: bpy.props.StringProperty(default="*.csv", options={'HIDDEN'})
    export_format: bpy.props.EnumProperty(name="Format", items=[('CSV', ".csv", EXPORTERS[".csv"][0])],
                                          default='CSV', options={'HIDDEN'})

    @classmethod
    def disabled_reason(cls, context) -> str:
        obj = context.scene.emotive.target
        if obj is None:
            return "no target object: pick a mesh with ARKit shape keys"
        if obj.type != 'MESH' or not obj.data.shape_keys:
            return f"'{obj.name}' has no shape keys to export"
        return not_object_mode(context)

    def target_path(self) -> Path:
        path = Path(self.filepath)
        return path if path.suffix.lower() == ".csv" else path.with_name(path.name + ".csv")
