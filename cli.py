"""Run Emotive from a user's installed Blender: `blender -b --python cli.py -- text …`.

Blender runs this file as a plain script, so it first imports this checkout as the package
`emotive` (the same code the add-on and `python -m emotive` run), then hands over the arguments
after `--`.
"""

import importlib.util
import sys
from pathlib import Path


def _import_package():
    if "emotive" in sys.modules:
        return sys.modules["emotive"]
    root = Path(__file__).resolve().parent
    spec = importlib.util.spec_from_file_location(
        "emotive", root / "__init__.py", submodule_search_locations=[str(root)])
    package = importlib.util.module_from_spec(spec)
    sys.modules["emotive"] = package
    spec.loader.exec_module(package)
    return package


if __name__ == "__main__":
    _import_package()
    from emotive.headless import main

    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    sys.exit(main(argv))
