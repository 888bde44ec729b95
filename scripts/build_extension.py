"""Build the extension zip with Blender's own packager (`blender --command extension build`).

The bpy wheel ships the same packager script, so this needs no Blender binary.
Usage: python scripts/build_extension.py [OUTPUT_DIR]   (default: build/)
"""

import subprocess
import sys
from pathlib import Path

import bpy

ROOT = Path(__file__).resolve().parents[1]


def packager() -> Path:
    scripts = Path(bpy.utils.resource_path('LOCAL')) / "scripts"
    return scripts / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"


def build(output_dir: Path) -> Path:
    output_dir.mkdir(parents=True, exist_ok=True)
    for old in output_dir.glob("emotive-*.zip"):
        old.unlink()
    subprocess.run([sys.executable, str(packager()), "build", "--source-dir", str(ROOT),
                    "--output-dir", str(output_dir)], check=True, stdout=subprocess.DEVNULL)
    (zip_path,) = output_dir.glob("emotive-*.zip")
    return zip_path


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build"))
