"""What a headless run shows in the terminal: one line per stage (a tqdm bar while it runs, when
stderr is a terminal and tqdm is installed; in a log, the line when the stage ends, with a
percentage line every few seconds of a long stage), Emotive's notes and warnings, and nothing of
Blender's own chatter (per-frame "Video append frame", EGL and TensorFlow Lite logs) unless --verbose.

Blender and the libraries it loads print from C straight to file descriptors 1 and 2, so they are
hushed by pointing those descriptors at a log file (os.dup2), not by swapping sys.stdout. Emotive
writes to a duplicate of the original stderr taken first, which the hushing does not reach; when
a run fails unexpectedly the log's tail is shown.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time

PREFIX = "emotive"
LOG_TAIL = 40   # lines of the hushed log shown after an unexpected failure
LOG_EVERY = 5.0  # seconds between percentage lines of a long stage when there is no bar


class _Stage:
    def __init__(self, message: str, total: float, bar):
        self.message, self.total, self.bar = message, total, bar
        self.done = 0.0
        self.started = self.shown = time.perf_counter()


class Terminal:
    def __init__(self, verbose: bool = False, stream=None):
        self.verbose = verbose
        if stream is None:
            sys.stderr.flush()
            stream = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1, encoding="utf-8",
                               errors="replace")
        self.stream = stream
        self.log_path = None
        self._stage = None      # the _Stage running

    # --- messages

    def say(self, message: str) -> None:
        self.end_stage()
        print(f"{PREFIX}: {message}", file=self.stream, flush=True)

    def warn(self, message: str) -> None:
        self.say(f"warning: {message}")

    def error(self, message: str) -> None:
        self.say(f"error: {message}")

    # --- stages

    def progress(self, fraction: float, message: str) -> None:
        """A source's (fraction, message) step: a new message starts a new stage."""
        if self._stage is None or self._stage.message != message:
            self.start_stage(message)
        self._set(round(100 * min(max(fraction, 0.0), 1.0), 1))

    def _set(self, done: float) -> None:
        stage = self._stage
        stage.done = done
        if stage.bar is not None:
            stage.bar.n = done
            stage.bar.refresh()
        elif time.perf_counter() - stage.shown >= LOG_EVERY:
            stage.shown = time.perf_counter()
            print(f"{PREFIX}: {stage.message} {100 * done / max(stage.total, 1e-9):.0f}%", file=self.stream,
                  flush=True)

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
        self._stage = _Stage(message, total, bar)

    def advance(self, amount: float = 1) -> None:
        """One more unit of the running stage (a rendered frame)."""
        if self._stage is not None:
            self._set(self._stage.done + amount)

    def end_stage(self) -> None:
        stage, self._stage = self._stage, None
        if stage is None:
            return
        if stage.bar is not None:
            stage.bar.n = stage.total
            stage.bar.close()
        else:
            print(f"{PREFIX}: {stage.message} ({time.perf_counter() - stage.started:.1f} s)", file=self.stream,
                  flush=True)

    @contextlib.contextmanager
    def stage(self, message: str, total: float = 100, unit: str = "%"):
        self.start_stage(message, total, unit)
        try:
            yield self
        finally:
            self.end_stage()

    # --- Blender's own output

    @contextlib.contextmanager
    def hushed(self):
        """Descriptors 1 and 2 go to a log file for the block (kept, in self.log_path), unless verbose."""
        if self.verbose:
            yield
            return
        sys.stdout.flush()
        sys.stderr.flush()
        log = tempfile.NamedTemporaryFile("w+b", prefix="emotive-blender-", suffix=".log", delete=False)
        self.log_path = log.name
        saved = os.dup(1), os.dup(2)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            log.close()

    def log_tail(self) -> str:
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-LOG_TAIL:])

    def close(self) -> None:
        self.end_stage()
        if self.log_path and os.path.exists(self.log_path):
            os.unlink(self.log_path)
            self.log_path = None
