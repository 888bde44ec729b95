import inspect
import time

import numpy as np
import pytest

from emotive.ml.labels import EKMAN, EKMAN_GROUPS, GOEMOTIONS, ekman_matrix
from emotive.pipeline.timeline import (LEAD_IN, LEAD_OUT, EmotionTimeline, build_timeline,
                                       iter_build_timeline, split_text, time_segments)


class FakeClassifier:
    """Keyword classifier: 'happy' -> joy, 'angry' -> anger, else neutral; 'zzz' is unknown."""

    def __init__(self):
        self.seen = []

    def predict(self, texts):
        self.seen += list(texts)
        out = np.full((len(texts), 28), 0.1 / 27, dtype=np.float32)
        for i, t in enumerate(texts):
            label = "joy" if "happy" in t else "anger" if "angry" in t else "neutral"
            out[i, GOEMOTIONS.index(label)] = 0.9
        return out

    def ekman(self, probs):
        return np.asarray(probs) @ ekman_matrix()

    def known_fraction(self, text):
        words = text.split()
        return sum("zzz" not in w and any(c.isalpha() for c in w) for w in words) / max(len(words), 1)


@pytest.mark.parametrize("text, expected", [
    ("Mr. Smith met Dr. Jones. It was great!", ["Mr. Smith met Dr. Jones.", "It was great!"]),
    ("It costs 3.5 dollars. Cheap!", ["It costs 3.5 dollars.", "Cheap!"]),
    ("Use tools, e.g. hammers. Then rest.", ["Use tools, e.g. hammers.", "Then rest."]),
    ("Wait... what? Fine.", ["Wait... what?", "Fine."]),
    ("I see… Then go.", ["I see…", "Then go."]),
    ('"Stop!" he said. "Why?" she asked.', ['"Stop!" he said.', '"Why?" she asked.']),
    ("J. R. R. Tolkien wrote it. Yes.", ["J. R. R. Tolkien wrote it.", "Yes."]),
    ("Hello 😀 world. 🎉🎉", ["Hello 😀 world. 🎉🎉"]),
    ("First line\n\n\n\nSecond line\n\n", ["First line", "Second line"]),
    ("wrapped\ntext goes on.", ["wrapped text goes on."]),
    ("  Hi.   ", ["Hi."]),
    ("🎉", ["🎉"]),
])
def test_split_text_edge_cases(text, expected):
    assert split_text(text) == expected


def test_long_sentences_split_into_clauses():
    s = ("When the long afternoon finally ended and the guests had gone home; we sat down "
         "together, tired and happy — because tomorrow, as everyone knew, the house would be "
         "empty again and nothing would ever be quite the same for any of us.")
    parts = split_text(s)
    assert len(parts) >= 3
    assert " ".join(parts).split() == s.replace(" — ", "— ").split()
    assert all(len(p.split()) >= 4 for p in parts)
    short = "Well, yes; I think so."
    assert split_text(short) == [short]
    run_on = " ".join(["word"] * 200)
    assert all(len(p.split()) <= 40 for p in split_text(run_on))


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t"])
def test_empty_text_is_rejected(text):
    with pytest.raises(ValueError, match="empty"):
        split_text(text)
    with pytest.raises(ValueError, match="empty"):
        build_timeline(text, FakeClassifier())


def test_timing_by_reading_rate():
    segs = ["One two three four.", "five six seven,", "eight nine ten eleven twelve."]
    t = time_segments(segs)
    assert t[0][0] == LEAD_IN
    flat = np.ravel(t)
    assert np.all(np.diff(flat) >= 0) and all(e > s for s, e in t)
    assert t[0][1] - t[0][0] == pytest.approx(4 * 60 / 160)
    pause_after_sentence, pause_after_clause = t[1][0] - t[0][1], t[2][0] - t[1][1]
    assert pause_after_sentence > pause_after_clause > 0
    slow = time_segments(segs, wpm=80)
    assert slow[-1][1] - LEAD_IN == pytest.approx(2 * (t[-1][1] - LEAD_IN))


@pytest.mark.parametrize("wpm", [0, -5, float("nan"), float("inf"), "fast"])
def test_bad_wpm_rejected(wpm):
    with pytest.raises(ValueError, match="wpm"):
        time_segments(["a b."], wpm=wpm)
    with pytest.raises(ValueError, match="wpm"):
        build_timeline("Hello there.", FakeClassifier(), wpm=wpm)


def test_explicit_timings_honoured():
    segs = ["a.", "b.", "c."]
    assert time_segments(segs, timings=[(0.0, 1.0), (1.0, 2.5), (3.0, 4.0)]) == \
        [(0.0, 1.0), (1.0, 2.5), (3.0, 4.0)]
    durations = time_segments(segs, timings=[1.0, 2.0, 0.5])
    assert durations == [(LEAD_IN, LEAD_IN + 1), (LEAD_IN + 1, LEAD_IN + 3), (LEAD_IN + 3, LEAD_IN + 3.5)]
    tl = build_timeline("Happy. Angry. Calm.", FakeClassifier(), timings=[(0.2, 1.0), (1.0, 2.0), (5.0, 6.0)])
    assert [(s.start, s.end) for s in tl.segments] == [(0.2, 1.0), (1.0, 2.0), (5.0, 6.0)]
    assert tl.duration == pytest.approx(6.0 + LEAD_OUT)


@pytest.mark.parametrize("timings", [
    [1.0, 2.0],                                   # count mismatch
    [(0, 1), (1, 2)],                             # count mismatch
    [1.0, -2.0, 1.0],                             # negative duration
    [1.0, 0.0, 1.0],                              # empty duration
    [(0, 1), (0.5, 2), (2, 3)],                   # overlap
    [(0, 1), (2, 1.5), (3, 4)],                   # end before start
    [(-1, 1), (1, 2), (2, 3)],                    # negative start
    [(0, 1), (1, float("nan")), (2, 3)],          # NaN
    [(0, 1, 2), (1, 2, 3), (2, 3, 4)],            # not pairs
])
def test_bad_timings_rejected(timings):
    with pytest.raises(ValueError):
        time_segments(["a.", "b.", "c."], timings=timings)


def test_iter_build_timeline_reports_progress_and_returns_timeline():
    text = " ".join(f"I am happy {i}." for i in range(10))
    gen = iter_build_timeline(text, FakeClassifier(), batch_size=3)
    assert inspect.isgenerator(gen)
    progress = []
    while True:
        try:
            progress.append(next(gen))
        except StopIteration as stop:
            tl = stop.value
            break
    assert isinstance(tl, EmotionTimeline)
    assert len(progress) >= 5 and progress[-1] == 1.0
    assert all(0 <= p <= 1 for p in progress) and progress == sorted(progress)
    assert len(tl.segments) == 10 and tl.duration > tl.segments[-1].end


def test_cancelling_stops_classification():
    clf = FakeClassifier()
    gen = iter_build_timeline(" ".join(f"Happy {i}." for i in range(100)), clf, batch_size=10)
    next(gen), next(gen)
    gen.close()
    assert len(clf.seen) == 10


def test_segments_carry_emotions():
    tl = build_timeline("I am so happy today! He was angry at them. The bus is blue.", FakeClassifier())
    assert [s.emotion for s in tl.segments] == ["joy", "anger", "neutral"]
    seg = tl.segments[0]
    assert seg.probs.shape == (28,) and seg.ekman.shape == (len(EKMAN),)
    assert seg.labels[0][0] == "joy" and len(seg.labels) == 3
    assert seg.labels[0][1] >= seg.labels[1][1] >= seg.labels[2][1]
    assert not tl.warnings and seg.warning is None


def test_unrecognised_segments_stay_neutral_with_warning():
    clf = FakeClassifier()
    tl = build_timeline("I am happy. Qzzzq zzzr zzzs. 🎉🎉\n\nOk then.", clf)
    texts = [s.text for s in tl.segments]
    odd = tl.segments[1]
    assert odd.text == "Qzzzq zzzr zzzs. 🎉🎉" and odd.emotion == "neutral"
    assert odd.probs[GOEMOTIONS.index("neutral")] == 1.0 and odd.probs.sum() == 1.0
    assert odd.warning and "Qzzzq" in odd.warning and tl.warnings == [odd.warning]
    assert odd.text not in clf.seen and texts[0] in clf.seen
    only_emoji = build_timeline("🎉🎉", clf)
    assert only_emoji.segments[0].emotion == "neutral" and len(only_emoji.warnings) == 1


def test_fifty_thousand_words_is_fast():
    sentence = "I was so happy to see them again, and then the train left at nine. "
    text = sentence * (50_000 // len(sentence.split()))
    t0 = time.perf_counter()
    tl = build_timeline(text, FakeClassifier())
    assert time.perf_counter() - t0 < 10
    assert len(tl.segments) >= 3000
    assert tl.duration > 50_000 / 160 * 60
    starts = np.array([s.start for s in tl.segments])
    assert np.all(np.diff(starts) > 0)


def test_a_segments_emotion_is_the_one_its_face_shows():
    # Joy 0.38 spread thin over twelve labels against disgust 0.35 on one: none of joy's
    # labels is above chance (1/28), so the face shows disgust, and so does the label.
    from emotive.pipeline.timeline import shown_emotions

    p = np.zeros(len(GOEMOTIONS))
    for label in ("joy", "amusement", "approval", "excitement", "gratitude", "love", "optimism",
                  "relief", "pride", "admiration", "desire", "caring"):
        p[GOEMOTIONS.index(label)] = 0.38 / 12
    p[GOEMOTIONS.index("disgust")] = 0.35
    p[GOEMOTIONS.index("neutral")] = 0.27
    ekman = p @ ekman_matrix()
    assert EKMAN[int(np.argmax(ekman))] == "joy"
    neutral = np.eye(len(GOEMOTIONS))[GOEMOTIONS.index("neutral")]
    assert shown_emotions(np.stack([p, neutral]), np.stack([ekman, neutral @ ekman_matrix()])) == ["disgust", "neutral"]


class TieClassifier(FakeClassifier):
    """Every line: joy 0.38 spread thin over its twelve labels, disgust 0.35, neutral 0.27."""

    def predict(self, texts):
        p = np.zeros(len(GOEMOTIONS), np.float32)
        p[[GOEMOTIONS.index(g) for g in EKMAN_GROUPS["joy"]]] = 0.38 / 12
        p[GOEMOTIONS.index("disgust")], p[GOEMOTIONS.index("neutral")] = 0.35, 0.27
        return np.tile(p, (len(texts), 1))


def test_the_timeline_and_the_take_name_the_emotion_the_face_shows():
    from emotive.pipeline.text import take_segments

    timeline = build_timeline("That soup was something else.", TieClassifier())
    (seg,) = timeline.segments
    assert EKMAN[int(np.argmax(seg.ekman))] == "joy" and seg.emotion == "disgust"
    (row,) = take_segments(timeline)
    assert row.emotion == "disgust" and row.confidence == pytest.approx(0.35)
    assert row.details["strength"] > 0
