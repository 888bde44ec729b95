"""The capture source (pipeline/capture.py): a capture file -> a Take every target can key."""

import numpy as np
import pytest

from emotive.errors import EmotiveError, FormatError
from emotive.pipeline import SOURCES, make_take
from emotive.rigs.arkit import ARKIT_INDEX
from emotive.rigs.landmarks import region_indices
from shared_fixtures import shared, smile_and_jaw, write_livelink


def test_capture_is_a_source():
    assert "capture" in SOURCES


def test_arkit_capture_keeps_its_weights_and_gets_landmarks(tmp_path):
    w = smile_and_jaw()
    take = make_take("capture", write_livelink(tmp_path / "take.csv", w), smoothing=0.0)
    assert take.n_frames == 60 and take.fps == pytest.approx(60, abs=0.1)
    assert np.allclose(take.arkit, w, atol=1e-5)
    # the landmark form: the mouth corners move with the smile, nothing moves at rest
    assert take.landmarks.shape == (60, 70, 3)
    assert np.abs(take.landmarks[0]).max() < 1e-6 and np.abs(take.landmarks[30, 48]).max() > 1e-3
    # a capture blinks by itself: no synthetic blinks are added to its landmark motion
    assert np.array_equal(take.landmark_motion(life=True), take.landmarks)


def test_region_gain_damps_part_of_the_face(tmp_path):
    path = write_livelink(tmp_path / "take.csv", smile_and_jaw())
    full = make_take("capture", path, smoothing=0.0)
    still_mouth = make_take("capture", path, smoothing=0.0, region_gains={"lower": 0.0})
    lower = region_indices("lower")
    assert np.abs(still_mouth.landmarks[:, lower]).max() == 0.0
    assert still_mouth.arkit[:, ARKIT_INDEX["mouthSmileLeft"]].max() == 0.0 < full.arkit[:, ARKIT_INDEX["mouthSmileLeft"]].max()
    assert still_mouth.arkit[:, ARKIT_INDEX["jawOpen"]].max() == 0.0
    assert still_mouth.arkit[:, ARKIT_INDEX["browInnerUp"]].max() > 0.5


def test_real_live_link_sample():
    take = make_take("capture", shared("capture/livelink_jmtechart/MySlate_3_Jason_Millers_iPhone.csv"))
    assert take.n_frames == 328 and take.arkit.max() <= 1.0 and take.head_pose is None
    assert {"jawOpen", "eyeBlinkLeft", "mouthSmileLeft"} <= set(take.active_channels)


def test_real_openpose_sample_solves_arkit_weights():
    take = make_take("capture", shared("capture/openpose_moface/json"))
    assert take.n_frames == 300 and take.arkit.shape == (300, 52)
    assert 0.0 <= take.arkit.min() and take.arkit.max() <= 1.0
    jaw = take.arkit[:, ARKIT_INDEX["jawOpen"]]
    assert jaw.max() - jaw.min() > 0.2          # a talking head: the jaw moves
    assert take.head_pose.shape == (300, 3) and np.abs(take.head_pose).max() < np.radians(45)


@pytest.mark.parametrize("options, match", [
    ({"smoothing": 2.0}, "smoothing"), ({"min_confidence": float("nan")}, "min_confidence"),
    ({"fps": 0}, "fps"), ({"region_gains": {"chin": 1.0}}, "region"),
    ({"region_gains": {"lower": -1}}, "lower"), ({"neutral_frame": 999}, "neutral frame"),
])
def test_bad_options_are_refused(tmp_path, options, match):
    path = write_livelink(tmp_path / "take.csv", smile_and_jaw(10))
    with pytest.raises(EmotiveError, match=match):
        make_take("capture", path, **options)


def test_missing_and_unreadable_files_name_the_file(tmp_path):
    with pytest.raises(EmotiveError, match="nowhere.csv"):
        make_take("capture", tmp_path / "nowhere.csv")
    junk = tmp_path / "junk.csv"
    junk.write_text("this,is\nnot,a capture\n")
    with pytest.raises(FormatError, match="junk.csv"):
        make_take("capture", junk)


def test_each_window_is_classified_a_smile_as_joy(tmp_path):
    from emotive.ml.labels import EKMAN

    take = make_take("capture", write_livelink(tmp_path / "smile.csv", smile_and_jaw(120)), smoothing=0.0)
    assert len(take.segments) == 1
    seg = take.segments[0]
    assert seg.emotion == "joy" and 0.5 < seg.confidence <= 1.0
    assert len(seg.labels) == 3 and seg.labels[0] == ("joy", seg.confidence)
    assert all(name in EKMAN for name, _ in seg.labels) and sum(p for _, p in seg.labels) <= 1 + 1e-6


def test_a_still_face_is_neutral_and_windows_cover_the_take(tmp_path):
    w = np.zeros((300, 52))
    w[:, ARKIT_INDEX["browDownLeft"]] = w[:, ARKIT_INDEX["browDownRight"]] = 0.3   # a resting frown
    w[100:110, ARKIT_INDEX["eyeBlinkLeft"]] = w[100:110, ARKIT_INDEX["eyeBlinkRight"]] = 1.0
    take = make_take("capture", write_livelink(tmp_path / "still.csv", w), smoothing=0.0)
    assert [s.emotion for s in take.segments] == ["neutral"] * 2
    assert take.segments[0].start == 0.0 and take.segments[-1].end == pytest.approx(take.duration)


def test_a_missing_model_leaves_windows_unclassified_with_a_warning(tmp_path, monkeypatch):
    from emotive.ml import capture_expression

    monkeypatch.setattr(capture_expression, "DEFAULT_WEIGHTS", tmp_path / "gone.safetensors")
    take = make_take("capture", write_livelink(tmp_path / "take.csv", smile_and_jaw()), smoothing=0.0)
    assert take.segments[0].emotion == "unclassified"
    assert any("expressions not classified" in w for w in take.warnings)


def test_real_live_link_sample_is_classified():
    from emotive.ml.labels import EKMAN

    take = make_take("capture", shared("capture/livelink_jmtechart/MySlate_3_Jason_Millers_iPhone.csv"))
    assert len(take.segments) == 3
    assert all(s.emotion in EKMAN and len(s.labels) == 3 for s in take.segments)
    # the performer rests, then grimaces (brow lowered, nose wrinkled, upper lip raised)
    assert take.segments[1].emotion != "neutral"


# --- expression migration (pipeline/migration.py) ------------------------------------------------

ANGRY_LINE = "I am furious, this makes me so angry, I hate it!"


def talking(n=240) -> np.ndarray:
    """A neutral talking face: the jaw and lips move, nothing else."""
    w = np.zeros((n, 52))
    t = np.arange(n) / 60
    w[:, ARKIT_INDEX["jawOpen"]] = 0.15 * (1 + np.sin(2 * np.pi * 3 * t))
    w[:, ARKIT_INDEX["mouthFunnel"]] = 0.1 * (1 + np.sin(2 * np.pi * 1.3 * t))
    return w


def mouth_correlation(a, b) -> float:
    a, b = a[:, 48:68], b[:, 48:68]
    return float(np.corrcoef((a - a.mean(0)).ravel(), (b - b.mean(0)).ravel())[0, 1])


def test_migration_turns_a_neutral_talker_angry_and_keeps_the_mouth(tmp_path):
    path = write_livelink(tmp_path / "talk.csv", talking())
    plain = make_take("capture", path, smoothing=0.0)
    angry = make_take("capture", path, smoothing=0.0, emotion_text=ANGRY_LINE)
    assert {s.emotion for s in plain.segments} == {"neutral"}
    assert {s.emotion for s in angry.segments} == {"anger"}
    assert angry.arkit[:, ARKIT_INDEX["browDownLeft"]].max() > 0.5 > plain.arkit[:, ARKIT_INDEX["browDownLeft"]].max()
    assert mouth_correlation(plain.landmarks, angry.landmarks) >= 0.9
    assert any("migrated from neutral" in w for w in angry.warnings)


def test_migration_leaves_a_capture_that_already_agrees(tmp_path):
    path = write_livelink(tmp_path / "smile.csv", smile_and_jaw(240))
    plain = make_take("capture", path, smoothing=0.0)
    assert {s.emotion for s in plain.segments} <= {"joy", "neutral"}
    happy = make_take("capture", path, smoothing=0.0,
                      emotion_text="I am so happy today, this is wonderful news and I love it!")
    joyful = [s for s in plain.segments if s.emotion == "joy"]
    frames = slice(round(joyful[0].start * plain.fps) + 10, round(joyful[0].end * plain.fps) - 10)
    assert np.abs(happy.landmarks[frames] - plain.landmarks[frames]).max() < 1e-4


@pytest.mark.parametrize("options, match", [
    ({"emotion_text": "  "}, "text is empty"), ({"emotion_text": ANGRY_LINE, "alpha_mouth": 3}, "alpha_mouth"),
    ({"emotion_text": ANGRY_LINE, "alpha_face": float("nan")}, "alpha_face"),
])
def test_bad_migration_options_are_refused_before_reading(tmp_path, options, match):
    with pytest.raises(EmotiveError, match=match):
        make_take("capture", write_livelink(tmp_path / "t.csv", talking(20)), **options)


# --- captures as training data (pipeline/capture_dataset.py) --------------------------------------

def test_a_capture_saves_training_sequences_the_trainer_loads(tmp_path):
    from emotive.ml.expression_data import load_sequences
    from emotive.ml.labels import EKMAN

    path = write_livelink(tmp_path / "smile.csv", smile_and_jaw(240))
    take = make_take("capture", path, fps=30, smoothing=0.0, save_dataset=str(tmp_path / "smile.npz"))
    data = load_sequences(str(tmp_path / "smile.npz"))          # the trainer's own check
    assert len(data) == len(take.segments) and data.fps == 30
    assert [EKMAN[e] for e in data.emotion] == [s.emotion for s in take.segments]
    assert data.landmarks.shape[1:] == (max(data.lengths), 70, 3)
    assert any("saved" in w and "training data" in w for w in take.warnings)
    labelled = make_take("capture", path, fps=30, smoothing=0.0, save_dataset=str(tmp_path / "joy.npz"),
                         dataset_label="joy")
    assert set(load_sequences(str(tmp_path / "joy.npz")).emotion) == {EKMAN.index("joy")}
    assert labelled.n_frames == take.n_frames


@pytest.mark.parametrize("options, match", [
    ({"save_dataset": "x.csv"}, "must end in .npz"), ({"save_dataset": "x.npz", "dataset_label": "glee"}, "glee"),
])
def test_bad_dataset_options_are_refused_before_reading(tmp_path, options, match):
    with pytest.raises(EmotiveError, match=match):
        make_take("capture", write_livelink(tmp_path / "t.csv", talking(20)), **options)


def test_a_dataset_needs_the_trainers_rate(tmp_path):
    with pytest.raises(EmotiveError, match="--fps 30"):
        make_take("capture", write_livelink(tmp_path / "t.csv", talking(120)), smoothing=0.0,
                  save_dataset=str(tmp_path / "t.npz"))


def _facemesh_json(path, jaw):
    """A MediaPipe JSON of the default head's 478 FaceMesh points (its binding) opening its jaw by
    `jaw` (F,), in normalised coordinates of a 512 x 512 image."""
    import json

    from emotive.rigs.formats.track import CaptureTrack
    from emotive.rigs.formats.video import write_json
    from emotive.rigs.head_mesh import BINDING_PATH, load_default_head
    from emotive.rigs.landmark_binding import Binding

    head = load_default_head()
    with open(BINDING_PATH, encoding="utf-8") as f:
        binding = Binding.from_dict(json.load(f)["mediapipe478"])
    rest, opening = binding.evaluate(head.vertices), binding.evaluate(head.shape_keys["jawOpen"])
    pts = rest + np.asarray(jaw)[:, None, None] * opening                  # Blender axes, metres
    cam = np.stack([0.5 + pts[..., 0] / 0.4, 0.5 - (pts[..., 2] - 0.17) / 0.4, pts[..., 1] / 0.4], -1)
    n = len(jaw)
    track = CaptureTrack(format="video", path=str(path), fps=30.0, times=np.arange(n) / 30.0,
                         valid=np.ones(n, bool), landmarks=cam.astype(np.float32), landmark_set="mediapipe478",
                         coords="normalised", image_size=(512, 512))
    return write_json(track, path)


def test_a_facemesh_capture_is_solved_against_the_keys_as_facemesh_sees_them(tmp_path, monkeypatch):
    """FaceMesh's points are not skin points (its inner lips follow the opening): a MediaPipe
    capture is solved against the default head's keys as FaceMesh saw them (rigs/head_mesh.py:
    tracked_signatures), a capture of other landmarks against the surface signatures."""
    from emotive.pipeline import capture
    from emotive.rigs.head_mesh import tracked_signatures

    seen = []
    solver = capture._solver
    monkeypatch.setattr(capture, "_solver", lambda tracked=None: seen.append(tracked) or solver(tracked))
    jaw = np.r_[np.zeros(10), np.linspace(0.0, 0.8, 20)]
    take = make_take("capture", _facemesh_json(tmp_path / "face.json", jaw), smoothing=0.0, neutral_frame=0)
    assert seen[0] is tracked_signatures("mediapipe478")
    assert np.abs(take.arkit[:10]).max() < 0.02
    opened = take.arkit[:, ARKIT_INDEX["jawOpen"]]
    assert 0.0 < opened[15] < opened[-1]      # skin points opening the jaw still read as jawOpen rising
    make_take("capture", shared("capture/openpose_moface/json"))
    assert seen[-1] is None


def test_a_facemesh_capture_takes_the_learned_correction_unless_asked_not_to(tmp_path, monkeypatch):
    """ml/capture_solver.py corrects a MediaPipe capture's linear solve and head pose; rest stays
    rest; learned_solve=False keeps the linear solve; a broken model file keeps it with a warning."""
    from emotive.ml import capture_solver

    jaw = np.r_[np.zeros(10), np.linspace(0.0, 0.8, 20)]
    path = _facemesh_json(tmp_path / "face.json", jaw)
    learned = make_take("capture", path, smoothing=0.0, neutral_frame=0)
    linear = make_take("capture", path, smoothing=0.0, neutral_frame=0, learned_solve=False)
    assert np.abs(learned.arkit[:10]).max() < 0.02 and np.abs(learned.head_pose[:10]).max() < 1e-3
    assert not np.allclose(learned.arkit, linear.arkit)
    assert learned.arkit[-1, ARKIT_INDEX["jawOpen"]] > 0.3
    # a damped mouth damps the jaw's key but not the head's correction, which reads the capture as it was
    damped = make_take("capture", path, smoothing=0.0, neutral_frame=0, region_gains={"lower": 0.2})
    assert damped.arkit[:, ARKIT_INDEX["jawOpen"]] == pytest.approx(0.2 * learned.arkit[:, ARKIT_INDEX["jawOpen"]])
    assert np.allclose(damped.head_pose, learned.head_pose, atol=1e-6)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a model")
    incomplete = tmp_path / "incomplete.safetensors"   # the right format tag, a tensor missing
    capture_solver.save(incomplete, {"mean": np.zeros(capture_solver.N_FEATURES)}, {})
    for broken in (garbage, incomplete):
        monkeypatch.setattr(capture_solver, "DEFAULT_WEIGHTS", broken)
        capture_solver.shipped.cache_clear()
        try:
            take = make_take("capture", path, smoothing=0.0, neutral_frame=0)
        finally:
            capture_solver.shipped.cache_clear()
        assert np.allclose(take.arkit, linear.arkit)
        assert any("learned capture solve is not used" in w and broken.name in w for w in take.warnings)


def test_a_correction_that_reads_neighbouring_frames_is_the_same_solved_in_parts(tmp_path, monkeypatch):
    """A model with a window of frames (ml/capture_solver.py) sees each part of a long take with its
    neighbours' frames: parts of 7 frames give the whole take's answer."""
    from emotive.ml import capture_solver
    from emotive.pipeline import capture

    rng = np.random.default_rng(5)
    window = (-3, 3)
    n_in = capture_solver.N_FEATURES * (1 + len(window))
    tensors = {"window": np.array(window, np.float32), "mean": np.zeros(n_in), "std": np.full(n_in, 10.0),
               "w0": rng.normal(scale=0.3, size=(n_in, 8)), "b0": np.zeros(8),
               "w1": rng.normal(scale=0.3, size=(8, 52)), "b1": np.zeros(52)}
    model = capture_solver.CaptureSolverModel(tensors)
    assert model.margin == 3
    monkeypatch.setattr(capture_solver, "shipped", lambda landmark_set: model)
    jaw = np.r_[np.zeros(5), 0.4 * (1 - np.cos(np.linspace(0, 4 * np.pi, 25)))]
    path = _facemesh_json(tmp_path / "face.json", jaw)
    whole = make_take("capture", path, smoothing=0.0, neutral_frame=0)
    monkeypatch.setattr(capture, "SOLVE_CHUNK", 7)
    parts = make_take("capture", path, smoothing=0.0, neutral_frame=0)
    linear = make_take("capture", path, smoothing=0.0, neutral_frame=0, learned_solve=False)
    assert not np.allclose(whole.arkit, linear.arkit, atol=1e-3)
    np.testing.assert_allclose(parts.arkit, whole.arkit, atol=1e-5)
