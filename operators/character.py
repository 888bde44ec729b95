import bpy

from ..errors import EmotiveError
from ..rigs.blender.character import bind_face, make_animatable
from .explain import OnMeshTarget


class EMOTIVE_OT_bind_face(OnMeshTarget, bpy.types.Operator):
    """Find the face's landmarks automatically (render, MediaPipe FaceMesh) and store them on the mesh"""

    bl_idname = "emotive.bind_face"
    bl_label = "Bind Face"
    bl_options = {'REGISTER', 'UNDO'}

    facing: bpy.props.EnumProperty(
        name="Facing", default='AUTO',
        items=[('AUTO', "Auto", "Try the four side axes and keep the clearest face"),
               ('-Y', "-Y", ""), ('+Y', "+Y", ""), ('-X', "-X", ""), ('+X', "+X", "")])

    def execute(self, context):
        obj = context.scene.emotive.target
        try:
            quality = bind_face(obj, self.facing)
        except EmotiveError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        self.report({'INFO'}, f"Bound {quality.get('landmarks_found', 0)} landmarks on '{obj.name}' "
                              f"(facing {quality.get('facing')}, mean reprojection "
                              f"{quality.get('mean_reprojection_px', float('nan')):.2f} px)")
        return {'FINISHED'}


class EMOTIVE_OT_add_arkit_keys(OnMeshTarget, bpy.types.Operator):
    """Give the mesh the 52 ARKit shape keys it lacks, transferred from the default head (binds it first if needed)"""

    bl_idname = "emotive.add_arkit_keys"
    bl_label = "Add ARKit Shape Keys"
    bl_options = {'REGISTER', 'UNDO'}

    def execute(self, context):
        obj = context.scene.emotive.target
        try:
            done = make_animatable(obj)
        except EmotiveError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        added = len(done["added_keys"])
        self.report({'INFO'}, f"Added {added} ARKit shape key(s) to '{obj.name}'" if added
                    else f"'{obj.name}' already has all 52 ARKit shape keys")
        return {'FINISHED'}
