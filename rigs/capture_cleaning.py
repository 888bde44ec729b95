"""Cleaning a face capture (rigs/formats CaptureTrack) into motion on the default head. bpy-free, NumPy only.

clean(track, ...) runs, in order:
  1. landmarks to the canonical 70 (iBUG 68 + pupils, rigs/landmarks.py) in Blender axes (x to the
     subject's left, y away from the camera, z up) with isotropic units (normalised coordinates are
     scaled by the image size);
  2. confidence gating: points under `min_confidence`, and frames the reader marked invalid, become gaps;
  3. rigid head motion out: per frame a similarity fit of the STABLE points (nose bridge, nose tip,
     subnasale, eye corners) to the default head's neutral ones: Kabsch (SVD) for 3-D captures, a
     scaled-orthographic fit for 2-D ones, which are then lifted with the default head's depth
     (each point takes its reference depth in the fitted head pose). The rotation is kept as
     head_rotation (yaw, pitch, roll) and head_matrix; the scale and translation go;
  4. scale: the take's median inter-ocular distance (outer eye corners) set to the default head's;
  5. gaps filled by linear interpolation (ends hold the nearest frame); gaps longer than `max_gap`
     seconds are reported as warnings with their frame numbers;
  6. time base: the file's times, resampled onto a uniform grid at `fps` (the file's rate unless
     given) when they are not one already;
  7. One-Euro smoothing (Casiez et al. 2012) with `smoothing` strength in [0, 1] (0 = off), on the
     points, the head rotation and ARKit weights alike.
ARKit-only tracks (Live Link) take steps 5-7 on their weights, head and eye rotation.

Euler convention (radians, Blender axes): R = Rz(yaw) @ Rx(pitch) @ Ry(roll); yaw > 0 turns the
face toward its own left, pitch > 0 tips it down, roll > 0 tilts the top of the head toward its left.
scipy is not needed (it is absent inside Blender).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import EmotiveError
from .landmarks import MEDIAPIPE_TO_CANONICAL, MEDIAPIPE_TO_IBUG68, N_CANONICAL

# Points that move with the skull, not with expressions: nose bridge 27-30, subnasale 33 and the
# four eye corners (36, 39 the subject's right eye, 42, 45 the left). The nose tip and subnasale lie
# well in front of the eye corners, which a 2-D fit needs to see rotation out of the image plane.
STABLE = np.array([27, 28, 29, 30, 33, 36, 39, 42, 45])
OUTER_EYE_CORNERS = (36, 45)


# ---- rotations ----------------------------------------------------------------------------------

def euler_to_matrix(ypr) -> np.ndarray:
    """(..., 3) yaw, pitch, roll -> (..., 3, 3) = Rz(yaw) @ Rx(pitch) @ Ry(roll)."""
    ypr = np.asarray(ypr, dtype=np.float64)
    a, b, c = ypr[..., 0], ypr[..., 1], ypr[..., 2]
    ca, sa, cb, sb, cc, sc = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(c), np.sin(c)
    m = np.empty(ypr.shape[:-1] + (3, 3))
    m[..., 0, 0] = ca * cc - sa * sb * sc
    m[..., 0, 1] = -sa * cb
    m[..., 0, 2] = ca * sc + sa * sb * cc
    m[..., 1, 0] = sa * cc + ca * sb * sc
    m[..., 1, 1] = ca * cb
    m[..., 1, 2] = sa * sc - ca * sb * cc
    m[..., 2, 0] = -cb * sc
    m[..., 2, 1] = sb
    m[..., 2, 2] = cb * cc
    return m


def matrix_to_euler(m) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) yaw, pitch, roll (the inverse of euler_to_matrix)."""
    m = np.asarray(m, dtype=np.float64)
    pitch = np.arcsin(np.clip(m[..., 2, 1], -1.0, 1.0))
    yaw = np.arctan2(-m[..., 0, 1], m[..., 1, 1])
    roll = np.arctan2(-m[..., 2, 0], m[..., 2, 2])
    return np.stack([yaw, pitch, roll], axis=-1)


def kabsch(src, dst):
    """Similarity (s, R, t) with dst ≈ s * R @ src + t, least squares over the rows of (K, 3) arrays."""
    src, dst = np.asarray(src, dtype=np.float64), np.asarray(dst, dtype=np.float64)
    cs, cd = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - cs, dst - cd
    u, sigma, vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(u @ vt)) or 1.0
    fix = np.array([1.0, 1.0, d])
    r = (u * fix) @ vt
    s = float((sigma * fix).sum() / max((a * a).sum(), 1e-30))
    return s, r, cd - s * r @ cs


def fit_orthographic(ref, obs):
    """Scaled-orthographic pose of 3-D reference points (K, 3) seen as 2-D points (K, 2) in the
    x-z (image) plane: (s, R, t2) with obs ≈ s * (R @ ref)[[0, 2]] + t2. An affine fit, then its
    nearest pair of orthonormal rows (SVD); the middle row completes a right-handed R."""
    ref, obs = np.asarray(ref, dtype=np.float64), np.asarray(obs, dtype=np.float64)
    cr, co = ref.mean(axis=0), obs.mean(axis=0)
    affine, *_ = np.linalg.lstsq(ref - cr, obs - co, rcond=None)   # (3, 2)
    u, sigma, vt = np.linalg.svd(affine.T, full_matrices=False)   # (2, 2), (2,), (2, 3)
    rows = u @ vt
    r = np.stack([rows[0], np.cross(rows[1], rows[0]), rows[1]])
    s = float(sigma.mean())
    return s, r, co - s * (r @ cr)[[0, 2]]


# ---- landmark sets and axes ---------------------------------------------------------------------

def to_canonical70(points, landmark_set: str, confidence=None):
    """(F, N, 3) points of a named set -> (F, 70, 3) canonical points (and (F, 70) confidence).
    Sets without pupils (iBUG 68, MediaPipe 468) get each eye's six-point centre as its pupil."""
    points = np.asarray(points)   # to float64 after picking the 70 (a 478-point take is 7x larger)
    conf = None if confidence is None else np.asarray(confidence, dtype=np.float64)
    if landmark_set == "openpose70":
        return points.astype(np.float64, copy=False), conf
    if landmark_set == "mediapipe478":
        idx = MEDIAPIPE_TO_CANONICAL
        return points[:, idx].astype(np.float64, copy=False), None if conf is None else conf[:, idx]
    if landmark_set == "mediapipe468":
        points, conf = points[:, MEDIAPIPE_TO_IBUG68], None if conf is None else conf[:, MEDIAPIPE_TO_IBUG68]
    elif landmark_set != "ibug68":
        raise ValueError(f"unknown landmark set {landmark_set!r}")
    points = points.astype(np.float64, copy=False)
    pupils = np.stack([points[:, 36:42].mean(axis=1), points[:, 42:48].mean(axis=1)], axis=1)
    out = np.concatenate([points, pupils], axis=1)
    if conf is not None:
        conf = np.concatenate([conf, np.stack([conf[:, 36:42].min(axis=1), conf[:, 42:48].min(axis=1)], 1)], 1)
    return out, conf


def camera_to_blender(points) -> np.ndarray:
    """Camera axes (x right, y down, z away from the camera) -> Blender's (x, z away, -y): a face
    looking into the camera looks along -Y, like the default head, and image-left is the subject's
    right (x < 0)."""
    p = np.asarray(points, dtype=np.float64)
    return np.stack([p[..., 0], p[..., 2], -p[..., 1]], axis=-1)


# ---- time ---------------------------------------------------------------------------------------

def fill_gaps(values, valid=None):
    """Linear interpolation over NaN along axis 0, per column; leading and trailing gaps hold the
    nearest value. Columns with no value at all stay NaN. Returns a new float64 array."""
    v = np.array(values, dtype=np.float64)
    flat = v.reshape(len(v), -1)
    t = np.arange(len(v))
    for j in range(flat.shape[1]):
        ok = np.isfinite(flat[:, j])
        if ok.all() or not ok.any():
            continue
        flat[:, j] = np.interp(t, t[ok], flat[ok, j])
    return flat.reshape(v.shape)


def gap_runs(missing) -> list[tuple[int, int]]:
    """(first, last) indices of each run of True."""
    m = np.concatenate([[0], np.asarray(missing, dtype=np.int8), [0]])
    edges = np.flatnonzero(np.diff(m))
    return [(int(a), int(b - 1)) for a, b in zip(edges[::2], edges[1::2])]


def resample(times, values, fps: float):
    """Values (F, ...) at `times` (seconds) -> (uniform times from 0 at `fps`, values interpolated)."""
    times = np.asarray(times, dtype=np.float64)
    grid = np.arange(0.0, times[-1] - times[0] + 0.5 / fps, 1.0 / fps)
    v = np.asarray(values, dtype=np.float64)
    flat = v.reshape(len(v), -1)
    out = np.empty((len(grid), flat.shape[1]))
    for j in range(flat.shape[1]):
        out[:, j] = np.interp(grid, times - times[0], flat[:, j])
    return grid, out.reshape((len(grid),) + v.shape[1:])


def is_uniform(times, fps: float) -> bool:
    times = np.asarray(times, dtype=np.float64)
    return bool(np.all(np.abs(times - times[0] - np.arange(len(times)) / fps) < 0.25 / fps))


# ---- smoothing ----------------------------------------------------------------------------------

def one_euro(x, fps: float, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0) -> np.ndarray:
    """One-Euro filter (Casiez, Roussel, Vogel 2012) along axis 0, every other axis filtered at once.
    The cutoff rises from min_cutoff (Hz) with the smoothed speed times beta: still values are
    smoothed hard, fast moves follow with little lag."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    if not len(x):
        return out
    te = 1.0 / fps

    def alpha(cutoff):
        r = 2.0 * np.pi * cutoff * te
        return r / (r + 1.0)

    a_d = alpha(d_cutoff)
    out[0] = x[0]
    # the recursion runs frame by frame; each step is a few in-place operations on one frame's
    # values (the same arithmetic, in the same order, as the textbook form)
    flat_x, flat_out = x.reshape(len(x), -1), out.reshape(len(x), -1)
    dx_hat, dx, a, b = (np.zeros_like(flat_x[0]) for _ in range(4))
    k, keep_d = 2.0 * np.pi, 1.0 - a_d
    for i in range(1, len(x)):
        xi, prev = flat_x[i], flat_out[i - 1]
        np.subtract(xi, prev, out=dx)
        np.divide(dx, te, out=dx)                 # dx = (x[i] - out[i-1]) / te
        np.multiply(dx_hat, keep_d, out=dx_hat)
        np.multiply(dx, a_d, out=dx)
        np.add(dx, dx_hat, out=dx_hat)            # dx_hat = a_d * dx + (1 - a_d) * dx_hat
        np.abs(dx_hat, out=a)
        np.multiply(a, beta, out=a)
        np.add(a, min_cutoff, out=a)              # cutoff = min_cutoff + beta * |dx_hat|
        np.multiply(a, k, out=a)
        np.multiply(a, te, out=a)                 # r = 2 pi cutoff te
        np.add(a, 1.0, out=b)
        np.divide(a, b, out=a)                    # a = r / (r + 1)
        np.multiply(a, xi, out=b)
        np.subtract(1.0, a, out=a)
        np.multiply(a, prev, out=a)
        np.add(b, a, out=flat_out[i])             # out[i] = a x[i] + (1 - a) out[i-1]
    return out


def smoothing_params(strength: float) -> tuple[float, float]:
    """strength in (0, 1] -> (min_cutoff Hz, beta) for values in units of their typical move (a
    tenth of the eye span for landmarks): 0.5 gives 1 Hz at rest and beta 0.63, which at 30 fps
    halves tracker jitter of a tenth of a unit and follows a one-unit step within 3-4 frames;
    1 gives 0.1 Hz and beta 0.2 (heavy), 0.1 gives 6 Hz and beta 1.6 (light)."""
    strength = float(np.clip(strength, 1e-6, 1.0))
    return 10.0 ** (1.0 - 2.0 * strength), 2.0 * 10.0 ** -strength


def smooth(values, fps: float, strength: float, scale: float = 1.0) -> np.ndarray:
    """One-Euro over (F, ...) values whose typical range is `scale`; strength 0 returns a copy."""
    values = np.asarray(values, dtype=np.float64)
    if strength <= 0 or len(values) < 2:
        return values.copy()
    min_cutoff, beta = smoothing_params(strength)
    return one_euro(values / scale, fps, min_cutoff, beta) * scale


# ---- the cleaned capture ------------------------------------------------------------------------

@dataclass
class CleanCapture:
    """A capture on a uniform time base: points (F, 70, 3) on the default head (its space, metres,
    head motion removed) or None; head_rotation (F, 3) yaw/pitch/roll radians (the convention in the
    module docstring for landmark captures; the file's own for ARKit-only ones) and head_matrix
    (F, 3, 3) (landmark captures only: a file's own angles follow its own convention) or None; arkit (F, 52) or None; eye_rotation (F, 2, 3) or None; filled (F,) True where
    the frame was a gap; warnings (the reader's first)."""

    fps: float
    times: np.ndarray
    points: np.ndarray | None = None
    head_rotation: np.ndarray | None = None
    head_matrix: np.ndarray | None = None
    scale: np.ndarray | None = None
    arkit: np.ndarray | None = None
    eye_rotation: np.ndarray | None = None
    filled: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        return int(len(self.times))

    def relative_head_rotation(self, neutral: int | None = None) -> np.ndarray:
        """(F, 3) yaw, pitch, roll relative to the take's median pose (or frame `neutral`). The
        absolute angles of a landmark capture carry a constant bias where the performer's face
        differs from the default head (a 2-D fit sees a longer nose as a tipped head); the relative
        ones do not."""
        if self.head_matrix is None:
            raise EmotiveError("this capture has no head rotation")
        rest = euler_to_matrix(np.median(self.head_rotation, axis=0) if neutral is None
                               else self.head_rotation[int(neutral)])
        return matrix_to_euler(self.head_matrix @ rest.T)

    def offsets(self, neutral: int | None = None) -> np.ndarray:
        """(F, 70, 3) offsets from the performer's rest face: the per-point median over the take, or
        frame `neutral` (a frame the performer held still), the form a Take's landmarks take."""
        if self.points is None:
            raise EmotiveError("this capture has no landmarks (an ARKit-only recording)")
        rest = np.median(self.points, axis=0) if neutral is None else self.points[int(neutral)]
        return self.points - rest


def _default_reference() -> np.ndarray:
    from .head_mesh import default_head_rig

    return np.asarray(default_head_rig()[0], dtype=np.float64)


def _isotropic(track, warnings, points=None) -> np.ndarray:
    """A copy of `points` (the track's landmarks, or some of them) in isotropic units."""
    points = np.array(track.landmarks if points is None else points, dtype=np.float64)
    if track.coords == "normalised":
        if track.image_size:
            w, h = track.image_size
            points[..., 0] *= w
            points[..., 1] *= h
            points[..., 2] *= w
        else:
            warnings.append("normalised coordinates without an image size: the image taken as square "
                            "(pass image_size for other aspect ratios)")
    return points


def _kabsch_frames(src, dst):
    """kabsch() for one src (K, 3) and every frame of dst (F, K, 3) at once -> s (F,), R (F, 3, 3), t (F, 3)."""
    cs, cd = src.mean(axis=0), dst.mean(axis=1)
    a, b = src - cs, dst - cd[:, None]
    u, sigma, vt = np.linalg.svd(np.swapaxes(b, 1, 2) @ a)
    d = np.sign(np.linalg.det(u @ vt))
    d[d == 0] = 1.0
    fix = np.stack([np.ones_like(d), np.ones_like(d), d], axis=1)
    r = (u * fix[:, None, :]) @ vt
    s = (sigma * fix).sum(axis=1) / max((a * a).sum(), 1e-30)
    return s, r, cd - s[:, None] * (r @ cs)


def _orthographic_frames(ref, obs):
    """fit_orthographic() for one ref (K, 3) and every frame of obs (F, K, 2) at once -> s (F,), R (F, 3, 3), t2 (F, 2)."""
    cr, co = ref.mean(axis=0), obs.mean(axis=1)
    affine = np.linalg.pinv(ref - cr) @ (obs - co[:, None])                     # (F, 3, 2): the least squares fit
    u, sigma, vt = np.linalg.svd(np.swapaxes(affine, 1, 2), full_matrices=False)   # (F, 2, 2), (F, 2), (F, 2, 3)
    rows = u @ vt
    r = np.stack([rows[:, 0], np.cross(rows[:, 1], rows[:, 0]), rows[:, 1]], axis=1)
    s = sigma.mean(axis=1)
    return s, r, co - s[:, None] * (r @ cr)[:, [0, 2]]


def remove_head_motion(points, dims: int, reference):
    """(F, 70, 3) points in Blender axes (NaN = gap) -> (head-frame points, R (F, 3, 3), s (F,)),
    NaN rows where fewer than 5 stable points were seen. 2-D points (dims 2: y unknown) are fitted
    orthographically and lifted with the reference's depth. Frames that saw the same stable points
    are fitted together (kabsch / fit_orthographic, batched: one SVD call for all of them)."""
    points = np.asarray(points, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    n = len(points)
    out = np.full_like(points, np.nan)
    rots = np.full((n, 3, 3), np.nan)
    scales = np.full(n, np.nan)
    seen_mask = np.all(np.isfinite(points[:, STABLE]), axis=2)                  # (F, len(STABLE))
    usable = np.flatnonzero(seen_mask.sum(axis=1) >= 5)
    if not len(usable):
        return out, rots, scales
    masks, group = np.unique(seen_mask[usable], axis=0, return_inverse=True)
    for g, mask in enumerate(masks):
        frames = usable[group.ravel() == g]
        seen = STABLE[mask]
        p = points[frames]
        if dims == 3:
            s, r, t = _kabsch_frames(ref[seen], p[:, seen])
            out[frames] = (p - t[:, None]) @ r / s[:, None, None]
        else:
            s, r, t2 = _orthographic_frames(ref[seen], p[:, seen][..., [0, 2]])
            rotated = ref @ np.swapaxes(r, 1, 2)                                # (F, 70, 3)
            cam = np.stack([(p[..., 0] - t2[:, :1]) / s[:, None], rotated[..., 1],
                            (p[..., 2] - t2[:, 1:]) / s[:, None]], axis=-1)
            out[frames] = cam @ r
        rots[frames], scales[frames] = r, s
    return out, rots, scales


def clean(track, *, fps: float | None = None, min_confidence: float = 0.3, max_gap: float = 0.25,
          smoothing: float = 0.5, reference=None) -> CleanCapture:
    """A CaptureTrack -> CleanCapture (the steps in the module docstring). Raises EmotiveError when
    nothing usable is left (every frame gated out)."""
    warnings = list(track.warnings)
    rate = float(fps or track.fps)
    n = track.n_frames
    valid = np.asarray(track.valid, dtype=bool).copy()
    points = rotation = scale = None
    point_scale = 0.01
    if track.landmarks is not None:
        ref = _default_reference() if reference is None else np.asarray(reference, dtype=np.float64)
        raw, conf = to_canonical70(track.landmarks, track.landmark_set, track.confidence)
        raw = _isotropic(track, warnings, raw)
        raw[~valid] = np.nan
        if conf is not None:
            low = conf < min_confidence
            raw[low] = np.nan
            if low[valid].all(axis=1).any():
                warnings.append(f"{int(low[valid].all(axis=1).sum())} frame(s) with every point under "
                                f"confidence {min_confidence}")
        points, rotation, scale = remove_head_motion(camera_to_blender(raw), track.dims, ref)
        lost = ~np.isfinite(points).any(axis=(1, 2))
        if lost.all():
            raise EmotiveError(f"'{track.path}': no frame shows enough of the face (nose and eye corners) "
                               "to fit the head; check the confidence threshold")
        iod = np.linalg.norm(points[:, OUTER_EYE_CORNERS[0]] - points[:, OUTER_EYE_CORNERS[1]], axis=1)
        ref_iod = np.linalg.norm(ref[OUTER_EYE_CORNERS[0]] - ref[OUTER_EYE_CORNERS[1]])
        centre = ref[STABLE].mean(axis=0)
        points = centre + (points - centre) * (ref_iod / np.nanmedian(iod))
        valid &= ~lost
        point_scale = 0.1 * ref_iod   # a tenth of the eye span: the One-Euro filter's unit
    missing = ~valid
    frames = track.frame_numbers if track.frame_numbers is not None else np.arange(n)
    long_runs = [(a, b) for a, b in gap_runs(missing) if (b - a + 1) / track.fps > max_gap]
    if long_runs:
        text = ", ".join(f"{frames[a]}-{frames[b]}" for a, b in long_runs[:6])
        warnings.append(f"{len(long_runs)} gap(s) longer than {max_gap:g} s filled by interpolation "
                        f"(frames {text}{' ...' if len(long_runs) > 6 else ''})")
    series = {}
    if points is not None:
        series["points"] = points
        series["head"] = matrix_to_euler(np.where(np.isfinite(rotation), rotation, 0.0))
        series["head"][lost] = np.nan
        series["scale"] = scale
    else:
        if track.head_rotation is not None:
            hr = np.asarray(track.head_rotation, dtype=np.float64)
            series["head"] = matrix_to_euler(hr) if hr.ndim == 3 else hr
    if track.arkit is not None:
        series["arkit"] = np.asarray(track.arkit, dtype=np.float64)
    if track.eye_rotation is not None:
        series["eyes"] = np.asarray(track.eye_rotation, dtype=np.float64)
    for key, values in series.items():
        values = values.copy()
        values[missing] = np.nan
        series[key] = fill_gaps(values)
    times = np.asarray(track.times, dtype=np.float64)
    filled = missing.astype(np.float64)
    if not is_uniform(times, rate):
        for key in series:
            times_out, series[key] = resample(times, series[key], rate)
        _, filled = resample(times, filled, rate)
        times = times_out
        warnings.append(f"resampled onto a uniform {rate:g} fps time base")
    else:
        times = times - times[0]
    scales = {"points": point_scale, "head": 0.1, "arkit": 0.1, "eyes": 0.1}
    keys = [key for key in scales if key in series]
    if keys:   # one filter over all the series' columns: the same per column as a filter per series
        columns = [series[key].reshape(len(series[key]), -1) for key in keys]
        smoothed = smooth(np.concatenate([c / scales[key] for c, key in zip(columns, keys)], axis=1),
                          rate, smoothing)
        for key, part in zip(keys, np.split(smoothed, np.cumsum([c.shape[1] for c in columns])[:-1], axis=1)):
            series[key] = (part * scales[key]).reshape(series[key].shape)
    if "arkit" in series and not track.neutral_subtracted:
        series["arkit"] = np.clip(series["arkit"], 0.0, 1.0)
    head = series.get("head")
    return CleanCapture(
        fps=rate, times=times, points=series.get("points"), head_rotation=head,
        head_matrix=None if head is None or points is None else euler_to_matrix(head), scale=series.get("scale"),
        arkit=series.get("arkit"), eye_rotation=series.get("eyes"), filled=filled > 0.5, warnings=warnings)
