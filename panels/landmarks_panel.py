"""UI only: the "Face Landmarks" sub-panel (manual landmark placement) of the Emotive tab."""

import bpy


class EMOTIVE_PT_landmarks(bpy.types.Panel):
    bl_label = "Face Landmarks"
    bl_idname = "EMOTIVE_PT_landmarks"
    bl_parent_id = "EMOTIVE_PT_text"
    bl_space_type = 'VIEW_3D'
    bl_region_type = 'UI'
    bl_category = "Emotive"

    @classmethod
    def poll(cls, context):
        obj = context.scene.emotive.target
        return obj is not None and obj.type == 'MESH'

    def draw(self, context):
        from ..rigs.blender.binding import PROPERTY
        from ..rigs.blender.landmark_placement import landmark_collection

        layout = self.layout
        obj = context.scene.emotive.target
        settings = context.scene.emotive_landmarks
        editing = landmark_collection(obj) is not None
        col = layout.column(align=True)
        if editing:
            col.label(text="Move the empties, or click them in place:", icon='EMPTY_DATA')
        elif PROPERTY in obj:
            col.label(text="Bound: edit the landmarks to correct them", icon='CHECKMARK')
        else:
            col.label(text="No landmarks: Bind Face finds them automatically;", icon='INFO')
            col.label(text="if it finds no face, place them by hand here")

        row = layout.row(align=True)
        row.prop(settings, "mirror", toggle=True, icon='MOD_MIRROR')
        row.prop(settings, "symmetry", text="")
        col = layout.column(align=True)
        col.operator("emotive.guided_landmarks", icon='RESTRICT_SELECT_OFF')
        if not editing:
            col.operator("emotive.edit_landmarks", icon='EMPTY_DATA')
            return
        col.operator("emotive.fit_landmarks_to_guides", icon='PIVOT_BOUNDBOX')
        row = col.row(align=True)
        row.operator("emotive.symmetrize_landmarks", text="Mirror Selected",
                     icon='MOD_MIRROR').source = 'SELECTED'
        row.operator("emotive.symmetrize_landmarks", text="Right → Left").source = 'RIGHT'
        row.operator("emotive.symmetrize_landmarks", text="Left → Right").source = 'LEFT'
        row = layout.row(align=True)
        row.operator("emotive.apply_landmarks", icon='CHECKMARK')
        row.operator("emotive.discard_landmarks", icon='X')
