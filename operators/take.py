"""TakeOperator: the one way a take is made in the UI, whatever the input.

settings -> Target (rigs/blender/targets.py, every check first) -> the input's source
(pipeline.SOURCES, stepped modally with a progress bar and Esc) -> Target.key (a new Action)
-> scene range, panel results, report. A subclass names its `source` and says how to read its
input (`source_inputs`) and when a run is long enough for a progress bar (`runs_modal`);
*Animate from Text* is one.
"""

from __future__ import annotations

import time

import bpy

from ..errors import EmotiveError
from ..pipeline import SOURCES
from ..pipeline.take import drain
from ..rigs.blender.actions import check_target, set_scene_range, take_name
from ..rigs.blender.sound import place_audio
from ..rigs.blender.targets import prepare_take
from .explain import Explained, not_object_mode
from .progress import ModalProgress

TICK_SECONDS = 0.05  # work per timer tick: the UI stays responsive and Esc is read promptly


class TakeOperator(Explained, ModalProgress):
    """Mixin for bpy.types.Operator subclasses; bl_options should hold {'REGISTER', 'UNDO'}."""

    source = ""              # a key of pipeline.SOURCES
    _target = _steps = _label = None   # the run in progress (modal)

    # --- what a subclass states

    def source_inputs(self, context, target) -> tuple[str, tuple, dict]:
        """(the words the new Action is named after, positional and keyword arguments of the
        source's iter_take), read from the operator and the panel; EmotiveError when unusable."""
        raise EmotiveError(f"{type(self).__name__} does not say how to read its input")

    def runs_modal(self, args: tuple, options: dict) -> bool:
        """Whether this run is long enough for a progress bar (short ones run at once)."""
        return True

    def motion(self, context) -> str:
        """The kind of motion the source makes ("landmark" carries landmarks for any target)."""
        return context.scene.emotive.motion

    # --- the shared run

    @classmethod
    def disabled_reason(cls, context) -> str:
        reason = not_object_mode(context)
        if reason:
            return reason
        try:
            check_target(context.scene.emotive.target)
        except EmotiveError as exc:
            return str(exc)
        return ""

    def _start(self, context):
        """Every check, then the source's generator; nothing is changed. -> modal or not."""
        settings = context.scene.emotive
        target = prepare_take(settings.target, settings.drive.lower(), self.motion(context))
        label, args, options = self.source_inputs(context, target)
        steps = SOURCES[self.source](*args, **options)
        next(steps)  # a source checks all its inputs before its first step
        self._target, self._steps, self._label = target, steps, label
        return self.runs_modal(args, options)

    def execute(self, context):
        try:
            self._start(context)
            return self._finish(context, drain(self._steps))
        except EmotiveError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}

    def invoke(self, context, event):
        try:
            modal = self._start(context)
            if bpy.app.background or context.window is None or not modal:
                return self._finish(context, drain(self._steps))
        except EmotiveError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        return self.progress_start(context, 0.01)

    def cancel(self, context):
        """Blender ends the modal run (file loaded, window closed) or its file browser (nothing
        started yet): stop, change nothing."""
        if self._steps is not None:
            self._steps.close()
            self._steps = None
        self.progress_stop(context)

    def modal(self, context, event):
        if event.type == 'ESC':
            self.cancel(context)
            self.report({'WARNING'}, f"{self.bl_label} cancelled: nothing was changed")
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
                return self._finish(context, done.value)
            except EmotiveError as exc:
                self.report({'ERROR'}, str(exc))
                return {'CANCELLED'}
        except EmotiveError as exc:
            self.cancel(context)
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        return {'RUNNING_MODAL'}

    def _finish(self, context, take):
        scene, target = context.scene, self._target
        # key() checks the channels before it writes anything; an error leaves the scene as it was
        keyed = target.key(take, name=take_name(self._label), frame_start=scene.frame_start)
        set_scene_range(scene, scene.frame_start, take.n_frames)
        if take.audio:
            place_audio(scene, take.audio, scene.frame_start)
        store_results(scene, take)
        for warning in take.warnings:
            self.report({'WARNING'}, warning)
        segments = take.segments
        emotions = ", ".join(s.emotion for s in segments[:6]) + ("…" if len(segments) > 6 else "")
        notes = "; ".join(keyed.notes)
        self.report({'INFO'}, f"'{keyed.action.name}': {len(segments)} segment(s) on '{target.obj.name}', "
                              f"frames {scene.frame_start}–{scene.frame_end} ({emotions})"
                              + (f"; {notes}" if notes else ""))
        return {'FINISHED'}


def store_results(scene, take):
    """Per-segment results for the panel's list; kept in the scene so undo and saving follow."""
    results = scene.emotive.results
    results.clear()
    for seg in take.segments:
        item = results.add()
        item.text = seg.text[:1000]
        item.emotion = seg.emotion
        item.confidence = seg.confidence
        item.strength = seg.details.get("strength", -1.0)
        item.start_frame = scene.frame_start + int(round(seg.start * take.fps))
        item.end_frame = scene.frame_start + int(round(seg.end * take.fps))
        item.warning = seg.warning or ""
