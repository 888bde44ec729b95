"""The speech source: a recording of dialogue -> lip-synced, emotionally coloured Take (bpy-free).

  audio (pipeline/audio.py: any file -> 16 kHz mono)
  -> words and phones: recognised (Whisper tiny.en) or a given transcript force-aligned
     (pocketsphinx), ml/asr.py
  -> utterances: words grouped at pauses; each gets
       the voice's emotion (ml/speech_emotion.py, RAVDESS's eight classes),
       the words' emotion (the text model, GANemotion's route: transcript -> text emotion),
       and their fusion (fuse(): the words speak only as far as they carry an emotion)
  -> an emotion timeline driving the expression LSTM (landmark_performance.py), as text does
  -> lip sync from the phones (lipsync.py), jaw following the voice's loudness
  -> expression attention (GANemotion's Algorithm 1): the emotion joins the articulation with
     α1 on the mouth's keys and landmarks and α2 on the rest; blinks and idle motion stay.

iter_take yields (fraction, message) and returns the Take; everything the user can get wrong is
checked before any model loads, and nothing here touches a scene.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EmotiveError
from ..ml.labels import EKMAN, GOEMOTIONS
from ..rigs.arkit import ARKIT_NAMES
from ..rigs.facs import MASS_RAMP
from . import audio as audio_io
from .attention import ALPHA_FACE, ALPHA_MOUTH, attention, check_alphas, key_attention
from .models import load_classifier, load_voice_model
from .take import Take, TakeSegment, life_weights, within
from .timeline import EmotionTimeline, Segment

NAME = "speech"
PAUSE_S = 0.35            # a silence this long between words ends an utterance
PAUSE_GATE_S = 0.15       # a silence this long in the recording is taken out of the words around it
MAX_UTTERANCE_S = 8.0     # longer stretches are cut at their widest pause: emotion may change
MIN_UTTERANCE_S = 0.6     # the voice model hears at least this much (padded with the context)
TEXT_WEIGHT = 0.8         # the words' say when fully emotional (bench_fusion: 0.6 -> 0.70, 0.8 -> 0.77 on flat-voiced lines)
# The fused emotional mass at which a recording's face starts to show and shows fully (the
# ramp the voice model and the fusion were tuned against); see ekman_as_goemotions.
VOICE_MASS = (0.35, 0.65)
MAX_TRANSCRIPT_CHARS = 200_000
_SENTENCE_END = re.compile(r"[.!?…]$")


@dataclass
class Utterance:
    start: float
    end: float
    words: list                     # ml.asr.Word


def check_options(path, transcript, fps, intensity, alpha_mouth, alpha_face):
    """The audio path, checked with every option before anything loads. transcript: None
    (recognise), the words said, or a timed script [(start s, end s, words), ...] (each line
    aligned to its own stretch, as voiced text and subtitles give them)."""
    if isinstance(transcript, (list, tuple)):
        check_script(transcript)
    elif transcript is not None:
        if not isinstance(transcript, str):
            raise EmotiveError(f"the transcript must be text, not {type(transcript).__name__}")
        if not transcript.strip():
            raise EmotiveError("the transcript is empty: leave it out to recognise the words")
        if len(transcript) > MAX_TRANSCRIPT_CHARS:
            raise EmotiveError(f"the transcript has {len(transcript):,} characters; at most "
                               f"{MAX_TRANSCRIPT_CHARS:,} are aligned at once")
    for name, value, low, high in (("fps", fps, 1, 240), ("intensity", intensity, 0, 10)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or not low <= value <= high:
            raise EmotiveError(f"{name} must be a number between {low} and {high}, got {value!r}")
    check_alphas(alpha_mouth, alpha_face)
    return audio_io.check_audio_file(path)


def check_script(script) -> None:
    if not script:
        raise EmotiveError("the timed script is empty")
    last = 0.0
    for i, line in enumerate(script):
        try:
            start, end, text = line
            start, end = float(start), float(end)
        except (TypeError, ValueError):
            raise EmotiveError(f"script line {i + 1}: expected (start, end, text), got {line!r}") from None
        if not (math.isfinite(start) and math.isfinite(end)) or not last - 1e-6 <= start < end:
            raise EmotiveError(f"script line {i + 1}: times {start}-{end} s are not increasing")
        if not isinstance(text, str) or not text.strip():
            raise EmotiveError(f"script line {i + 1} holds no words")
        last = end


def group_utterances(words) -> list[Utterance]:
    """Words -> utterances, cut at pauses of PAUSE_S or more and at sentence ends; stretches
    longer than MAX_UTTERANCE_S are cut again at their widest pause."""
    groups, current = [], []
    for w in words:
        if current and (w.start - current[-1].end >= PAUSE_S
                        or (_SENTENCE_END.search(current[-1].text.strip())
                            and current[-1].end - current[0].start >= 1.0)):
            groups.append(current)
            current = []
        current.append(w)
    if current:
        groups.append(current)
    out = []
    while groups:
        g = groups.pop(0)
        if g[-1].end - g[0].start > MAX_UTTERANCE_S and len(g) > 1:
            gaps = [b.start - a.end for a, b in zip(g, g[1:])]
            # the widest pause in the middle half (an even split when the speaker never pauses)
            lo, hi = len(g) // 4, max(len(g) // 4 + 1, 3 * len(g) // 4)
            cut = lo + int(np.argmax(gaps[lo:hi])) + 1
            groups[:0] = [g[:cut], g[cut:]]
            continue
        out.append(Utterance(start=float(g[0].start), end=float(g[-1].end), words=g))
    return out


def fit_to_pauses(items: list, pauses, make_silence=None) -> list:
    """Timed words or phones with the recording's pauses taken out of them: an aligner stretches
    the word before a breath over it (the mouth would hold its vowel through the pause). An item
    that starts before a pause ends where it begins; one that starts inside it begins where it
    ends; one wholly inside is kept (the aligner heard something). make_silence(start, end), when
    given, adds an item for each pause (a silence phone)."""
    out = []
    for item in items:
        start, end = float(item.start), float(item.end)
        for a, b in pauses:
            if start < a < end:
                end = a
            elif a <= start < b < end:
                start = b
        out.append(item if (start, end) == (item.start, item.end) else type(item)(item.text if hasattr(item, "text")
                                                                                  else item.label, start, end))
    if make_silence is not None:
        out += [make_silence(a, b) for a, b in pauses]
        out.sort(key=lambda x: x.start)
    return out


def utterance_text(u: Utterance) -> str:
    return " ".join(w.text.strip() for w in u.words).strip()


def fuse(voice_ekman: np.ndarray, text_ekman: np.ndarray, known: float = 1.0) -> np.ndarray:
    """(7,) Ekman probabilities from the voice's and the words' (both over EKMAN).

    The rule: the words weigh TEXT_WEIGHT x their emotional mass (1 - P(neutral)) x the share of
    words the text model knows; the voice weighs the rest. So a neutral sentence said angrily
    stays angry (RAVDESS's sentences are neutral: fusion cannot damage the voice's result there),
    while "I hate you" said flatly turns angry."""
    v = np.asarray(voice_ekman, np.float64)
    t = np.asarray(text_ekman, np.float64)
    w = TEXT_WEIGHT * (1.0 - t[EKMAN.index("neutral")]) * float(np.clip(known, 0.0, 1.0))
    fused = (1.0 - w) * v / max(v.sum(), 1e-9) + w * t / max(t.sum(), 1e-9)
    return (fused / fused.sum()).astype(np.float32)


def ekman_as_goemotions(ekman: np.ndarray) -> np.ndarray:
    """(28,) GoEmotions probabilities with each Ekman group's mass on its namesake label, so
    the text path's performance reads a fused emotion as it reads a classified line.

    The emotional mass (1 - P(neutral)) is mapped from VOICE_MASS onto rigs.facs.MASS_RAMP, which
    is fitted to the text model: a plainly emotional recording keeps 20-30 % neutral in its fused
    distribution, where a plainly emotional line keeps under 10 %."""
    e = np.asarray(ekman, np.float64)
    neutral = EKMAN.index("neutral")
    mass = 1.0 - e[neutral]
    # piecewise linear: 0 and 1 stay put, so the result is still a probability distribution
    face_mass = float(np.interp(mass, (0.0, *VOICE_MASS, 1.0), (0.0, *MASS_RAMP, 1.0)))
    out = np.zeros(len(GOEMOTIONS), np.float32)
    for j, name in enumerate(EKMAN):
        out[GOEMOTIONS.index(name)] = (1.0 - face_mass if j == neutral
                                       else e[j] * face_mass / mass if mass > 0 else 0.0)
    return out


def iter_recognise(audio: audio_io.Audio, transcript: str | None):
    """Yield fractions; return the ml.asr Alignment of the whole recording (words, phones)."""
    from ..ml import asr

    try:
        if isinstance(transcript, (list, tuple)):       # a timed script: each line on its own stretch
            words, phones, oov = [], [], []
            rate = audio_io.RATE
            for i, (start, end, text) in enumerate(transcript):
                lo, hi = int(start * rate), min(len(audio.samples), int(math.ceil(end * rate)))
                part = asr.align(audio.samples[lo:hi], text, verify=False)
                words += [type(w)(w.text, w.start + lo / rate, w.end + lo / rate) for w in part.words]
                phones += [type(p)(p.label, p.start + lo / rate, p.end + lo / rate) for p in part.phones]
                oov += part.oov
                yield (i + 1) / len(transcript)
            return asr.Alignment(words=words, phones=phones, transcript=" ".join(t for _, _, t in transcript),
                                 source="given", oov=oov)
        if transcript is not None or len(audio.samples) <= asr.MAX_CHUNK_S * audio_io.RATE:
            yield 0.0
            return asr.transcribe(audio.samples, transcript)
        # long recordings: pieces cut at silences, so progress shows and memory stays bounded
        pieces = asr.chunks(audio.samples)
        words, phones, warnings = [], [], []
        for i, (lo, hi) in enumerate(pieces):
            part = asr.transcribe(audio.samples[lo:hi])
            offset = lo / audio_io.RATE
            words += [type(w)(w.text, w.start + offset, w.end + offset) for w in part.words]
            phones += [type(p)(p.label, p.start + offset, p.end + offset) for p in part.phones]
            warnings += part.warnings
            yield (i + 1) / len(pieces)
        return asr.Alignment(words=words, phones=phones, transcript=" ".join(w.text.strip() for w in words),
                             source="recognised", warnings=warnings)
    except ValueError as exc:
        raise EmotiveError(f"'{audio.path}': {exc}") from exc


@dataclass
class Heard:
    """What the speech path hears in a recording: the aligned words and phones (fitted to its
    pauses), and per utterance the (timeline Segment, TakeSegment) of its fused emotion."""
    alignment: object
    words: list
    phones: list
    segments: list
    warnings: list[str]

    def timeline(self, duration: float) -> EmotionTimeline:
        return EmotionTimeline(segments=[s for s, _ in self.segments], duration=duration)


def iter_hear(audio: audio_io.Audio, transcript: str | None, voice_model_path=None, text_model_path=None):
    """Yield (fraction, message); return Heard. Recognition (or alignment of a transcript), the
    recording's pauses, utterances, and the voice's emotion fused with the words'."""
    warnings = list(audio.warnings)
    silent = audio_io.is_silent(audio)
    if silent:
        from ..ml.asr import Alignment

        alignment = Alignment(words=[], phones=[], transcript="", source="recognised")
    else:
        message = "aligning the transcript" if transcript is not None else "recognising the words"
        alignment = yield from within(iter_recognise(audio, transcript), 0.0, 0.75, message)
    warnings += alignment.warnings
    # the recording's own pauses: utterances end there and the mouth rests there
    quiet = audio_io.pauses(audio.samples, PAUSE_GATE_S)
    words = fit_to_pauses(alignment.words, quiet)
    phones = fit_to_pauses(alignment.phones, quiet, lambda a, b: type(alignment.phones[0])("SIL", a, b)) \
        if alignment.phones else []
    utterances = group_utterances(words)
    if not utterances and not silent:
        warnings.append(f"no speech was recognised in '{Path(audio.path).name}' (music or noise?): "
                        "the face stays at rest")
    yield 0.75, "hearing the emotion"
    segments = _classify(audio, utterances, voice_model_path, text_model_path)
    return Heard(alignment=alignment, words=words, phones=phones, segments=segments, warnings=warnings)


def iter_take(path, *, transcript: str | None = None, fps: float = 30, intensity: float = 1.0,
              alpha_mouth: float = ALPHA_MOUTH, alpha_face: float = ALPHA_FACE, seed: int = 0,
              text_model_path: str | None = None, voice_model_path: str | None = None,
              expression_model_path: str | None = None, keep_landmarks: bool = False):
    """Yield (fraction, message) while working; return the Take (its `audio` is the file)."""
    path = check_options(path, transcript, fps, intensity, alpha_mouth, alpha_face)
    yield 0.0, "reading the audio"
    audio = yield from within(audio_io.iter_load(path), 0.0, 0.05, "reading the audio")
    heard = yield from within(iter_hear(audio, transcript, voice_model_path, text_model_path), 0.05, 0.45)
    alignment, words, phones, segments = heard.alignment, heard.words, heard.phones, heard.segments
    warnings = heard.warnings
    n_frames = math.ceil(audio.duration * fps - 1e-9) + 1
    timeline = heard.timeline(audio.duration)

    from .landmark_performance import iter_landmark_performance

    yield 0.45, "generating the performance"
    try:
        performance = yield from within(iter_landmark_performance(
            timeline, fps=fps, intensity=intensity, seed=seed, model_path=expression_model_path,
            keep_landmarks=keep_landmarks), 0.45, 0.9, "generating the performance")
    except (OSError, ValueError) as exc:
        raise EmotiveError(f"cannot generate the performance: {exc}") from exc

    yield 0.9, "lip sync"
    from .lipsync import lipsync

    energy = audio_io.frame_energy(audio.samples, fps, n_frames)
    lips = lipsync(phones, fps, n_frames, energy)
    arkit, landmarks = attend(performance, lips, n_frames, fps, seed, alpha_mouth, alpha_face, keep_landmarks)
    yield 1.0, "lip sync"
    details = {
        "transcript": alignment.transcript,
        "transcript_source": alignment.source,
        "words": [{"text": w.text.strip(), "start": round(float(w.start), 3), "end": round(float(w.end), 3)}
                  for w in words],
        "audio": {"file": audio.path, "seconds": round(audio.duration, 3), "rate": audio.source_rate,
                  "channels": audio.channels},
        "alpha_mouth": alpha_mouth, "alpha_face": alpha_face,
    }
    return Take(fps=float(fps), n_frames=n_frames, arkit=arkit, landmarks=landmarks,
                segments=[seg for _, seg in segments], audio=audio.path, warnings=warnings,
                seed=int(seed), source=NAME, details=details)


def attend(performance, lips: np.ndarray, n_frames: int, fps: float, seed: int,
           alpha_mouth: float, alpha_face: float, keep_landmarks: bool):
    """Expression attention: (arkit, landmarks) of the emotion's performance weighted α1 on the
    mouth, α2 elsewhere, over the lip sync; the performance's blinks and idle drift kept whole."""
    life = np.zeros((n_frames, len(ARKIT_NAMES)), np.float32)
    life_w, keys = life_weights(n_frames, fps, seed)
    life[:, keys] = life_w
    emotion = performance.weights[:n_frames] - life
    arkit = np.clip(emotion * key_attention(alpha_mouth, alpha_face) + lips + life, 0.0, 1.0).astype(np.float32)
    landmarks = None
    if keep_landmarks:
        from ..rigs.head_mesh import default_head_rig

        signatures = default_head_rig()[1]
        landmarks = (performance.landmarks[:n_frames] * attention(alpha_mouth, alpha_face)[None, :, None]
                     + np.einsum("fk,kld->fld", lips, signatures)).astype(np.float32)
    return arkit, landmarks


def _classify(audio, utterances, voice_model_path, text_model_path):
    """[(timeline Segment, TakeSegment)] per utterance: voice, words and their fusion."""
    if not utterances:
        return []
    from ..ml.labels import VOICE_EMOTIONS, voice_to_ekman

    rate = audio_io.RATE
    clips = []
    for u in utterances:
        pad = max(0.1, (MIN_UTTERANCE_S - (u.end - u.start)) / 2)
        clips.append(audio.samples[max(0, int((u.start - pad) * rate)):int((u.end + pad) * rate)])
    voice = np.asarray(load_voice_model(voice_model_path).predict_many(clips), np.float32)
    texts = [utterance_text(u) for u in utterances]
    classifier = load_classifier(text_model_path)
    known = np.array([float(classifier.known_fraction(t)) if t else 0.0 for t in texts])
    words = np.asarray(classifier.predict(texts), np.float32)
    words_ekman = np.asarray(classifier.ekman(words), np.float32)
    out = []
    for u, text, v, w, we, k in zip(utterances, texts, voice, words, words_ekman, known):
        fused = fuse(voice_to_ekman(v), we, k)
        emotion = EKMAN[int(np.argmax(fused))]
        probs = ekman_as_goemotions(fused)
        top = np.argsort(v)[::-1][:3]
        seg = Segment(text=text, start=u.start, end=u.end, probs=probs, ekman=fused, emotion=emotion,
                      labels=[(VOICE_EMOTIONS[i], float(v[i])) for i in top])
        # the report's row: `emotion` is the voice's class (RAVDESS's eight); the face shows the fused one
        details = {
            "start": round(u.start, 3), "end": round(u.end, 3),
            "emotion": VOICE_EMOTIONS[int(np.argmax(v))],
            "probabilities": {VOICE_EMOTIONS[i]: round(float(v[i]), 4) for i in range(len(v))},
            "transcript_emotion": EKMAN[int(np.argmax(we))],
            "transcript_probabilities": {EKMAN[i]: round(float(we[i]), 4) for i in range(len(we))},
            "fused_emotion": emotion,
            "fused_probabilities": {EKMAN[i]: round(float(fused[i]), 4) for i in range(len(fused))},
        }
        out.append((seg, TakeSegment(start=u.start, end=u.end, emotion=emotion, confidence=float(fused.max()),
                                     text=text, labels=seg.labels, details=details)))
    return out
