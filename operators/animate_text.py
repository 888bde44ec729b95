"""*Animate from Text*: the text source (pipeline/text.py) as a TakeOperator."""

import hashlib
from pathlib import Path

import bpy

from ..errors import EmotiveError
from ..preferences import cache, expression_model_path, text_model_path, voice_model_path
from .take import TakeOperator

# Shorter texts run at once; longer ones run modal with a progress bar and Esc to cancel.
MODAL_WORDS = 1500


class EMOTIVE_OT_animate_text(TakeOperator, bpy.types.Operator):
    """Detect the emotion of each sentence and key it on the target's shape keys or face rig as a new Action"""

    bl_idname = "emotive.animate_text"
    bl_label = "Animate from Text"
    bl_options = {'REGISTER', 'UNDO'}

    source = "text"

    text: bpy.props.StringProperty(
        name="Text", options={'SKIP_SAVE'},
        description="Text to animate (scripts); empty uses the panel's text")

    def _text(self, context) -> str:
        settings = context.scene.emotive
        if self.text:
            return self.text
        if settings.text_source == 'BLOCK':
            if settings.text_block is None:
                raise EmotiveError("no Text block chosen: pick one in the panel or switch the source to Line")
            return settings.text_block.as_string()
        return settings.text_line

    def source_inputs(self, context, target):
        settings = context.scene.emotive
        text = self._text(context)
        fps = context.scene.render.fps / context.scene.render.fps_base
        options = dict(fps=fps, wpm=settings.wpm, intensity=settings.intensity, seed=settings.seed,
                       model_path=text_model_path(context), motion=settings.motion,
                       expression_model_path=expression_model_path(context),
                       keep_landmarks=target.needs_landmarks)
        if settings.voice:
            options.update(motion="landmark", voice_path=voice_file(text), alpha_mouth=settings.alpha_mouth,
                           alpha_face=settings.alpha_face, voice_model_path=voice_model_path(context))
        return text, (text,), options

    def runs_modal(self, args, options):
        return "voice_path" in options or len(args[0].split()) >= MODAL_WORDS


def voice_file(text: str) -> str:
    """Where a spoken line is written: beside the saved .blend (so the sound strip's file travels
    with it), or in the cache folder of the preferences for an unsaved file."""
    folder = Path(bpy.path.abspath("//")) if bpy.data.filepath else Path(cache("voices"))
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]
    return str(folder / f"emotive_voice_{digest}.wav")
