"""*Export Live Link CSV*: the target's ARKit keys as they play, out to a file engines read."""

import bpy
from bpy_extras.io_utils import ExportHelper

from ..errors import EmotiveError
from ..rigs.blender.export import export
from .explain import Explained, not_object_mode


class EMOTIVE_OT_export_livelink(Explained, ExportHelper, bpy.types.Operator):
    """Write the target's ARKit shape keys over the scene's frame range as a Live Link Face CSV"""

    bl_idname = "emotive.export_livelink"
    bl_label = "Export Live Link CSV"
    bl_options = {'REGISTER'}  # writes a file; the scene is left as it was

    filename_ext = ".csv"
    filter_glob: bpy.props.StringProperty(default="*.csv", options={'HIDDEN'})

    @classmethod
    def disabled_reason(cls, context) -> str:
        obj = context.scene.emotive.target
        if obj is None:
            return "no target object: pick a mesh with ARKit shape keys"
        if obj.type != 'MESH' or not obj.data.shape_keys:
            return f"'{obj.name}' has no shape keys to export"
        return not_object_mode(context)

    def execute(self, context):
        scene = context.scene
        try:
            path = export(self.filepath, scene.emotive.target, scene)
        except EmotiveError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        self.report({'INFO'}, f"wrote {path.name}: frames {scene.frame_start}–{scene.frame_end} "
                              f"of '{scene.emotive.target.name}'")
        return {'FINISHED'}
