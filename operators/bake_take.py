"""*Bake Take*: what plays on the target (Action, NLA, drivers; shape keys and face-rig bones)
flattened into plain new Actions (rigs/blender/bake.py); the originals are kept."""

import bpy

from ..errors import EmotiveError
from ..rigs.blender.bake import bake_take, nothing_to_bake, take_range
from .explain import Explained, not_object_mode


class EMOTIVE_OT_bake_take(Explained, bpy.types.Operator):
    """Flatten what moves the target now (its Action, NLA strips and drivers, on the shape keys and its face rig) into one plain new Action each, keyed frame by frame; the originals are kept"""

    bl_idname = "emotive.bake_take"
    bl_label = "Bake Take"
    bl_options = {'REGISTER', 'UNDO'}

    frame_range: bpy.props.EnumProperty(
        name="Frames", default='SCENE',
        items=[('SCENE', "Scene", "The scene's frame range"),
               ('TAKE', "Take", "The frames the target's Actions and NLA strips span")])

    @classmethod
    def disabled_reason(cls, context) -> str:
        return not_object_mode(context) or nothing_to_bake(context.scene.emotive.target)

    def execute(self, context):
        scene, obj = context.scene, context.scene.emotive.target
        try:
            start, end = take_range(obj) if self.frame_range == 'TAKE' else (scene.frame_start, scene.frame_end)
            baked = bake_take(obj, scene, start, end)
        except EmotiveError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        made = []
        if baked.shape_keys is not None:
            made.append(f"'{baked.shape_keys.name}' ({len(baked.shape_key_names)} shape keys)")
        if baked.bones is not None:
            made.append(f"'{baked.bones.name}' on '{baked.rig.name}' ({baked.bone_curves} bone curves)")
        self.report({'WARNING'} if baked.notes else {'INFO'},
                    f"baked frames {start}–{end} into {' and '.join(made)}; the originals are kept"
                    + "".join(f"; {note}" for note in baked.notes))
        return {'FINISHED'}
