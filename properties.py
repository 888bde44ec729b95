"""Scene settings of the Emotive panel, and the per-sentence results it shows.

Results live in the scene (not in Python globals) so they are saved with the file and follow undo.
"""

import bpy


def _is_mesh_with_keys(_self, obj):
    return obj.type == 'MESH'


class EmotiveSegmentResult(bpy.types.PropertyGroup):
    text: bpy.props.StringProperty()
    emotion: bpy.props.StringProperty()
    confidence: bpy.props.FloatProperty()
    start_frame: bpy.props.IntProperty()
    end_frame: bpy.props.IntProperty()
    warning: bpy.props.StringProperty()


class EmotiveSettings(bpy.types.PropertyGroup):
    target: bpy.props.PointerProperty(
        name="Target", type=bpy.types.Object, poll=_is_mesh_with_keys,
        description="Mesh with ARKit-named shape keys to animate")
    text_source: bpy.props.EnumProperty(
        name="Source", default='LINE',
        items=[('LINE', "Line", "Animate the one-line text field"),
               ('BLOCK', "Text Block", "Animate a Text datablock (multi-line)")])
    text_line: bpy.props.StringProperty(name="Text", description="Line of dialogue to animate")
    text_block: bpy.props.PointerProperty(name="Text Block", type=bpy.types.Text)
    wpm: bpy.props.FloatProperty(
        name="Reading Rate", default=160.0, min=40.0, max=400.0, subtype='NONE',
        description="Words per minute used to time the sentences")
    intensity: bpy.props.FloatProperty(
        name="Intensity", default=1.0, min=0.0, max=2.0, subtype='FACTOR',
        description="Scales the strength of every expression")
    seed: bpy.props.IntProperty(
        name="Seed", default=0, min=0,
        description="Seed of the blinks and idle motion; change it for another take")
    results: bpy.props.CollectionProperty(type=EmotiveSegmentResult)
    results_index: bpy.props.IntProperty()


_classes = (EmotiveSegmentResult, EmotiveSettings)


def register():
    for cls in _classes:
        bpy.utils.register_class(cls)
    bpy.types.Scene.emotive = bpy.props.PointerProperty(type=EmotiveSettings)


def unregister():
    del bpy.types.Scene.emotive
    for cls in reversed(_classes):
        bpy.utils.unregister_class(cls)
