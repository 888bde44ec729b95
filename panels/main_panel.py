"""UI only: the Emotive tab's main panel (target, input, motion, take results)."""

import bpy

from ..rigs.targets import KINDS


class EMOTIVE_UL_results(bpy.types.UIList):
    """One row per animated segment: frames, detected emotion (its share; for text, how strongly
    the face shows it), text."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_property, index=0):
        row = layout.row(align=True)
        row.label(text=f"{item.start_frame}–{item.end_frame}")
        face = f", face {item.strength:.0%}" if item.strength >= 0 else ""  # why a line reads faint
        row.label(text=f"{item.emotion} {item.confidence:.0%}{face}",
                  icon='ERROR' if item.warning else 'NONE')
        row.label(text=item.text)


class EMOTIVE_PT_text(bpy.types.Panel):
    bl_label = "Text to Face"
    bl_idname = "EMOTIVE_PT_text"
    bl_space_type = 'VIEW_3D'
    bl_region_type = 'UI'
    bl_category = "Emotive"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.emotive
        layout.use_property_split = True
        layout.use_property_decorate = False

        row = layout.row(align=True)
        row.prop(settings, "target")
        row = layout.row(align=True)
        row.operator("emotive.add_default_head", icon='USER')
        row.operator("emotive.add_rigged_head", icon='ARMATURE_DATA')
        if settings.target is not None and settings.target.type == 'MESH':
            self.draw_character(layout, settings.target)

        col = layout.column()
        col.prop(settings, "text_source", expand=True)
        if settings.text_source == 'BLOCK':
            col.prop(settings, "text_block")
        else:
            col.prop(settings, "text_line", text="")

        col = layout.column(align=True)
        col.prop(settings, "wpm")
        col.prop(settings, "intensity", slider=True)
        col.prop(settings, "motion")
        col.prop(settings, "drive")
        target = KINDS[settings.drive.lower()]
        if target.needs_landmarks and settings.motion != 'landmark':
            col.label(text=f"{target.label} need the Generated motion", icon='ERROR')
        col.prop(settings, "seed")
        render = context.scene.render
        col.label(text=f"Frame rate: {render.fps / render.fps_base:.3g} fps (scene)")

        col.prop(settings, "voice")
        layout.operator("emotive.animate_text", icon='PLAY')

        box = layout.box()
        box.label(text="Speech", icon='SPEAKER')
        col = box.column()
        col.prop(settings, "audio_source", expand=True)
        if settings.audio_source == 'STRIP':
            editor = context.scene.sequence_editor
            if editor is not None:
                col.prop_search(settings, "sound_strip", editor, "strips", text="Strip")
            else:
                col.label(text="The sequencer has no strips", icon='INFO')
        else:
            col.prop(settings, "audio_file")
        col.prop(settings, "transcript")
        col = box.column(align=True)
        col.prop(settings, "alpha_mouth", slider=True)
        col.prop(settings, "alpha_face", slider=True)
        box.operator("emotive.animate_speech", icon='PLAY_SOUND')
        row = layout.row(align=True)
        row.operator("emotive.import_capture", icon='IMPORT')
        row.operator("emotive.export_take", icon='EXPORT')
        layout.operator("emotive.bake_take", icon='ACTION')
        layout.operator("emotive.train_expressions", icon='FILE_REFRESH')

        if settings.results:
            layout.label(text="Detected emotions")
            layout.template_list("EMOTIVE_UL_results", "", settings, "results", settings, "results_index", rows=4)
            active = settings.results[settings.results_index] if settings.results_index < len(settings.results) else None
            if active and active.warning:
                layout.label(text=active.warning, icon='ERROR')

    @staticmethod
    def draw_character(layout, obj):
        """What the target supports: binding, ARKit keys, its own keys, a face rig."""
        from ..rigs.blender.character import character_status
        from ..rigs.blender.face_rig import face_rig_of, fit_status

        status = character_status(obj, verify=False)
        box = layout.box()
        col = box.column(align=True)
        if status["bound"]:
            col.label(text="Landmarks bound", icon='CHECKMARK')
        else:
            col.label(text=status["binding_problem"] or "No landmark binding", icon='INFO')
        col.label(text=f"ARKit shape keys: {status['arkit_keys']} / 52",
                  icon='CHECKMARK' if status["arkit_keys"] == 52 else 'ERROR')
        col.label(text=f"Own shape keys: {status['custom_keys']}",
                  icon='CHECKMARK' if status["custom_keys"] else 'DOT')
        rig = face_rig_of(obj)
        if rig is None:
            col.label(text="Face rig: none (no Armature modifier)", icon='DOT')
        else:
            fit = fit_status(rig)
            col.label(text=f"Face rig: {rig.name}, " + ("fitted" if fit["fitted"]
                                                         else fit["problem"] or "not fitted"),
                      icon='CHECKMARK' if fit["fitted"] else 'ERROR')
        row = box.row(align=True)
        row.operator("emotive.bind_face", icon='HIDE_OFF')
        row.operator("emotive.add_arkit_keys", icon='SHAPEKEY_DATA')
        if rig is not None:
            box.operator("emotive.fit_face_rig", icon='ARMATURE_DATA')
            row = box.row(align=True)
            row.operator("emotive.add_live_drivers", icon='DRIVER')
            row.operator("emotive.remove_live_drivers", icon='X')
