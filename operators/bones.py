"""Face-rig operators: fit the landmark -> bone model, add and remove live preview drivers."""

import bpy

from ..errors import EmotiveError
from ..rigs.blender.face_rig import N_EXAMPLES, face_rig_of, fit_face_rig
from .explain import OnMeshTarget


def _rig(context):
    target = context.scene.emotive.target
    return target, face_rig_of(target)


class _OnRiggedTarget(OnMeshTarget):
    @classmethod
    def disabled_reason(cls, context):
        reason = super().disabled_reason(context)
        if not reason and _rig(context)[1] is None:
            reason = f"'{context.scene.emotive.target.name}' is not deformed by a face rig (no Armature modifier)"
        return reason


class EMOTIVE_OT_fit_face_rig(_OnRiggedTarget, bpy.types.Operator):
    """Pose the face rig's controls in random example poses, measure the target's landmarks and fit the landmark-to-bone model (stored on the armature)"""

    bl_idname = "emotive.fit_face_rig"
    bl_label = "Fit Face Rig"
    bl_options = {'REGISTER', 'UNDO'}

    examples: bpy.props.IntProperty(name="Example Poses", default=N_EXAMPLES, min=10, max=2000,
                                    description="Random poses of the controls the model is fitted from")
    seed: bpy.props.IntProperty(name="Seed", default=0, min=0, description="Seed of the example poses")

    def execute(self, context):
        target, rig = _rig(context)
        try:
            record = fit_face_rig(target, rig, n_examples=self.examples, seed=self.seed)
        except EmotiveError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        held = record["held_out"]
        self.report({'INFO'}, f"Fitted {len(record['controls'])} controls of '{rig.name}' from {record['examples']} "
                              f"poses; held-out error {held['location_mm']:.2f} mm, {held['rotation_deg']:.3f}°")
        return {'FINISHED'}


class EMOTIVE_OT_add_live_drivers(_OnRiggedTarget, bpy.types.Operator):
    """Drive the fitted face controls from 52 ARKit-weight properties on the armature (a linear preview of the fit; simple expressions, no Python needed)"""

    bl_idname = "emotive.add_live_drivers"
    bl_label = "Add Live Drivers"
    bl_options = {'REGISTER', 'UNDO'}

    def execute(self, context):
        from ..rigs.blender.bone_drivers import add_live_drivers

        _, rig = _rig(context)
        try:
            added = add_live_drivers(rig)
        except EmotiveError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        self.report({'INFO'}, f"{added} live driver(s) on '{rig.name}': set its arkit_* properties "
                              "(Object Properties > Custom Properties); remove them to play a take")
        return {'FINISHED'}


class EMOTIVE_OT_remove_live_drivers(_OnRiggedTarget, bpy.types.Operator):
    """Remove the live drivers and ARKit-weight properties Add Live Drivers made"""

    bl_idname = "emotive.remove_live_drivers"
    bl_label = "Remove Live Drivers"
    bl_options = {'REGISTER', 'UNDO'}

    def execute(self, context):
        from ..rigs.blender.bone_drivers import remove_live_drivers

        _, rig = _rig(context)
        removed = remove_live_drivers(rig)
        self.report({'INFO'}, f"Removed {removed} live driver(s) from '{rig.name}'")
        return {'FINISHED'}
