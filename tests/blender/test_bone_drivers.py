"""Live preview drivers on a fitted face rig: 52 ARKit-weight properties on the armature drive the
fitted controls through simple (Python-free) expressions, a linearisation of the fitted RBF."""

import bpy
import numpy as np
import pytest

HEAD = "Emotive Bone Test Head"


@pytest.fixture(scope="module")
def fitted_blend(addon, tmp_path_factory):
    from emotive.rigs.blender import rigify_face as bb

    bpy.ops.wm.read_homefile(use_empty=True)
    rig = bb.rigify_face_rig()
    head = bb.bind_head_to_rig(rig)
    bpy.context.scene.emotive.target = head
    assert bpy.ops.emotive.fit_face_rig() == {'FINISHED'}
    path = tmp_path_factory.mktemp("drivers") / "fitted.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True)
    return path


@pytest.fixture
def rig(fitted_blend):
    bpy.ops.wm.open_mainfile(filepath=str(fitted_blend))
    bpy.context.scene.emotive.target = bpy.data.objects[HEAD]
    return bpy.data.objects["rig"]


def set_weights(rig, **weights):
    for name in [k for k in rig.keys() if k.startswith("arkit_")]:
        rig[name] = 0.0
    for name, value in weights.items():
        rig["arkit_" + name] = value
    rig.update_tag()  # what editing the property in the UI does
    bpy.context.view_layer.update()


def pose(rig):
    pb = rig.pose.bones
    return {"jaw x": pb["jaw_master"].rotation_quaternion[1], "lips.L": np.array(pb["lips.L"].location),
            "brow.T.L.002": np.array(pb["brow.T.L.002"].location)}


def test_properties_move_the_bones_through_simple_expressions(rig):
    from emotive.rigs.blender.bone_drivers import live_driver_curves
    from emotive.rigs.blender.face_rig import load_fit

    assert bpy.ops.emotive.add_live_drivers() == {'FINISHED'}
    props = [k for k in rig.keys() if k.startswith("arkit_")]
    assert len(props) == 52 and rig.id_properties_ui("arkit_jawOpen").as_dict()["max"] == 1.0
    curves = live_driver_curves(rig)
    assert len(curves) >= 15
    for fc in curves:  # evaluable without Auto Run Python Scripts
        assert fc.driver.type == 'SCRIPTED' and fc.driver.is_simple_expression and fc.driver.is_valid, fc.data_path
        assert len(fc.driver.expression) <= 256
    set_weights(rig)
    rest = pose(rig)
    assert abs(rest["jaw x"]) < 1e-6 and np.abs(rest["lips.L"]).max() < 1e-6
    set_weights(rig, jawOpen=1.0)
    opened = pose(rig)
    print("\njawOpen 1 -> jaw quaternion x", round(opened["jaw x"], 4))
    assert opened["jaw x"] > 0.05  # > ~6 deg open
    set_weights(rig, mouthSmileLeft=1.0)
    smile = pose(rig)["lips.L"]
    print("mouthSmileLeft 1 -> lips.L location mm", np.round(1000 * smile, 2))
    assert smile[1] > 0.003  # the left corner rises (its local y is up)
    set_weights(rig, browDownLeft=1.0)
    brow = pose(rig)["brow.T.L.002"]
    assert brow[1] < -0.003
    # small weights: the linear drivers agree with the fitted RBF itself
    from emotive.rigs.head_mesh import default_head_rig
    from emotive.rigs.arkit import ARKIT_INDEX

    model, _ = load_fit(rig)
    set_weights(rig, mouthSmileLeft=0.1, browDownLeft=0.1)
    sigs = default_head_rig()[1]
    rbf = model.layout.split(model.predict(0.1 * (sigs[ARKIT_INDEX["mouthSmileLeft"]] + sigs[ARKIT_INDEX["browDownLeft"]])))
    for bone in ("lips.L", "brow.T.L.002"):
        err = np.abs(np.array(rig.pose.bones[bone].location) - rbf[bone]["location"]).max()
        assert err < 0.3e-3, (bone, err)  # < 0.3 mm of the ~1.5 mm moved


def test_remove_restores_rest_and_takes_play_again(rig):
    from emotive.rigs.blender.bone_drivers import live_driver_curves

    rigify_drivers = len(rig.animation_data.drivers)  # the generated rig's own, kept throughout
    assert bpy.ops.emotive.add_live_drivers() == {'FINISHED'}
    n = len(live_driver_curves(rig))
    assert bpy.ops.emotive.add_live_drivers() == {'FINISHED'}  # again: replaces, does not stack
    assert len(live_driver_curves(rig)) == n and len(rig.animation_data.drivers) == rigify_drivers + n
    set_weights(rig, jawOpen=1.0)
    assert bpy.ops.emotive.remove_live_drivers() == {'FINISHED'}
    bpy.context.view_layer.update()
    assert live_driver_curves(rig) == [] and not any(k.startswith("arkit_") for k in rig.keys())
    assert len(rig.animation_data.drivers) == rigify_drivers
    assert abs(rig.pose.bones["jaw_master"].rotation_quaternion[1]) < 1e-9
    # the take path works again once they are gone
    s = bpy.context.scene.emotive
    s.text_source, s.text_line, s.drive = 'LINE', "I am so happy today!", 'BONES'
    assert bpy.ops.emotive.animate_text() == {'FINISHED'}
    assert rig.animation_data.action.name.startswith("Emotive: ")


def test_unfitted_rig_refuses_and_changes_nothing(rig):
    del rig["emotive_face_rig_fit"]
    keys, drivers = sorted(rig.keys()), len(rig.animation_data.drivers)
    with pytest.raises(RuntimeError, match="not fitted yet"):
        bpy.ops.emotive.add_live_drivers()
    assert sorted(rig.keys()) == keys and len(rig.animation_data.drivers) == drivers
