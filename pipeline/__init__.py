"""bpy-free: input -> emotion timeline -> performance -> Take.

May import ml/, rigs/ (not rigs/blender/) and errors; never bpy or the UI.

SOURCES maps an input kind to its `iter_take(...)`: a generator yielding (fraction, message)
and returning a Take (take.py). Operators, the CLI and batch jobs look sources up here, so a
new input is a module and one line below.
"""

from . import capture, speech, text

SOURCES = {
    text.NAME: text.iter_take,
    speech.NAME: speech.iter_take,
    capture.NAME: capture.iter_take,
}


def make_take(source: str, *args, progress=None, **options):
    """The Take of one input, run to the end (scripts, tests, benches): SOURCES[source](*args,
    **options) drained; `progress(fraction, message)` at each step."""
    from .take import drain

    return drain(SOURCES[source](*args, **options), progress)
