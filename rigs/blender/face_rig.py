"""Blender adapter: a character's face rig as a text-take target (landmarks -> bone keys).

A bound head skinned to an armature (an Armature modifier, e.g. the Rigify face of
rigs/blender/rigify_face.py) is fitted once: random known transforms of the rig's face controls are
applied, the bound landmarks measured on the deformed mesh, and a Gaussian RBF
(rigs/bone_rbf.BoneRBF) fitted from landmark displacements to the controls' local transforms.
The displacements are carried into the default head's landmark space first (the inverse of the
similarity, Umeyama, from the default head's neutral landmarks to the character's), so the model
takes the text pipeline's landmark motion as it comes.

Stored on the armature object as a JSON string (json.loads only: loading runs no code),
rig["emotive_face_rig_fit"]:

    {"format": "emotive.face_rig_fit/1",
     "mesh": name of the mesh it was measured on, "controls": {bone: {channel: [hx, hy, hz]}},
     "examples": n, "seed": s, "held_out": {"poses": n, "location_mm": max, "rotation_deg": max},
     "model": BoneRBF.to_dict()   (format "emotive.bone_rbf/1", plain lists of numbers)}

Controls: a dict in the format of rigify_face.FACE_CONTROLS (bone -> channel -> half-range per
local axis: metres for "location", radians of rotation vector for "rotation"); by default the
rig's own rig["emotive_face_controls"] (a JSON string of that dict: how another rig, e.g. a
MakeHuman Rigify rig, declares its controls) or else FACE_CONTROLS.

predict_params turns a take's landmark motion into control parameters; actions.write_bone_take
keys them into a NEW Action on the armature (the previous action keeps a fake user).
"""

from __future__ import annotations

import json

import bpy
import numpy as np

from ...errors import EmotiveError
from ..bone_rbf import BoneLayout, BoneRBF

FIT_PROPERTY = "emotive_face_rig_fit"
CONTROLS_PROPERTY = "emotive_face_controls"
FIT_FORMAT = "emotive.face_rig_fit/1"
N_EXAMPLES = 150
N_HELD_OUT = 20
# The fit keeps the principal components holding all but this share of the examples' landmark
# variance (BoneRBF's pca_tolerance). Generated takes lie off the examples' manifold (motion the
# controls cannot make: cheeks, nose, lid margins); the near-empty components bone_rbf keeps by
# default (1e-8: 75 of them) turn that motion into wild extrapolation (measured on the Rigify face:
# lids 26 mm for an angry take); 1e-4 keeps 26, held-out error 0.84 mm instead of 0.57 mm.
PCA_TOLERANCE = 1e-4
# Predictions are clipped to this multiple of each control's sampled half-range: beyond it the
# model extrapolates from examples it never saw (a strong smile still reaches ~2.7x on the lips).
EXTRAPOLATION = 3.0


def face_rig_of(mesh):
    """The armature deforming `mesh` (its first Armature modifier with an armature object), or None."""
    if mesh is None or mesh.type != 'MESH':
        return None
    for mod in mesh.modifiers:
        if mod.type == 'ARMATURE' and mod.object is not None and mod.object.type == 'ARMATURE':
            return mod.object
    return None


def rig_controls(rig, controls: dict | None = None) -> dict:
    """The controls to fit (see the module docstring), checked against the rig's bones."""
    if controls is None:
        raw = rig.get(CONTROLS_PROPERTY)
        if raw is not None:
            try:
                controls = json.loads(raw)
            except (TypeError, ValueError) as exc:
                raise EmotiveError(f"{rig.name!r}: {CONTROLS_PROPERTY} is not a JSON controls dict ({exc})") from exc
        else:
            from .rigify_face import FACE_CONTROLS

            controls = FACE_CONTROLS
    if not isinstance(controls, dict) or not controls:
        raise EmotiveError(f"{rig.name!r}: the face controls must be a non-empty dict of bone -> channel ranges")
    missing = [b for b in controls if b not in rig.pose.bones]
    if missing:
        raise EmotiveError(f"{rig.name!r} has no bone(s) {', '.join(missing[:8])}: it is not the face rig these "
                           f"controls belong to (set its {CONTROLS_PROPERTY} property to its own controls)")
    out = {}
    for bone, channels in controls.items():
        bad = [c for c in channels if c not in ("location", "rotation")]
        if bad or not all(len(v) == 3 for v in channels.values()):
            raise EmotiveError(f"{rig.name!r}: control {bone!r} must give location/rotation as 3 half-ranges")
        out[bone] = {c: tuple(float(x) for x in v) for c, v in channels.items()}
    return out


def driven_channels(rig, bones) -> list[str]:
    """Data paths of `bones`' location/rotation channels that drivers own (they override keys)."""
    anim = rig.animation_data
    if anim is None:
        return []
    prefixes = tuple(f'pose.bones["{bpy.utils.escape_identifier(b)}"].' for b in bones)
    return sorted({d.data_path for d in anim.drivers if d.data_path.startswith(prefixes)
                   and d.data_path.rsplit(".", 1)[1] in ("location", "rotation_quaternion", "rotation_euler")})


def _save_pose(rig, bones):
    return {b: (rig.pose.bones[b].rotation_mode, tuple(rig.pose.bones[b].location),
                tuple(rig.pose.bones[b].rotation_quaternion), tuple(rig.pose.bones[b].rotation_euler))
            for b in bones}


def _restore_pose(rig, saved):
    for b, (mode, loc, quat, euler) in saved.items():
        pb = rig.pose.bones[b]
        pb.rotation_mode, pb.location = mode, loc
        pb.rotation_quaternion, pb.rotation_euler = quat, euler


def check_fittable(mesh, rig=None):
    """(rig, binding) for fitting `mesh`'s face rig; EmotiveError saying what is missing."""
    from .binding import character_binding

    if mesh is None or mesh.type != 'MESH':
        raise EmotiveError("pick the character's head mesh as the target (a mesh skinned to its face rig)")
    rig = rig or face_rig_of(mesh)
    if rig is None:
        raise EmotiveError(f"{mesh.name!r} is not deformed by an armature (no Armature modifier): "
                           "skin it to its face rig first")
    if rig.library or rig.data.library:
        raise EmotiveError(f"the face rig {rig.name!r} is linked from a library; make it local first")
    if face_rig_of(mesh) != rig:
        raise EmotiveError(f"{mesh.name!r} is not deformed by {rig.name!r} (its Armature modifier "
                           f"uses {getattr(face_rig_of(mesh), 'name', 'none')})")
    return rig, character_binding(mesh)


def fit_face_rig(mesh, rig=None, controls: dict | None = None, n_examples: int = N_EXAMPLES,
                 seed: int = 0) -> dict:
    """Fit the landmark -> control model of `mesh`'s face rig and store it on the rig; -> the
    stored record (without the model). The rig's pose and actions are as before afterwards."""
    from ..head_mesh import default_head_rig
    from ..shape_transfer import umeyama
    from . import rigify_face as bb

    rig, binding = check_fittable(mesh, rig)
    controls = rig_controls(rig, controls)
    if int(n_examples) < 10:
        raise EmotiveError(f"fitting needs at least 10 example poses, got {n_examples}")
    driven = driven_channels(rig, controls)
    if driven:
        raise EmotiveError(f"{rig.name!r}: drivers own {', '.join(driven[:6])}; remove them (Remove Live "
                           "Drivers) before fitting, or the example poses would not take")
    layout = BoneLayout(tuple(controls), ("location", "rotation"))
    saved = _save_pose(rig, layout.bones)
    anim = rig.animation_data
    action, slot = (anim.action, anim.action_slot) if anim else (None, None)
    rng = np.random.default_rng(int(seed))
    try:
        if action is not None:  # the examples are posed by hand: no action may override them
            anim.action = None
        disps, params = bb.sample_examples(rig, mesh, layout, int(n_examples) + N_HELD_OUT, rng,
                                           binding=binding.canonical70, ranges=controls)
        rest = bb.landmarks(mesh, binding.canonical70)
    finally:
        _restore_pose(rig, saved)
        if action is not None:
            anim.action = action
            anim.action_slot = slot
        bpy.context.view_layer.update()
    if np.abs(disps).max() < 1e-5:
        raise EmotiveError(f"moving {rig.name!r}'s face controls does not move {mesh.name!r}'s landmarks: "
                           "check its vertex groups / skin weights")
    neutral = default_head_rig()[0]
    scale, rotation, _ = umeyama(neutral, rest)
    to_default = np.linalg.inv(scale * rotation)
    disps = disps @ to_default.T
    n = int(n_examples)
    model = BoneRBF.fit(disps[:n], params[:n], layout=layout, pca_tolerance=PCA_TOLERANCE)
    error = model.predict(disps[n:]) - params[n:]
    parts = layout.split(error)
    record = {
        "format": FIT_FORMAT, "mesh": mesh.name,
        "controls": {b: {c: list(v) for c, v in ch.items()} for b, ch in controls.items()},
        "examples": n, "seed": int(seed),
        "held_out": {"poses": N_HELD_OUT,
                     "location_mm": round(1000 * max(float(np.linalg.norm(p["location"], axis=1).max())
                                                     for p in parts.values()), 4),
                     "rotation_deg": round(float(np.degrees(max(np.linalg.norm(p["rotation"], axis=1).max()
                                                                for p in parts.values()))), 4)},
    }
    rig[FIT_PROPERTY] = json.dumps({**record, "model": model.to_dict()}, separators=(",", ":"))
    return record


def load_fit(rig) -> tuple[BoneRBF, dict]:
    """(model, record) stored on `rig` by fit_face_rig; EmotiveError if absent or unreadable."""
    raw = rig.get(FIT_PROPERTY) if rig is not None else None
    if raw is None:
        raise EmotiveError(f"the face rig {getattr(rig, 'name', rig)!r} is not fitted yet: click Fit Face Rig")
    try:
        record = json.loads(raw)
        if record.get("format") != FIT_FORMAT:
            raise ValueError(f"format {record.get('format')!r} is not {FIT_FORMAT}")
        model = BoneRBF.from_dict(record.pop("model"))
        if model.layout is None or model.n_landmarks != 70:
            raise ValueError("the model has no bone layout or is not over the 70 landmarks")
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise EmotiveError(f"{rig.name!r}: the stored face-rig fit is unreadable ({exc}): fit it again") from exc
    missing = [b for b in model.layout.bones if b not in rig.pose.bones]
    if missing:
        raise EmotiveError(f"{rig.name!r} lost the fitted bone(s) {', '.join(missing[:8])}: fit it again")
    return model, record


def fit_status(rig) -> dict:
    """{'fitted': bool, 'problem': str | None} without decoding the model (cheap: a panel's
    every redraw); the stored JSON starts with its format (fit_face_rig writes it first)."""
    raw = rig.get(FIT_PROPERTY) if rig is not None else None
    if raw is None:
        return {"fitted": False, "problem": None}
    if isinstance(raw, str) and raw.startswith(json.dumps({"format": FIT_FORMAT}, separators=(",", ":"))[:-1]):
        return {"fitted": True, "problem": None}
    return {"fitted": False, "problem": "unreadable fit: fit it again"}


def check_bone_target(rig, model) -> None:
    """Raise before anything is computed when keys on `rig` could not take effect."""
    if rig.library or rig.data.library:
        raise EmotiveError(f"the face rig {rig.name!r} is linked from a library; make it local first")
    driven = driven_channels(rig, model.layout.bones)
    if driven:
        raise EmotiveError(f"{rig.name!r}: drivers own {', '.join(driven[:6])}"
                           f"{' …' if len(driven) > 6 else ''}, which would override the keyframes; "
                           "remove them first (Remove Live Drivers)")


CHUNK = 8192  # frames predicted at once (bounded memory on long takes)


def param_limits(model: BoneRBF, controls: dict) -> np.ndarray:
    """(D,) largest |parameter| a prediction may reach: EXTRAPOLATION x the sampled half-range."""
    limits = np.zeros(model.n_params)
    for bone, channels in controls.items():
        for channel, half in channels.items():
            if channel in model.layout.channels:
                limits[model.layout.columns(bone, channel)] = EXTRAPOLATION * np.abs(half)
    return limits


def predict_params(model: BoneRBF, offsets, limits=None) -> np.ndarray:
    """(F, 70, 3) default-head landmark offsets -> (F, D) control parameters, clipped to
    +-limits when given; silent frames rest."""
    offsets = np.asarray(offsets)
    out = np.zeros((len(offsets), model.n_params))
    moving = np.abs(offsets).reshape(len(offsets), -1).max(axis=1) > 1e-9 if len(offsets) else np.zeros(0, bool)
    rows = np.flatnonzero(moving)
    for i in range(0, len(rows), CHUNK):
        part = rows[i:i + CHUNK]
        out[part] = model.predict(offsets[part])
    if limits is not None:
        np.clip(out, -limits, limits, out=out)
    return out
