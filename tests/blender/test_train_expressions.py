"""Retraining the expression model from Blender (the operator): bad output paths and missing data
are refused; a trained model becomes the add-on's. From the shell:
tests/unit/ml/test_train_expressions_cli.py."""

import numpy as np
import pytest


def test_train_operator_refuses_bad_output_and_missing_data(scene):
    import bpy

    with pytest.raises(RuntimeError, match=".safetensors"):
        bpy.ops.emotive.train_expressions(filepath="/tmp/model.pt")
    with pytest.raises(RuntimeError, match="imported sequences not found"):
        bpy.ops.emotive.train_expressions(filepath="/tmp/m.safetensors", data="/nonexistent/x.npz")


def test_train_operator_writes_a_model_the_addon_then_uses(scene, tmp_path):
    import bpy

    from emotive.ml.expression_inference import ExpressionModel

    out = tmp_path / "mine.safetensors"
    assert bpy.ops.emotive.train_expressions(filepath=str(out), minutes=0.2, seed=1) == {'FINISHED'}
    model = ExpressionModel.load(out)
    neutral = np.asarray(model.stats["neutral_mean"]).reshape(70, 3)
    assert model.generate("joy", 1.0, 30, neutral, seed=0).shape == (30, 70, 3)
    prefs = bpy.context.preferences.addons["bl_ext.user_default.emotive"].preferences
    assert prefs.expression_model_path == str(out)
    prefs.expression_model_path = ""
