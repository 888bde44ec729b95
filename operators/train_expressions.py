import importlib.util
import threading
from pathlib import Path

import bpy

from ..preferences import addon_preferences
from .explain import Explained
from .progress import ModalProgress

NO_TORCH = ("training needs PyTorch, which this Blender's Python lacks: run `make train-expressions` in "
            "Emotive's environment and choose the file in the add-on preferences")


class EMOTIVE_OT_train_expressions(Explained, ModalProgress, bpy.types.Operator):
    """Train the expression LSTM from the built-in generator (and your imported sequences), then use it"""

    bl_idname = "emotive.train_expressions"
    bl_label = "Train Expression Model"
    bl_options = {'REGISTER'}

    filepath: bpy.props.StringProperty(
        name="Output", subtype='FILE_PATH', default="//emotive_expressions.safetensors",
        description="Where to write the trained model (.safetensors)")
    minutes: bpy.props.FloatProperty(name="Minutes", default=5.0, min=0.2, max=120.0,
                                     description="Training time budget")
    seed: bpy.props.IntProperty(name="Seed", default=0, min=0)
    data: bpy.props.StringProperty(
        name="Imported Sequences", subtype='FILE_PATH',
        description="Optional .npz of landmark sequences (captures) to train on as well")

    _thread = None

    @classmethod
    def disabled_reason(cls, context):
        return NO_TORCH if importlib.util.find_spec("torch") is None else ""  # inference needs no torch

    def invoke(self, context, event):
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context):
        if importlib.util.find_spec("torch") is None:  # poll says so too; scripts may skip poll
            self.report({'ERROR'}, NO_TORCH)
            return {'CANCELLED'}
        out = Path(bpy.path.abspath(self.filepath))
        if out.suffix != ".safetensors":
            self.report({'ERROR'}, f"the output must be a .safetensors file, not '{out.name}'")
            return {'CANCELLED'}
        data = [bpy.path.abspath(self.data)] if self.data else []
        for path in data:
            if not Path(path).is_file():
                self.report({'ERROR'}, f"imported sequences not found: '{path}'")
                return {'CANCELLED'}
        out.parent.mkdir(parents=True, exist_ok=True)
        self._out = out
        self._state = {"fraction": 0.0, "cancel": False, "error": None, "result": None}
        # The worker gets plain values: this operator's Blender data may be freed while it runs.
        self._thread = threading.Thread(target=_train, daemon=True,
                                        args=(self._state, out, data, self.seed, self.minutes))
        self._thread.start()
        if bpy.app.background or context.window is None:  # scripts, batch jobs: wait for it
            self._thread.join()
            return self._finish(context)
        return self.progress_start(context, 0.25)

    def modal(self, context, event):
        if event.type == 'ESC':
            self._state["cancel"] = True  # the worker stops at its next step; nothing is written
        if event.type != 'TIMER':
            return {'RUNNING_MODAL'}
        self.progress_show(context, self._state["fraction"], "training the expression model")
        if self._thread.is_alive():
            return {'RUNNING_MODAL'}
        self.progress_stop(context)
        return self._finish(context)

    def _finish(self, context):
        state = self._state
        if state["error"]:
            self.report({'ERROR'}, f"training failed: {state['error']}")
            return {'CANCELLED'}
        if state["cancel"] or (state["result"] or {}).get("cancelled") or not self._out.is_file():
            self.report({'WARNING'}, "training cancelled: no model was written")
            return {'CANCELLED'}
        prefs = addon_preferences(context)
        if prefs is not None:
            prefs.expression_model_path = str(self._out)
        self.report({'INFO'}, f"trained '{self._out.name}'; Emotive now uses it (Preferences › Emotive)")
        return {'FINISHED'}


def _train(state, out, data, seed, minutes):
    """Worker thread: touches no Blender data, only `state`, which the modal timer reads."""
    from ..ml.train_expressions import run

    def progress(step, steps, loss):
        state["fraction"] = step / max(steps, 1)
        return not state["cancel"]

    try:
        state["result"] = run(out=str(out), seed=seed, minutes=minutes, data_paths=data, progress=progress)
    except (ValueError, OSError) as exc:
        state["error"] = str(exc)
