import time

import bpy

from ..errors import EmotiveError
from ..pipeline.text_to_animation import iter_text_animation, run_text_animation
from ..preferences import expression_model_path, text_model_path
from ..rigs.blender_keys import prepare_take, set_scene_range, take_name
from .progress import ModalProgress

# Shorter texts run at once; longer ones run modal with a progress bar and Esc to cancel.
MODAL_WORDS = 1500
TICK_SECONDS = 0.05


class EMOTIVE_OT_animate_text(ModalProgress, bpy.types.Operator):
    """Detect the emotion of each sentence and key it on the target's shape keys or face rig as a new Action"""

    bl_idname = "emotive.animate_text"
    bl_label = "Animate from Text"
    bl_options = {'REGISTER', 'UNDO'}

    text: bpy.props.StringProperty(
        name="Text", options={'SKIP_SAVE'},
        description="Text to animate (scripts); empty uses the panel's text")

    _steps = None

    def _inputs(self, context):
        """Everything the run needs, validated before anything is computed or changed."""
        settings = context.scene.emotive
        target = prepare_take(settings.target, settings.drive.lower(), settings.motion)
        if self.text:
            text = self.text
        elif settings.text_source == 'BLOCK':
            if settings.text_block is None:
                raise EmotiveError("no Text block chosen: pick one in the panel or switch the source to Line")
            text = settings.text_block.as_string()
        else:
            text = settings.text_line
        fps = context.scene.render.fps / context.scene.render.fps_base
        options = dict(fps=fps, wpm=settings.wpm, intensity=settings.intensity, seed=settings.seed,
                       model_path=text_model_path(context), motion=settings.motion,
                       expression_model_path=expression_model_path(context),
                       keep_landmarks=target.needs_landmarks)
        return target, text, options

    def execute(self, context):
        try:
            target, text, options = self._inputs(context)
            animation = run_text_animation(text, **options)
            return self._apply(context, target, text, animation)
        except EmotiveError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}

    def invoke(self, context, event):
        try:
            target, text, options = self._inputs(context)
        except EmotiveError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        if len(text.split()) < MODAL_WORDS or bpy.app.background or context.window is None:
            return self.execute(context)
        self._target, self._text = target, text
        self._steps = iter_text_animation(text, **options)
        return self.progress_start(context, 0.01)

    def modal(self, context, event):
        if event.type == 'ESC':
            self.progress_stop(context)
            self.report({'WARNING'}, "Animate from Text cancelled: nothing was changed")
            return {'CANCELLED'}
        if event.type != 'TIMER':
            return {'PASS_THROUGH'}
        deadline = time.perf_counter() + TICK_SECONDS
        try:
            while time.perf_counter() < deadline:
                fraction, message = next(self._steps)
                self.progress_show(context, fraction, message)
        except StopIteration as done:
            self.progress_stop(context)
            try:
                return self._apply(context, self._target, self._text, done.value)
            except EmotiveError as exc:
                self.report({'ERROR'}, str(exc))
                return {'CANCELLED'}
        except EmotiveError as exc:
            self.progress_stop(context)
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        return {'RUNNING_MODAL'}

    def _apply(self, context, target, text, animation):
        scene = context.scene
        # write() checks the channels before it writes anything; an error leaves the scene as it was
        written = target.write(animation, name=take_name(text), frame_start=scene.frame_start)
        set_scene_range(scene, scene.frame_start, len(animation.performance.frames))
        store_results(scene, animation)
        for warning in animation.timeline.warnings:
            self.report({'WARNING'}, warning)
        segments = animation.timeline.segments
        emotions = ", ".join(s.emotion for s in segments[:6]) + ("…" if len(segments) > 6 else "")
        notes = "; ".join(written["notes"])
        self.report({'INFO'}, f"'{written['action'].name}': {len(segments)} segment(s) on '{target.obj.name}', "
                              f"frames {scene.frame_start}–{scene.frame_end} ({emotions})"
                              + (f"; {notes}" if notes else ""))
        return {'FINISHED'}


def store_results(scene, animation):
    """Per-segment results for the panel's list; kept in the scene so undo and saving follow."""
    results = scene.emotive.results
    results.clear()
    fps = animation.performance.fps
    for seg in animation.timeline.segments:
        item = results.add()
        item.text = seg.text[:1000]
        item.emotion = seg.emotion
        item.confidence = float(max(seg.ekman))
        item.start_frame = scene.frame_start + int(round(seg.start * fps))
        item.end_frame = scene.frame_start + int(round(seg.end * fps))
        item.warning = seg.warning or ""
