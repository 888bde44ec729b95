import numpy as np
import pytest

from emotive.ml.labels import EKMAN, GOEMOTIONS
from emotive.pipeline.performance import Performance, envelope_performance
from emotive.pipeline.timeline import EmotionTimeline, Segment
from emotive.rigs.arkit import ARKIT_INDEX, ARKIT_NAMES
from emotive.rigs.facs import expression_weights

SMILE, BROW_DOWN = ARKIT_INDEX["mouthSmileLeft"], ARKIT_INDEX["browDownLeft"]
BLINK_L, BLINK_R = ARKIT_INDEX["eyeBlinkLeft"], ARKIT_INDEX["eyeBlinkRight"]
IDLE = [ARKIT_INDEX[n] for n in ("browInnerUp", "mouthPressLeft", "eyeLookOutLeft", "eyeLookInLeft",
                                 "eyeLookUpLeft", "eyeLookDownLeft")]


def probs(label, p=0.9):
    v = np.full(28, (1 - p) / 27, dtype=np.float32)
    v[GOEMOTIONS.index(label)] = p
    return v


def timeline(spec, lead_out=0.5):
    """spec: list of (label, start, end)."""
    segs = [Segment(text=label, start=s, end=e, probs=probs(label), ekman=np.zeros(len(EKMAN)),
                    emotion=label, labels=[(label, 0.9)]) for label, s, e in spec]
    return EmotionTimeline(segments=segs, duration=spec[-1][2] + lead_out)


JOY_ANGER = timeline([("joy", 0.5, 3.0), ("anger", 3.3, 6.0), ("joy", 6.3, 8.0)])


def frame(perf, t):
    return int(round(t * perf.fps))


def test_shape_range_and_neutral_ends():
    perf = envelope_performance(JOY_ANGER, fps=30)
    assert isinstance(perf, Performance) and perf.names == ARKIT_NAMES
    assert perf.weights.shape == (len(perf.frames), 52) and perf.weights.dtype == np.float32
    assert np.array_equal(perf.frames, np.arange(len(perf.frames)))
    assert perf.frames[-1] / 30 >= JOY_ANGER.duration
    assert perf.weights.min() >= 0 and perf.weights.max() <= 1
    assert not perf.weights[0].any() and not perf.weights[-1].any()


def test_apex_reaches_the_expression_and_crossfades():
    perf = envelope_performance(JOY_ANGER, fps=30)
    w = perf.weights
    joy, anger = expression_weights(probs("joy")), expression_weights(probs("anger"))
    assert w[frame(perf, 1.75), SMILE] == pytest.approx(joy[SMILE], abs=1e-3)
    assert w[frame(perf, 4.6), BROW_DOWN] == pytest.approx(anger[BROW_DOWN], abs=1e-3)
    # Joy -> anger eases across the short pause without dropping to neutral in between.
    between = slice(frame(perf, 2.9), frame(perf, 3.5))
    assert np.all(w[between, SMILE] + w[between, BROW_DOWN] > 0.3)
    # Smooth: no jumps (blinks excluded).
    jumps = np.abs(np.diff(np.delete(w, [BLINK_L, BLINK_R], axis=1), axis=0))
    assert jumps.max() < 0.2
    # Same expression twice in a row holds instead of dipping.
    twice = envelope_performance(timeline([("joy", 0.5, 2.0), ("joy", 2.3, 4.0)]))
    assert twice.weights[frame(twice, 1.0):frame(twice, 3.5), SMILE].min() > 0.95 * joy[SMILE]


def test_long_silence_relaxes_and_short_segments_still_peak():
    perf = envelope_performance(timeline([("anger", 0.5, 2.0), ("anger", 6.0, 6.2)]))
    assert perf.weights[frame(perf, 4.0), BROW_DOWN] < 0.01
    peak = expression_weights(probs("anger"))[BROW_DOWN]
    assert perf.weights[frame(perf, 5.9):frame(perf, 6.4), BROW_DOWN].max() == pytest.approx(peak, abs=0.02)


def test_blinks_are_natural():
    tl = timeline([("joy", 0.5, 60.0)])
    perf = envelope_performance(tl, fps=30, seed=3)
    left, right = perf.weights[:, BLINK_L], perf.weights[:, BLINK_R]
    assert np.array_equal(left, right)
    closed = np.flatnonzero(left >= 0.99)
    assert 60 / 6 - 1 <= len(closed) <= 60 / 2 + 1
    gaps = np.diff(closed) / 30
    assert gaps.min() >= 1.9 and gaps.max() <= 6.1
    assert left[0] == 0 and left[-1] == 0 and closed.min() > 10 and closed.max() < len(left) - 10
    for c in closed:  # each blink is ~100-150 ms: at most 5 frames at 30 fps
        assert np.count_nonzero(left[c - 5:c + 6] > 0.05) <= 5


def test_idle_motion_is_subtle_alive_and_fades_out():
    tl = timeline([("neutral", 0.5, 20.0)])
    w = envelope_performance(tl, seed=1).weights
    middle = w[30:-30]
    assert middle[:, IDLE].max() <= 0.05
    assert middle[:, IDLE].max() > 0.005
    assert np.all(middle[:, IDLE].std(axis=0) > 0)  # never frozen
    assert np.abs(np.diff(middle[:, IDLE], axis=0)).max() < 0.01  # slow
    assert not w[0].any() and not w[-1].any()


def test_intensity_zero_leaves_only_blinks_and_idle():
    w = envelope_performance(JOY_ANGER, intensity=0.0).weights
    assert w[:, [SMILE, BROW_DOWN]].max() == 0
    stronger = envelope_performance(JOY_ANGER, intensity=2.0).weights
    assert stronger[:, SMILE].max() >= envelope_performance(JOY_ANGER).weights[:, SMILE].max()


def test_seeded_determinism():
    a = envelope_performance(JOY_ANGER, seed=7)
    b = envelope_performance(JOY_ANGER, seed=7)
    c = envelope_performance(JOY_ANGER, seed=8)
    assert np.array_equal(a.weights, b.weights)
    assert not np.array_equal(a.weights, c.weights)


def test_fps_and_timings_at_zero():
    perf = envelope_performance(JOY_ANGER, fps=24)
    assert perf.fps == 24 and perf.frames[-1] / 24 >= JOY_ANGER.duration
    starts_at_zero = envelope_performance(timeline([("joy", 0.0, 1.0)]))
    assert not starts_at_zero.weights[0].any() and starts_at_zero.weights[:, SMILE].max() > 0.5
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="fps"):
            envelope_performance(JOY_ANGER, fps=bad)


def test_a_segment_labelled_neutral_keeps_the_face_at_rest():
    # The same probabilities (joy 0.8): labelled joy the face smiles, labelled neutral (the
    # timeline's call) it stays at rest, as in the landmark engine.
    p = probs("joy", 0.8)

    def smile(emotion):
        seg = Segment(text="x", start=0.5, end=2.5, probs=p, ekman=np.zeros(len(EKMAN)), emotion=emotion,
                      labels=[("joy", 0.8)])
        return envelope_performance(EmotionTimeline(segments=[seg], duration=3.0), fps=30).weights[:, SMILE].max()

    assert smile("joy") > 0.3 and smile("neutral") == 0.0
