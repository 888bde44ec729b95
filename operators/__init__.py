"""Operators: read properties, call the bpy-free core, write keys, report."""

import bpy

from .add_head import EMOTIVE_OT_add_default_head, EMOTIVE_OT_add_rigged_head
from .animate_speech import EMOTIVE_OT_animate_speech
from .animate_text import EMOTIVE_OT_animate_text
from .bake_take import EMOTIVE_OT_bake_take
from .bones import EMOTIVE_OT_add_live_drivers, EMOTIVE_OT_fit_face_rig, EMOTIVE_OT_remove_live_drivers
from .character import EMOTIVE_OT_add_arkit_keys, EMOTIVE_OT_bind_face
from .export_take import EMOTIVE_OT_export_livelink, EMOTIVE_OT_export_take
from .import_capture import EMOTIVE_OT_import_capture
from .landmarks import classes as landmark_operators
from .train_expressions import EMOTIVE_OT_train_expressions

_classes = (EMOTIVE_OT_add_default_head, EMOTIVE_OT_add_rigged_head, EMOTIVE_OT_bind_face, EMOTIVE_OT_add_arkit_keys,
            EMOTIVE_OT_animate_text, EMOTIVE_OT_animate_speech, EMOTIVE_OT_import_capture, EMOTIVE_OT_export_livelink,
            EMOTIVE_OT_export_take, EMOTIVE_OT_bake_take,
            EMOTIVE_OT_train_expressions,
            EMOTIVE_OT_fit_face_rig, EMOTIVE_OT_add_live_drivers, EMOTIVE_OT_remove_live_drivers,
            *landmark_operators)


def register():
    for cls in _classes:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(_classes):
        bpy.utils.unregister_class(cls)
