"""Blender adapter: a character's own shape keys as retarget targets (rigs/custom_keys.py).

custom_key_signatures(obj) reads each key's delta (its coordinates minus its reference key's,
foreach_get) and evaluates the object's bound landmarks (character_binding: the stored binding,
rigs/blender/binding.load_binding, or the default head's own for a mesh with its topology) on it:
the (K, 70, 3) landmark motion of each key at weight 1. write_custom_key_take keys solved
weights into a new Action, exactly as the ARKit take is written (rigs/blender/actions.py).

solve_own_keys turns a Take (pipeline/take.py, landmarks kept) into weights of the character's
own keys: the expressions and the blinks and idle drift (as landmark motion) go through one solve, so blinks land on whichever keys close the lids
(blink_keys finds them by solving a pure blink); a character without such keys gets no blinks,
and the result says so.
"""

from __future__ import annotations

import numpy as np

from ...errors import EmotiveError
from .actions import write_named_take
from .binding import character_binding

MIN_MOTION_MM = 0.05  # a key moving no landmark by more than this is skipped (invisible to the solve)
BLINK_WEIGHT = 0.3    # a key taking this much of a pure blink closes the lids
KEYED_MIN = 1e-3      # keys whose weight never exceeds this are left out of a take


def own_key_names(obj) -> list[str]:
    """obj's shape keys that are not ARKit-named (the reference key excluded), in order."""
    from ..arkit import ARKIT_NAMES

    key = obj.data.shape_keys if obj is not None and obj.type == 'MESH' else None
    if key is None:
        return []
    return [kb.name for kb in key.key_blocks if kb != key.reference_key and kb.name not in ARKIT_NAMES]


def _co(block, n: int) -> np.ndarray:
    co = np.empty(n * 3, np.float64)
    block.data.foreach_get("co", co)
    return co.reshape(n, 3)


def custom_key_signatures(obj, names=None, binding=None, report: dict | None = None):
    """(names kept, signatures (K, 70, 3)) of obj's shape keys (all but the reference key when
    `names` is None). Keys that move no landmark by MIN_MOTION_MM are skipped and listed in
    report["skipped"] (with their largest landmark motion in mm). `binding`: a LandmarkBinding
    (default: load_binding(obj), which raises BindingError when the object is not bound)."""
    if obj is None or obj.type != 'MESH':
        raise EmotiveError(f"{getattr(obj, 'name', obj)!r} is not a mesh object")
    key = obj.data.shape_keys
    if key is None or len(key.key_blocks) < 2:
        raise EmotiveError(f"{obj.name!r} has no shape keys to retarget onto")
    if binding is None:
        binding = character_binding(obj)
    lm = binding.canonical70
    n = len(obj.data.vertices)
    if lm.triangles.max() >= n:
        raise EmotiveError(f"{obj.name!r}: the binding refers to missing vertices")
    blocks = key.key_blocks
    if names is None:
        names = [kb.name for kb in blocks if kb != key.reference_key]
    missing = [nm for nm in names if nm not in blocks]
    if missing:
        raise EmotiveError(f"{obj.name!r} has no shape key(s) {', '.join(missing)}")
    kept, sigs, skipped = [], [], {}
    cache = {}
    for name in names:
        kb = blocks[name]
        ref = kb.relative_key if kb.relative_key is not None else key.reference_key
        if ref.name not in cache:
            cache[ref.name] = _co(ref, n)
        sig = lm.evaluate(_co(kb, n) - cache[ref.name])
        motion = 1000.0 * float(np.linalg.norm(sig, axis=1).max())
        if motion < MIN_MOTION_MM:
            skipped[name] = round(motion, 4)
            continue
        kept.append(name)
        sigs.append(sig)
    if report is not None:
        report["skipped"] = skipped
    if not kept:
        raise EmotiveError(f"{obj.name!r}: none of its shape keys moves the face's landmarks "
                           f"(by {MIN_MOTION_MM} mm or more)")
    return kept, np.stack(sigs)


def target_landmarks(obj, binding=None) -> np.ndarray:
    """(70, 3) the bound landmarks on the reference (Basis) key's shape, object space."""
    if binding is None:
        binding = character_binding(obj)
    key = obj.data.shape_keys
    n = len(obj.data.vertices)
    if key is not None and len(key.key_blocks):
        verts = _co(key.reference_key, n)
    else:
        verts = np.empty(n * 3, np.float64)
        obj.data.vertices.foreach_get("co", verts)
        verts = verts.reshape(n, 3)
    return binding.canonical70.evaluate(verts)


def custom_key_retarget(obj, names=None, report: dict | None = None, absorb: bool = True):
    """(names, CustomKeyRetarget) for obj's own keys, from its binding and the default head.
    absorb: the default head's ARKit keys that none of obj's keys contains soak up the motion obj
    cannot make (see rigs/custom_keys.py) instead of it leaking into lookalike keys."""
    from ..custom_keys import CustomKeyRetarget
    from ..head_mesh import default_head_rig

    binding = character_binding(obj)
    names, sigs = custom_key_signatures(obj, names, binding=binding, report=report)
    neutral, default_signatures = default_head_rig()
    return names, CustomKeyRetarget(target_landmarks(obj, binding), sigs, neutral,
                                    default_signatures=default_signatures if absorb else None)


def write_custom_key_take(obj, names: list[str], weights: np.ndarray, frame_start: int = 1,
                          name: str = "Emotive: custom keys", tolerance: float = 0.002):
    """Key weights (F, len(names)) onto obj's shape keys `names` as a new Action; returns it."""
    key = obj.data.shape_keys
    missing = [nm for nm in names if key is None or nm not in key.key_blocks]
    if missing:
        raise EmotiveError(f"{obj.name!r} has no shape key(s) {', '.join(missing)}")
    return write_named_take(obj, weights, list(names), name=name, frame_start=frame_start,
                            tolerance=tolerance)


def blink_keys(names: list[str], retarget) -> list[str]:
    """The keys among `names` that close the lids: those taking >= BLINK_WEIGHT of a pure blink
    (the default head's eyeBlinkLeft + eyeBlinkRight landmark motion) in the retarget's solve."""
    from ..arkit import ARKIT_INDEX
    from ..head_mesh import default_head_rig

    sigs = default_head_rig()[1]
    blink = sigs[ARKIT_INDEX["eyeBlinkLeft"]] + sigs[ARKIT_INDEX["eyeBlinkRight"]]
    weights = retarget.solve(blink[None])[0]
    return [n for n, w in zip(names, weights) if w >= BLINK_WEIGHT]


def solve_own_keys(take, names: list[str], retarget) -> dict:
    """A take (landmarks kept) solved onto the keys `names` through `retarget`
    (custom_key_retarget) -> {"names": keys keyed, "weights": (F, len(names)), "blink_keys": keys
    carrying the blinks, "still": keys the take never moves}."""
    weights = np.zeros((take.n_frames, len(names)), np.float32)
    for start, motion in take.iter_landmark_motion(life=True):
        weights[start:start + len(motion)] = retarget.solve(motion)
    moving = weights.max(axis=0) > KEYED_MIN if len(weights) else np.zeros(len(names), bool)
    return {"names": [n for n, m in zip(names, moving) if m],
            "weights": weights[:, moving],
            "blink_keys": blink_keys(names, retarget),
            "still": [n for n, m in zip(names, moving) if not m]}
