"""Shape-key weights from landmark displacements (bpy-free).

Each shape key k at weight 1 moves the L landmarks by signatures[k] (L, 3); a frame's landmark
displacement y is modelled as sum_k w_k signatures[k]. Per frame, with A = signatures as a
(3L, K) matrix:

    minimise |A w - y|^2 + lam |w|^2   subject to  lower <= w <= upper

lam = regularisation x mean(diag(A^T A)), so the setting is unit-free (metres or mm alike). The
ridge pulls keys that the landmarks cannot see (tongueOut, a zero column) or cannot tell apart
to 0 / to a shared split instead of letting them blow up. `key_regularisation` (K,) adds a ridge of
its own to each key, in the signatures' squared units: the variance of a key's signature where it
was measured (a tracker's view of the keys, rigs/head_mesh.py:tracked_signatures). With
signatures known only to within that variance, |A w - y|^2 is expected to be larger by
sum_k w_k^2 var_k, so it is added to the objective: a key the tracker sees no better than its
noise (cheekSquint, noseSneer for FaceMesh) stays near 0 instead of soaking up the residual.

Solving (no per-frame scipy call: lsq_linear costs ~ms a frame, the goal is >= 5,000 frames/s):
1. H = A^T A + lam I is Cholesky-factored once; all frames' unconstrained solutions are one
   one product with its (K x K) inverse for all F frames.
2. Frames that leave the box go through a batched primal-dual active-set loop (a semismooth
   Newton method): keys past a bound, or at one with the gradient pushing out, are held there,
   the free keys' sub-system H_FF is solved exactly, repeat until no frame's sets change (2-6
   rounds here). The sub-systems differ per frame, so they are solved by Jacobi-preconditioned
   conjugate gradients over all frames at once (one (F, K) x (K, K) product per step; batched
   np.linalg.solve was 60x slower here, see _masked_cg). The method can cycle on a few frames
   (~1 in 2,000 with these signatures): those go to scipy's lsq_linear (BVLS), one at a time.

Temporal smoothness (optional, `smoothness` > 0) adds mu |D2 w_k|^2 per key, D2 the second
difference across frames (mu relative like lam). That couples frames, so the whole take is solved
together by ADMM on the split w = z, z in the box: in the eigenbasis of H (H = Q diag(s) Q^T) the
w-update decouples into K pentadiagonal systems (s_k + rho) I + mu D2^T D2 of size F, factored
once (scipy sparse LU) and reused every iteration; z is a clip. Converged to 1e-4 in weights,
not to the exact optimum: enough for animation, and typically 0.1-1 s for a few hundred frames.
"""

from __future__ import annotations

import numpy as np

# NumPy only at import: the solver runs inside a user's Blender, which ships NumPy but not
# SciPy. SciPy is used lazily for the rare BVLS fallback and the optional smoothing path.


def signatures_from_shape_keys(binding, base_vertices, deltas, names=None) -> np.ndarray:
    """(K, L, 3) landmark displacement of each shape key at weight 1.

    binding.evaluate(base + delta) - binding.evaluate(base) == binding.evaluate(delta), as the
    barycentric weights sum to 1; `base_vertices` is only checked against the deltas' shape.
    `deltas`: a dict name -> (V, 3) (taken in `names` order, else the dict's) or a (K, V, 3) array.
    """
    if isinstance(deltas, dict):
        deltas = np.stack([np.asarray(deltas[n]) for n in (names or list(deltas))])
    deltas = np.asarray(deltas, np.float64)
    base = np.asarray(base_vertices)
    if deltas.ndim != 3 or deltas.shape[1:] != base.shape:
        raise ValueError(f"deltas: expected (K, {base.shape[0]}, 3), got {deltas.shape}")
    return np.stack([binding.evaluate(d) for d in deltas])


class ShapeKeySolver:
    """Bounded, ridge-regularised least squares for shape-key weights, batched over frames."""

    def __init__(self, signatures, lower=0.0, upper=1.0, regularisation: float = 1e-3,
                 smoothness: float = 0.0, key_regularisation=None):
        s = np.asarray(signatures, np.float64)
        if s.ndim != 3 or s.shape[2] != 3:
            raise ValueError(f"signatures: expected (K, L, 3), got {s.shape}")
        if not np.isfinite(s).all():
            raise ValueError("signatures: contains NaN or inf")
        self.n_keys, self.n_landmarks = s.shape[:2]
        self.A = s.reshape(self.n_keys, -1).T                              # (3L, K)
        gram = self.A.T @ self.A
        self.scale = max(float(np.trace(gram)) / self.n_keys, 1e-30)
        self.lam = regularisation * self.scale
        extra = np.zeros(self.n_keys) if key_regularisation is None else np.asarray(key_regularisation, np.float64)
        if extra.shape != (self.n_keys,) or not np.isfinite(extra).all() or (extra < 0).any():
            raise ValueError(f"key_regularisation: expected {self.n_keys} finite values >= 0")
        self.ridge = self.lam + extra                                      # (K,) per key
        self.H = gram + np.diag(self.ridge)
        self._H_inv = np.linalg.inv(self.H)  # K <= 52 and SPD: one product solves every frame
        self.lower = np.broadcast_to(np.asarray(lower, np.float64), (self.n_keys,)).copy()
        self.upper = np.broadcast_to(np.asarray(upper, np.float64), (self.n_keys,)).copy()
        if np.any(self.lower > self.upper):
            raise ValueError("lower > upper for some keys")
        self.mu = smoothness * self.scale
        self.tol = 1e-6  # conjugate-gradient tolerance, in weight units
        self.fallback_frames = 0      # frames the last solve() handed to lsq_linear

    @property
    def condition_number(self) -> float:
        """Condition number of A (without the ridge): inf when some key is unobservable."""
        sv = np.linalg.svd(self.A, compute_uv=False)
        return float(sv[0] / sv[-1]) if sv[-1] > 0 else float("inf")

    def _check(self, disp) -> np.ndarray:
        y = np.asarray(disp, np.float64)
        if y.ndim == 2:
            y = y[None]
        if y.ndim != 3 or y.shape[1:] != (self.n_landmarks, 3):
            raise ValueError(f"disp: expected (F, {self.n_landmarks}, 3) landmark displacements "
                             f"(or ({self.n_landmarks}, 3)), got {np.shape(disp)}")
        bad = ~np.isfinite(y).all(axis=(1, 2))
        if bad.any():
            raise ValueError(f"disp: NaN or inf in {bad.sum()} frame(s), "
                             f"first {np.flatnonzero(bad)[:5].tolist()}")
        return y.reshape(len(y), -1)

    def solve(self, disp, prior=None) -> np.ndarray:
        """(F, L, 3) (or (L, 3)) landmark displacements -> (F, K) weights within [lower, upper].

        prior: (F, K) (or (K,)) weights the ridge pulls toward instead of zero. Where the
        landmarks cannot tell keys apart (brow lowerer against inner-brow raiser, both at full
        strength, nearly cancel on the brow), the solution then takes the prior's mix rather
        than the smallest one."""
        y = self._check(disp)
        b = y @ self.A                                                     # (F, K) = A^T y
        prior = None if prior is None else np.broadcast_to(np.asarray(prior, np.float64), b.shape)
        if prior is not None:
            if not np.isfinite(prior).all():
                raise ValueError("prior: contains NaN or inf")
            b = b + self.ridge * prior  # argmin |Aw - y|^2 + sum_k ridge_k (w_k - prior_k)^2
        if self.mu > 0 and len(b) >= 3:
            return self._solve_smooth(b)
        w = b @ self._H_inv
        out = (w < self.lower) | (w > self.upper)
        rows = np.flatnonzero(out.any(axis=1))
        self.fallback_frames = 0
        if len(rows):
            w[rows] = self._box_qp(b[rows], w[rows], y[rows],
                                   None if prior is None else prior[rows])
        return np.clip(w, self.lower, self.upper, out=w)  # CG / lsq_linear rounding: ~1e-9 off

    def residual_mm(self, disp, weights) -> np.ndarray:
        """Per-frame RMS over landmarks of the 3D distance |A w - y|, in mm (input in metres)."""
        y = self._check(disp)
        r = (np.atleast_2d(weights) @ self.A.T - y).reshape(len(y), self.n_landmarks, 3)
        return 1000.0 * np.sqrt((r ** 2).sum(-1).mean(-1))

    # --- bounded per-frame QP: min 0.5 w'Hw - b'w in the box, many frames at once ------------

    def _box_qp(self, b, w, y, prior=None, max_iter: int = 30) -> np.ndarray:
        """Primal-dual active set (Hintermueller, Ito & Kunisch 2002, a semismooth Newton
        method) on all frames at once: hold at a bound the keys that are past it or whose
        gradient pushes out of it, solve the rest exactly, repeat until no frame's sets change
        (usually 2-5 rounds). Frames still changing after max_iter go to lsq_linear."""
        lo, hi, H, k = self.lower, self.upper, self.H, self.n_keys
        c = np.maximum(np.diag(H), 1e-300)  # puts gradients into weight units
        todo = np.arange(len(b))
        g = w @ H - b
        at_lo, at_hi = g > c * (w - lo), g < c * (w - hi)  # w: the unconstrained solution
        for _ in range(max_iter):
            fixed = at_lo | at_hi
            wb = np.where(at_lo, lo, np.where(at_hi, hi, 0.0))
            rhs = (b[todo] - wb @ H) * ~fixed
            # warm start from the last round: the free sets change little between rounds
            wt = np.where(fixed, wb, self._masked_cg(rhs, ~fixed, w[todo] * ~fixed))
            g = wt @ H - b[todo]
            new_lo, new_hi = g > c * (wt - lo), g < c * (wt - hi)
            w[todo] = wt
            done = (new_lo == at_lo).all(axis=1) & (new_hi == at_hi).all(axis=1)
            todo, at_lo, at_hi = todo[~done], new_lo[~done], new_hi[~done]
            if not len(todo):
                break
        if len(todo):  # rare: finish those frames with scipy's bounded least squares
            self.fallback_frames = len(todo)
            try:
                from scipy.optimize import lsq_linear
            except ImportError:  # inside Blender: keep the active set's last, clipped iterate
                return w
            aug = np.vstack([self.A, np.diag(np.sqrt(self.ridge))])
            for f in todo:
                pull = np.zeros(k) if prior is None else np.sqrt(self.ridge) * prior[f]
                rhs = np.concatenate([y[f], pull])
                w[f] = lsq_linear(aug, rhs, bounds=(lo, hi), method="bvls").x
        return w

    def _masked_cg(self, r, free, x0, max_iter: int | None = None) -> np.ndarray:
        """Solve H_FF x_F = r_F for every frame (x = 0 off the free set F) by Jacobi-
        preconditioned conjugate gradients, all frames at once: each iteration is one (F, K) x
        (K, K) product. Not np.linalg.solve on (F, K, K): its per-matrix LAPACK calls cost ~1 ms
        each under OpenBLAS threading on a busy 2-core machine (measured 4.7 s for 5,000)."""
        prec = 1.0 / np.maximum(np.diag(self.H), 1e-300)
        out, rows, x = x0.copy(), np.arange(len(r)), x0.copy()
        res = r - (x @ self.H) * free
        z = prec * res
        p = z.copy()
        rz = np.einsum("fk,fk->f", res, z)
        for _ in range(max_iter or 2 * self.n_keys):
            live = np.einsum("fk,fk->f", res * prec, res * prec) > self.tol ** 2  # weight units
            if live.sum() < 0.8 * len(rows):  # drop converged frames (not every time: copies)
                out[rows] = x
                rows, x, res, p, rz, free = (a[live] for a in (rows, x, res, p, rz, free))
                live = live[live]
            if not len(rows):
                break
            hp = (p @ self.H) * free
            php = np.einsum("fk,fk->f", p, hp)
            alpha = np.where(live & (php > 0), rz / np.where(php > 0, php, 1.0), 0.0)
            x += alpha[:, None] * p
            res -= alpha[:, None] * hp
            z = prec * res
            rz_new = np.einsum("fk,fk->f", res, z)
            p = z + (rz_new / np.where(rz > 0, rz, 1.0))[:, None] * p
            rz = rz_new
        out[rows] = x
        return out

    # --- temporal smoothness: ADMM over the whole take ---------------------------------------

    def _solve_smooth(self, b, max_iter: int = 1000, tol: float = 1e-4) -> np.ndarray:
        import scipy.sparse as sp
        from scipy.linalg import eigh
        from scipy.sparse.linalg import factorized

        n, k = b.shape
        s, q = eigh(self.H)
        rho = self.scale  # ADMM penalty: H's mean eigenvalue (fastest of 0.1-100x median tried)
        d2 = sp.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(n - 2, n))
        # all K eigen-direction systems (s_k + rho) I + mu D2^T D2 as one block-diagonal
        # sparse matrix (index k * n + f), factored once, one solve per iteration
        m = (sp.kron(sp.diags(s + rho), sp.identity(n))
             + sp.kron(sp.identity(k), self.mu * (d2.T @ d2)))
        solve = factorized(m.tocsc())
        z = np.clip(b @ self._H_inv, self.lower, self.upper)
        u = np.zeros_like(z)
        for self.admm_iterations in range(1, max_iter + 1):
            rhs = (b + rho * (z - u)) @ q                                  # eigenbasis
            w = solve(rhs.T.ravel()).reshape(k, n).T @ q.T
            z_old = z
            z = np.clip(w + u, self.lower, self.upper)
            u += w - z
            if np.abs(w - z).max() < tol and np.abs(z - z_old).max() < tol:
                break
        return z
