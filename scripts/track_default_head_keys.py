"""How MediaPipe FaceMesh sees the default head's 52 ARKit keys: tracker-seen key signatures.

The retarget (rigs/retarget.py) explains a capture's landmark motion as a mix of the default head's
key signatures. The surface signatures (rigs/head_mesh.py:default_head_rig) follow points bound to
the mesh, but a tracker does not: FaceMesh's inner-lip points follow the lips' inner edge as the
mouth opens (a bound point stays on the skin), its jaw contour follows the silhouette and moves a
quarter as far as the bound chin points, its eyelids close only part way, and its lip corners
barely move inward when the lips pucker. A video capture solved against the surface signatures
therefore reads a jaw opening as half jawOpen, half mouthLowerDown/mouthFrown, and a pucker as
cheeks and mouth sideways.

This script renders the default head (Workbench, its skin texture, the preview's camera and
light, 512 x 512) at rest and with each ARKit key alone at 0.25, 0.5, 0.75 and 1.0, from four
head poses (front, turned 6 degrees either way, tipped 5 degrees down), runs FaceMesh on every
image (static mode, refine_landmarks: 478 points) and takes each image through the capture's own
cleaning (rigs/capture_cleaning.py: head motion out, scale to the default head, the 70 canonical
points). A key's tracker-seen signature:
- the least-squares slope of its landmark offsets (from the same pose's rest image) over its
  weights: the linear model fitted over the key's whole range (FaceMesh answers some keys
  non-linearly: jawOpen at 0.5 shows 0.7 of its full move);
- averaged over the poses and over its mirror partner's mirrored measurements (the head is
  symmetric, the tracker's noise is not);
- kept only on the face areas where the key moves the mesh (own_areas): FaceMesh's shape prior
  moves other areas too (its brows rise when only the jaw opens), and a signature that kept
  that would read a brow raise during speech as jaw. A key the mesh's landmarks do not see at
  all (tongueOut) keeps nothing.
Its variance, the measurements' spread about their mean plus the motion left out on the other
areas, is the expected squared error of that signature; the solve adds it as the key's own ridge
(rigs/retarget.py), so keys FaceMesh sees hardly above its noise (cheekSquint, noseSneer) stay
near 0 instead of soaking up what the others leave.

Only the default head's own keys go in: nothing here depends on a capture or a bench's answer.
(bench/bench_capture_loop.py renders this head too, though at 640 x 480 with its own framing and
in tracking mode; its MakeHuman identity variant is a face this never saw.)
Writes rigs/data/default_head_tracked.npz: `mediapipe478` (52, 70, 3) float32 metres per unit
weight in rigs.arkit.ARKIT_NAMES order, `mediapipe478_variance` (52,) m^2, and `info` (a JSON
string: how it was made).

Run: .venv/bin/python scripts/track_default_head_keys.py [--raw F.npz [--from-raw]]   (~5 min on 2 cores)
"""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np

try:
    import bpy

    from emotive.rigs import capture_cleaning
    from emotive.rigs.arkit import ARKIT_NAMES
    from emotive.rigs.formats.track import CaptureTrack
    from emotive.rigs.head_mesh import TRACKED_PATH, load_default_head
    from emotive.rigs.landmarks import mirror_points
except ImportError:  # checkout not linked as `emotive` (make venv does that)
    raise SystemExit("import emotive failed: run `make venv` first")

SIZE = 512
AREAS = (("right_brow", "left_brow"), ("right_eye", "left_eye", "pupils"), ("nose_bridge", "nose_base"),
         ("jaw",), ("outer_lips", "inner_lips"))
MIN_SHARE = 0.05   # of a key's own motion on the mesh, for an area to be its own
WEIGHTS = (0.25, 0.5, 0.75, 1.0)   # the key's range, evenly
POSES = ((0.0, 0.0), (6.0, 0.0), (-6.0, 0.0), (0.0, 5.0))   # (yaw, pitch) degrees of the head


def scene_with_default_head():
    from emotive.headless.preview import _configure, ensure_camera_and_light
    from emotive.rigs.blender.head import create_default_head

    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    obj = create_default_head(scene.collection, head=load_default_head())
    ensure_camera_and_light(scene, obj)
    _configure(scene, "workbench", SIZE)
    scene.display.render_aa = 'FXAA'
    scene.render.image_settings.file_format = 'PNG'
    scene.render.film_transparent = False
    return scene, obj


def render(scene, path: str) -> np.ndarray:
    import cv2

    scene.render.filepath = path
    bpy.ops.render.render(write_still=True)
    return cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)


def detect():
    """(images' FaceMesh points (J, 478, 3) normalised, NaN where no face; the images' (pose,
    key index or None, weight))."""
    import mediapipe as mp

    scene, obj = scene_with_default_head()
    blocks = obj.data.shape_keys.key_blocks
    # static mode: each image found afresh. Tracking mode (the video reader's), each image given
    # three times so the face's region settles on its own points, gave signatures within cos 0.86-0.97
    # of these and solved the closed loop no better (bench/bench_capture_loop.py)
    mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1)
    # per pose: rest, then every key at every weight
    jobs = [(pose, None, 0.0) for pose in POSES]
    jobs += [(pose, k, w) for pose in POSES for k in range(len(ARKIT_NAMES)) for w in WEIGHTS]
    points = np.full((len(jobs), 478, 3), np.nan, np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        for j, (pose, k, w) in enumerate(jobs):
            for b in blocks[1:]:
                b.value = 0.0
            if k is not None:
                blocks[ARKIT_NAMES[k]].value = w
            obj.rotation_euler = (np.radians(pose[1]), 0.0, np.radians(pose[0]))
            result = mesh.process(render(scene, os.path.join(tmp, "frame.png")))
            if result.multi_face_landmarks:
                points[j] = [(p.x, p.y, p.z) for p in result.multi_face_landmarks[0].landmark]
            if j % 50 == 0:
                print(f"{j}/{len(jobs)} images", flush=True)
    mesh.close()
    return points, jobs


def own_areas() -> np.ndarray:
    """(52, 70) 1 on the face areas (brows, eyes and pupils, nose, jaw line, mouth) where the key
    itself moves the mesh (at least MIN_SHARE of its surface signature's motion), else 0.
    FaceMesh's shape prior moves other areas too: when only the jaw opens, its brows rise ~3 mm;
    a signature that keeps those couplings explains a brow raise during speech as jaw."""
    from emotive.rigs.head_mesh import default_head_rig
    from emotive.rigs.landmarks import GROUPS

    area = np.zeros(70, np.int64)
    for a, groups in enumerate(AREAS):
        for g in groups:
            area[list(GROUPS[g])] = a
    motion = np.linalg.norm(default_head_rig()[1], axis=2)                       # (52, 70)
    share = np.stack([motion[:, area == a].sum(axis=1) for a in range(len(AREAS))], axis=1)
    share /= np.maximum(share.sum(axis=1, keepdims=True), 1e-30)
    return (share >= MIN_SHARE)[:, area].astype(np.float64)


def signatures(points, jobs):
    """-> (signatures (52, 70, 3), variance (52,), images without a face). Per pose, a key's
    slope over its weights from that pose's rest image; each pair's mirror image counts as more
    measurements of its partner (a centre key's of itself): the mean is the signature, the
    measurements' sample variance about it (summed over the points) its variance."""
    valid = np.isfinite(points).all(axis=(1, 2))
    poses = [tuple(p) for p, k, _ in jobs if k is None]
    if not valid[:len(poses)].all():
        raise SystemExit("FaceMesh found no face at rest")
    track = CaptureTrack(format="video", path="default head", fps=30.0, times=np.arange(len(jobs)) / 30.0,
                         valid=valid, landmarks=points, landmark_set="mediapipe478", coords="normalised",
                         image_size=(SIZE, SIZE))
    pts = capture_cleaning.clean(track, smoothing=0.0).points   # one scale for all, not smoothed
    per_pose = np.full((len(ARKIT_NAMES), len(poses), 70, 3), np.nan)
    missed = []
    for k in range(len(ARKIT_NAMES)):
        for p, pose in enumerate(poses):
            rows = [(j, w) for j, (pp, kk, w) in enumerate(jobs) if tuple(pp) == pose and kk == k and valid[j]]
            if len(rows) < len(WEIGHTS):
                missed.append(f"{ARKIT_NAMES[k]} at {pose}")
            if rows:
                ws = np.array([w for _, w in rows])
                d = np.stack([pts[j] - pts[p] for j, _ in rows])
                per_pose[k, p] = np.einsum("n,nld->ld", ws, d) / (ws @ ws)
    index = {n: i for i, n in enumerate(ARKIT_NAMES)}
    sig, var = np.zeros((len(ARKIT_NAMES), 70, 3)), np.zeros(len(ARKIT_NAMES))
    kept = own_areas()
    for n, i in index.items():
        j = index.get(n.replace("Left", "\0").replace("Right", "Left").replace("\0", "Right"), i)
        samples = np.concatenate([per_pose[i], mirror_points(per_pose[j])])
        samples = samples[np.isfinite(samples).all(axis=(1, 2))]
        mean = samples.mean(axis=0)
        sig[i] = mean * kept[i][:, None]
        # the expected squared error of the kept signature: the measurements' spread, plus the
        # motion left out on the other areas
        var[i] = (((samples - mean) ** 2).sum() / max(len(samples) - 1, 1)
                  + ((mean - sig[i]) ** 2).sum())
    return sig, var, missed


def main(raw=None, from_raw=False):
    if from_raw:
        with np.load(raw) as data:
            points, jobs = data["points"], [(tuple(p), k, w) for p, k, w in json.loads(str(data["jobs"]))]
    else:
        points, jobs = detect()
        if raw:
            np.savez_compressed(raw, points=points, jobs=json.dumps(jobs))
    sig, var, missed = signatures(points, jobs)
    info = {"generator": "scripts/track_default_head_keys.py",
            "tracker": "mediapipe 0.10.21 FaceMesh(static_image_mode, refine_landmarks)",
            "render": f"Workbench, skin texture, preview camera and light, {SIZE} x {SIZE}",
            "weights": WEIGHTS, "poses_yaw_pitch_deg": POSES, "images_without_face": missed,
            "units": "metres per unit weight (variance: m^2), default head space, rigs.arkit.ARKIT_NAMES order"}
    np.savez_compressed(TRACKED_PATH, mediapipe478=sig.astype(np.float32),
                        mediapipe478_variance=var.astype(np.float32), info=json.dumps(info))
    print(f"wrote {TRACKED_PATH}; {len(missed)} image(s) without a face")


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", help="also keep FaceMesh's raw points and the list of images (.npz)")
    ap.add_argument("--from-raw", action="store_true", help="recompute from --raw instead of rendering")
    args = ap.parse_args()
    main(args.raw, args.from_raw)
