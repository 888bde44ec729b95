"""The Take every input produces and every target consumes, and the source registry (bpy-free)."""

import numpy as np
import pytest

from emotive.errors import EmotiveError
from emotive.pipeline import SOURCES, make_take
from emotive.pipeline.report import build_report
from emotive.pipeline.take import Take, TakeSegment, drain
from emotive.rigs.arkit import ARKIT_INDEX

JOY = "I am so happy to see you again, this is wonderful!"


def test_text_is_a_registered_source_whose_steps_end_in_a_take():
    steps = SOURCES["text"](JOY, fps=24, keep_landmarks=True)
    seen = []
    take = drain(steps, lambda fraction, message: seen.append((fraction, message)))
    assert isinstance(take, Take) and take.source == "text" and take.fps == 24
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert take.arkit.shape == (take.n_frames, 52) and take.landmarks.shape == (take.n_frames, 70, 3)
    (segment,) = take.segments
    assert isinstance(segment, TakeSegment) and segment.emotion == "joy" and segment.text == JOY
    assert 0 < segment.start < segment.end < take.duration and 0.3 < segment.confidence <= 1
    assert segment.labels[0][0] in ("joy", "excitement", "admiration") and len(segment.labels) == 3
    assert "mouthSmileLeft" in take.active_channels


def test_text_segments_say_how_strongly_the_face_shows_their_emotion():
    # The report's row carries the face's strength at intensity 1, and the confidence is the
    # share of the emotion shown: a faint, neutral-leaning line says so.
    take = make_take("text", JOY + " We will meet at noon to discuss the report.", fps=24)
    plain, flat = take.segments
    assert plain.emotion == "joy" and plain.details["strength"] > 0.9
    assert flat.details["strength"] < 0.15
    rows = build_report(take, ["mouthSmileLeft"])["segments"]
    assert [row["strength"] for row in rows] == [plain.details["strength"], flat.details["strength"]]


def test_a_source_checks_its_input_before_its_first_step():
    with pytest.raises(EmotiveError, match="text is empty"):
        next(SOURCES["text"]("   "))
    with pytest.raises(EmotiveError, match="makes ARKit weights only"):
        next(SOURCES["text"](JOY, motion="envelope", keep_landmarks=True))


def test_shapes_are_checked_and_one_form_of_motion_is_needed():
    with pytest.raises(ValueError, match="ARKit weights, landmark motion or both"):
        Take(fps=30, n_frames=3)
    with pytest.raises(ValueError, match="take.arkit"):
        Take(fps=30, n_frames=3, arkit=np.zeros((4, 52), np.float32))
    with pytest.raises(ValueError, match="take.landmarks"):
        Take(fps=30, n_frames=3, landmarks=np.zeros((3, 68, 3), np.float32))


def test_an_arkit_only_take_has_no_landmark_motion_to_give():
    take = make_take("text", JOY, motion="envelope")
    assert take.landmarks is None and take.arkit.max() > 0.3
    with pytest.raises(EmotiveError, match="kept no landmark motion"):
        take.landmark_motion()


def test_landmark_motion_adds_the_same_blinks_whatever_the_chunking():
    take = make_take("text", JOY + " Why did you lie to me?", seed=3, keep_landmarks=True)
    whole = take.landmark_motion()
    assert np.array_equal(np.concatenate([m for _, m in take.iter_landmark_motion(chunk=50)]), whole)
    blinks = take.arkit[:, ARKIT_INDEX["eyeBlinkLeft"]]
    assert blinks.max() > 0.9  # the ARKit weights blink...
    lids = np.abs(whole - take.landmark_motion(life=False)).max(axis=(1, 2))
    assert np.corrcoef(lids, blinks)[0, 1] > 0.9  # ...and the landmark form on the same frames
