"""A take's sound in the scene: its recording as a sequencer strip from the take's first frame,
so playback, scrubbing and renders stay in sync with the keys (the MP4 preview carries it)."""

from __future__ import annotations

from pathlib import Path

import bpy

STRIP_PREFIX = "Emotive: "


def place_audio(scene, path: str, frame_start: int):
    """A sound strip of `path` starting at frame_start, on the first free channel; one already
    there (the same file at the same frame: a take made again) is reused. -> the strip."""
    editor = scene.sequence_editor or scene.sequence_editor_create()
    name = STRIP_PREFIX + Path(path).name
    resolved = str(Path(path).resolve())
    for strip in editor.strips:
        if strip.type == 'SOUND' and strip.name.startswith(STRIP_PREFIX) \
                and strip.frame_start == frame_start \
                and str(Path(bpy.path.abspath(strip.sound.filepath)).resolve()) == resolved:
            return strip
    used = {s.channel for s in editor.strips}
    channel = next(c for c in range(1, 129) if c not in used)
    strip = editor.strips.new_sound(name, resolved, channel, frame_start)
    scene.use_audio_scrub = True
    scene.sync_mode = 'AUDIO_SYNC'      # playback drops frames rather than drifting off the voice
    return strip


def sound_strip_path(scene, name: str) -> str:
    """The file a sequencer sound strip plays (absolute); ValueError when there is none."""
    editor = scene.sequence_editor
    strip = editor.strips.get(name) if editor else None
    if strip is None or strip.type != 'SOUND' or strip.sound is None:
        raise ValueError(f"no sound strip '{name}' in the scene's sequencer")
    if strip.sound.packed_file is not None and not Path(bpy.path.abspath(strip.sound.filepath)).is_file():
        raise ValueError(f"sound strip '{name}' is packed in the .blend: unpack it (File > External Data) "
                         "so Emotive can read it")
    return str(Path(bpy.path.abspath(strip.sound.filepath)).resolve())


def sound_strips(scene) -> list[str]:
    editor = scene.sequence_editor
    return [s.name for s in editor.strips if s.type == 'SOUND'] if editor else []
