"""rigs/formats/video.py: MediaPipe FaceMesh on the frames of a video, read without Blender.

The clips are drawn faces written by OpenCV (conftest.write_video); the closed loop on a rendered
head is tests/blender/test_capture_video.py and bench/bench_capture_loop.py."""

import json

import numpy as np
import pytest

from emotive.errors import FormatError
from emotive.rigs import formats
from emotive.rigs.formats import mediapipe_json, video

pytest.importorskip("cv2")
pytest.importorskip("mediapipe")


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".avi", ".webm", ".mkv", ".m4v"])
def test_every_container_is_sniffed_and_read(tmp_path, cap, suffix):
    path = cap.write_video(tmp_path / f"face{suffix}", n=6)
    assert video.sniff(path)
    assert formats.detect(path) is video
    track = formats.read(path)
    assert track.format == "video" and track.n_frames == 6 and track.valid.all()
    assert track.landmark_set == "mediapipe478" and track.coords == "normalised" and track.dims == 3
    assert track.image_size == (320, 360)
    assert track.fps == pytest.approx(29.97, abs=1e-9)   # the container's rate, not snapped to 30
    assert np.allclose(track.times, np.arange(6) / 29.97, atol=1e-3)   # the decoder's time stamps
    xy = track.landmarks[..., :2]
    assert 0.1 < xy.min() and xy.max() < 0.9   # normalised, around the drawn face


def test_sniff_goes_by_content(tmp_path, cap):
    renamed = cap.write_video(tmp_path / "clip.mp4", n=3).rename(tmp_path / "clip.bin")
    assert formats.detect(renamed) is video
    fake = tmp_path / "fake.mp4"
    fake.write_text(json.dumps([np.zeros((478, 3)).tolist()]))
    assert not video.sniff(fake) and formats.detect(fake) is mediapipe_json
    heic = tmp_path / "photo.mp4"
    heic.write_bytes(b"\0\0\0\x18ftypheic" + b"\0" * 64)
    assert not video.sniff(heic)
    for name, head in (("a.avi", b"RIFF\0\0\0\0AVI LIST"), ("a.webm", b"\x1a\x45\xdf\xa3" + b"\0" * 12)):
        (tmp_path / name).write_bytes(head + b"\0" * 32)
        assert video.sniff(tmp_path / name)
    assert not video.sniff(tmp_path) and not video.sniff(tmp_path / "missing.mp4")


def test_a_video_without_a_face_names_the_file(tmp_path, cap):
    black = [np.zeros((240, 320, 3), np.uint8)] * 8
    path = cap.write_video(tmp_path / "noface.mp4", frames=black)
    with pytest.raises(FormatError, match=r"noface\.mp4.*no face in any of its 8 frames"):
        formats.read(path)


def test_a_file_that_is_not_a_video_is_refused(tmp_path):
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"\0\0\0\x18ftypisom" + bytes(range(256)) * 4)
    with pytest.raises(FormatError, match="broken.mp4"):
        formats.read(path)


def test_black_frames_and_a_face_leaving_are_lost_frames(tmp_path, cap):
    face, black = cap.drawn_face(), np.zeros((360, 320, 3), np.uint8)
    frames = [face] * 4 + [black] * 3 + [face] * 3 + [cap.drawn_face(shift=400)] * 3 + [face] * 4
    track = formats.read(cap.write_video(tmp_path / "gaps.mp4", frames=frames))
    expected = np.array([True] * 4 + [False] * 3 + [True] * 3 + [False] * 3 + [True] * 4)
    assert (track.valid == expected).all()
    assert np.isnan(track.landmarks[~expected]).all() and np.isfinite(track.landmarks[expected]).all()
    assert any("no face in 6 of 17 frames: 4-6, 10-12" in w for w in track.warnings)


def test_save_json_reimports_identically(tmp_path, cap):
    face, black = cap.drawn_face(), np.zeros((360, 320, 3), np.uint8)
    frames = [cap.drawn_face(jaw=i / 7) for i in range(8)] + [black] * 2
    out = tmp_path / "landmarks.json"
    track = formats.read(cap.write_video(tmp_path / "face.mp4", frames=frames), save_json=out)
    again = formats.read(out)
    assert again.format == "mediapipe" and again.landmark_set == "mediapipe478"
    assert again.fps == track.fps and again.image_size == track.image_size and again.coords == "normalised"
    assert (again.valid == track.valid).all()
    assert np.array_equal(again.landmarks, track.landmarks, equal_nan=True)
    assert np.allclose(again.times, track.times, atol=1e-6)


def test_progress_is_reported_and_can_cancel(tmp_path, cap):
    path = cap.write_video(tmp_path / "face.mp4", n=20)
    seen = []
    formats.read(path, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(8, 20), (16, 20)]
    with pytest.raises(video.ReadCancelled, match="face.mp4.*cancelled at frame 8"):
        formats.read(path, progress=lambda done, total: False)
    out = tmp_path / "never.json"
    with pytest.raises(video.ReadCancelled):
        formats.read(path, progress=lambda done, total: False, save_json=out)
    assert not out.exists()   # nothing half-written


def test_audio_first_is_found_and_the_face_still_read(tmp_path, cap):
    from emotive.pipeline.audio import has_sound

    path = cap.add_audio_track(cap.write_video(tmp_path / "talk.mp4", n=6))
    assert has_sound(path)
    track = formats.read(path)
    assert track.n_frames == 6 and track.valid.all()
    assert not has_sound(cap.write_video(tmp_path / "silent.mp4", n=3))


def test_options_are_checked(tmp_path, cap):
    path = cap.write_video(tmp_path / "face.mp4", n=6)
    assert formats.read(path, fps=25).fps == 25.0
    with pytest.raises(FormatError, match="fps"):
        formats.read(path, fps=0)
    with pytest.raises(FormatError, match="max_frames"):
        formats.read(path, max_frames=4)


def test_hevc_at_a_fractional_rate_is_read_frame_for_frame(tmp_path, cap):
    """iPhones record HEVC (H.265) at 29.97 fps: written here by PyAV's libx265."""
    import fractions

    av = pytest.importorskip("av")
    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx265", rate=fractions.Fraction(30000, 1001),
                                options={"x265-params": "log-level=error"})
        stream.width, stream.height, stream.pix_fmt = 320, 360, "yuv420p"
        for i in range(20):
            frame = av.VideoFrame.from_ndarray(cap.drawn_face(jaw=i / 19)[:, :, ::-1].copy(), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with av.open(str(path)) as check:
        assert check.streams.video[0].codec_context.name == "hevc"
    track = formats.read(path)
    assert track.n_frames == 20 and track.valid.all()
    assert track.fps == pytest.approx(30000 / 1001, rel=1e-4)
    assert np.diff(track.times) == pytest.approx(1001 / 30000, rel=1e-3)


def test_a_face_found_afresh_is_settled_like_a_tracked_one(tmp_path, cap):
    """On the detector's box FaceMesh's points differ from the tracked ones of the same still face
    (here ~3 px on the first frame); the reader tracks such a frame again until the region settles,
    so a take's first (rest) frame, and the first after a loss, match the frames after them."""
    face, black = cap.drawn_face(), np.zeros((360, 320, 3), np.uint8)
    track = formats.read(cap.write_video(tmp_path / "still.mp4", frames=[face] * 6 + [black] * 2 + [face] * 6))
    px = track.landmarks[..., :2] * np.array([320, 360])
    for first, settled in ((0, 5), (8, 13)):
        assert np.abs(px[first] - px[settled]).max() < 1.0
