"""Retraining the expression model from the shell: bad data is refused up front. From Blender (the
operator): tests/blender/test_train_expressions.py."""

import subprocess
import sys

import numpy as np
import pytest


def train(*args):
    return subprocess.run([sys.executable, "-m", "emotive", "train-expressions", *args],
                          capture_output=True, text=True, timeout=300)


def sequences(path, n=4, landmarks=70, nan=False):
    data = np.zeros((n, 30, landmarks, 3), np.float32)
    if nan:
        data[0, 3, 5, 1] = np.nan
    np.savez(path, landmarks=data, lengths=np.full(n, 30, np.int32), emotion=np.zeros(n, np.int32),
             intensity=np.ones(n, np.float32), identity=np.zeros(n, np.int32), fps=np.int32(30),
             landmark_set=np.array("ibug70"))
    return path


@pytest.mark.parametrize("make, message", [
    (lambda p: sequences(p, landmarks=68), "70"),
    (lambda p: sequences(p, nan=True), "NaN"),
    (lambda p: sequences(p, n=0), "empty|no sequences|too few"),
    (lambda p: p.write_bytes(b"not an npz") and p, "not a readable npz"),
])
def test_bad_imported_sequences_fail_before_training(tmp_path, make, message):
    data = make(tmp_path / "captures.npz")
    out = tmp_path / "model.safetensors"
    proc = train("--data", str(data), "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    import re
    assert re.search(message, proc.stderr), proc.stderr
    assert "step" not in proc.stdout  # refused before the first training step
    assert not out.exists()
