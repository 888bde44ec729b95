"""`python crashing_cli.py batch …`: the real command line, with the text source wrapped (in this
process, before the batch forks its workers) so that two lines misbehave as real jobs can: "Crash
now." kills its worker outright (as a segfault would) and "Hang now." never ends. Product code has
no hook for this; the tests of batch's isolation run it, and install it on Dask workers."""

import os
import sys
import time

from emotive import pipeline

_text = pipeline.SOURCES["text"]


def misbehaving_text(**inputs):
    if inputs["text"] == "Crash now.":
        os._exit(7)
    if inputs["text"] == "Hang now.":
        time.sleep(3600)
    return _text(**inputs)


def install() -> None:
    """Wrap the text source in this process (on a Dask worker: client.run(install))."""
    pipeline.SOURCES["text"] = misbehaving_text


if __name__ == "__main__":
    install()
    from emotive.headless import main

    sys.exit(main(sys.argv[1:]))
