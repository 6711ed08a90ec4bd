"""The batched box-constrained minimiser (twostep.box_newton) on problems with known answers:
against scipy's L-BFGS-B where both apply, optima on bounds and on kinks, close starts merged,
the iteration cap reported, and `daw_models.fit` warning when a person's best start hit it."""

import numpy as np
import pytest
from scipy.optimize import minimize

from twostep import box_newton, daw_models

LOWER, UPPER = np.array([-2.0, -2.0, -2.0]), np.array([2.0, 2.0, 2.0])


def convex_problems(rng, n_problems):
    """Smooth convex f(x) = (x - c)' A (x - c) / 2 + 0.1 sum x^4 with its gradient, per problem."""
    roots = rng.normal(size=(n_problems, 3, 3))
    a = roots @ np.swapaxes(roots, 1, 2) + 0.5 * np.eye(3)
    c = rng.uniform(-6, 6, (n_problems, 3))  # some optima outside the box: those coordinates end on a bound

    def value(g, x):
        d = x - c[g]
        return 0.5 * np.einsum("...i,ij,...j->...", d, a[g], d) + 0.1 * (x**4).sum(-1)

    def gradient(g, x):
        return a[g] @ (x - c[g]) + 0.4 * x**3

    return value, gradient


def batched(value, n_starts):
    """The minimiser's objective(rows, points [B, M, n]) from a per-problem value(g, x [..., n])."""
    return lambda rows, points: np.stack([value(row // n_starts, p) for row, p in zip(rows, points)])


def test_smooth_problems_end_where_lbfgsb_does_bounds_included():
    rng = np.random.default_rng(0)
    value, gradient = convex_problems(rng, 8)
    x0 = rng.uniform(LOWER, UPPER, (8, 3, 3))
    x, f, _, status = box_newton.minimize_box(batched(value, 3), x0, LOWER, UPPER)
    best = f.argmin(axis=1)
    on_bound = 0
    for g in range(8):
        theirs = minimize(lambda z: value(g, z), x0[g, 0], jac=lambda z: gradient(g, z), method="L-BFGS-B",
                          bounds=list(zip(LOWER, UPPER)), options={"ftol": 1e-15, "gtol": 1e-12})
        assert f[g, best[g]] <= theirs.fun + 1e-9  # never worse; a convex problem has one minimum
        np.testing.assert_allclose(x[g, best[g]], theirs.x, rtol=0, atol=1e-4)
        assert status[g, best[g]] == box_newton.CONVERGED
        on_bound += np.isin(x[g, best[g]], (LOWER[0], UPPER[0])).sum()
    assert on_bound >= 3  # the bounds were tested, exactly: an active coordinate lies on its bound


def test_a_quadratic_whose_optimum_lies_beyond_a_bound_ends_on_it():
    """Diagonal curvature: the constrained optimum is the unconstrained one clipped to the box."""
    centre, scales = np.array([2.7, -0.4, -3.1]), np.array([1.0, 30.0, 0.2])

    def value(g, x):
        return 0.5 * (scales * (x - centre) ** 2).sum(-1)

    x, f, _, status = box_newton.minimize_box(batched(value, 1), np.zeros((1, 1, 3)), LOWER, UPPER)
    np.testing.assert_array_equal(x[0, 0, [0, 2]], [2.0, -2.0])
    np.testing.assert_allclose(x[0, 0, 1], -0.4, atol=1e-7)
    assert status[0, 0] == box_newton.CONVERGED


def test_a_kink_is_found_by_the_coordinate_search():
    """|x0 - 0.3| has no derivative at its minimum; the best row ends on it all the same."""
    lower, upper = np.zeros(2), np.ones(2)

    def value(g, x):
        return 2 * np.abs(x[..., 0] - 0.3) + (x[..., 1] - 0.6) ** 2

    x, f, _, status = box_newton.minimize_box(batched(value, 2), np.array([[[0.9, 0.1], [0.05, 0.95]]]), lower, upper)
    best = f[0].argmin()
    np.testing.assert_allclose(x[0, best], [0.3, 0.6], atol=1e-6)
    assert f[0, best] < 1e-6 and status[0, best] == box_newton.CONVERGED


def rosenbrock(g, x):
    return 100 * (x[..., 1] - x[..., 0] ** 2) ** 2 + (1 - x[..., 0]) ** 2


def test_the_iteration_cap_is_reported_and_more_iterations_converge():
    lower, upper = np.full(2, -2.0), np.full(2, 2.0)
    x0 = np.array([[[-1.2, 1.0]]])
    x, f, used, status = box_newton.minimize_box(batched(rosenbrock, 1), x0, lower, upper, iterations=10)
    assert status[0, 0] == box_newton.ITERATION_CAP and used[0, 0] == 10 and f[0, 0] > 1e-3
    x, f, used, status = box_newton.minimize_box(batched(rosenbrock, 1), x0, lower, upper, iterations=500)
    assert status[0, 0] == box_newton.CONVERGED and used[0, 0] < 500
    np.testing.assert_allclose(x[0, 0], [1.0, 1.0], atol=1e-5)


def test_a_start_next_to_a_better_one_is_merged():
    """Two starts 0.1% of the box apart on a quadratic: one Newton step takes both to the optimum,
    and the later one stops there as a duplicate of the earlier."""
    lower, upper = np.zeros(2), np.ones(2)

    def value(g, x):
        return ((x - np.array([0.1, 0.9])) ** 2).sum(-1)

    _, f, _, status = box_newton.minimize_box(batched(value, 2), np.array([[[0.5, 0.5], [0.501, 0.5]]]), lower, upper)
    assert list(status[0]) == [box_newton.CONVERGED, box_newton.MERGED]
    assert f[0, 0] < 1e-12


def test_fit_warns_when_a_best_start_hit_the_cap():
    rng = np.random.default_rng(4)
    probs = rng.uniform(0.25, 0.75, (2, 1, 40, 4))
    truth = np.tile([0.5, 0.5, 0.5, 5.0, 5.0, 0.2, 0.5], (2, 1))
    records = daw_models.simulate(daw_models.DAW2011, truth, probs, rng)
    with pytest.warns(UserWarning, match=r"daw2011: the best start of 2 of 2 subjects .* after 2 iterations"):
        capped = daw_models.fit(daw_models.DAW2011, records, restarts=2, iterations=2)
    assert (capped["status"] == box_newton.ITERATION_CAP).all()
