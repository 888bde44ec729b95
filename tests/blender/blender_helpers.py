"""Reading back what the add-on wrote, the way a user inspects it in the Graph Editor."""

import numpy as np


def take_curves(obj):
    """{shape key name: F-curve} of the action assigned to obj's shape keys."""
    anim = obj.data.shape_keys.animation_data
    assert anim is not None and anim.action is not None, "no action on the shape keys"
    from bpy_extras import anim_utils

    bag = anim_utils.action_get_channelbag_for_slot(anim.action, anim.action_slot)
    return {fc.data_path.split('"')[1]: fc for fc in bag.fcurves}


def sampled(curve, start, end):
    return np.array([curve.evaluate(f) for f in range(start, end + 1)])


def peak(curves, name, start, end):
    return float(sampled(curves[name], start, end).max()) if name in curves else 0.0


def replace_with_own_keys(obj, mixes: dict, still: bool = True) -> None:
    """Replace obj's shape keys by the character's "own" keys: each a weighted mix of its
    current keys' deltas ({name: {source key: weight}}), plus "Still" (moves nothing)."""
    blocks = obj.data.shape_keys.key_blocks
    n = len(obj.data.vertices)

    def co(name):
        a = np.empty(n * 3, np.float32)
        blocks[name].data.foreach_get("co", a)
        return a.reshape(n, 3)

    basis = co("Basis")
    shapes = {name: basis + sum(w * (co(k) - basis) for k, w in mix.items()) for name, mix in mixes.items()}
    for kb in [kb for kb in blocks if kb.name != "Basis"]:
        obj.shape_key_remove(kb)
    for name, verts in shapes.items():
        kb = obj.shape_key_add(name=name, from_mix=False)
        kb.data.foreach_set("co", verts.astype(np.float32).ravel())
        kb.value = 0.0
    if still:
        obj.shape_key_add(name="Still", from_mix=False).value = 0.0
    obj.data.update()


def check_bone_round_trip(bb, rig, head, layout, held_out, model, lid_mm: float) -> None:
    """Predict the held-out poses' transforms from their landmarks and hold them to the bone
    tolerances (jaw < 0.5 deg, other controls < 0.5 mm, lids < lid_mm); then re-pose the rig
    with the predictions: the landmarks must come back within 0.5 mm."""
    from emotive.rigs.bone_rbf import rotation_angle_deg

    xt, yt = held_out
    pred = model.predict(xt)
    got, want = layout.split(pred), layout.split(yt)
    report = {}
    for bone in layout.bones:
        if bone == "jaw_master":
            err = rotation_angle_deg(got[bone]["rotation"], want[bone]["rotation"])
            report[bone] = f"{err.max():.3f} deg"
            assert err.max() < 0.5
        else:
            err = 1000 * np.linalg.norm(got[bone]["location"] - want[bone]["location"], axis=1)
            report[bone] = f"{err.max():.2f} mm"
            assert err.max() < (lid_mm if bone.startswith("lid") else 0.5), (bone, err.max())
    re_x, _ = bb.sample_examples(rig, head, layout, len(pred), None, params=pred)
    lm_err = 1000 * np.linalg.norm(re_x - xt, axis=2)
    print(f"\ncomponents {model.n_components}, sigma {model.sigma:.4f}; held-out max errors "
          f"{report}; landmarks re-posed {lm_err.max():.3f} mm (displacements up to "
          f"{1000 * np.linalg.norm(xt, axis=2).max():.1f} mm)")
    assert lm_err.max() < 0.5


def assert_binding_survives_reload(binding, path, object_name="Emotive Head"):
    """Save the file, open it again: the binding stored on the object reads back unchanged."""
    import bpy

    from emotive.rigs.blender.binding import load_binding

    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    again = load_binding(bpy.data.objects[object_name])
    for a, b in ((binding.mediapipe478, again.mediapipe478), (binding.canonical70, again.canonical70)):
        np.testing.assert_array_equal(a.triangles, b.triangles)
        np.testing.assert_allclose(a.weights, b.weights, atol=1e-6)
