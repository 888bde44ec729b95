"""The report of a keyed take (report.json, the CLI's summary): one place for its layout (bpy-free)."""

from __future__ import annotations

import json
from pathlib import Path

from ..rigs.targets import KINDS
from .take import Take


def build_report(take: Take, keyed: list[str], *, frame_start: int = 1, action_name: str = "",
                 target: str = "", drive: str = "arkit", notes=()) -> dict:
    """The report.json content: one entry per segment, frames in scene frames. `keyed` names the
    shape keys keyed, or the bones when drive (the target's kind, rigs/targets.py) keys bones."""
    bones = KINDS[drive].keys_bones
    keys = [] if bones else list(keyed)
    segments = []
    for seg in take.segments:
        entry = {
            "text": seg.text,
            "start_frame": frame_start + int(round(seg.start * take.fps)),
            "end_frame": frame_start + int(round(seg.end * take.fps)),
            "emotion": seg.emotion,
            "labels": [{"label": label, "probability": round(p, 4)} for label, p in seg.labels],
            "shape_keys": keys,
        }
        if seg.warning:
            entry["warning"] = seg.warning
        entry.update(seg.details)
        segments.append(entry)
    return {
        "target": target,
        "action": action_name,
        "fps": take.fps,
        "frame_start": frame_start,
        "frame_end": frame_start + take.n_frames - 1,
        "drive": drive,
        "keyed_shape_keys": keys,
        **({"keyed_bones": list(keyed)} if bones else {}),
        "notes": list(notes),
        "warnings": list(take.warnings),
        **take.details,
        "segments": segments,
    }


def write_report(report: dict, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
