"""*Animate from Speech*: the speech source (pipeline/speech.py) as a TakeOperator."""

from pathlib import Path

import bpy

from ..errors import EmotiveError
from ..preferences import expression_model_path, text_model_path, voice_model_path
from ..rigs.blender.sound import sound_strip_path
from .take import TakeOperator


class EMOTIVE_OT_animate_speech(TakeOperator, bpy.types.Operator):
    """Lip-sync the target to a recording and colour it with the voice's and the words' emotion, as a new Action"""

    bl_idname = "emotive.animate_speech"
    bl_label = "Animate from Speech"
    bl_options = {'REGISTER', 'UNDO'}

    source = "speech"

    filepath: bpy.props.StringProperty(
        name="Recording", subtype='FILE_PATH', options={'SKIP_SAVE'},
        description="The recording to animate (scripts); empty uses the panel's file or sound strip")

    def motion(self, context) -> str:
        return "landmark"  # speech carries landmark motion for every target

    def _audio(self, context) -> tuple[str, int | None]:
        """(the recording, the frame the take must start on: a strip's own start)."""
        settings = context.scene.emotive
        if self.filepath:
            return bpy.path.abspath(self.filepath), None
        if settings.audio_source == 'STRIP':
            if not settings.sound_strip:
                raise EmotiveError("no sound strip chosen: pick one in the panel or switch the audio to File")
            try:
                path = sound_strip_path(context.scene, settings.sound_strip)
            except ValueError as exc:
                raise EmotiveError(str(exc)) from exc
            return path, int(context.scene.sequence_editor.strips[settings.sound_strip].frame_start)
        if not settings.audio_file:
            raise EmotiveError("no recording chosen: pick an audio file in the panel")
        return bpy.path.abspath(settings.audio_file), None

    def source_inputs(self, context, target):
        settings = context.scene.emotive
        path, start = self._audio(context)
        self._strip_start = start
        render = context.scene.render
        transcript = settings.transcript.strip() or None
        return Path(path).stem, (path,), dict(
            transcript=transcript, fps=render.fps / render.fps_base, intensity=settings.intensity,
            alpha_mouth=settings.alpha_mouth, alpha_face=settings.alpha_face, seed=settings.seed,
            text_model_path=text_model_path(context), voice_model_path=voice_model_path(context),
            expression_model_path=expression_model_path(context), keep_landmarks=target.needs_landmarks)

    def _finish(self, context, take):
        # a sound strip's take starts where the strip does, so the strip itself stays in sync
        start = getattr(self, "_strip_start", None)
        if start is None:
            return super()._finish(context, take)
        scene = context.scene
        kept = scene.frame_start
        scene.frame_start = start
        try:
            return super()._finish(context, take)
        except Exception:
            scene.frame_start = kept
            raise
