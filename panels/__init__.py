"""UI only: the "Emotive" tab of the 3D view's sidebar."""

import bpy

from .landmarks_panel import EMOTIVE_PT_landmarks
from .main_panel import EMOTIVE_PT_text, EMOTIVE_UL_results

_classes = (EMOTIVE_UL_results, EMOTIVE_PT_text, EMOTIVE_PT_landmarks)


def register():
    for cls in _classes:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(_classes):
        bpy.utils.unregister_class(cls)
