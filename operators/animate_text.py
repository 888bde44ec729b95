"""*Animate from Text*: the text source (pipeline/text.py) as a TakeOperator."""

import bpy

from ..errors import EmotiveError
from ..preferences import expression_model_path, text_model_path
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
        return text, (text,), dict(fps=fps, wpm=settings.wpm, intensity=settings.intensity, seed=settings.seed,
                                   model_path=text_model_path(context), motion=settings.motion,
                                   expression_model_path=expression_model_path(context),
                                   keep_landmarks=target.needs_landmarks)

    def runs_modal(self, args, options):
        return len(args[0].split()) >= MODAL_WORDS
