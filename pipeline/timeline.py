"""Text -> timed, classified segments (the EmotionTimeline).

split_text() cuts text into sentences (and clauses inside long sentences), time_segments() lays
them out at a reading rate (or on explicit timings), and iter_build_timeline() classifies them in
batches while yielding progress, so a modal operator can run it one step per timer tick.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from ..ml.labels import EKMAN, GOEMOTIONS
from ..rigs.facs import ekman_lead, strength

# Timing (seconds at the 160 wpm reference rate; pauses and minimum length scale with the rate).
REFERENCE_WPM = 160.0
LEAD_IN = 0.5            # neutral face before the first segment
LEAD_OUT = 0.5           # and after the last
SENTENCE_PAUSE = 0.35    # breath after . ! ?
CLAUSE_PAUSE = 0.15      # shorter beat after ; : — ,
MIN_WORDS = 1.5          # "Oh!" still lasts long enough to show an expression

# Splitting.
LONG_SENTENCE_WORDS = 16  # sentences longer than this are cut into clauses
MIN_CLAUSE_WORDS = 4      # clauses shorter than this are merged with a neighbour
MAX_SEGMENT_WORDS = 40    # hard cap, so unpunctuated text still changes expression
MIN_KNOWN_FRACTION = 0.5  # below this share of known words a segment is animated neutral

_NEUTRAL = GOEMOTIONS.index("neutral")
# Abbreviations whose period never ends a sentence (compared lower-case, without the final dot).
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt vs e.g i.e cf fig capt gen lt col sgt rev hon gov sen rep "
    "approx dept viz ca al".split()
)
_CLOSERS = "\"'”’»)]"
_BOUNDARY = re.compile(r"([.!?…]+)([" + re.escape(_CLOSERS) + r"]*)\s+")
_CJK_END = re.compile(r"(?<=[。！？])(?=[^。！？" + re.escape(_CLOSERS) + r"])")
_CLAUSE = re.compile(r"(?<=[;:—])\s+|(?<=\s[–-])\s+|(?<=--)\s+")
_COMMA = re.compile(r"(?<=,)\s+")
_WORD = re.compile(r"\w+(?:['’]\w+)*")
_SENTENCE_END = re.compile(r"[.!?…。！？]\W*$")


def _words(s: str) -> int:
    return len(_WORD.findall(s))


def _sentences(para: str) -> list[str]:
    """Cut one paragraph (whitespace already collapsed) into sentences."""
    out, start = [], 0
    for m in _BOUNDARY.finditer(para):
        if m.end() == len(para) or para[m.end()].islower():
            continue  # 'Wait... what?' / '"Stop!" he said.' continue the sentence
        if m.group(1) == ".":
            token = para[para.rfind(" ", 0, m.start()) + 1:m.start()].lstrip(_CLOSERS + "(").lower()
            if token in _ABBREVIATIONS or re.fullmatch(r"[a-z]", token) \
                    or re.fullmatch(r"(?:[a-z]\.)+[a-z]", token):
                continue  # Mr. / J. R. R. Tolkien / U.S. / e.g.
        out.append(para[start:m.start(2) + len(m.group(2))])
        start = m.end()
    out.append(para[start:])
    return [p for s in out for p in _CJK_END.split(s)]


def _merge_short(pieces: list[str], min_words: int) -> list[str]:
    """Join pieces so that each has at least min_words words (the tail joins the last one)."""
    out, cur = [], ""
    for p in pieces:
        cur = f"{cur} {p}" if cur else p
        if _words(cur) >= min_words:
            out.append(cur)
            cur = ""
    if cur:
        if out:
            out[-1] = f"{out[-1]} {cur}"
        else:
            out.append(cur)
    return out


def _clauses(sentence: str) -> list[str]:
    if _words(sentence) <= LONG_SENTENCE_WORDS:
        return [sentence]
    # Dashes used as punctuation become 'word— next' so they split like ; and :.
    s = re.sub(r"\s*—\s*", "— ", sentence).strip()
    out = []
    for part in _merge_short(_CLAUSE.split(s), MIN_CLAUSE_WORDS):
        if _words(part) > LONG_SENTENCE_WORDS:
            out += _merge_short(_COMMA.split(part), MIN_CLAUSE_WORDS)
        else:
            out.append(part)
    # Unpunctuated runs are cut evenly at word boundaries.
    capped = []
    for part in out:
        tokens = part.split()
        n = math.ceil(_words(part) / MAX_SEGMENT_WORDS)
        if n <= 1:
            capped.append(part)
        else:
            step = math.ceil(len(tokens) / n)
            capped += [" ".join(tokens[i:i + step]) for i in range(0, len(tokens), step)]
    return capped


def split_text(text: str) -> list[str]:
    """Sentences, and clauses inside long sentences; never an empty segment.

    Blank lines always separate segments; a single newline is ordinary whitespace (wrapped
    text). Pieces without any letter or digit (a trailing emoji, a stray quote) join the
    previous segment. Raises ValueError when the text is empty.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("Cannot animate: the text is empty")
    segments: list[str] = []
    for para in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        para = " ".join(para.split())
        if not para:
            continue
        for sentence in _sentences(para):
            for clause in _clauses(sentence.strip()):
                clause = clause.strip()
                if not clause:
                    continue
                if not re.search(r"\w", clause) and segments:
                    segments[-1] = f"{segments[-1]} {clause}"
                elif segments and not re.search(r"\w", segments[-1]):
                    segments[-1] = f"{segments[-1]} {clause}"
                else:
                    segments.append(clause)
    return segments


def _check_wpm(wpm) -> float:
    try:
        wpm = float(wpm)
    except (TypeError, ValueError):
        raise ValueError(f"wpm must be a number, got {wpm!r}") from None
    if not math.isfinite(wpm) or wpm <= 0:
        raise ValueError(f"wpm must be a positive finite number, got {wpm}")
    return wpm


def time_segments(segments: list[str], wpm: float = 160, timings=None) -> list[tuple[float, float]]:
    """(start, end) seconds per segment.

    Without timings: reading rate `wpm`, starting after LEAD_IN, with a pause after each
    segment (longer after a sentence end than after a clause). All of it scales with 1/wpm.
    timings: either N durations (laid end to end from LEAD_IN) or N (start, end) pairs used
    as given (e.g. aligned to audio); they must match the segment count, be finite,
    non-negative, non-overlapping and increasing, else ValueError.
    """
    wpm = _check_wpm(wpm)
    n = len(segments)
    if timings is None:
        scale = REFERENCE_WPM / wpm
        rate = 60.0 / wpm
        out, t = [], LEAD_IN
        for i, seg in enumerate(segments):
            end = t + max(_words(seg), MIN_WORDS) * rate
            out.append((t, end))
            pause = SENTENCE_PAUSE if _SENTENCE_END.search(seg) else CLAUSE_PAUSE
            t = end + pause * scale
        return out

    try:
        arr = np.asarray(timings, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("timings must be a list of durations or of (start, end) pairs") from None
    if arr.ndim not in (1, 2) or (arr.ndim == 2 and arr.shape[1] != 2):
        raise ValueError("timings must be a list of durations or of (start, end) pairs")
    if len(arr) != n:
        raise ValueError(f"got {len(arr)} timings for {n} segments")
    if not np.all(np.isfinite(arr)):
        raise ValueError("timings contain NaN or inf")
    if arr.ndim == 1:
        if np.any(arr <= 0):
            raise ValueError(f"durations must be positive (segment {int(np.argmax(arr <= 0)) + 1})")
        ends = LEAD_IN + np.cumsum(arr)
        arr = np.stack([ends - arr, ends], axis=1)
    else:
        bad = np.flatnonzero((arr[:, 0] < 0) | (arr[:, 1] <= arr[:, 0]))
        if bad.size:
            raise ValueError(f"timing {bad[0] + 1} must have 0 <= start < end, got {tuple(arr[bad[0]])}")
        bad = np.flatnonzero(arr[1:, 0] < arr[:-1, 1] - 1e-9)
        if bad.size:
            raise ValueError(f"timings must increase without overlap (segment {bad[0] + 2} starts "
                             f"before segment {bad[0] + 1} ends)")
    return [(float(a), float(b)) for a, b in arr]


@dataclass
class Segment:
    text: str
    start: float
    end: float
    probs: np.ndarray                 # (28,) over GOEMOTIONS
    ekman: np.ndarray                 # (7,) over EKMAN
    emotion: str                      # the EKMAN emotion the face shows (shown_emotions)
    labels: list[tuple[str, float]]   # top-3 GoEmotions (label, prob)
    warning: str | None = None


@dataclass
class EmotionTimeline:
    segments: list[Segment]
    duration: float                   # seconds, including lead-in and lead-out
    warnings: list[str] = field(default_factory=list)


def _preview(s: str, n: int = 40) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def iter_build_timeline(text: str, classifier, wpm: float = 160, timings=None, batch_size: int = 256):
    """Validate, split and time now; return a generator that classifies batch by batch.

    The generator yields progress fractions in [0, 1] (ending with 1.0) and returns the
    EmotionTimeline as its StopIteration value. Bad input raises ValueError at call time,
    before any classification work.
    """
    wpm = _check_wpm(wpm)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    texts = split_text(text)
    times = time_segments(texts, wpm, timings)
    return _classify(texts, times, classifier, batch_size)


def _classify(texts, times, classifier, batch_size):
    n = len(texts)
    probs = np.zeros((n, len(GOEMOTIONS)), dtype=np.float32)
    ekman = np.zeros((n, len(EKMAN)), dtype=np.float32)
    notes: list[str | None] = [None] * n
    yield 0.0
    for a in range(0, n, batch_size):
        batch = texts[a:a + batch_size]
        known = np.array([float(classifier.known_fraction(t)) for t in batch])
        ok = known >= MIN_KNOWN_FRACTION  # NaN counts as unknown
        p = np.zeros((len(batch), len(GOEMOTIONS)), dtype=np.float32)
        p[~ok, _NEUTRAL] = 1.0
        if ok.any():
            pred = np.asarray(classifier.predict([t for t, k in zip(batch, ok) if k]), dtype=np.float32)
            if pred.shape != (int(ok.sum()), len(GOEMOTIONS)) or not np.all(np.isfinite(pred)):
                raise RuntimeError(f"classifier returned {pred.shape} probabilities with "
                                   f"non-finite values or wrong shape")
            p[ok] = pred
        e = np.asarray(classifier.ekman(p), dtype=np.float32)
        if e.shape != (len(batch), len(EKMAN)):
            raise RuntimeError(f"classifier.ekman returned shape {e.shape}")
        probs[a:a + len(batch)] = p
        ekman[a:a + len(batch)] = e
        for j in np.flatnonzero(~ok):
            notes[a + j] = (f'segment {a + j + 1} "{_preview(batch[j])}" is not recognisable English '
                            f"({0 if math.isnan(known[j]) else known[j]:.0%} known words); kept neutral")
        yield min(1.0, (a + len(batch)) / n)

    top3 = np.argsort(-probs, axis=1, kind="stable")[:, :3]
    shown = shown_emotions(probs, ekman)
    segments = [
        Segment(text=texts[i], start=times[i][0], end=times[i][1], probs=probs[i], ekman=ekman[i],
                emotion=shown[i],
                labels=[(GOEMOTIONS[k], float(probs[i, k])) for k in top3[i]], warning=notes[i])
        for i in range(n)
    ]
    return EmotionTimeline(segments=segments, duration=times[-1][1] + LEAD_OUT,
                           warnings=[w for w in notes if w])


def shown_emotions(probs: np.ndarray, ekman: np.ndarray) -> list[str]:
    """Per segment, the Ekman emotion its face shows: neutral where the classifier's likeliest
    group is neutral (or no emotional label is above chance), else the group leading the face
    (rigs.facs.ekman_lead). That is the likeliest emotional group, except for a near tie, where
    a group spread thin over many labels (joy has twelve) may yield to one on a single label."""
    lead = ekman_lead(probs)
    return ["neutral" if EKMAN[int(np.argmax(e))] == "neutral" or not w.any() else EKMAN[int(np.argmax(w))]
            for e, w in zip(ekman, lead)]


def face_strengths(segments) -> np.ndarray:
    """(n,) how strongly each segment's face shows its emotion at intensity 1 (rigs.facs.strength),
    0 where the segment is labelled neutral: every motion engine keeps those faces at rest."""
    if not segments:
        return np.zeros(0)
    power = strength(np.stack([seg.probs for seg in segments]))
    return np.where([seg.emotion == "neutral" for seg in segments], 0.0, power)


def build_timeline(text: str, classifier, wpm: float = 160, timings=None, batch_size: int = 256) -> EmotionTimeline:
    """Run iter_build_timeline to completion and return the EmotionTimeline."""
    gen = iter_build_timeline(text, classifier, wpm, timings, batch_size)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value
