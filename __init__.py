"""Emotive: words and voices to facial animation, as editable keyframes.

Registration only. The bpy-dependent modules are imported inside register() so that the
bpy-free core (ml/, rigs/, pipeline/) can be imported and tested without Blender.
"""

_modules = []


def register():
    from . import operators, panels, preferences, properties

    _modules[:] = [properties, preferences, operators, panels]
    for module in _modules:
        module.register()


def unregister():
    for module in reversed(_modules):
        module.unregister()
    _modules.clear()
