"""The panel, the CLI and the operators are built from the registries: a new target or input shows
up everywhere from one line, and buttons that cannot run say why."""

import bpy
import pytest

ADDON = "bl_ext.user_default.emotive"


def test_drive_enum_and_cli_targets_come_from_the_target_kinds(addon):
    from emotive.headless import build_parser
    from emotive.rigs.blender.targets import TARGETS
    from emotive.rigs.targets import KINDS

    installed = addon.rigs.blender.targets.TARGETS
    assert list(installed) == list(TARGETS) == list(KINDS) == ["arkit", "custom", "bones"]
    assert all(TARGETS[kind].info is KINDS[kind] for kind in KINDS)
    items = bpy.types.Scene.bl_rna.properties["emotive"].fixed_type.properties["drive"].enum_items
    assert [(i.identifier, i.name) for i in items] == [(k.upper(), t.info.label) for k, t in installed.items()]
    text = build_parser()._subparsers._group_actions[0].choices["text"]
    (target,) = [a for a in text._actions if a.dest == "target"]
    assert list(target.choices) == list(TARGETS)


def test_every_source_has_a_subcommand_and_an_operator(addon):
    from emotive.headless import INPUTS
    from emotive.pipeline import SOURCES

    assert set(INPUTS) == set(SOURCES) == {"text", "speech", "capture"}
    take_operators = [cls for cls in addon.operators._classes if hasattr(cls, "source_inputs")]
    assert {cls.source for cls in take_operators} == set(SOURCES)


@pytest.mark.parametrize("operator, setup, reason", [
    ("animate_text", "no target", "no target object"),
    ("animate_text", "edit mode", "switch to Object Mode"),
    ("import_capture", "no target", "no target object"),
    ("animate_speech", "no target", "no target object"),
    ("export_livelink", "no target", "no target object"),
    ("export_take", "no target", "no target object"),
    ("bake_take", "no target", "no target object"),
    ("bake_take", "a head without a rig", "nothing animates"),
    ("bind_face", "no target", "pick a target mesh"),
    ("add_arkit_keys", "an empty", "the target must be a mesh"),
    ("fit_face_rig", "a head without a rig", "is not deformed by a face rig"),
    ("apply_landmarks", "a head not being edited", "no landmarks being edited"),
    ("add_default_head", "edit mode", "switch to Object Mode"),
], ids=lambda v: v if isinstance(v, str) and " " in v else None)
def test_greyed_out_buttons_say_why(scene, operator, setup, reason):
    settings = scene.emotive
    if setup == "an empty":
        empty = bpy.data.objects.new("Empty", None)
        scene.collection.objects.link(empty)
        settings["target"] = empty  # bypasses the UI's mesh filter, as a script could
    elif setup in ("a head without a rig", "a head not being edited", "edit mode"):
        assert bpy.ops.emotive.add_default_head() == {'FINISHED'}
        if setup == "edit mode":
            bpy.ops.object.mode_set(mode='EDIT')
    before = len(bpy.data.objects)
    with pytest.raises(RuntimeError, match=reason):
        getattr(bpy.ops.emotive, operator)()
    if bpy.context.mode != 'OBJECT':
        bpy.ops.object.mode_set(mode='OBJECT')
    assert len(bpy.data.objects) == before
