"""Audio in for the speech path: any file soundfile reads -> 16 kHz mono float32 (bpy-free).

soundfile (libsndfile) reads WAV, FLAC, OGG/Vorbis/Opus and MP3 at any rate and channel count;
soxr, the resampler librosa uses, converts in a stream, so a long recording is read block by block
and the memory held is the 16 kHz result (about 4 MB a minute) plus one block. Bad files fail here,
before any model is loaded, with the file named. A video's sound track (MP4, MOV, AVI, WebM, MKV:
a face capture's own recording) is decoded and resampled by PyAV (FFmpeg), which faster-whisper
brings along.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import EmotiveError

RATE = 16_000                  # what the recogniser and the voice model take
MAX_SECONDS = 2 * 60 * 60      # a safety valve far above a scene's dialogue
BLOCK_SECONDS = 30             # read and resampled this much at a time
SILENCE_DBFS = -50.0           # a file whose loudest 100 ms stays below this is silent
TELEPHONE_RATE = 11_025        # at or below: narrow-band audio, recognition suffers
CONTAINERS = (".mp4", ".m4v", ".mov", ".avi", ".webm", ".mkv")   # read with PyAV: their first sound track


@dataclass
class Audio:
    samples: np.ndarray            # (n,) float32 at RATE, mono
    path: str
    source_rate: int
    channels: int
    warnings: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return len(self.samples) / RATE


def _open(path: Path):
    import soundfile as sf

    try:
        return sf.SoundFile(str(path))
    except sf.LibsndfileError as exc:   # unknown format, corrupt header, truncated file
        raise EmotiveError(f"cannot read '{path}' as audio ({exc.error_string or exc}); "
                           "use WAV, FLAC, OGG or MP3") from exc
    except (OSError, RuntimeError) as exc:
        raise EmotiveError(f"cannot read '{path}' as audio: {exc}") from exc


def is_container(path) -> bool:
    return Path(path).suffix.lower() in CONTAINERS


def _open_container(path: Path):
    """(PyAV container, its first audio stream); EmotiveError naming the file otherwise."""
    import av

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise EmotiveError(f"cannot read '{path}' as a video file: {exc}") from exc
    if not container.streams.audio:
        container.close()
        raise EmotiveError(f"'{path}' has no sound track")
    return container, container.streams.audio[0]


def _container_seconds(container, stream) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return (container.duration or 0) / 1_000_000


def has_sound(path) -> bool:
    """Whether a video holds a sound track (whether or not its headers say how long it lasts:
    a browser's WebM recording does not)."""
    if not is_container(path):
        return False
    try:
        container, _ = _open_container(Path(path))
    except EmotiveError:
        return False
    container.close()
    return True


def check_audio_file(path) -> Path:
    """The path of a readable, non-empty audio file (or video with sound) of sane length;
    EmotiveError otherwise."""
    path = Path(path).expanduser()
    if not path.exists():
        raise EmotiveError(f"audio file not found: '{path}'")
    if path.is_dir():
        raise EmotiveError(f"'{path}' is a folder, not an audio file")
    if is_container(path):
        container, stream = _open_container(path)
        with container:
            seconds = _container_seconds(container, stream)
    else:
        with _open(path) as f:
            seconds = f.frames / f.samplerate if f.frames > 0 else 0.0
    if seconds <= 0 and not is_container(path):      # a video may not state its length: read to see
        raise EmotiveError(f"'{path}' holds no audio")
    if seconds > MAX_SECONDS:
        raise EmotiveError(f"'{path}' lasts {seconds / 3600:.1f} h; Emotive animates at most "
                           f"{MAX_SECONDS // 3600} h of speech at once: cut it into scenes")
    return path


def iter_load(path):
    """Yield fractions while reading; return the Audio (16 kHz mono float32)."""
    path = check_audio_file(path)
    read = _iter_decode if is_container(path) else _iter_read
    samples, rate, channels = yield from read(path)
    if not len(samples):
        raise EmotiveError(f"'{path}' holds no audio")
    audio = Audio(samples=samples, path=str(path.resolve()), source_rate=rate, channels=channels)
    audio.warnings.extend(_quality_warnings(audio, path))
    return audio


def _iter_decode(path: Path):
    """A video's first sound track through PyAV: decoded, mixed to mono and resampled by FFmpeg.
    Yields fractions every BLOCK_SECONDS of sound; returns (samples, source rate, channels)."""
    import av

    container, stream = _open_container(path)
    rate, channels = int(stream.rate or 0), int(stream.channels or 0)
    total = max(_container_seconds(container, stream), 1e-9)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    parts, decoded, told = [], 0, 0.0
    with container:
        try:
            for frame in container.decode(stream):
                parts += [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
                decoded = frame.time or decoded
                if decoded - told >= BLOCK_SECONDS:
                    told = decoded
                    yield min(1.0, decoded / total)
            parts += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
        except av.FFmpegError as exc:
            raise EmotiveError(f"'{path}': the sound track is damaged after {decoded:.1f} s: {exc}") from exc
    yield 1.0
    samples = np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
    if not np.all(np.isfinite(samples)):
        bad = int(np.flatnonzero(~np.isfinite(samples))[0])
        raise EmotiveError(f"'{path}' holds NaN or infinite samples (first at {bad / RATE:.3f} s)")
    return samples, rate, channels


def _iter_read(path: Path):
    """A sound file through soundfile, resampled by soxr block by block. Yields fractions;
    returns (samples, source rate, channels)."""
    import soxr

    with _open(path) as f:
        rate, channels, total = f.samplerate, f.channels, f.frames
        stream = None if rate == RATE else soxr.ResampleStream(rate, RATE, 1, dtype="float32", quality="HQ")
        parts, read = [], 0
        block = BLOCK_SECONDS * rate
        while True:
            try:
                data = f.read(block, dtype="float32", always_2d=True)
            except Exception as exc:   # libsndfile reports a corrupt body only when reading it
                raise EmotiveError(f"'{path}' is damaged after {read / rate:.1f} s: {exc}") from exc
            last = len(data) < block
            if len(data):
                if not np.all(np.isfinite(data)):
                    bad = read + int(np.flatnonzero(~np.isfinite(data).all(axis=1))[0])
                    raise EmotiveError(f"'{path}' holds NaN or infinite samples (first at {bad / rate:.3f} s)")
                mono = data.mean(axis=1)
                parts.append(mono if stream is None else stream.resample_chunk(mono, last=last))
                read += len(data)
            elif stream is not None:
                parts.append(stream.resample_chunk(np.zeros(0, np.float32), last=True))
            yield min(1.0, read / max(total, 1))
            if last or not len(data):
                break
    samples = np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
    return samples, rate, channels


def load(path) -> Audio:
    steps = iter_load(path)
    try:
        while True:
            next(steps)
    except StopIteration as done:
        return done.value


def from_samples(samples, rate: int, path: str = "") -> Audio:
    """Audio from an array in memory (tests, synthesised speech): resampled to RATE, checked."""
    import soxr

    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.ndim != 1 or not len(x):
        raise EmotiveError("audio must be a non-empty 1-D (or frames x channels) array")
    if not np.all(np.isfinite(x)):
        raise EmotiveError("audio holds NaN or infinite samples")
    if rate != RATE:
        x = soxr.resample(x, rate, RATE, quality="HQ").astype(np.float32)
    audio = Audio(samples=x, path=path, source_rate=int(rate), channels=1)
    audio.warnings.extend(_quality_warnings(audio, Path(path or "audio")))
    return audio


def loudness_dbfs(samples: np.ndarray, window_s: float = 0.1) -> np.ndarray:
    """RMS level in dBFS per window."""
    n = max(1, int(window_s * RATE))
    usable = len(samples) // n * n
    if not usable:
        return np.array([20 * math.log10(max(float(np.sqrt(np.mean(samples ** 2))), 1e-10))])
    rms = np.sqrt(np.mean(samples[:usable].reshape(-1, n) ** 2, axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-10))


def is_silent(audio: Audio) -> bool:
    return float(loudness_dbfs(audio.samples).max()) < SILENCE_DBFS


def _quality_warnings(audio: Audio, path: Path) -> list[str]:
    out = []
    if audio.source_rate <= TELEPHONE_RATE:
        out.append(f"'{path.name}' is {audio.source_rate} Hz audio (telephone band): recognition and the "
                   "voice emotion are less reliable; give the transcript if you have it")
    if is_silent(audio):
        out.append(f"'{path.name}' is silent (loudest {float(loudness_dbfs(audio.samples).max()):.0f} dBFS): "
                   "the face stays at rest")
    peak = float(np.abs(audio.samples).max())
    if peak >= 0.999:
        clipped = float(np.mean(np.abs(audio.samples) >= 0.999))
        if clipped > 0.001:
            out.append(f"'{path.name}' is clipped ({clipped:.1%} of samples at full scale)")
    return out


HOP = RATE // 100               # 10 ms: the loudness grid
PAUSE_DB = 35.0                 # this far below the loud speech is a pause


def level_db(samples: np.ndarray) -> np.ndarray:
    """RMS level in dBFS over 40 ms windows every 10 ms (centred), the grid of loudness, pauses
    and the jaw. Plain NumPy: librosa's rms costs seconds of just-in-time compiling on first use."""
    x = np.pad(np.asarray(samples, np.float32), (2 * HOP, 2 * HOP))
    n = max(1, (len(x) - 4 * HOP) // HOP + 1)
    windows = np.lib.stride_tricks.sliding_window_view(x, 4 * HOP)[::HOP][:n]
    return 20 * np.log10(np.maximum(np.sqrt(np.mean(windows.astype(np.float64) ** 2, axis=1)), 1e-10))


def frame_energy(samples: np.ndarray, fps: float, n_frames: int) -> np.ndarray:
    """(n_frames,) loudness per animation frame, 0 (30 dB below the recording's loud speech, its
    95th percentile) .. 1 (that loud), for the jaw; read at each frame's time from the 10 ms grid
    (a fractional hop would drift)."""
    db = level_db(samples)
    level = np.clip((db - (np.percentile(db, 95) - 30.0)) / 30.0, 0.0, 1.0)
    times = np.arange(len(level)) * HOP / RATE
    return np.interp(np.arange(n_frames) / fps, times, level, right=0.0).astype(np.float32)


def pauses(samples: np.ndarray, min_s: float) -> list[tuple[float, float]]:
    """(start, end) seconds of the stretches at least min_s long that are PAUSE_DB below the
    recording's loud speech: where the speaker breathes, whatever an aligner made of them."""
    db = level_db(samples)
    quiet = db < np.percentile(db, 95) - PAUSE_DB
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]])))
    out = []
    for lo, hi in zip(edges[::2], edges[1::2]):
        if (hi - lo) * HOP / RATE >= min_s:
            out.append((lo * HOP / RATE, hi * HOP / RATE))
    return out
