"""Speech to timed words and phones, for lip sync (bpy-free, no pipeline imports).

- `recognize(audio)`: faster-whisper (Whisper tiny.en, `ml.whisper_model.load()`) -> `Word`s with times.
  Its VAD is silero's, from the ONNX file faster-whisper ships in its own assets: nothing is fetched.
- `align(audio, transcript)`: pocketsphinx's bundled en-us model force-aligns a known text ->
  words and ARPAbet phones (stress digits removed, silence "SIL"). A transcript that does not fit the
  audio raises ValueError (see `align`).
- `transcribe(audio, transcript=None, progress=None)`: either of the above, for audio of any length
  up to ~10 minutes, cut into chunks at silences; always returns phones.

Audio everywhere: 1-D float 16 kHz mono in [-1, 1]. Times are seconds from the start of the audio.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .pronunciation import Lexicon, VOWELS, words as normalise

SAMPLE_RATE = 16_000
FRAME_S = 0.01                 # pocketsphinx frames
# Whisper encodes a full 30 s window whatever the length (~0.45 CPU s for tiny.en here), so chunks
# are as long as fit in one window; pocketsphinx's cost grows with length only.
MAX_CHUNK_S = 28.0
MIN_GAP_S = 0.25               # silence gap where a long recording may be cut

# Wide beams, no lattice pass (bestpath): the defaults drop the final words of half the bench
# sentences. First without filler words (noise/breath between words): that aligned all 20 espeak
# sentences but failed 2 of 40 RAVDESS clips; a failed chunk is retried with them, which aligned
# those (alone, fillers failed 1 espeak sentence). ~0.03 CPU s per audio second.
DECODER_OPTIONS = dict(beam=1e-120, wbeam=1e-100, pbeam=1e-120, maxhmmpf=-1, bestpath=False)
# A given transcript is checked against what Whisper hears, as dictionary phone strings (difflib
# ratio): right texts scored >= 0.60 (espeak voice, Whisper mishearing words), wrong ones <= 0.37.
# Acoustic scores could not do this: on RAVDESS a wrong sentence's alignment score per frame
# overlapped the right one's.
MIN_SIMILARITY = 0.5

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Phone:
    label: str               # ARPAbet as the pocketsphinx en-us model spells it, no stress; "SIL"
    start: float
    end: float


@dataclass
class Alignment:
    words: list[Word]
    phones: list[Phone]
    transcript: str          # the normalised words that were aligned, space-separated
    source: str              # "recognised" or "given"
    oov: list[str] = field(default_factory=list)        # words pronounced by a guess (pronunciation.py)
    warnings: list[str] = field(default_factory=list)


def check_audio(audio, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The audio as contiguous float32, or ValueError saying what is wrong with it."""
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"audio must be sampled at {SAMPLE_RATE} Hz, not {sample_rate} Hz "
                         "(resample first, e.g. librosa.resample(y, orig_sr=..., target_sr=16000))")
    a = np.asarray(audio)
    if a.ndim == 2 and 1 in a.shape:
        a = a.reshape(-1)
    if a.ndim != 1:
        raise ValueError(f"audio must be mono, a 1-D array; got shape {a.shape} (mix channels down first)")
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"audio must be floating point in [-1, 1], got {a.dtype} "
                         "(divide int16 samples by 32768)")
    if a.size == 0:
        raise ValueError("audio is empty")
    if not np.all(np.isfinite(a)):
        raise ValueError("audio contains NaN or infinite samples")
    return np.ascontiguousarray(a, dtype=np.float32)


# ---------------------------------------------------------------- recognition (faster-whisper)

def recognize(audio, sample_rate: int = SAMPLE_RATE, beam_size: int = 1) -> list[Word]:
    """Words of English speech with Whisper's (DTW) word times; [] for silence."""
    audio = check_audio(audio, sample_rate)
    return _recognize(audio, beam_size)


def _recognize(audio: np.ndarray, beam_size: int = 1, word_times: bool = True) -> list[Word]:
    """word_times=False skips Whisper's cross-attention word timing (~20% of its cost) and spreads
    each segment's words over it by length: enough when pocketsphinx times them afterwards."""
    from .whisper_model import load

    if np.max(np.abs(audio)) < 1e-4:            # digital silence: Whisper would invent words
        return []
    segments, _ = load().transcribe(
        audio, language="en", beam_size=beam_size, word_timestamps=word_times, vad_filter=True,
        condition_on_previous_text=False, without_timestamps=False)
    out = []
    for seg in segments:
        if seg.no_speech_prob > 0.8 and seg.avg_logprob < -1.0:     # Whisper's own silence test
            continue
        if not word_times:
            texts = [t for t in seg.text.split() if any(c.isalnum() for c in t)]
            edges = np.cumsum([0] + [len(t) + 1 for t in texts]) / max(1, sum(len(t) + 1 for t in texts))
            span = seg.end - seg.start
            out += [Word(t, round(seg.start + a * span, 3), round(seg.start + b * span, 3))
                    for t, a, b in zip(texts, edges[:-1], edges[1:])]
        for w in seg.words or []:
            text = w.word.strip()
            if any(c.isalnum() for c in text):
                out.append(Word(text, float(w.start), float(max(w.end, w.start + FRAME_S))))
    return out


# ---------------------------------------------------------------- alignment (pocketsphinx)

def _decoder(fillers: bool = False):
    return _decoders(bool(fillers))          # one cache key per kind: _decoder() is _decoder(False)


@functools.lru_cache(maxsize=2)
def _decoders(fillers: bool):
    import pocketsphinx

    # lm=None: no language model; each utterance gets its own alignment grammar.
    return pocketsphinx.Decoder(lm=None, loglevel="FATAL", fsgusefiller=fillers, **DECODER_OPTIONS)


@functools.lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    return Lexicon(_decoder().config["dict"])


def _pcm(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16).tobytes()


def _plain(name: str) -> str:
    return re.sub(r"\(\d+\)$", "", name)


def _pronounce(tokens: list[str]) -> list[str]:
    """Adds a guessed pronunciation for each token the dictionary lacks; returns those tokens."""
    oov = []
    for token in dict.fromkeys(tokens):
        if _decoder().lookup_word(token) is None:
            phones, _ = lexicon().pronounce(token)
            for fillers in (False, True):
                _decoder(fillers).add_word(token, phones, True)
            oov.append(token)
    return oov


class _AlignFailed(Exception):
    pass


def _align_chunk(audio: np.ndarray, tokens: list[str], offset: float, phones: bool = True):
    """(words, phones) of one chunk; _AlignFailed when the search cannot reach the end of the text,
    without filler words or with them."""
    try:
        return _align_with(_decoder(False), audio, tokens, offset, phones)
    except _AlignFailed:
        return _align_with(_decoder(True), audio, tokens, offset, phones)


def _align_with(decoder, audio: np.ndarray, tokens: list[str], offset: float, phones: bool):
    pcm = _pcm(audio)
    try:
        decoder.set_align_text(" ".join(tokens))
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        if phones:
            decoder.set_alignment()
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            alignment = decoder.get_alignment()
            entries = list(alignment.words()) if alignment is not None else []
        else:
            entries = list(decoder.seg() or [])       # None when no path reached the end
    except RuntimeError as exc:
        raise _AlignFailed(str(exc)) from exc
    if phones:
        spans = [(_plain(e.name), e.start, e.start + e.duration, e.score) for e in entries]
    else:
        spans = [(_plain(e.word), e.start_frame, e.end_frame + 1, e.ascore) for e in entries]
    found = [s for s in spans if s[0] not in _FILLERS and not s[0].startswith(("+", "[", "<"))]
    if [s[0] for s in found] != tokens:
        raise _AlignFailed(f"reached {len(found)} of {len(tokens)} words")
    words = [Word(t, round(offset + a * FRAME_S, 3), round(offset + b * FRAME_S, 3)) for t, a, b, _ in found]
    out_phones = []
    if phones:
        for p in alignment.phones():
            label = p.name if p.name in _PHONES else "SIL"
            out_phones.append(Phone(label, round(offset + p.start * FRAME_S, 3),
                                    round(offset + (p.start + p.duration) * FRAME_S, 3)))
    return words, out_phones


_FILLERS = {"<sil>", "<s>", "</s>", "(NULL)"}
_PHONES = VOWELS | set("B CH D DH F G HH JH K L M N NG P R S SH T TH V W Y Z ZH".split())


def _even_phones(words: list[Word], t: float = 0.0) -> list[Phone]:
    """Each word's dictionary phones laid evenly across it, from time t; SIL in the gaps."""
    out = []
    for w in words:
        if w.start > t + 1e-6:
            out.append(Phone("SIL", t, w.start))
        labels = lexicon().pronounce(w.text)[0].split()
        step = (w.end - w.start) / len(labels)
        out += [Phone(p, w.start + i * step, w.start + (i + 1) * step) for i, p in enumerate(labels)]
        t = w.end
    return out


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Word-level edit distance (substitutions + deletions + insertions), for WER."""
    row = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hypothesis, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def _matched(tokens: list[str], heard: list[str]) -> float:
    """Fraction of the transcript's words found, in order, among the recognised ones."""
    import difflib

    blocks = difflib.SequenceMatcher(a=tokens, b=heard, autojunk=False).get_matching_blocks()
    return sum(b.size for b in blocks) / max(1, len(tokens))


def _similarity(tokens: list[str], heard: list[str]) -> float:
    """How alike two word lists sound: difflib ratio of their dictionary phone strings."""
    import difflib

    def phones(ts):
        return " ".join(lexicon().pronounce(t)[0] for t in ts).split()
    return difflib.SequenceMatcher(a=phones(tokens), b=phones(heard), autojunk=False).ratio()


def _mismatch(tokens: list[str], heard: list[str]) -> str | None:
    if _similarity(tokens, heard) >= MIN_SIMILARITY:
        return None
    return (f"the transcript does not fit the audio: Whisper heard {' '.join(heard)[:80]!r}, "
            f"the transcript says {' '.join(tokens)[:80]!r}")


def align(audio, transcript: str, sample_rate: int = SAMPLE_RATE, *, phones: bool = True,
          verify: bool = True) -> Alignment:
    """Force-align a known transcript to one utterance (up to ~30 s; `transcribe` for longer).

    The text is normalised (case, punctuation, numbers spelt out, apostrophes kept inside words);
    words the dictionary lacks get a guessed pronunciation and are listed in `Alignment.oov`.
    Raises ValueError when the transcript holds no words, or does not fit the audio: the search
    cannot reach its last word, or (`verify`: one Whisper pass, ~0.45 CPU s per call up to 30 s)
    it sounds unlike what Whisper hears (phone similarity below MIN_SIMILARITY). `phones=False` skips the phone pass
    (word times only; `phones` is then empty).
    """
    audio = check_audio(audio, sample_rate)
    tokens = normalise(transcript)
    if not tokens:
        raise ValueError(f"transcript {transcript!r} holds no words to align")
    if verify:
        problem = _mismatch(tokens, normalise(" ".join(w.text for w in _recognize(audio))))
        if problem:
            raise ValueError(problem)
    oov = _pronounce(tokens)
    try:
        words, phone_list = _align_chunk(audio, tokens, 0.0, phones)
    except _AlignFailed as exc:
        raise ValueError(f"the transcript does not fit the audio ({exc}): "
                         f"{' '.join(tokens)[:80]!r}") from None
    return Alignment(words, phone_list, " ".join(tokens), "given", oov)


# ---------------------------------------------------------------- long audio

def chunks(audio: np.ndarray, max_s: float = MAX_CHUNK_S) -> list[tuple[int, int]]:
    """(start, end) samples of pieces no longer than max_s, cut in the middle of silences
    (librosa.effects.split); a stretch without any pause is cut hard at max_s."""
    import librosa

    limit = int(max_s * SAMPLE_RATE)
    if len(audio) <= limit:
        return [(0, len(audio))]
    voiced = librosa.effects.split(audio, top_db=35, frame_length=1024, hop_length=256)
    cuts = [0]
    for (_, end), (start, _) in zip(voiced[:-1], voiced[1:]):
        if start - end >= MIN_GAP_S * SAMPLE_RATE:
            cuts.append((end + start) // 2)
    cuts.append(len(audio))
    out, begin = [], 0
    for prev, cut in zip(cuts[:-1], cuts[1:]):
        if cut - begin > limit and prev > begin:
            out.append((begin, prev))
            begin = prev
        while cut - begin > limit:
            out.append((begin, begin + limit))
            begin += limit
    out.append((begin, len(audio)))
    return [(a, b) for a, b in out if b > a]


def _split_tokens(tokens: list[str], heard: list[list[str]]) -> list[list[str]]:
    """The transcript cut into one piece per chunk, where its words meet the recognised ones."""
    import difflib

    flat = [(c, w) for c, ws in enumerate(heard) for w in ws]
    owner = [None] * len(tokens)
    sm = difflib.SequenceMatcher(a=tokens, b=[w for _, w in flat], autojunk=False)
    for block in sm.get_matching_blocks():
        for k in range(block.size):
            owner[block.a + k] = flat[block.b + k][0]
    # unmatched words go with the chunk of the nearest matched word before them (or after)
    last = next((o for o in owner if o is not None), 0)
    for i, o in enumerate(owner):
        owner[i] = last = (o if o is not None else last)
    pieces: list[list[str]] = [[] for _ in heard]
    for token, c in zip(tokens, owner):
        pieces[max(c, max((k for k, p in enumerate(pieces) if p), default=0))].append(token)
    return pieces


def transcribe(audio, transcript: str | None = None, sample_rate: int = SAMPLE_RATE, *,
               progress: Progress | None = None) -> Alignment:
    """Timed words and phones of speech of any length (tested to 10 minutes).

    Without a transcript: Whisper recognises each chunk and pocketsphinx aligns what it heard, so
    there are phones for lip sync; where that alignment fails, each recognised word gets its
    dictionary phones laid evenly across it, and `warnings` says so (source "recognised").
    With one: the transcript is aligned (source "given"); ValueError as in `align` when it does not
    fit. `progress(fraction, message)` is called once per chunk.
    """
    audio = check_audio(audio, sample_rate)
    report = progress or (lambda fraction, message: None)
    spans = chunks(audio)
    heard = []
    for k, (a, b) in enumerate(spans):
        report(0.6 * k / len(spans), f"recognising speech {a / SAMPLE_RATE:.0f}-{b / SAMPLE_RATE:.0f} s")
        heard.append(_recognize(audio[a:b], word_times=False))
    heard_tokens = [[t for w in ws for t in normalise(w.text)] for ws in heard]

    if transcript is not None:
        tokens = normalise(transcript)
        if not tokens:
            raise ValueError(f"transcript {transcript!r} holds no words to align")
        problem = _mismatch(tokens, [t for ts in heard_tokens for t in ts])
        if problem:
            raise ValueError(problem)
        pieces = _split_tokens(tokens, heard_tokens) if len(spans) > 1 else [tokens]
    else:
        tokens = [t for ts in heard_tokens for t in ts]
        pieces = heard_tokens
    result = Alignment([], [], " ".join(tokens), "recognised" if transcript is None else "given",
                       _pronounce(tokens) if tokens else [])
    for k, ((a, b), piece) in enumerate(zip(spans, pieces)):
        report(0.6 + 0.4 * k / len(spans), f"aligning {a / SAMPLE_RATE:.0f}-{b / SAMPLE_RATE:.0f} s")
        offset = a / SAMPLE_RATE
        if not piece:
            result.phones.append(Phone("SIL", offset, b / SAMPLE_RATE))
            continue
        try:
            words, phone_list = _align_chunk(audio[a:b], piece, offset)
        except _AlignFailed as exc:
            if transcript is not None:
                raise ValueError(f"the transcript does not fit the audio at {offset:.1f}-"
                                 f"{b / SAMPLE_RATE:.1f} s ({exc})") from None
            words = [Word(t, offset + w.start + i * (w.end - w.start) / len(ts),
                          offset + w.start + (i + 1) * (w.end - w.start) / len(ts))
                     for w in heard[k] for ts in [normalise(w.text)] for i, t in enumerate(ts)]
            phone_list = _even_phones(words, offset)
            result.warnings.append(f"{offset:.1f}-{b / SAMPLE_RATE:.1f} s: phone alignment failed "
                                   f"({exc}); phones laid evenly inside Whisper's segments")
        result.words += words
        result.phones += phone_list
    report(1.0, f"{len(result.words)} words, {len(result.phones)} phones")
    return result
