"""Writers of small synthetic capture files (every variant the readers claim), and the real samples
in ../shared/data/capture (skipped with a reason when absent)."""

import json
from pathlib import Path

import numpy as np
import pytest

from emotive.rigs.arkit import ARKIT_NAMES

from shared_fixtures import SHARED, shared  # noqa: F401 (the real samples, skipped when absent)
from shared_fixtures import drawn_face, write_video  # noqa: F401 (the video writers, as cap.*)


def face70(centre=(320.0, 240.0), size=100.0, seed=0) -> np.ndarray:
    """70 plausible face points in pixels (x right, y down) around `centre`, `size` pixels wide."""
    rng = np.random.default_rng(seed)
    angles = np.linspace(0, 2 * np.pi, 70, endpoint=False)
    pts = np.stack([np.cos(angles), np.sin(angles)], 1) * size / 2 * (0.6 + 0.4 * rng.random((70, 1)))
    return pts + np.asarray(centre)


def openpose_doc(faces, person_ids=None, version=1.3, extra=None) -> dict:
    people = []
    for i, face in enumerate(faces):
        if face is None:
            values = []
        elif isinstance(face, str) and face == "zeros":
            values = [0.0] * 210
        else:
            values = np.concatenate([face, np.full((len(face), 1), 0.9)], 1).ravel().tolist()
        person = {"pose_keypoints_2d": [], "face_keypoints_2d": values, "hand_left_keypoints_2d": []}
        if person_ids is not None:
            person = {"person_id": [person_ids[i]], **person}
        people.append(person)
    return {"version": version, "people": people, **(extra or {})}


def write_openpose(folder: Path, frames: dict, **kwargs) -> Path:
    """frames: {frame number: [face (70, 2) | None | "zeros", ...]} -> a folder of keypoint files."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, faces in frames.items():
        doc = faces if isinstance(faces, dict) else openpose_doc(faces, **kwargs)
        (folder / f"clip_{number:012d}_keypoints.json").write_text(json.dumps(doc))
    return folder


def livelink_header(count="BlendShapeCount", case=str) -> list[str]:
    names = [n[0].upper() + n[1:] for n in ARKIT_NAMES]
    eyes = ["LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll", "RightEyeYaw", "RightEyePitch", "RightEyeRoll"]
    return ["Timecode", count] + [case(n) for n in names + ["HeadYaw", "HeadPitch", "HeadRoll"] + eyes]


def timecode(frame60: int, start=(1, 2, 3)) -> str:
    """The timecode of a row `frame60` 60 fps frames in, as the app writes it: rows step 1.001
    timecode frames, so the .fff fraction drifts and now and then carries into FF."""
    h, m, s = start
    millis = round((frame60 * 1.001 + 0.867) * 1000)
    whole = millis // 1000
    s_total = h * 3600 + m * 60 + s + whole // 60
    return f"{s_total // 3600:02d}:{s_total // 60 % 60:02d}:{s_total % 60:02d}:{whole % 60:02d}.{millis % 1000:03d}"


def write_livelink(path: Path, n=20, step=1, lost=(), count="BlendShapeCount", case=str, values=None,
                   head=None) -> Path:
    """n rows, one every `step` frames of the 60 fps timecode; rows in `lost` are tracking-lost."""
    header = livelink_header(count, case)
    lines = [",".join(header)]
    for i in range(n):
        tc = timecode(i * step)
        if i in lost:
            lines.append(f"{tc},0")
            continue
        v = values[i] if values is not None else np.linspace(0, 1, 52) * (i % 5) / 4
        h = head[i] if head is not None else np.zeros(3)
        eyes = np.full(6, 0.01 * i)
        lines.append(",".join([tc, "61"] + [f"{x:.6f}" for x in np.concatenate([v, h, eyes])]))
    path.write_text("\n".join(lines) + "\n")
    return path


def openface_header(n_au=("AU01", "AU12", "AU26"), with3d=True) -> list[str]:
    names = ["frame", "face_id", "timestamp", "confidence", "success"]
    names += [f"gaze_{e}_{a}" for e in "01" for a in "xyz"] + ["gaze_angle_x", "gaze_angle_y"]
    names += ["pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz"]
    names += [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
    if with3d:
        names += [f"{a}_{i}" for a in "XYZ" for i in range(68)]
    names += [f"{au}_r" for au in n_au] + [f"{au}_c" for au in n_au]
    return names


def write_openface(path: Path, frames=range(1, 11), faces=(0,), success=lambda f: 1, with3d=True,
                   fps=30.0) -> Path:
    names = openface_header(with3d=with3d)
    lines = [", ".join(names)]
    base = face70()[:68]
    for f in frames:
        for fid in faces:
            row = {"frame": f, "face_id": fid, "timestamp": (f - 1) / fps, "confidence": 0.95, "success": success(f)}
            row.update({f"gaze_{e}_{a}": v for e in "01" for a, v in zip("xyz", (0.1, 0.0, -0.99))})
            row.update(gaze_angle_x=0.1, gaze_angle_y=0.0, pose_Tx=10, pose_Ty=20, pose_Tz=500,
                       pose_Rx=0.1, pose_Ry=0.2, pose_Rz=0.3)
            pts = base + 200 * fid
            row.update({f"x_{i}": pts[i, 0] for i in range(68)})
            row.update({f"y_{i}": pts[i, 1] for i in range(68)})
            if with3d:
                row.update({f"{a}_{i}": (pts[i, k] - 300) / 2 if a != "Z" else 500.0
                            for k, a in enumerate("XYZ") for i in range(68)})
            row.update({"AU01_r": 0.5 + fid, "AU12_r": 1.0, "AU26_r": 2.0, "AU01_c": 1, "AU12_c": 1, "AU26_c": 0})
            lines.append(", ".join(f"{row[n]}" for n in names))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def openpose_sample():
    return shared("capture/openpose_moface/json")


@pytest.fixture
def livelink_sample():
    return shared("capture/livelink_jmtechart/MySlate_3_Jason_Millers_iPhone.csv")


@pytest.fixture
def cap():
    """This module: the writers above, for the tests (conftest modules cannot be imported by name
    under --import-mode=importlib)."""
    import sys

    return sys.modules[__name__]


# ---- video (rigs/formats/video.py): drawn faces MediaPipe FaceMesh finds, written by OpenCV ----

def _atom(kind: bytes, body: bytes) -> bytes:
    import struct

    return struct.pack(">I", 8 + len(body)) + kind + body


def add_audio_track(path: Path) -> Path:
    """Insert an (empty) AAC sound track into an MP4 written by write_video, as the FIRST track of
    its moov, the way some cameras and phones order their streams."""
    import struct

    data = path.read_bytes()
    pos = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"moov":
            break
        pos += length
    else:
        raise AssertionError("no moov")
    moov = data[pos + 8:pos + length]
    first = 0
    while moov[first + 4:first + 8] != b"trak":
        first += struct.unpack(">I", moov[first:first + 4])[0]
    full = lambda kind, body: _atom(kind, b"\0\0\0\0" + body)   # version 0, no flags
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    tkhd = _atom(b"tkhd", b"\0\0\0\x07" + struct.pack(">IIIII", 0, 0, 9, 0, 0) + b"\0" * 8
                 + struct.pack(">hhhh", 0, 1, 0x0100, 0) + matrix + struct.pack(">II", 0, 0))
    mdhd = full(b"mdhd", struct.pack(">IIIIhh", 0, 0, 44100, 0, 0x55c4, 0))
    hdlr = full(b"hdlr", b"\0\0\0\0soun" + b"\0" * 12 + b"SoundHandler\0")
    mp4a = _atom(b"mp4a", b"\0" * 6 + struct.pack(">H", 1) + b"\0" * 8 + struct.pack(">HHHHI", 2, 16, 0, 0, 44100 << 16))
    stbl = _atom(b"stbl", full(b"stsd", struct.pack(">I", 1) + mp4a) + full(b"stts", struct.pack(">I", 0))
                 + full(b"stsc", struct.pack(">I", 0)) + full(b"stsz", struct.pack(">II", 0, 0))
                 + full(b"stco", struct.pack(">I", 0)))
    dinf = _atom(b"dinf", full(b"dref", struct.pack(">I", 1) + _atom(b"url ", b"\0\0\0\x01")))
    minf = _atom(b"minf", full(b"smhd", b"\0\0\0\0") + dinf + stbl)
    trak = _atom(b"trak", tkhd + _atom(b"mdia", mdhd + hdlr + minf))
    new_moov = _atom(b"moov", moov[:first] + trak + moov[first:])
    # chunk offsets (stco) of the video track point into mdat: shift them when moov precedes mdat
    if data.find(b"mdat") > pos:
        shift = len(trak)
        body = bytearray(new_moov)
        at = body.find(b"stco", 8 + first + len(trak))
        count = struct.unpack(">I", body[at + 8:at + 12])[0]
        for k in range(count):
            o = at + 12 + 4 * k
            body[o:o + 4] = struct.pack(">I", struct.unpack(">I", body[o:o + 4])[0] + shift)
        new_moov = bytes(body)
    path.write_bytes(data[:pos] + new_moov + data[pos + length:])
    return path
