"""rigs/capture_cleaning.py: head motion out (3-D Kabsch, 2-D fit + lift), scale, gating, gaps,
One-Euro smoothing and the time base, on synthetic tracks with known answers and on the samples."""

import numpy as np
import pytest

from emotive.errors import EmotiveError
from emotive.rigs import capture_cleaning as cc
from emotive.rigs import formats
from emotive.rigs.formats.track import CaptureTrack
from emotive.rigs.head_mesh import default_head_rig

NEUTRAL = np.asarray(default_head_rig()[0], dtype=np.float64)   # (70, 3) metres, Blender axes


def expression(n_frames):
    """Per-frame offsets on the default head: the jaw opens (lower lip, chin down up to 8 mm) and the
    brows rise (4 mm); the stable points do not move."""
    off = np.zeros((n_frames, 70, 3))
    amount = np.linspace(0.0, 1.0, n_frames)[:, None]
    off[:, [7, 8, 9, 55, 56, 57, 58, 59, 65, 66, 67], 2] = -0.008 * amount
    off[:, 17:27, 2] = 0.004 * amount
    return off


def to_camera(points_blender):
    """Inverse of cc.camera_to_blender: Blender (x, y, z) -> camera (x, -z, y)."""
    p = np.asarray(points_blender)
    return np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1)


def posed_track(yaw, pitch, roll, dims=3, scale=800.0, shift=(320.0, 0.0, 240.0), coords="pixels", **kw):
    """The default head with the expression, rotated by the given angles (degrees, per frame),
    scaled and moved, as a camera would see it (orthographically for dims 2)."""
    n = len(yaw)
    ypr = np.radians(np.stack([yaw, pitch, roll], 1))
    faces = NEUTRAL + expression(n)
    posed = np.einsum("fij,fnj->fni", cc.euler_to_matrix(ypr), faces) * scale + np.asarray(shift)
    cam = to_camera(posed)
    if dims == 2:
        cam[..., 2] = 0.0
    fields = dict(format="synthetic", path="synthetic", fps=30.0, times=np.arange(n) / 30.0,
                  valid=np.ones(n, bool), landmarks=cam.astype(np.float64), landmark_set="openpose70", dims=dims,
                  coords=coords, confidence=np.ones((n, 70)), frame_numbers=np.arange(n))
    fields.update(kw)
    return CaptureTrack(**fields).check(), ypr, faces


def test_euler_round_trip():
    ypr = np.radians([[30, -20, 10], [-60, 45, -5], [0, 0, 0]])
    m = cc.euler_to_matrix(ypr)
    np.testing.assert_allclose(m @ np.swapaxes(m, 1, 2), np.broadcast_to(np.eye(3), m.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(m), 1.0)
    np.testing.assert_allclose(cc.matrix_to_euler(m), ypr, atol=1e-12)
    # The stated convention: positive yaw turns the face (-Y) toward its own left (+X).
    assert (cc.euler_to_matrix(np.radians([20, 0, 0])) @ [0, -1, 0])[0] > 0


def test_3d_head_rotation_recovered_and_expression_kept():
    yaw = np.linspace(-30, 25, 12)
    pitch = np.linspace(15, -20, 12)
    roll = np.linspace(-8, 8, 12)
    track, ypr, faces = posed_track(yaw, pitch, roll, dims=3)
    clean = cc.clean(track, smoothing=0)
    err = np.degrees(np.abs(clean.head_rotation - ypr))
    assert err.max() < 0.5, err.max()
    np.testing.assert_allclose(clean.points, faces, atol=1e-6)   # in the default head's space
    offsets = clean.offsets(neutral=0)
    np.testing.assert_allclose(offsets[-1, 57], [0, 0, -0.008], atol=1e-6)
    np.testing.assert_allclose(offsets[-1, 19], [0, 0, 0.004], atol=1e-6)


def test_2d_head_rotation_recovered_and_lifted_with_the_default_depth():
    yaw = np.array([0, 10, 20, -15, -25, 5, 0, 12])
    pitch = np.array([0, 5, -10, 12, -5, 15, -15, 0])
    track, ypr, faces = posed_track(yaw, pitch, np.zeros(8), dims=2)
    clean = cc.clean(track, smoothing=0)
    err = np.degrees(np.abs(clean.head_rotation - ypr))
    assert err.max() < 0.5, err.max()
    # The stable points land exactly on the default head; the mouth's 8 mm drop comes back within
    # 1.5 mm (its depth is the default head's, so a turned head's drop is not all in the image).
    np.testing.assert_allclose(clean.points[:, cc.STABLE], faces[:, cc.STABLE], atol=1e-6)
    drop = clean.points[:, 57, 2] - NEUTRAL[57, 2]
    np.testing.assert_allclose(drop, faces[:, 57, 2] - NEUTRAL[57, 2], atol=1.5e-3)
    assert np.all(np.isfinite(clean.points))


def test_scale_normalised_to_the_default_head():
    track, _, faces = posed_track(np.zeros(3), np.zeros(3), np.zeros(3), scale=37.0)
    clean = cc.clean(track, smoothing=0)
    iod = np.linalg.norm(clean.points[:, 36] - clean.points[:, 45], axis=1)
    np.testing.assert_allclose(iod, np.linalg.norm(NEUTRAL[36] - NEUTRAL[45]), rtol=1e-9)


def test_normalised_coordinates_use_the_image_size():
    """The same posed head in normalised coordinates of a 1280 x 720 image: the fit needs the aspect."""
    track, ypr, _ = posed_track(np.array([0, 20, -20]), np.array([10, 0, -10]), np.zeros(3))
    norm = track.landmarks / [1280, 720, 1280]
    track = CaptureTrack(**{**track.__dict__, "landmarks": norm, "coords": "normalised", "image_size": (1280, 720),
                            "warnings": []})
    clean = cc.clean(track, smoothing=0)
    assert np.degrees(np.abs(clean.head_rotation - ypr)).max() < 0.5
    square = cc.clean(CaptureTrack(**{**track.__dict__, "image_size": None, "warnings": []}), smoothing=0)
    assert any("square" in w for w in square.warnings)


def test_low_confidence_points_are_gated_and_filled():
    n = 9
    track, _, faces = posed_track(np.full(n, 10.0), np.zeros(n), np.zeros(n))
    track.landmarks[4, 57] += 500.0           # a wild point...
    track.confidence[4, 57] = 0.05            # ...that the tracker doubted
    clean = cc.clean(track, smoothing=0)
    np.testing.assert_allclose(clean.points[4, 57], (faces[3, 57] + faces[5, 57]) / 2, atol=1e-6)


def test_gaps_filled_linearly_and_long_ones_reported_with_frame_numbers():
    n = 40
    track, _, faces = posed_track(np.zeros(n), np.zeros(n), np.zeros(n))
    valid = np.ones(n, bool)
    valid[[5]] = False
    valid[15:30] = False                      # half a second at 30 fps
    track.valid[:] = valid
    track.landmarks[~valid] = np.nan
    track.frame_numbers = np.arange(100, 100 + n)
    clean = cc.clean(track, smoothing=0, max_gap=0.25)
    assert clean.filled.tolist() == (~valid).tolist()
    np.testing.assert_allclose(clean.points[20], faces[14] + (faces[30] - faces[14]) * 6 / 16, atol=1e-6)
    gap_warnings = [w for w in clean.warnings if "longer than 0.25 s" in w]
    assert len(gap_warnings) == 1 and "115-129" in gap_warnings[0] and "105" not in gap_warnings[0]


def test_fill_gaps_holds_the_ends():
    v = np.array([np.nan, 1.0, np.nan, 3.0, np.nan])
    np.testing.assert_allclose(cc.fill_gaps(v), [1, 1, 2, 3, 3])


def test_nothing_usable_is_an_error():
    track, _, _ = posed_track(np.zeros(3), np.zeros(3), np.zeros(3))
    track.confidence[:] = 0.1
    with pytest.raises(EmotiveError, match="no frame shows enough of the face"):
        cc.clean(track)


def test_one_euro_smooths_a_noisy_constant_and_follows_a_step():
    """Units of `scale` = a tenth of the eye span: jitter of 0.1 (about a pixel on a face 100 pixels
    wide) at least halved, a step of 1 (a 9 mm mouth opening) within 90 % after at most 4 frames."""
    rng = np.random.default_rng(1)
    fps, scale = 30.0, 0.0087
    noisy = 0.03 + 0.1 * scale * rng.standard_normal((300, 4))
    out = cc.smooth(noisy, fps, strength=0.5, scale=scale)
    assert out[30:].std() < noisy[30:].std() / 2
    step = np.concatenate([np.zeros(30), np.ones(30)])[:, None] * scale
    followed = cc.smooth(step, fps, strength=0.5, scale=scale)[:, 0]
    reached = np.flatnonzero(followed[30:] > 0.9 * scale)[0]
    assert reached <= 4, reached
    assert np.abs(followed[-1] - scale) < 0.01 * scale
    assert cc.smooth(step, fps, strength=0)[:, 0].tolist() == step[:, 0].tolist()   # 0 = off
    jitter = [cc.smooth(noisy, fps, s, scale)[30:].std() for s in (0.2, 0.5, 0.9)]
    assert jitter[0] > jitter[1] > jitter[2]   # the strength option does what it says


def test_time_base_resampled_when_the_file_is_not_uniform():
    n = 10
    track, _, _ = posed_track(np.zeros(n), np.zeros(n), np.zeros(n))
    track.times = np.array([0, 0.033, 0.07, 0.1, 0.2, 0.233, 0.267, 0.3, 0.333, 0.4])  # a dropped frame or two
    clean = cc.clean(track, smoothing=0)
    assert clean.fps == 30 and clean.n_frames == 13 and clean.times[-1] == pytest.approx(0.4)
    assert any("resampled" in w for w in clean.warnings)
    clean = cc.clean(track, fps=24, smoothing=0)
    assert clean.fps == 24 and clean.times[1] == pytest.approx(1 / 24)


def test_arkit_track_gaps_and_clip(tmp_path, cap):
    path = cap.write_livelink(tmp_path / "take.csv", n=30, step=2, lost=(10, 11))
    clean = cc.clean(formats.read(path), smoothing=0.3)
    assert clean.points is None and clean.arkit.shape == (30, 52) and clean.fps == 30
    assert np.isfinite(clean.arkit).all() and clean.arkit.min() >= 0 and clean.arkit.max() <= 1
    assert clean.filled[10] and clean.filled[11] and not clean.filled[12]
    with pytest.raises(EmotiveError):
        clean.offsets()


def test_real_openpose_sample_cleans(openpose_sample):
    clean = cc.clean(formats.read(openpose_sample, fps=25))
    assert clean.points.shape == (300, 70, 3) and np.isfinite(clean.points).all()
    rel = np.degrees(clean.relative_head_rotation())
    assert np.abs(rel).max() < 30   # a talking head turns a little
    off = clean.offsets()
    assert np.percentile(np.abs(off), 95) < 0.01   # expression offsets of millimetres, not centimetres


def test_real_livelink_sample_cleans(livelink_sample):
    clean = cc.clean(formats.read(livelink_sample))
    assert clean.arkit.shape == (328, 52) and clean.fps == 60 and clean.head_rotation is None
    assert clean.eye_rotation.shape == (328, 2, 3)


def test_arkit_track_keeps_the_files_head_angles(tmp_path, cap):
    head = np.tile([0.1, -0.2, 0.05], (20, 1))
    clean = cc.clean(formats.read(cap.write_livelink(tmp_path / "take.csv", head=head)), smoothing=0.5)
    np.testing.assert_allclose(clean.head_rotation, head, atol=1e-6)   # a constant survives smoothing
    assert clean.head_matrix is None   # the app's convention is not this module's


def test_landmark_sets_to_the_canonical_70():
    from emotive.rigs.landmarks import MEDIAPIPE_TO_CANONICAL, MEDIAPIPE_TO_IBUG68

    rng = np.random.default_rng(0)
    mp = rng.random((2, 478, 3))
    out, _ = cc.to_canonical70(mp, "mediapipe478")
    np.testing.assert_array_equal(out, mp[:, MEDIAPIPE_TO_CANONICAL])
    out, conf = cc.to_canonical70(mp[:, :468], "mediapipe468", np.ones((2, 468)))
    np.testing.assert_array_equal(out[:, :68], mp[:, MEDIAPIPE_TO_IBUG68])
    np.testing.assert_allclose(out[:, 68], mp[:, MEDIAPIPE_TO_IBUG68[36:42]].mean(axis=1))   # right pupil
    assert conf.shape == (2, 70)
    ibug = rng.random((1, 68, 3))
    out, _ = cc.to_canonical70(ibug, "ibug68")
    np.testing.assert_allclose(out[0, 69], ibug[0, 42:48].mean(axis=0))
