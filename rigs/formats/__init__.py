"""Face-capture readers, bpy-free: one module per format, listed explicitly in READERS.

Each reader module exposes NAME, SUFFIXES, sniff(path) -> bool and read(path, **options) ->
a landmark or ARKit track; errors are errors.FormatError(path, frame, what). The capture
source (pipeline/capture.py) and the Import Face Capture operator pick readers from READERS.
The readers arrive with the capture work (issue: capture transfer); the registry starts empty.
"""

READERS: tuple = ()
