"""Add-on preferences: the models in use (shipped or the user's own), the defaults of new takes and
the cache folder.

They are a view of pipeline/settings.py's JSON file, not values of their own: every property reads
and writes that file, so what is set here holds for `python -m emotive` and batch jobs too, and what
`python -m emotive settings --set` writes shows here. The panel's Reading Rate and α sliders take
their default from here (a scene keeps a value once set in its panel).
"""

from pathlib import Path

import bpy

from .errors import EmotiveError
from .pipeline import settings as user_settings
from .properties import apply_defaults


def current() -> user_settings.Settings:
    """The settings in force; the defaults when the file is unreadable (the preferences say why)."""
    try:
        return user_settings.load()
    except EmotiveError:
        return user_settings.DEFAULTS


def _problem() -> str | None:
    try:
        user_settings.load()
    except EmotiveError as exc:
        return str(exc)
    return None


def _store(name: str, value) -> None:
    if isinstance(value, float):
        value = round(value, 4)          # the property's float32: 0.3 comes back 0.30000001
    try:
        user_settings.update(**{name: value})
    except EmotiveError as exc:         # an unreadable file: keep it for the user to mend (draw says so)
        print(f"Emotive: {name} not saved: {exc}")
        return
    apply_defaults(current())


def _setting(prop, key: str, **options):
    """A preference stored in the settings file under `key`."""
    def get(_self):
        return getattr(current(), key)

    def set(_self, value):
        _store(key, bpy.path.abspath(value) if options.get("subtype") in ('FILE_PATH', 'DIR_PATH') and value
               else value)

    return prop(get=get, set=set, default=getattr(user_settings.DEFAULTS, key), **options)


SHIPPED = Path(__file__).resolve().parent / "ml" / "weights"
# setting kind -> (label, the command that trains one, the shipped weights' file name)
MODELS = {"text": ("Text Emotion Model", "train-text --data DIR", "text_emotion.safetensors"),
          "expression": ("Expression Model", "train-expressions", "expression_lstm.safetensors"),
          "voice": ("Voice Emotion Model", "train-speech --data DIR", "speech_emotion.safetensors")}


def _model(kind: str):
    label, command, _ = MODELS[kind]
    return _setting(bpy.props.StringProperty, f"{kind}_model", name=label, subtype='FILE_PATH',
                    description=f"A .safetensors model trained on your own data with `python -m emotive {command}`; "
                                "empty uses the model shipped with Emotive")


def in_use(kind: str) -> tuple[str, bool]:
    """What the preferences' line under a model says is in use, and whether that is a problem."""
    path = current().model(kind)
    if not path:
        return f"In use: the shipped {MODELS[kind][2]}", False
    path = Path(bpy.path.abspath(path))
    if not path.is_file():
        return f"Not found: {path} (operators will stop and say so)", True
    metrics = path.with_name(path.stem + ".metrics.json")
    return f"In use: yours, {path.name}" + (" (metrics beside it)" if metrics.is_file() else ""), False


class EmotivePreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    text_model_path: _model("text")
    expression_model_path: _model("expression")
    voice_model_path: _model("voice")
    fps: _setting(bpy.props.FloatProperty, "fps", name="Frame Rate", min=1.0, max=240.0, precision=3,
                  description="Frame rate of command-line and batch takes (in Blender, takes follow the "
                              "scene's frame rate)")
    wpm: _setting(bpy.props.FloatProperty, "wpm", name="Reading Rate", min=40.0, max=400.0,
                  description="Default words per minute that time text without a recording")
    alpha_mouth: _setting(bpy.props.FloatProperty, "alpha_mouth", name="Emotion on Mouth", min=0.0, max=2.0,
                          subtype='FACTOR', description="Default α1: how much of the emotion the talking mouth takes")
    alpha_face: _setting(bpy.props.FloatProperty, "alpha_face", name="Emotion on Face", min=0.0, max=2.0,
                         subtype='FACTOR', description="Default α2: how much of the emotion brows, eyes and cheeks take")
    cache_dir: _setting(bpy.props.StringProperty, "cache_dir", name="Cache Folder", subtype='DIR_PATH',
                        description="Where Emotive keeps tracked video landmarks, spoken lines of unsaved files "
                                    "and compiled code; empty uses your system's cache folder")

    def draw(self, context):
        layout = self.layout
        problem = _problem()
        if problem:
            box = layout.box()
            box.alert = True
            box.label(text=problem, icon='ERROR')
            box.label(text="Mend or delete the file; until then the defaults apply.")
        models = layout.column()
        for kind in MODELS:
            models.prop(self, f"{kind}_model_path")
            text, bad = in_use(kind)
            row = models.row()
            row.alert = bad
            row.label(text=text, icon='ERROR' if bad else 'CHECKMARK')
        defaults = layout.column(heading="Defaults")
        for name in ("fps", "wpm", "alpha_mouth", "alpha_face"):
            defaults.prop(self, name)
        layout.prop(self, "cache_dir")
        layout.label(text=f"Saved in {user_settings.settings_path()} (read by python -m emotive too)", icon='INFO')


def addon_preferences(context):
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon else None


def _path(kind: str) -> str | None:
    path = current().model(kind)
    return bpy.path.abspath(path) if path else None


def text_model_path(_context=None) -> str | None:
    return _path("text")


def expression_model_path(_context=None) -> str | None:
    return _path("expression")


def voice_model_path(_context=None) -> str | None:
    return _path("voice")


def cache(*parts: str) -> str:
    return str(current().cache(*parts))


def register():
    bpy.utils.register_class(EmotivePreferences)
    apply_defaults(current())                 # properties registers first (__init__)
    user_settings.use_cache_folder(current())


def unregister():
    bpy.utils.unregister_class(EmotivePreferences)
