"""The headless terminal: one line per stage in a log, Blender's C-level output hushed and the
descriptors given back whatever happens, failed stages not shown as done, nothing left behind."""

import io
import subprocess
import sys

import pytest

from emotive.headless import terminal as term
from emotive.headless.terminal import Terminal


def test_a_log_gets_a_line_per_stage_and_percentages_only_for_long_ones(monkeypatch):
    out = io.StringIO()
    t = Terminal(stream=out)
    clock = [0.0]
    monkeypatch.setattr(term.time, "perf_counter", lambda: clock[0])
    t.progress(0.1, "reading the emotions")
    clock[0] = term.LOG_EVERY - 1  # a short stage: no percentage, no time
    t.progress(0.5, "reading the emotions")
    t.progress(0.6, "generating the performance")
    clock[0] = 2 * term.LOG_EVERY
    t.progress(0.8, "generating the performance")
    clock[0] = 3 * term.LOG_EVERY + 1
    t.say("wrote it")
    assert out.getvalue().splitlines() == [
        "emotive: reading the emotions…",
        "emotive: generating the performance…",
        "emotive: generating the performance 80%",
        f"emotive: generating the performance: done in {2 * term.LOG_EVERY + 2:.1f} s",
        "emotive: wrote it",
    ]


def test_a_failed_stage_is_not_reported_done(monkeypatch):
    out = io.StringIO()
    t = Terminal(stream=out)
    clock = [0.0]
    monkeypatch.setattr(term.time, "perf_counter", lambda: clock[0])
    with pytest.raises(RuntimeError):
        with t.stage("loading the head"):
            clock[0] = 100.0
            raise RuntimeError("no such file")
    t.error("head file not found")
    assert out.getvalue().splitlines() == ["emotive: loading the head…", "emotive: error: head file not found"]


HUSH = r"""
import ctypes, os, sys
from emotive.headless.terminal import Terminal
t = Terminal()
libc = ctypes.CDLL(None)
try:
    with t.hushed():
        libc.printf(b"C chatter on stdout\n")      # buffered in C, as Blender's prints are
        os.write(2, b"C chatter on stderr\n")
        raise KeyError("boom")
except KeyError:
    pass
log = t._log.name
print("after: stdout is back", flush=True)
t.say("a line of ours")
tail = t.log_tail()
t.close()
print("tail:", repr(tail), "left:", os.path.exists(log), flush=True)
"""


def test_hushed_output_goes_to_the_log_and_the_descriptors_come_back_after_an_error():
    proc = subprocess.run([sys.executable, "-c", HUSH], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "chatter" not in proc.stdout.split("tail:")[0] and "chatter" not in proc.stderr
    assert "after: stdout is back" in proc.stdout and "emotive: a line of ours" in proc.stderr
    assert "C chatter on stdout" in proc.stdout and "C chatter on stderr" in proc.stdout  # in the tail
    assert proc.stdout.strip().endswith("left: False")  # the log is deleted on close


def test_verbose_hushes_nothing():
    code = ("import os; from emotive.headless.terminal import Terminal; t = Terminal(verbose=True)\n"
            "with t.hushed():\n    os.write(1, b'shown\\n')\nt.close()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout == "shown\n", proc.stderr
