"""Build the extension: one zip per platform, each carrying the wheels its runtime needs there.

    python scripts/build_extension.py [OUTPUT_DIR]      (default: build/; `make extension`)

1. Every wheel the manifest lists (`wheels = [...]` in blender_manifest.toml, exact file names) is
   fetched into wheels/ when it is not there yet (`pip download --no-deps --only-binary=:all:` for
   that file's own Python, ABI and platform tags), then checked against its sha256 in
   scripts/wheels.sha256. wheels/ is a download cache, ignored by git; nothing is fetched at run
   time. `--record-hashes` writes the sha256 of every listed wheel (after changing the list).
2. Blender's own packager (`blender --command extension build --split-platforms`, the same script
   the bpy wheel ships, so no Blender binary is needed) writes emotive-<version>-<platform>.zip for
   each of the manifest's `platforms`, with the wheels whose tags fit that platform.
3. Blender's `extension validate` checks each zip.
"""

import argparse
import hashlib
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "blender_manifest.toml"
HASHES = Path(__file__).resolve().with_name("wheels.sha256")
PYTHON_VERSION = "3.11"         # Blender 5.0's Python


def packager() -> Path:
    import bpy

    scripts = Path(bpy.utils.resource_path('LOCAL')) / "scripts"
    return scripts / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"


def listed_wheels() -> list[Path]:
    with open(MANIFEST, "rb") as f:
        return [(ROOT / w).resolve() for w in tomllib.load(f).get("wheels", [])]


def _download(wheel: Path) -> str | None:
    """Fetch this exact wheel file into its folder; an error message, or None."""
    name, version, python, abi, platform = wheel.stem.split("-")[-5:] if wheel.stem.count("-") == 4 \
        else (None,) * 5
    if name is None:
        return f"{wheel.name}: not a plain name-version-python-abi-platform wheel file name"
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
           "--python-version", PYTHON_VERSION, "-d", str(wheel.parent), f"{name}=={version}"]
    if platform != "any":
        cmd += ["--implementation", "cp"]
        for tag in platform.split("."):
            cmd += ["--platform", tag]
        for tag in abi.split("."):
            cmd += ["--abi", tag]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return f"{wheel.name}: pip download failed:\n{proc.stderr.strip()[-800:]}"
    if not wheel.exists():
        return f"{wheel.name}: pip fetched another file for {name}=={version} (see {wheel.parent})"
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_wheels(record: bool = False) -> list[Path]:
    """The manifest's wheels, downloaded where missing and checked against scripts/wheels.sha256."""
    wheels = listed_wheels()
    missing = [w for w in wheels if not w.exists()]
    if missing:
        print(f"downloading {len(missing)} wheels into {missing[0].parent.relative_to(ROOT)}/ ...", file=sys.stderr)
        missing[0].parent.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(4) as pool:
            errors = [e for e in pool.map(_download, missing) if e]
        if errors:
            sys.exit("\n".join(errors))
    sums = {w.name: _sha256(w) for w in wheels}
    if record:
        HASHES.write_text("".join(f"{h}  {n}\n" for n, h in sorted(sums.items())))
        return wheels
    known = dict(line.split()[::-1] for line in HASHES.read_text().splitlines() if line.strip())
    bad = [f"{n}: sha256 {h[:12]}…, expected {known[n][:12]}…" if n in known else f"{n}: no sha256 in {HASHES.name}"
           for n, h in sums.items() if known.get(n) != h]
    if bad:
        sys.exit("wheels that differ from the recorded ones (delete them to fetch again, or run with "
                 "--record-hashes after changing the manifest's list):\n  " + "\n  ".join(bad))
    return wheels


def build(output_dir: Path, validate: bool = True) -> list[Path]:
    """emotive-<version>-<platform>.zip for each platform of the manifest, validated."""
    fetch_wheels()
    output_dir.mkdir(parents=True, exist_ok=True)
    for old in output_dir.glob("emotive-*.zip"):
        old.unlink()
    subprocess.run([sys.executable, str(packager()), "build", "--split-platforms", "--source-dir", str(ROOT),
                    "--output-dir", str(output_dir)], check=True, stdout=subprocess.DEVNULL)
    zips = sorted(output_dir.glob("emotive-*.zip"))
    if validate:
        for z in zips:
            proc = subprocess.run([sys.executable, str(packager()), "validate", str(z)],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                sys.exit(f"{z.name} does not validate:\n{proc.stdout}{proc.stderr}")
    return zips


def platform_zip(output_dir: Path, platform: str = "linux-x64") -> Path:
    """The zip built for one platform (Blender names it with the platform's '-' as '_')."""
    (path,) = Path(output_dir).glob(f"emotive-*-{platform.replace('-', '_')}.zip")
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output_dir", nargs="?", type=Path, default=ROOT / "build")
    parser.add_argument("--record-hashes", action="store_true",
                        help="fetch the listed wheels and write their sha256 to scripts/wheels.sha256")
    parser.add_argument("--no-validate", action="store_true", help="skip `extension validate`")
    args = parser.parse_args(argv)
    if args.record_hashes:
        print(f"{len(fetch_wheels(record=True))} wheels recorded in {HASHES.relative_to(ROOT)}")
        return
    for z in build(args.output_dir, validate=not args.no_validate):
        print(f"{z}  {z.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
