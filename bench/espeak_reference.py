"""Known-good timings for the aligner: espeak-ng speaks a sentence and says when each phoneme starts.

Through espeak-ng's C library (ctypes, libespeak-ng.so.1): synchronous output, phoneme events on
(`espeakINITIALIZE_PHONEME_EVENTS`). Each espeakEVENT_PHONEME carries the phoneme's mnemonic and the
sample where it starts; each espeakEVENT_WORD opens a word. The `--pho` listing would be simpler but
needs MBROLA voices, which Debian's espeak-ng lacks.

`synthesize(text)` returns the audio at 16 kHz and word/phone timings with ARPAbet labels (the
pocketsphinx en-us set), so `ml.asr.align` can be scored against it. `available()` is False when the
library is missing; callers skip then.

Run alone to print one sentence's reference: .venv/bin/python bench/espeak_reference.py "some text"
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16_000

# Varied sentences for the benches and tests: bilabials (p b m), rounded vowels (uw ow ao oy uh, w),
# stops in every position, fricatives and affricates.
SENTENCES = [
    "Bob kept the map by the pool.",
    "Please bring me a bowl of warm soup.",
    "The old man moved the boat to the shore.",
    "Who put the blue book on my bed?",
    "Maybe the baby wants more apple pie.",
    "We saw two wolves running through the woods.",
    "Paul bought a purple umbrella in Boston.",
    "My mother makes moon cakes every summer.",
    "The boy pointed at the broken window.",
    "Could you pull the rope a bit harder?",
    "She sells sea shells by the sea shore.",
    "Jump over the puddle and walk home.",
    "Thank you for the flowers, they smell wonderful.",
    "A quick brown fox jumps over the lazy dog.",
    "Mom opened the box of old photographs.",
    "The judge was pleased with the measured answer.",
    "Ruth wore a yellow woollen jumper.",
    "Bubbles floated above the bright green pond.",
    "Look at the huge moon over the mountains.",
    "People prefer peaceful places near water.",
]

# espeak-ng's English mnemonics (phsource/ph_english*) -> ARPAbet as cmudict-en-us spells it.
# Diphthongs with r ("A@", "e@", ...) are one espeak phoneme but two ARPAbet ones; the reference
# gives them as one interval with the first label (the r-colouring has no separate event).
ESPEAK_TO_ARPABET = {
    "p": "P", "b": "B", "t": "T", "d": "D", "k": "K", "g": "G", "t#": "T", "d#": "D", "?": "T",
    "tS": "CH", "dZ": "JH", "f": "F", "v": "V", "T": "TH", "D": "DH", "s": "S", "z": "Z",
    "S": "SH", "Z": "ZH", "h": "HH", "m": "M", "n": "N", "N": "NG", "l": "L", "r": "R", "w": "W",
    "j": "Y", "n-": "N", "m-": "M", "l-": "L", "r-": "R", "x": "HH", "W": "W", "*": "R",
    "a": "AE", "aa": "AE", "a#": "AE", "A:": "AA", "A@": "AA", "0": "AA", "02": "AA", "A": "AA",
    "aI": "AY", "aI@": "AY", "aI3": "AY", "aU": "AW", "aU@": "AW", "E": "EH", "e@": "EH",
    "eI": "EY", "I": "IH", "I2": "IH", "I#": "IH", "i": "IY", "i:": "IY", "i@": "IH", "i@3": "IH",
    "IR": "IH", "O:": "AO", "O": "AO", "O@": "AO", "o@": "AO", "OI": "OY", "oU": "OW", "oU#": "OW",
    "U": "UH", "U@": "UH", "u:": "UW", "V": "AH", "VR": "AH", "@": "AH", "@2": "AH", "@5": "AH",
    "@L": "AH", "@-": "AH", "3:": "ER", "3": "ER", "a2": "AH", "e": "EH", "i2": "IY", "_": "SIL",
    "_:": "SIL", "_!": "SIL", "_|": "SIL", "_^_": "SIL", "O2": "AA", "02#": "AA", "0#": "AA",
}
LINKS = {";"}       # espeak's linking glide between words ("me ; a"): time stays with the phone before
STOPS = {"P", "B", "T", "D", "K", "G", "CH", "JH"}
_PHONEME, _WORD, _END, _TERMINATED = 7, 1, 5, 0


@dataclass
class Timed:
    label: str
    start: float
    end: float


@dataclass
class Reference:
    text: str
    audio: np.ndarray            # float32, 16 kHz mono
    words: list[Timed]           # the text's words as espeak split them, in order
    phones: list[Timed]          # ARPAbet labels, SIL for pauses; covers the audio end to end
    espeak: list[Timed]          # the raw mnemonics at their event times (stops at the release)


class _Id(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):     # espeak_EVENT, speak_lib.h (API revision 12)
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _Id)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))


@functools.lru_cache(maxsize=1)
def _library():
    name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    # AUDIO_OUTPUT_SYNCHRONOUS (2); phoneme events | DONT_EXIT (an error must not end Python).
    rate = lib.espeak_Initialize(2, 0, None, 0x0001 | 0x8000)
    if rate <= 0:
        return None
    lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                 ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
    return lib, rate


def available() -> bool:
    return _library() is not None


def _synth(text: str, voice: str, rate_wpm: int):
    """(int16 samples at espeak's rate, rate, events as (type, sample, payload))."""
    lib, rate = _library()
    chunks, events = [], []

    def collect(wav, n, ev):
        if wav and n > 0:
            chunks.append(np.ctypeslib.as_array(wav, (n,)).copy())
        i = 0
        while ev[i].type != _TERMINATED:
            e = ev[i]
            if e.type == _PHONEME:
                events.append((e.type, e.sample, bytes(e.id.string).split(b"\0")[0].decode()))
            elif e.type in (_WORD, _END):
                events.append((e.type, e.sample, (e.text_position, e.length)))
            i += 1
        return 0

    callback = _CALLBACK(collect)           # held until synthesis returns (synchronous mode)
    lib.espeak_SetSynthCallback(callback)
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        raise ValueError(f"espeak-ng has no voice {voice!r}")
    lib.espeak_SetParameter(1, int(rate_wpm), 0)            # espeakRATE
    data = text.encode("utf-8") + b"\0"
    # POS_CHARACTER (1), espeakCHARS_UTF8 (1)
    if lib.espeak_Synth(data, len(data), 0, 1, 0, 1, None, None) != 0:
        raise RuntimeError(f"espeak-ng failed to speak {text!r}")
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    return audio, rate, events


def _closure_start(energy_db, frame, event_frame, floor_frame, quiet_db):
    """Walk back from a stop's release over the quiet frames of its closure (espeak's closures are
    near digital silence), but not into the phone before it."""
    i = event_frame
    while i - 1 > floor_frame and energy_db[i - 1] < quiet_db:
        i -= 1
    return i * frame


def synthesize(text: str, voice: str = "en-us", rate_wpm: int = 165) -> Reference:
    """Speak `text` with espeak-ng; the audio at 16 kHz and its word and phone timings (seconds)."""
    if not available():
        raise RuntimeError("libespeak-ng.so.1 not found (Debian: apt-get install espeak-ng)")
    from scipy.signal import resample_poly

    raw, rate, events = _synth(text, voice, rate_wpm)
    duration = len(raw) / rate
    audio = resample_poly(raw.astype(np.float32) / 32768.0, SAMPLE_RATE, rate).astype(np.float32)

    frame = 0.002
    hop = int(rate * frame)
    n = max(1, len(raw) // hop)
    power = (raw[:n * hop].astype(np.float64) / 32768.0).reshape(n, hop) ** 2
    energy_db = 10 * np.log10(power.mean(axis=1) + 1e-12)
    quiet_db = energy_db.max() - 45.0

    raw_phones, word_marks = [], []                 # word_marks: (index of first phone, text span)
    for kind, sample, payload in events:
        if kind == _PHONEME and payload in LINKS:
            continue
        if kind == _PHONEME:
            raw_phones.append([payload, sample / rate])
        elif kind == _WORD:
            word_marks.append((len(raw_phones), payload))
    ends = [p[1] for p in raw_phones[1:]] + [duration]
    espeak = [Timed(p[0], p[1], e) for p, e in zip(raw_phones, ends)]

    phones = []
    for i, ph in enumerate(espeak):
        label = ESPEAK_TO_ARPABET.get(ph.label)
        if label is None:
            raise KeyError(f"espeak phoneme {ph.label!r} has no ARPAbet mapping (in {text!r})")
        start = ph.start
        if label in STOPS and phones and phones[-1].label != "SIL":
            floor = int((phones[-1].start + 0.02) / frame)
            start = max(_closure_start(energy_db, frame, int(round(ph.start / frame)), floor, quiet_db),
                        phones[-1].start + 0.02)
            phones[-1].end = start
        phones.append(Timed(label, start, ph.end))
    if phones and phones[0].start > 0:
        phones.insert(0, Timed("SIL", 0.0, phones[0].start))
        word_marks = [(i + 1, span) for i, span in word_marks]

    # espeak runs some function words into the word before ("for the", "with the") with a single
    # word event: such a group becomes one entry whose label holds all its words, so a caller can
    # compare the group's outer boundaries.
    words = []
    bounds = [i for i, _ in word_marks] + [len(phones)]
    positions = [pos for _, (pos, _) in word_marks] + [len(text) + 1]
    for (first, (pos, _)), nxt, next_pos in zip(word_marks, bounds[1:], positions[1:]):
        span = [p for p in phones[first:nxt] if p.label != "SIL"]
        label = " ".join(w.strip(".,;:!?\"()") for w in text[pos - 1:next_pos - 1].split())
        if span and label:           # text_position counts characters from 1
            words.append(Timed(label, span[0].start, span[-1].end))
    return Reference(text, audio, words, phones, espeak)


if __name__ == "__main__":
    if not available():
        print("skipped: libespeak-ng.so.1 not found (apt-get install espeak-ng)")
        sys.exit(0)
    ref = synthesize(" ".join(sys.argv[1:]) or SENTENCES[0])
    print(f"{ref.text!r}: {len(ref.audio) / SAMPLE_RATE:.2f} s")
    for w in ref.words:
        print(f"  {w.start:6.3f} {w.end:6.3f}  {w.label}")
    print("  " + " ".join(f"{p.label}@{p.start:.3f}" for p in ref.phones))
