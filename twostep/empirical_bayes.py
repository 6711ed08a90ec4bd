"""Priors estimated from the sample (empirical Bayes): the population's distribution of each
parameter fitted by expectation-maximisation, as large samples are usually fitted (Huys et al.
2011's emfit; the Laplace-approximated EM of hierarchical fits).

Each free parameter gets a normal prior in unbounded coordinates, z = log((x - lower) / (upper -
x)) (`daw_models.Parameter.unbounded`): z_k ~ N(mean_k, sd_k), independent across parameters.
EM alternates
- E: every person's MAP under the current prior (`daw_models.fit`), and Laplace's posterior
  variance of each z, the diagonal of the inverse Hessian carried through dz/dx;
- M: mean_k = the mean of the people's z, sd_k^2 = the mean of z^2 + its variance, less mean_k^2.
`population_fits.run_empirical_bayes` runs it over a dataset on Ray; these are its steps.
"""

import dataclasses

import numpy as np

from twostep import daw_models

START_SD = 2.0  # the first E-step's prior: N(0, 2) in z for every parameter, broad on every box


def with_prior(spec: daw_models.ModelSpec, mean, sd):
    """`spec` with the logit-normal prior N(mean_k, sd_k) in z on each free parameter."""
    free = tuple(dataclasses.replace(p, prior=("logit-normal", float(m), float(s))) for p, m, s in zip(spec.free, mean, sd))
    return dataclasses.replace(spec, free=free)


def posterior_z(spec: daw_models.ModelSpec, params, hessian):
    """Each person's MAP in z and Laplace's posterior variance of it: params [P, n] (inside the
    box), hessian [P, n, n] of -log posterior there -> (z [P, n], variance [P, n]). A Hessian
    that is not positive definite leaves its person's variance at 0 (their MAP still counts)."""
    z = np.stack([p.unbounded(params[:, k]) for k, p in enumerate(spec.free)], axis=-1)
    slope = np.stack([p.unbounded_slope(params[:, k]) for k, p in enumerate(spec.free)], axis=-1)
    variance = np.zeros_like(z)
    for i, h in enumerate(hessian):
        if np.all(np.linalg.eigvalsh(h) > 0):
            variance[i] = np.diag(np.linalg.inv(h)) * slope[i] ** 2
    return z, variance


def m_step(z, variance):
    """The population's mean and SD of each z [n] from the people's z and variances [P, n]."""
    mean = z.mean(axis=0)
    return mean, np.sqrt(np.maximum((z**2 + variance).mean(axis=0) - mean**2, 1e-6))
