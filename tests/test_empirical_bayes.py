"""Priors estimated from the sample (twostep.empirical_bayes): the logit-normal prior is a density
on the box, the M-step is the population's moments, and EM recovers a simulated population."""

import numpy as np
from scipy.integrate import quad

from twostep import daw_models, empirical_bayes

MB = daw_models.SPECS["daw2011-mb"]  # alpha2, beta1, beta2, p


def test_the_logit_normal_prior_is_a_density_of_z_on_each_box():
    """Its log_prior is z's density (the MAP is z's, as emfit's): times dz/dx, it integrates to 1 over x."""
    spec = empirical_bayes.with_prior(MB, [0.5, -1.0, 0.0, 0.3], [1.0, 0.5, 2.0, 0.2])
    for p in spec.free:
        mass, _ = quad(lambda x: np.exp(p.log_prior(np.array(x))) * p.unbounded_slope(x), p.lower, p.upper, limit=200)
        np.testing.assert_allclose(mass, 1.0, atol=1e-6, err_msg=p.name)
        assert p.log_prior(np.array(p.lower)) == -np.inf


def test_the_m_step_is_the_mean_and_the_spread_with_the_posterior_variance():
    z = np.array([[0.0, 1.0], [2.0, 1.0]])
    mean, sd = empirical_bayes.m_step(z, np.array([[0.5, 0.0], [0.5, 0.0]]))
    np.testing.assert_allclose(mean, [1.0, 1.0])
    np.testing.assert_allclose(sd, [np.sqrt(1.0 + 0.5), 1e-3])  # a spread of 0 is floored at sd 1e-3


def test_em_recovers_the_population_it_simulated():
    """60 simulated people, 200 trials each, their z drawn from a known population: after EM the
    estimated mean of each z lies within 3 standard errors (its SD / sqrt(60), plus each person's
    posterior spread) of the population's."""
    rng = np.random.default_rng(0)
    truth_mean, truth_sd = np.array([-0.4, -1.1, -1.1, 0.02]), np.array([0.5, 0.4, 0.4, 0.05])
    z = truth_mean + truth_sd * rng.standard_normal((60, 4))
    theta = np.stack([p.lower + (p.upper - p.lower) / (1 + np.exp(-z[:, k])) for k, p in enumerate(MB.free)], axis=-1)
    probs = rng.uniform(0.25, 0.75, (60, 1, 200, 4))
    records = daw_models.simulate(MB, theta, probs, rng)
    mean, sd, params = np.zeros(4), np.full(4, empirical_bayes.START_SD), None
    for iteration in range(8):
        fit = daw_models.fit(empirical_bayes.with_prior(MB, mean, sd), records, restarts=2, seed=iteration,
                             starts=None if params is None else params[:, None], iterations=300)
        params = fit["params"]
        z_map, variance = empirical_bayes.posterior_z(MB, params, fit["hessian"])
        mean, sd = empirical_bayes.m_step(z_map, variance)
    error = np.sqrt((truth_sd**2 + variance.mean(axis=0)) / 60)
    assert (np.abs(mean - truth_mean) < 3 * error).all(), (mean, truth_mean, error)


def test_the_evidence_under_an_empirical_prior_is_over_x():
    """Laplace in z, returned as the evidence of the density over x (log dz/dx added, here 1.2
    nats): against quadrature of likelihood x prior density over the box, within 0.1 nat (Laplace's
    error is O(1/n), n = 30 trials)."""
    from scipy.integrate import dblquad

    from twostep import box_newton

    two = daw_models.ModelSpec("two", (daw_models.Parameter("alpha", 0.0, 1.0), daw_models.Parameter("beta", 0.0, 20.0)),
                               (("lambda", 0.5), ("w", 0.5)))
    spec = empirical_bayes.with_prior(two, [0.0, -1.0], [1.5, 1.0])
    alpha, beta = spec.free

    def loglik(a, b):
        return 24 * np.log(a) + 6 * np.log1p(-a) - 0.5 * ((b - 2) / 0.5) ** 2

    def minus_logpost(rows, points):
        return -(loglik(points[..., 0], points[..., 1]) + daw_models.log_prior(spec, points))

    x, f, _, _ = box_newton.minimize_box(minus_logpost, np.array([[[0.5, 5.0]]]), spec.lower, spec.upper)
    _, gradient, hessian = box_newton.derivatives(minus_logpost, np.zeros(1, int), x[0], spec.lower, spec.upper)
    value, method = daw_models.person_log_evidence(spec, x[0, 0], -f[0, 0], gradient[0], hessian[0], n_trials=30)
    density = lambda x, p: np.exp(p.log_prior(np.array(x))) * p.unbounded_slope(x)  # noqa: E731
    exact, _ = dblquad(lambda b, a: np.exp(loglik(a, b) + f[0, 0]) * density(a, alpha) * density(b, beta), 0, 1, 0, 20, epsabs=1e-12)
    jacobian = sum(np.log(p.unbounded_slope(v)) for p, v in zip(spec.free, x[0, 0]))
    assert method == "laplace" and abs(jacobian) > 1 and abs(value - (np.log(exact) - f[0, 0])) < 0.1
