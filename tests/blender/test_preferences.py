"""The add-on's preferences are a view of the settings file the command line reads
(pipeline/settings.py): set in either, seen in both; the panel's defaults follow them; the operators
use the models they name."""

import importlib
import json

import pytest

ADDON = "bl_ext.user_default.emotive"


@pytest.fixture
def prefs(scene, tmp_path, monkeypatch):
    import bpy

    monkeypatch.setenv("EMOTIVE_SETTINGS", str(tmp_path / "settings.json"))
    prefs = bpy.context.preferences.addons[ADDON].preferences
    yield prefs
    (tmp_path / "settings.json").unlink(missing_ok=True)     # give the panel its defaults back
    addon = importlib.import_module(ADDON)          # the installed copy, whose classes Blender holds
    addon.properties.apply_defaults(addon.preferences.current())


def test_preferences_write_the_settings_file_the_command_line_reads(prefs, tmp_path):
    from emotive.headless import build_parser

    prefs.fps, prefs.wpm, prefs.alpha_mouth = 24.0, 120.0, 0.5
    prefs.cache_dir = str(tmp_path / "cache")
    assert json.loads((tmp_path / "settings.json").read_text()) == {
        "fps": 24.0, "wpm": 120.0, "alpha_mouth": 0.5, "cache_dir": str(tmp_path / "cache")}
    args = build_parser().parse_args(["speech", "talk.wav", "--out", "x.blend"])
    assert (args.fps, args.alpha_mouth) == (24.0, 0.5)


def test_what_the_command_line_sets_shows_in_the_preferences(prefs):
    from emotive.headless import main

    assert main(["settings", "--set", "alpha_face=0.7", "--set", "voice_model=/models/v.safetensors"]) == 0
    assert prefs.alpha_face == pytest.approx(0.7)
    assert prefs.voice_model_path == "/models/v.safetensors"


def test_the_panel_takes_its_defaults_from_the_preferences_but_keeps_what_a_scene_set(prefs, scene):
    import bpy

    settings = scene.emotive
    assert settings.wpm == 160.0
    prefs.wpm = 120.0
    assert settings.wpm == 120.0                       # never set in this scene: the new default
    settings.wpm = 200.0
    prefs.wpm = 100.0
    assert settings.wpm == 200.0                       # set in the panel: kept
    settings.property_unset("wpm")                     # Backspace over the field
    assert settings.wpm == 100.0
    other = bpy.data.scenes.new("Other")
    assert other.emotive.wpm == 100.0 and other.emotive.alpha_face == 1.0


def test_animate_from_text_uses_the_model_the_preferences_name(prefs, head, tmp_path):
    import bpy

    prefs.text_model_path = str(tmp_path / "missing.safetensors")
    actions = set(bpy.data.actions)
    with pytest.raises(RuntimeError, match="missing.safetensors"):
        bpy.ops.emotive.animate_text(text="What a wonderful day!")
    assert set(bpy.data.actions) == actions          # nothing keyed
    prefs.text_model_path = ""
    assert bpy.ops.emotive.animate_text(text="What a wonderful day!") == {'FINISHED'}


def test_a_broken_settings_file_keeps_the_defaults_and_says_why(prefs, tmp_path):
    (tmp_path / "settings.json").write_text('{"wpm": 120,')
    assert prefs.wpm == 160.0
    _problem = importlib.import_module(ADDON).preferences._problem
    assert "not valid JSON" in _problem() and str(tmp_path / "settings.json") in _problem()


def test_the_preferences_say_which_weights_are_in_use(prefs, tmp_path):
    in_use = importlib.import_module(ADDON).preferences.in_use
    assert in_use("text") == ("In use: the shipped text_emotion.safetensors", False)
    mine = tmp_path / "studio.safetensors"
    prefs.voice_model_path = str(mine)
    assert in_use("voice")[1] and "Not found" in in_use("voice")[0]
    mine.write_bytes(b"")
    (tmp_path / "studio.metrics.json").write_text("{}")
    assert in_use("voice") == ("In use: yours, studio.safetensors (metrics beside it)", False)


def test_reset_to_default_gives_the_built_in_values(prefs, tmp_path):
    for name, default in (("fps", 30.0), ("wpm", 160.0), ("alpha_mouth", 0.3), ("alpha_face", 1.0)):
        assert prefs.bl_rna.properties[name].default == pytest.approx(default)
    prefs.alpha_mouth = 0.3                               # float32 in, the same default out: nothing stored
    assert not (tmp_path / "settings.json").exists() or "alpha_mouth" not in (tmp_path / "settings.json").read_text()
