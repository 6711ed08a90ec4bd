"""Many small box-constrained minimisations at once: projected Newton with finite-difference
derivatives, every problem and every starting point in lock-step, so that one vectorised call of
the objective serves them all (what fits every person of a dataset in minutes).

The objective is a batched function `objective(rows, points [B, M, n]) -> [B, M]`, where `rows`
index the G * R flattened starting points (row // R is the problem). Each iteration of
`minimize_box` is three steps that each read on their own:

- `newton_step`: finite-difference gradient and Hessian (`derivatives`), a projected Newton
  direction (`newton_direction`, Bertsekas 1982) and a backtracking line search;
- `polish`: where Newton stops gaining on a problem's best row, a coordinate search
  (`pattern_points`) takes over, since likelihoods with a max in them have kinks on which
  derivatives mislead;
- `duplicates`: a row that comes close to a better row of its problem stops, since it would only
  repeat its path.

Every row ends with a status: `CONVERGED` (no step gains `tolerance`, and either the Newton step's
predicted gain is below it too or the coordinate search found no better point: a local minimum,
kinks included), `STALLED` (no step gains but the derivatives still promise a gain: a kink or a
ridge that only the best rows get polished on), `MERGED` (stopped next to a better row) or
`ITERATION_CAP` (still moving when the iterations ran out).
"""

import numpy as np

CONVERGED, STALLED, MERGED, ITERATION_CAP = "converged", "stalled", "merged", "iteration cap"


def stencil(n):
    """Offsets (in steps) of the points around a centre: +-e_i, then +(e_i + e_j) and -(e_i + e_j)
    for each pair i < j. [n (n + 1), n]."""
    eye = np.eye(n)
    i, j = np.triu_indices(n, 1)
    return np.concatenate([eye, -eye, eye[i] + eye[j], -eye[i] - eye[j]])


def derivatives(objective, rows, x, lower, upper, step=1e-4, hessian=None):
    """f, gradient and Hessian of objective at x [B, n], from one batched call.

    Central differences (O(step^2)) around x moved inside the bounds by two steps where it is
    closer to them, so every point lies strictly inside (a prior may vanish on a bound); the
    gradient is carried back to x through the Hessian. Off-diagonal terms use the points
    +-(e_i + e_j): H_ij = (f_++ + f_-- - f_+i - f_-i - f_+j - f_-j + 2 f) / (2 step^2). Given a
    `hessian` [B, n, n], only the 2n + 2 points of the gradient and the diagonal are evaluated and
    its off-diagonal terms are kept.
    """
    n = x.shape[-1]
    offsets = stencil(n) if hessian is None else stencil(n)[: 2 * n]
    centre = np.clip(x, lower + 2 * step, upper - 2 * step)
    f = objective(rows, np.concatenate([x[:, None], centre[:, None], centre[:, None] + step * offsets], axis=1))
    f_x, f_c, plus, minus = f[:, 0], f[:, 1, None], f[:, 2 : 2 + n], f[:, 2 + n : 2 + 2 * n]
    if hessian is None:
        i, j = np.triu_indices(n, 1)
        both_plus, both_minus = np.split(f[:, 2 + 2 * n :], 2, axis=1)
        hessian = np.zeros(x.shape + (n,))
        hessian[:, i, j] = hessian[:, j, i] = (
            both_plus + both_minus - plus[:, i] - minus[:, i] - plus[:, j] - minus[:, j] + 2 * f_c
        ) / (2 * step**2)
    else:
        hessian = hessian.copy()
    hessian[:, np.arange(n), np.arange(n)] = (plus - 2 * f_c + minus) / step**2
    gradient = (plus - minus) / (2 * step) + np.einsum("bij,bj->bi", hessian, x - centre)
    return f_x, gradient, hessian


def newton_direction(gradient, hessian, x, lower, upper, cap=0.25, near=1e-8):
    """Projected Newton direction for a box. A coordinate within `near` (of the box) of a bound
    its gradient pushes against goes onto that bound and stays; the others take a Newton step on
    the Hessian with its eigenvalues made positive (|lambda|, at least 1e-4), less any move out of
    the box, capped to `cap` of the box per step."""
    margin = near * (upper - lower)
    at_lower, at_upper = (x <= lower + margin) & (gradient > 0), (x >= upper - margin) & (gradient < 0)
    free = ~(at_lower | at_upper)
    reduced = np.where(free[:, :, None] & free[:, None, :], hessian, np.eye(x.shape[-1]))
    values, vectors = np.linalg.eigh(reduced)
    values = np.maximum(np.abs(values), 1e-4)  # flat directions (e.g. w when alpha = 0) move little
    g = np.where(free, gradient, 0.0)
    direction = -np.einsum("bij,bj->bi", vectors, np.einsum("bji,bj->bi", vectors, g) / values)
    direction = np.where(((x <= lower) & (direction < 0)) | ((x >= upper) & (direction > 0)), 0.0, direction)
    direction = direction / np.maximum(1.0, (np.abs(direction) / (cap * (upper - lower))).max(-1, keepdims=True))
    return np.where(at_lower, lower - x, np.where(at_upper, upper - x, direction))


def newton_step(objective, rows, x, hessian, full, lower, upper, step=1e-4, line_steps=6):
    """One projected Newton step of `rows`, x [N, n] and hessian [N, n, n] updated in place: the
    rows marked `full` get a full Hessian, the others their gradient and diagonal with the
    off-diagonal terms kept; step sizes 1, 1/4, 1/16, ... (`line_steps` of them, one call) and the
    first that meets Armijo's condition is taken. Returns f before and after and the gain the
    Newton step predicted (-gradient . direction), each [len(rows)]."""
    f0, gradient = np.zeros(len(rows)), np.zeros((len(rows), x.shape[-1]))
    for part, keep in ((full, False), (~full, True)):
        if part.any():
            r = rows[part]
            f0[part], gradient[part], hessian[r] = derivatives(objective, r, x[r], lower, upper, step, hessian[r] if keep else None)
    direction = newton_direction(gradient, hessian[rows], x[rows], lower, upper)
    fractions = 0.25 ** np.arange(line_steps)
    trial = np.clip(x[rows, None] + fractions[:, None] * direction[:, None], lower, upper)
    f_trial = objective(rows, trial)
    armijo = f_trial <= f0[:, None] + 1e-4 * np.einsum("bmn,bn->bm", trial - x[rows, None], gradient)
    first, moved = armijo.argmax(axis=1), armijo.any(axis=1)
    x[rows[moved]] = trial[moved, first[moved]]
    f_new = np.where(moved, f_trial[np.arange(len(rows)), first], f0)
    return f0, f_new, -np.einsum("bn,bn->b", gradient, direction)


def pattern_points(x, lower, upper, scales=(1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)):
    """x [B, n] moved along each coordinate by +-scale of the box, clipped to it: [B, 2 n S, n]."""
    n = x.shape[-1]
    moves = np.concatenate([scale * np.concatenate([np.eye(n), -np.eye(n)]) for scale in scales]) * (upper - lower)
    return np.clip(x[:, None] + moves, lower, upper)


def polish(objective, rows, x, f, lower, upper, tolerance):
    """Coordinate search from `rows`: each moves (x, f updated in place) to the best of its
    `pattern_points` where that gains at least `tolerance`. Returns which rows moved."""
    around = pattern_points(x[rows], lower, upper)
    f_around = objective(rows, around)
    best = f_around.argmin(axis=1)
    gain = f[rows] - f_around[np.arange(len(rows)), best]
    moved = gain >= tolerance
    x[rows[moved]] = around[moved, best[moved]]
    f[rows[moved]] -= gain[moved]
    return moved


def duplicates(x, f, n_starts, lower, upper, merge):
    """Rows [G * R] within `merge` (of the box, in every coordinate) of a better row of the same
    problem (on a tie, of an earlier one)."""
    xs, fs = x.reshape(-1, n_starts, x.shape[-1]), f.reshape(-1, n_starts)
    order = np.arange(n_starts)
    close = (np.abs(xs[:, :, None] - xs[:, None]) / (upper - lower)).max(axis=-1) < merge
    better = (fs[:, None, :] < fs[:, :, None]) | ((fs[:, None, :] == fs[:, :, None]) & (order < order[:, None]))
    return (close & better).any(axis=-1).ravel()


def minimize_box(objective, x0, lower, upper, iterations=100, tolerance=1e-9, line_steps=6, merge=3e-2, step=1e-4, refresh=2):
    """Minimise G problems from R starting points each, x0 [G, R, n], within [lower, upper].

    All rows run in lock-step through `newton_step`s, the full Hessian every `refresh` steps. A
    step that gains less than `tolerance` with kept off-diagonal terms is retried with a full
    Hessian; with a full one the row stops, except a problem's best row, which `polish`es and goes
    on if that gains. A row also stops on coming within `merge` of a better row (`duplicates`).
    Returns (x [G, R, n], f [G, R], iterations run [G, R], status [G, R]: the module's statuses).
    """
    x = np.clip(np.array(x0, np.float64), lower, upper).reshape(-1, x0.shape[-1])
    n_starts = x0.shape[1]
    f = np.full(len(x), np.inf)
    hessian = np.zeros(x.shape + x.shape[-1:])
    age = np.full(len(x), refresh)  # steps since the last full Hessian
    used = np.zeros(len(x), int)
    status = np.full(len(x), ITERATION_CAP, dtype=object)
    rows = np.arange(len(x))
    for _ in range(iterations):
        full = age[rows] >= refresh
        f0, f[rows], promised = newton_step(objective, rows, x, hessian, full, lower, upper, step, line_steps)
        used[rows] += 1
        age[rows] = np.where(full, 0, age[rows]) + 1
        stopped = f0 - f[rows] < tolerance
        age[rows[stopped & ~full]] = refresh
        stopped &= full
        leading = f[rows] <= f.reshape(-1, n_starts).min(axis=1)[rows // n_starts]
        searched = stopped & leading
        if searched.any():
            stopped[searched] = ~polish(objective, rows[searched], x, f, lower, upper, tolerance)
        status[rows[stopped]] = np.where(searched[stopped] | (promised[stopped] < tolerance), CONVERGED, STALLED)
        merged = ~stopped & duplicates(x, f, n_starts, lower, upper, merge)[rows]
        status[rows[merged]] = MERGED
        rows = rows[~stopped & ~merged]
        if not len(rows):
            break
    return x.reshape(x0.shape), f.reshape(x0.shape[:2]), used.reshape(x0.shape[:2]), status.reshape(x0.shape[:2])
