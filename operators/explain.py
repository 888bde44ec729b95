"""Buttons that say why they are grey (after Rhubarb Lipsync NG's `disabled_reason` +
`validation_poll`): an operator states `disabled_reason(context)`; poll() shows it as the
button's tooltip through poll_message_set, and scripts get it in the RuntimeError."""

from __future__ import annotations


class Explained:
    """Mixin for operators: poll() is True exactly when disabled_reason() returns ""."""

    @classmethod
    def disabled_reason(cls, context) -> str:
        return ""

    @classmethod
    def poll(cls, context):
        reason = cls.disabled_reason(context)
        if reason:
            cls.poll_message_set(reason)
            return False
        return True


def not_object_mode(context) -> str:
    return "" if context.mode == 'OBJECT' else "switch to Object Mode first"


def no_mesh_target(context) -> str:
    """Why the panel's target is no mesh to work on, or ""."""
    obj = context.scene.emotive.target
    if obj is None:
        return "pick a target mesh in the Emotive panel (or add the default head)"
    if obj.type != 'MESH':
        return f"'{obj.name}' is a {obj.type.lower()} object; the target must be a mesh"
    return ""


class OnMeshTarget(Explained):
    """Object Mode and a mesh target in the panel."""

    @classmethod
    def disabled_reason(cls, context) -> str:
        return not_object_mode(context) or no_mesh_target(context)
