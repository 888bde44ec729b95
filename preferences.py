"""Add-on preferences: where user-trained models live (empty = the shipped ones)."""

import bpy


class EmotivePreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    text_model_path: bpy.props.StringProperty(
        name="Text Emotion Model",
        description="A .safetensors text-emotion model trained with `make train-text`; "
                    "empty uses the model shipped with Emotive",
        subtype='FILE_PATH',
    )

    def draw(self, context):
        self.layout.prop(self, "text_model_path")


def text_model_path(context) -> str | None:
    addon = context.preferences.addons.get(__package__)
    path = addon.preferences.text_model_path if addon else ""
    return bpy.path.abspath(path) if path else None


def register():
    bpy.utils.register_class(EmotivePreferences)


def unregister():
    bpy.utils.unregister_class(EmotivePreferences)
