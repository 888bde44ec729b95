"""Blender adapter: takes out of Blender. EXPORTERS maps a file suffix to an exporter; each reads
the evaluated scene (Actions, NLA, drivers: what plays) and leaves it as it was found.

Today: Live Link Face CSV (the ARKit shape keys, frame by frame, in the iPhone app's layout, for
game engines and for Emotive's own capture importer). glTF and FBX come with issue 12.
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np

from ...errors import EmotiveError
from ..arkit import ARKIT_NAMES


def sample_arkit(obj, scene, frame_start: int, frame_end: int) -> np.ndarray:
    """(F, 52) the ARKit shape-key values of `obj` as they play on frames start..end (keys the
    mesh lacks read 0); the scene's current frame is restored."""
    keys = obj.data.shape_keys.key_blocks if obj.type == 'MESH' and obj.data.shape_keys else None
    present = [(k, keys[name]) for k, name in enumerate(ARKIT_NAMES) if keys and name in keys]
    if not present:
        raise EmotiveError(f"'{obj.name}' has no ARKit shape keys to export")
    current = scene.frame_current, scene.frame_subframe
    out = np.zeros((frame_end - frame_start + 1, len(ARKIT_NAMES)), dtype=np.float32)
    try:
        for i, frame in enumerate(range(frame_start, frame_end + 1)):
            scene.frame_set(frame)
            for k, block in present:
                out[i, k] = block.value
    finally:
        scene.frame_set(current[0], subframe=current[1])
    return out


def export_livelink_csv(path: Path, obj, scene) -> Path:
    from ..formats import livelink_csv

    fps = scene.render.fps / scene.render.fps_base
    if fps > 60:  # the app's timecode counts 60 frames a second
        raise EmotiveError(f"Live Link Face CSV holds at most 60 frames a second; the scene runs at "
                           f"{fps:.6g} fps: set the frame rate to 60 or lower")
    weights = sample_arkit(obj, scene, scene.frame_start, scene.frame_end)
    try:
        return Path(livelink_csv.write(path, weights, fps))
    except ValueError as exc:  # NaN from a driver, say
        raise EmotiveError(f"cannot export '{obj.name}': {exc}") from exc


EXPORTERS = {
    ".csv": ("Live Link Face CSV", export_livelink_csv),
}


def export(path, obj, scene) -> Path:
    """Export `obj`'s take over the scene's frame range to `path`, the format picked by its suffix."""
    path = Path(path)
    entry = EXPORTERS.get(path.suffix.lower())
    if entry is None:
        raise EmotiveError(f"cannot export '{path.name}': use one of {', '.join(EXPORTERS)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return entry[1](path, obj, scene)
    except OSError as exc:
        raise EmotiveError(f"cannot write '{path}': {exc.strerror or exc}") from exc
