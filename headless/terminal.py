"""What a headless run shows in the terminal: one line per stage, Emotive's notes and warnings, and
nothing of Blender's own chatter (per-frame "Video append frame", EGL and TensorFlow Lite logs)
unless --verbose.

On a terminal (and with tqdm installed) a stage is a progress bar that stays as its line: a
source's stages show the job's overall progress (as the UI's progress bar does), a render its
frames; a stage that ends without error is drawn full. In a log (a pipe, a file, CI) a
stage prints its name when it starts, a percentage line every LOG_EVERY seconds while it runs, and
how long it took when it was long.

Blender and the libraries it loads print from C straight to file descriptors 1 and 2, so they are
hushed by pointing those descriptors at a log file (os.dup2), not by swapping sys.stdout. Emotive
writes to a duplicate of the original stderr taken first, which the hushing does not reach; when
a run fails unexpectedly the log's tail is shown.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import tempfile
import time

PREFIX = "emotive"
LOG_TAIL = 40    # lines of the hushed log shown after an unexpected failure
LOG_EVERY = 10.0  # seconds between percentage lines of a long stage when there is no bar

try:  # the C runtime whose stdio buffers Blender's prints sit in
    _LIBC = ctypes.CDLL(None) if os.name == "posix" else ctypes.CDLL("ucrtbase")
except (OSError, TypeError):
    _LIBC = None  # then only Python's own buffers are flushed


def _flush_all() -> None:
    """Python's and C's buffered output out before a descriptor changes where it points."""
    sys.stdout.flush()
    sys.stderr.flush()
    if _LIBC is not None:
        _LIBC.fflush(None)


class _Stage:
    def __init__(self, message: str, total: float, bar):
        self.message, self.total, self.bar = message, total, bar
        self.done = 0.0
        self.started = self.shown = time.perf_counter()


class Terminal:
    def __init__(self, verbose: bool = False, stream=None):
        self.verbose = verbose
        self._own_stream = stream is None
        if stream is None:
            _flush_all()
            stream = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1, encoding="utf-8",
                               errors="replace")
        self.stream = stream
        self._log = None        # the file Blender's output goes to, made on first use
        self._stage = None      # the _Stage running

    def _print(self, line: str) -> None:
        print(f"{PREFIX}: {line}", file=self.stream, flush=True)

    # --- messages

    def say(self, message: str) -> None:
        self.end_stage()
        self._print(message)

    def warn(self, message: str) -> None:
        self.say(f"warning: {message}")

    def error(self, message: str) -> None:
        self.end_stage(failed=True)
        self._print(f"error: {message}")

    # --- stages

    def progress(self, fraction: float, message: str) -> None:
        """A source's (fraction, message) step: a new message starts a new stage."""
        if self._stage is None or self._stage.message != message:
            self.start_stage(message)
        self._set(round(100 * min(max(fraction, 0.0), 1.0), 1))

    def start_stage(self, message: str, total: float = 100, unit: str = "%") -> None:
        self.end_stage()
        bar = None
        if self.stream.isatty():
            try:
                from tqdm import tqdm
            except ImportError:  # a stock Blender's Python: plain lines
                tqdm = None
            if tqdm is not None:
                bar = tqdm(total=total, desc=f"{PREFIX}: {message}", unit=unit, file=self.stream, leave=True,
                           dynamic_ncols=True, bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}")
        if bar is None:
            self._print(f"{message}…")
        self._stage = _Stage(message, total, bar)

    def _set(self, done: float) -> None:
        stage = self._stage
        if stage.bar is not None:
            stage.bar.update(done - stage.bar.n)  # update() redraws at most every mininterval
        elif time.perf_counter() - stage.shown >= LOG_EVERY:
            stage.shown = time.perf_counter()
            self._print(f"{stage.message} {100 * done / max(stage.total, 1e-9):.0f}%")
        stage.done = done

    def advance(self, amount: float = 1) -> None:
        """One more unit of the running stage (a rendered frame)."""
        if self._stage is not None:
            self._set(self._stage.done + amount)

    def end_stage(self, failed: bool = False) -> None:
        stage, self._stage = self._stage, None
        if stage is None:
            return
        seconds = time.perf_counter() - stage.started
        if stage.bar is not None:
            if not failed:
                stage.bar.update(stage.total - stage.bar.n)
            stage.bar.close()
        elif not failed and seconds >= LOG_EVERY:
            self._print(f"{stage.message}: done in {seconds:.1f} s")

    @contextlib.contextmanager
    def stage(self, message: str, total: float = 100, unit: str = "%"):
        self.start_stage(message, total, unit)
        try:
            yield self
        except BaseException:
            self.end_stage(failed=True)
            raise
        self.end_stage()

    @contextlib.contextmanager
    def quiet_stage(self, message: str, total: float = 100, unit: str = "%"):
        """A stage whose work is Blender's: its output hushed."""
        with self.stage(message, total, unit), self.hushed():
            yield self

    # --- Blender's own output

    @contextlib.contextmanager
    def hushed(self):
        """Descriptors 1 and 2 go to the run's log file for the block, unless verbose."""
        if self.verbose:
            yield
            return
        if self._log is None:
            self._log = tempfile.NamedTemporaryFile("ab", prefix="emotive-blender-", suffix=".log", delete=False)
        saved = []
        try:
            _flush_all()
            saved = [os.dup(1), os.dup(2)]
            os.dup2(self._log.fileno(), 1)
            os.dup2(self._log.fileno(), 2)
            yield
        finally:
            _flush_all()
            for fd, original in zip((1, 2), saved):
                os.dup2(original, fd)
                os.close(original)

    def log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        with open(self._log.name, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-LOG_TAIL:])

    def close(self) -> None:
        self.end_stage()
        if self._log is not None:
            self._log.close()
            os.unlink(self._log.name)
            self._log = None
        if self._own_stream:
            self.stream.close()
