"""Add-on preferences: where user-trained models live (empty = the shipped ones)."""

import bpy


class EmotivePreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    text_model_path: bpy.props.StringProperty(
        name="Text Emotion Model",
        description="A .safetensors text-emotion model trained on your own lines with "
                    "`python -m emotive train-text --data DIR` (or `make train-text`); "
                    "empty uses the model shipped with Emotive",
        subtype='FILE_PATH',
    )

    expression_model_path: bpy.props.StringProperty(
        name="Expression Model",
        description="A .safetensors expression LSTM trained with `make train-expressions`; "
                    "empty uses the model shipped with Emotive",
        subtype='FILE_PATH',
    )

    voice_model_path: bpy.props.StringProperty(
        name="Voice Emotion Model",
        description="A .safetensors voice emotion model trained on your own labelled audio with "
                    "`python -m emotive train-speech --data DIR`; empty uses the model shipped with Emotive",
        subtype='FILE_PATH',
    )

    def draw(self, context):
        self.layout.prop(self, "text_model_path")
        self.layout.prop(self, "expression_model_path")
        self.layout.prop(self, "voice_model_path")


def addon_preferences(context):
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon else None


def _path(context, name: str) -> str | None:
    prefs = addon_preferences(context)
    path = getattr(prefs, name) if prefs else ""
    return bpy.path.abspath(path) if path else None


def text_model_path(context) -> str | None:
    return _path(context, "text_model_path")


def expression_model_path(context) -> str | None:
    return _path(context, "expression_model_path")


def voice_model_path(context) -> str | None:
    return _path(context, "voice_model_path")


def register():
    bpy.utils.register_class(EmotivePreferences)


def unregister():
    bpy.utils.unregister_class(EmotivePreferences)
