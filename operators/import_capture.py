"""*Import Face Capture*: the capture source (pipeline/capture.py) as a TakeOperator."""

from pathlib import Path

import bpy
from bpy_extras.io_utils import ImportHelper

from ..errors import EmotiveError
from ..preferences import text_model_path, voice_model_path
from ..rigs.formats import READERS
from .take import TakeOperator

_FORMATS = [('AUTO', "Detect", "Tell the format from the file's content")] + [
    (r.NAME.upper(), r.NAME.capitalize(), r.LABEL) for r in READERS]
ALPHAS = ("alpha_mouth", "alpha_face")    # unset: the panel's (scene) values


class EMOTIVE_OT_import_capture(TakeOperator, bpy.types.Operator, ImportHelper):
    """Key a face capture (OpenPose, MediaPipe, Live Link Face, OpenFace) on the target as a new Action"""

    bl_idname = "emotive.import_capture"
    bl_label = "Import Face Capture"
    bl_options = {'REGISTER', 'UNDO'}

    source = "capture"
    filter_glob: bpy.props.StringProperty(
        default=";".join(sorted({f"*{s}" for r in READERS for s in r.SUFFIXES})), options={'HIDDEN'})
    capture_format: bpy.props.EnumProperty(name="Format", items=_FORMATS, default='AUTO')
    smoothing: bpy.props.FloatProperty(name="Smoothing", default=0.5, min=0.0, max=1.0,
                                       description="One-Euro smoothing: 0 keeps every jitter, 1 is the calmest")
    min_confidence: bpy.props.FloatProperty(name="Min Confidence", default=0.3, min=0.0, max=1.0,
                                            description="Landmarks the tracker is less sure of become gaps")
    learned_solve: bpy.props.BoolProperty(
        name="Learned Solve", default=True,
        description="Correct a FaceMesh capture's solve and head pose by the model learned from rendered heads "
                    "(off: the linear solve alone)")
    upper: bpy.props.FloatProperty(name="Upper Face", default=1.0, min=0.0, max=3.0,
                                   description="Exaggerate (> 1) or damp (< 1) brows and eyes")
    middle: bpy.props.FloatProperty(name="Middle Face", default=1.0, min=0.0, max=3.0,
                                    description="Exaggerate (> 1) or damp (< 1) nose and cheeks")
    lower: bpy.props.FloatProperty(name="Lower Face", default=1.0, min=0.0, max=3.0,
                                   description="Exaggerate (> 1) or damp (< 1) mouth and jaw")

    emotion_text: bpy.props.StringProperty(
        name="Emotion From", default="",
        description="Migrate the performance toward this line's emotions where they differ from the captured "
                    "ones (empty: keep the captured expressions)")
    emotion_from_sound: bpy.props.BoolProperty(
        name="Emotion From Its Sound", default=False,
        description="Migrate the performance toward the emotions heard in the video's own sound track (its "
                    "words and voice, as Animate from Speech hears them); the sound plays in the sequencer either way")
    alpha_mouth: bpy.props.FloatProperty(name="Mouth", default=0.3, min=0.0, max=2.0,
                                         description="How much of the wanted expression the mouth takes "
                                                     "(default: the panel's Emotion on Mouth)")
    alpha_face: bpy.props.FloatProperty(name="Rest of Face", default=1.0, min=0.0, max=2.0,
                                        description="How much of the wanted expression the rest of the face "
                                                    "takes (default: the panel's Emotion on Face)")

    def motion(self, context) -> str:
        return "landmark"  # a capture carries landmark motion for every target

    def source_inputs(self, context, target):
        path = Path(self.filepath)
        if path.name.endswith("_keypoints.json"):  # one OpenPose frame picked: the take is its folder
            path = path.parent
        gains = {r: getattr(self, r) for r in ("upper", "middle", "lower") if getattr(self, r) != 1.0}
        render = context.scene.render
        alpha_mouth, alpha_face = (getattr(self, name) if self.properties.is_property_set(name)
                                   else getattr(context.scene.emotive, name) for name in ALPHAS)
        return path.stem or path.name, (str(path),), dict(
            format=None if self.capture_format == 'AUTO' else self.capture_format.lower(),
            fps=render.fps / render.fps_base, smoothing=self.smoothing, min_confidence=self.min_confidence,
            region_gains=gains or None, emotion_text=self.emotion_text.strip() or None,
            emotion_from_audio=self.emotion_from_sound, text_model_path=text_model_path(context),
            voice_model_path=voice_model_path(context),
            alpha_mouth=alpha_mouth, alpha_face=alpha_face, keep_landmarks=target.needs_landmarks,
            learned_solve=self.learned_solve)

    def execute(self, context):
        if bpy.app.background or context.window is None:
            return super().execute(context)  # scripts: at once
        # From the file browser: run modal (progress bar, Esc). Blender keeps an operator whose
        # execute returns RUNNING_MODAL with a modal handler, as it does for invoke.
        try:
            self._start(context)
        except EmotiveError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        return self.progress_start(context, 0.01)

    def invoke(self, context, event):
        reason = self.disabled_reason(context)
        if reason:
            self.report({'ERROR'}, reason)
            return {'CANCELLED'}
        for name in ALPHAS:        # start from the panel's sliders (their defaults: the preferences)
            if not self.properties.is_property_set(name):
                setattr(self, name, getattr(context.scene.emotive, name))
        return ImportHelper.invoke(self, context, event)  # the file browser, then execute()
