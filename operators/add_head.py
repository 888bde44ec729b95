import bpy

from ..rigs.blender_head import create_default_head


class EMOTIVE_OT_add_default_head(bpy.types.Operator):
    """Add Emotive's default head: a CC0 MakeHuman head with the 52 ARKit shape keys"""

    bl_idname = "emotive.add_default_head"
    bl_label = "Add Default Head"
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context):
        return context.mode == 'OBJECT'

    def execute(self, context):
        obj = create_default_head(context.collection)
        obj.location = context.scene.cursor.location
        for other in context.selected_objects:
            other.select_set(False)
        obj.select_set(True)
        context.view_layer.objects.active = obj
        settings = context.scene.emotive
        if settings.target is None:
            settings.target = obj
        self.report({'INFO'}, f"Added '{obj.name}' with {len(obj.data.shape_keys.key_blocks) - 1} ARKit shape keys")
        return {'FINISHED'}
