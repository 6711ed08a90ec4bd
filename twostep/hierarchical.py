"""Hierarchical Bayesian fits of the family of `daw_models`, as hBayesDM (Ahn, Haines & Zhang
2017) does them, with NumPyro's samplers.

Every person's parameter vector is a link of the group's mean plus the group's SD times the
person's own standard-normal offset (non-centred):

    mu_pr ~ N(0, 1),  sigma ~ half-N(0, 0.2),  z_i ~ N(0, 1),  theta_i = link(mu_pr + sigma z_i)

per parameter, the link being `Parameter.link`: "probit", lower + (upper - lower) Phi_approx(x)
(Stan's Phi_approx(x) = logit^-1(0.07056 x^3 + 1.5976 x)) for rates, weights and hBayesDM's pi,
"exp", lower + exp(x), for inverse temperatures, "identity" for the family's stickiness. The likelihood is `daw_models`' own trial equations (`trial_logits`,
`trial_learn`) run by `jax.lax.scan`, vectorised over people. The group-level quantities
reported are hBayesDM's: mu_<name> = link(mu_pr) and sigma_<name>.

`sample` runs NUTS (any number of chains; `chain_method` as NumPyro's), checkpointed after
warm-up and after each block of draws so that a stopped run goes on; `approximate` fits a
variational posterior (NumPyro's SVI with a multivariate normal guide of low rank) where NUTS
would take hours (Gillan et al.'s 1,961 people). Both return ArviZ InferenceData whose posterior
holds mu_pr, sigma, z, the per-person `theta` and the group's mu_<name>; `pointwise_log_likelihood`
gives the log-likelihood per person or per trial under every draw (PSIS-LOO, `loo_rows`).
"""

import dataclasses
import os
import sys
import time

import numpy as np

from twostep import daw_models, run_layout
from twostep.configs import SamplerConfig, VariationalConfig

PHI_APPROX_CUBIC, PHI_APPROX_LINEAR = 0.07056, 1.5976  # Stan's Phi_approx
HOST_DEVICES = 4  # JAX's CPU devices: chains up to this many run side by side
MAX_POINTWISE_VALUES = 1e8  # draws x trials held at once for LOO by trial (800 MB)
CHECKPOINT_DRAWS = 250  # NUTS draws per chain between two checkpoints (`sample`)
SAMPLE_STATS = ("diverging", "num_steps")  # what NUTS records of each draw besides the draw
PROGRESS_FILE, PROGRESS_SECONDS = "progress.txt", 5.0  # a model's latest progress line, read this often by `run_models`
FIT_DTYPE = np.float32  # the likelihood's precision under NUTS and SVI: 1.5x faster than float64 (bench gradient)
RECOMPUTE_ABOVE = 250_000  # people x vectors x episodes x trials above which a gradient recomputes each trial (bench gradient --copies)


def jax_modules():
    """jax, jax.numpy and numpyro, with 64-bit floats (the likelihood equals numpy's to 1e-9) and,
    if JAX starts here, `HOST_DEVICES` CPU devices, so that chains run in parallel."""
    if "jax" not in sys.modules:
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={HOST_DEVICES}".strip()
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import numpyro

    return jax, jnp, numpyro


def arviz_module():
    """ArviZ, without the notice of its coming 1.0 refactor that it prints at import."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*ArviZ is undergoing a major refactor", category=FutureWarning)
        import arviz
    return arviz


def phi_approx(x, xp=np):
    """Stan's logistic approximation of the standard normal CDF (a logistic that neither
    overflows nor loses its gradient far out in the tails)."""
    u = PHI_APPROX_CUBIC * x**3 + PHI_APPROX_LINEAR * x
    if xp is np:
        from scipy.special import expit

        return expit(u)
    import jax

    return jax.nn.sigmoid(u)


def linked(spec: daw_models.ModelSpec, x, xp=np):
    """Points x [..., n_free] of the real line -> parameter vectors [..., n_free] (`Parameter.link`)."""
    columns = []
    for i, p in enumerate(spec.free):
        if p.link == "probit":
            columns.append(p.lower + (p.upper - p.lower) * phi_approx(x[..., i], xp))
        else:
            columns.append(p.lower + xp.exp(x[..., i]) if p.link == "exp" else x[..., i])
    return xp.stack(columns, axis=-1)


def jax_inputs(spec: daw_models.ModelSpec, records, dtype=np.float64):
    """`daw_models.replay_inputs`, trial-major ([T, P, 1, E], as `jax.lax.scan` walks them), as JAX
    arrays, the rewards in `dtype` (which `trial_log_probs` then computes in)."""
    _, jnp, _ = jax_modules()
    inputs = daw_models.replay_inputs(spec, records)
    inputs["reward"] = inputs["reward"].astype(dtype)
    scanned = {k: jnp.asarray(np.moveaxis(v[:, None], -1, 0)) for k, v in inputs.items()}
    scanned["t"] = jnp.arange(inputs["action"].shape[-1])
    return scanned


def trial_log_probs(spec: daw_models.ModelSpec, scanned, theta):
    """log P(the fitted trials' choices) [P, K, E, T] (0 at other trials) at parameter vectors
    theta [P, K, n_free]: `daw_models.play`'s equations replaying the records, in JAX, in the
    precision of `jax_inputs`' rewards. Above `RECOMPUTE_ABOVE` values per trial and trials, a
    gradient recomputes each trial's intermediate values rather than storing them all."""
    jax, jnp, _ = jax_modules()
    dtype = scanned["reward"].dtype
    q = daw_models.expand(spec, theta.astype(dtype)[:, :, None, :])
    n_people, n_vectors = theta.shape[:2]
    shape = (n_people, n_vectors, scanned["action"].shape[-1])
    state = daw_models.initial_state(spec, shape, jnp)
    state = {k: v.astype(dtype) if jnp.issubdtype(v.dtype, jnp.floating) else v for k, v in state.items()}
    columns = ("action", "state", "choice2", "reward", "used")

    def step(state, trial):
        cues = {name: trial[name] for name in ("layout", *daw_models.CUES)}
        logits = daw_models.trial_logits(spec, q, state, cues, jnp)
        state, log_prob = daw_models.trial_learn(spec, q, state, cues, trial["t"], logits, tuple(trial[k] for k in columns), jnp)
        return state, log_prob * trial["fitted"]

    if np.prod(shape) * len(scanned["t"]) > RECOMPUTE_ABOVE:
        step = jax.checkpoint(step)
    _, out = jax.lax.scan(step, state, scanned)
    return jnp.moveaxis(out, 0, -1)


def model(spec: daw_models.ModelSpec, scanned):
    """hBayesDM's hierarchy over `spec`'s free parameters, the likelihood of every person's fitted trials."""
    _, jnp, numpyro = jax_modules()
    import numpyro.distributions as dist

    n_people, n_free = scanned["action"].shape[1], len(spec.free)
    mu_pr = numpyro.sample("mu_pr", dist.Normal(0.0, 1.0).expand([n_free]).to_event(1))
    sigma = numpyro.sample("sigma", dist.HalfNormal(0.2).expand([n_free]).to_event(1))
    z = numpyro.sample("z", dist.Normal(0.0, 1.0).expand([n_people, n_free]).to_event(2))
    theta = numpyro.deterministic("theta", linked(spec, mu_pr + sigma * z, jnp))
    numpyro.deterministic("mu", linked(spec, mu_pr, jnp))
    numpyro.factor("log_likelihood", trial_log_probs(spec, scanned, theta[:, None]).sum())


def sample(spec: daw_models.ModelSpec, records, config=SamplerConfig(), chain_method=None, checkpoint=None, say=None):
    """NUTS over the hierarchy (`model`), every chain started at the prior's median (z = 0,
    mu_pr = 0), its diagonal mass matrix starting at the group means' posterior scale (variance
    1 / people) and 0.1 for log sigma, 1 for z, then adapted in warm-up: ArviZ InferenceData,
    with each draw's divergence and leapfrog steps in sample_stats. Chains run in parallel where
    JAX has a device for each (`jax_modules`), else one after another. The draws come in blocks of
    `CHECKPOINT_DRAWS` per chain; with `checkpoint` (a file), the sampler's state and the draws so
    far are written there after warm-up and after each block, and a run given the same file goes
    on from there, drawing what an uninterrupted run draws. `say` gets a line after warm-up and
    after each block."""
    jax, _, _ = jax_modules()
    arviz = arviz_module()
    from numpyro.infer import MCMC, NUTS, init_to_median

    n_people, n_free = records["action"].shape[0], len(spec.free)
    start_mass = {("mu_pr",): np.full(n_free, 1 / n_people), ("sigma",): np.full(n_free, 0.1), ("z",): np.ones(n_people * n_free)}
    kernel = NUTS(model, target_accept_prob=config.target_accept, max_tree_depth=config.max_tree_depth, init_strategy=init_to_median,
                  inverse_mass_matrix=start_mass)
    if chain_method is None:
        chain_method = "parallel" if jax.local_device_count() >= config.chains else "sequential"
    mcmc = MCMC(kernel, num_warmup=config.warmup, num_samples=min(CHECKPOINT_DRAWS, config.draws), num_chains=config.chains,
                chain_method=chain_method, progress_bar=False)
    args, say = (spec, jax_inputs(spec, records, FIT_DTYPE)), say or (lambda line: None)
    started, run = time.perf_counter(), (spec.name, n_people, config)
    state, draws = read_checkpoint(checkpoint, run)
    if state is None:
        mcmc.warmup(jax.random.PRNGKey(config.seed), *args)
        state = jax.device_get(mcmc.post_warmup_state)
        write_checkpoint(checkpoint, run, state, draws)
        say(f"{spec.name}: warm-up done ({config.chains} chains x {config.warmup}), {time.perf_counter() - started:.0f} s")
    else:
        say(f"{spec.name}: resumed from {checkpoint}: warm-up done, {drawn(draws)} of {config.draws} draws per chain")
    while drawn(draws) < config.draws:
        mcmc.num_samples = min(CHECKPOINT_DRAWS, config.draws - drawn(draws))
        mcmc.post_warmup_state = state
        mcmc.run(state.rng_key, *args, extra_fields=SAMPLE_STATS)
        state = jax.device_get(mcmc.last_state)
        block = {**mcmc.get_samples(group_by_chain=True), **mcmc.get_extra_fields(group_by_chain=True)}
        block = {name: np.asarray(values) for name, values in block.items()}
        draws = {name: np.concatenate([draws[name], values], axis=1) if draws else values for name, values in block.items()}
        write_checkpoint(checkpoint, run, state, draws)
        say(f"{spec.name}: {drawn(draws)} of {config.draws} draws per chain, {time.perf_counter() - started:.0f} s")
    return arviz.from_dict(posterior={k: v for k, v in draws.items() if k not in SAMPLE_STATS},
                           sample_stats={k: draws[k] for k in SAMPLE_STATS})


def drawn(draws):
    """Draws per chain so far in a dict of [chains, draws, ...] arrays (0 when empty)."""
    return next(iter(draws.values())).shape[1] if draws else 0


def read_checkpoint(path, run):
    """`sample`'s saved (sampler state, draws so far) for `run` (model, people, SamplerConfig), or
    (None, {}) when there is none; a file of another run is refused."""
    import pickle

    if path is None or not os.path.isfile(path):
        return None, {}
    with open(path, "rb") as file:
        saved, state, draws = pickle.load(file)
    if saved != run:
        raise ValueError(f"{path}: a checkpoint of {saved}, not of this run {run}: give another file or delete it")
    return state, draws


def write_checkpoint(path, run, state, draws):
    """`sample`'s state and draws so far for `run` into `path`, whole or not at all (nothing when path is None)."""
    import pickle

    def write(partial):
        with open(partial, "wb") as file:
            pickle.dump((run, state, draws), file)

    if path is not None:
        run_layout.write_atomically(path, write)


def divergences_of(idata):
    """The divergent transitions of a NUTS run (`sample`'s InferenceData); 0 for variational draws."""
    stats = getattr(idata, "sample_stats", None)
    return int(stats["diverging"].values.sum()) if stats is not None and "diverging" in stats else 0


def approximate(spec: daw_models.ModelSpec, records, config=VariationalConfig()):
    """SVI over the hierarchy with a low-rank multivariate normal guide: (InferenceData with one
    chain of `config.draws` independent draws, the losses (negative ELBO) per step)."""
    jax, jnp, numpyro = jax_modules()
    arviz = arviz_module()
    from numpyro.infer import SVI, Predictive, Trace_ELBO
    from numpyro.infer.autoguide import AutoLowRankMultivariateNormal

    scanned = jax_inputs(spec, records, FIT_DTYPE)
    guide = AutoLowRankMultivariateNormal(model, rank=config.rank)
    svi = SVI(model, guide, numpyro.optim.Adam(config.learning_rate), Trace_ELBO())
    result = svi.run(jax.random.PRNGKey(config.seed), config.steps, spec, scanned, progress_bar=False)
    draws = Predictive(guide, params=result.params, num_samples=config.draws)(jax.random.PRNGKey(config.seed + 1), spec, scanned)
    mu_pr, sigma, z = (np.asarray(draws[k]) for k in ("mu_pr", "sigma", "z"))
    posterior = {"mu_pr": mu_pr, "sigma": sigma, "z": z, "theta": linked(spec, mu_pr[:, None] + sigma[:, None] * z),
                 "mu": linked(spec, mu_pr)}
    return arviz.from_dict(posterior={k: v[None] for k, v in posterior.items()}), np.asarray(result.losses)


def pointwise_log_likelihood(spec: daw_models.ModelSpec, records, theta, chunk=250):
    """log P(each trial's two choices | theta) of every draw: theta [draws, P, n_free] -> [draws,
    P, E * T] (0 at trials the likelihood does not use; summed over trials, hBayesDM's per-person
    log_lik), computed `chunk` draws at a time."""
    jax, jnp, _ = jax_modules()
    scanned = jax_inputs(spec, records)
    run = jax.jit(lambda t: trial_log_probs(spec, scanned, t))
    parts = []
    for start in range(0, len(theta), chunk):
        out = np.asarray(run(jnp.asarray(np.swapaxes(theta[start:start + chunk], 0, 1))))  # [P, K, E, T]
        out = np.swapaxes(out, 0, 1)
        parts.append(out.reshape(out.shape[:2] + (-1,)))
    return np.concatenate(parts)


def draws_of(idata, name):
    """A posterior variable's draws with chains flattened: [chains * draws, ...]."""
    values = idata.posterior[name].values
    return values.reshape((-1,) + values.shape[2:])


def summary_rows(idata, spec: daw_models.ModelSpec, subjects, dataset):
    """The posterior's summary, one row per quantity: `dataset, model, level` ("group" or
    "person"), `subject` (empty at group level), `parameter` (mu_<name>, sigma_<name> or the
    person's <name>), `mean, sd, q2.5, q97.5, rhat, ess_bulk, ess_tail` (`convergence`)."""
    import pandas as pd

    columns = []  # (level, subject, parameter, draws [chains, draws])
    for i, name in enumerate(spec.names):
        columns.append(("group", "", f"mu_{name}", idata.posterior["mu"].values[..., i]))
        columns.append(("group", "", f"sigma_{name}", idata.posterior["sigma"].values[..., i]))
    theta = idata.posterior["theta"].values
    columns += [("person", subject, name, theta[:, :, person, i]) for person, subject in enumerate(subjects)
                for i, name in enumerate(spec.names)]
    draws = np.stack([values for *_, values in columns], axis=-1)  # [chains, draws, quantities]
    table = pd.DataFrame([dict(zip(("level", "subject", "parameter"), labels)) for *labels, _ in columns])
    table.insert(0, "model", spec.name)
    table.insert(0, "dataset", dataset)
    flat = draws.reshape(-1, draws.shape[-1])
    table["mean"], table["sd"] = flat.mean(axis=0), flat.std(axis=0, ddof=1)
    table["q2.5"], table["q97.5"] = np.quantile(flat, [0.025, 0.975], axis=0)
    for column, value in convergence(draws).items():
        table[column] = value
    return table


def convergence(draws):
    """R-hat, bulk and tail ESS of each quantity of draws [chains, draws, quantities] (ArviZ's;
    R-hat is NaN from a single chain, which it needs two of)."""
    arviz = arviz_module()
    data = arviz.from_dict(posterior={"q": draws})
    rhat = arviz.rhat(data)["q"].values if draws.shape[0] > 1 else np.full(draws.shape[-1], np.nan)
    return {"rhat": rhat, "ess_bulk": arviz.ess(data, method="bulk")["q"].values, "ess_tail": arviz.ess(data, method="tail")["q"].values}


def warnings_of(table, divergences, model_name):
    """The end-of-run lines: the largest R-hat, the smallest ESS and the divergences, and one
    warning line naming the model when R-hat > 1.01, ESS < 400 or any divergence."""
    worst_rhat, fewest = table["rhat"].max(), table[["ess_bulk", "ess_tail"]].min().min()
    rhat_text = "no R-hat (one chain)" if np.isnan(worst_rhat) else f"largest R-hat {worst_rhat:.4f}"
    line = f"{model_name}: {rhat_text}, smallest ESS {fewest:.0f}, {divergences} divergences"
    problems = [f"R-hat {worst_rhat:.3f} > 1.01"] * bool(worst_rhat > 1.01) + [f"ESS {fewest:.0f} < 400"] * bool(fewest < 400)
    problems += [f"{divergences} divergent transitions"] * bool(divergences)
    return [line] + ([f"warning: {model_name}: {'; '.join(problems)}: run more draws or raise target_accept"] if problems else [])


def loo_rows(spec: daw_models.ModelSpec, records, idata, dataset, draws=1000):
    """PSIS-LOO (ArviZ) leaving out one person (hBayesDM's unit) and one trial, and WAIC, from at
    most `draws` posterior draws spread over the chains (fewer where draws x trials would pass
    MAX_POINTWISE_VALUES): rows `dataset, model, unit, elpd_loo, se, p_loo, looic, pareto_k_bad`
    (k > 0.7), `elpd_waic, p_waic, waic`, `draws`."""
    arviz = arviz_module()
    import pandas as pd

    theta = draws_of(idata, "theta")
    fitted = daw_models.replay_inputs(spec, records)["fitted"].reshape(len(theta[0]), -1)
    draws = min(draws, len(theta), max(100, int(MAX_POINTWISE_VALUES / fitted.sum())))  # Gillan's 1,961 people: a few hundred
    theta = theta[np.linspace(0, len(theta) - 1, draws).round().astype(int)]
    by_trial = pointwise_log_likelihood(spec, records, theta)
    rows = []
    for unit, log_lik in (("person", by_trial.sum(axis=-1)), ("trial", by_trial[:, fitted])):  # the trials the likelihood counts
        data = arviz.from_dict(posterior={"theta": theta[None]}, log_likelihood={"choices": log_lik[None]})
        loo, waic = arviz.loo(data), arviz.waic(data)
        rows.append({"dataset": dataset, "model": spec.name, "unit": unit, "elpd_loo": loo.elpd_loo, "se": loo.se,
                     "p_loo": loo.p_loo, "looic": -2 * loo.elpd_loo, "pareto_k_bad": int((loo.pareto_k.values > 0.7).sum()),
                     "elpd_waic": waic.elpd_waic, "p_waic": waic.p_waic, "waic": -2 * waic.elpd_waic, "draws": draws})
    return pd.DataFrame(rows)


def playable_trials(records):
    """The trials with every reward probability recorded [subject, episode, trial], where a
    simulated person can play the walk that person saw."""
    return np.isfinite(records["probs"]).all(-1)


def checkable_people(records):
    """Which people [subject] the posterior predictive check can simulate: those whose trials with
    reward probabilities come first, then only padding (people with fewer trials than the longest)."""
    playable = playable_trials(records)
    return playable[..., 0].all(-1) & (np.diff(playable.astype(np.int8), axis=-1) <= 0).all(axis=(-2, -1))


def predictive_stay(spec: daw_models.ModelSpec, records, idata, dataset, draws=100, seed=0):
    """A posterior predictive check over the people with reward probabilities (`checkable_people`):
    each of `draws` posterior draws of their parameters plays their own reward probabilities
    (`daw_models.simulate`) for as many trials as each played; rows `dataset, model, cell`
    (`STAY_CELLS`), `people` (their stay probability, mean over people), `predicted` (mean over
    draws of the simulated people's), `q2.5, q97.5` (over draws)."""
    import pandas as pd

    from two_step_env import STAY_CELLS, stay_probabilities

    chosen = checkable_people(records)
    if not chosen.any():
        raise ValueError("the predictive check needs somebody's reward probabilities up to their last trial; nobody has them")
    records = daw_models.people_records(records, chosen)
    played_trials = playable_trials(records)
    probs = np.where(played_trials[..., None], records["probs"], 0.0)
    people = np.nanmean(stay_probabilities(records["action"], records["common"], records["reward"], records["missed"])[0], axis=0)
    theta = draws_of(idata, "theta")[:, chosen]
    rng = np.random.default_rng(seed)
    simulated = []
    for k in rng.choice(len(theta), size=min(draws, len(theta)), replace=False):
        played = daw_models.simulate(spec, theta[k], probs, rng, common_prob=spec.common_prob)
        simulated.append(np.nanmean(stay_probabilities(played["action"], played["common"], played["reward"], ~played_trials)[0], axis=0))
    simulated = np.array(simulated)
    return pd.DataFrame({"dataset": dataset, "model": spec.name, "cell": list(STAY_CELLS), "people": people,
                         "predicted": simulated.mean(axis=0), "q2.5": np.quantile(simulated, 0.025, axis=0),
                         "q97.5": np.quantile(simulated, 0.975, axis=0)})


def save_draws(idata, path):
    """The InferenceData as netCDF, written whole (a partial file never takes the name)."""
    partial = f"{path}.partial"
    idata.to_netcdf(partial)
    os.replace(partial, path)


# ---------------------------------------------------------------- a dataset's models, on Ray


def run_key(digests, model, settings):
    """The digest naming one model's files: the people's data, the model and the sampler's settings."""
    import hashlib
    import json

    text = json.dumps({"people": list(digests), "model": model, "settings": dataclasses.asdict(settings),
                       "method": type(settings).__name__})
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def fit_model(dataset, root, model, settings, folder, key):
    """One model's hierarchical fit to the loaded dataset, NUTS (`SamplerConfig`) or SVI
    (`VariationalConfig`), into `<folder>/<model>_<key>/`: sampler.pkl while NUTS runs (`sample`'s
    checkpoint) and progress.txt (its latest line, `report_progress`), then draws.nc (every draw; a rerun
    reads them rather than sampling again), loo.csv
    (`loo_rows`), ppc.csv (`predictive_stay`, of the people whose reward probabilities the data hold) and,
    last, summary.csv (`summary_rows`), which marks the model done; returns the end-of-run lines
    (`warnings_of`)."""
    import functools

    from twostep import datasets

    data = datasets.load(dataset, root)
    name, spec = datasets.dataset_name(dataset), daw_models.SPECS[model]
    base = os.path.join(folder, f"{model}_{key}")
    os.makedirs(base, exist_ok=True)
    draws_file, checkpoint = os.path.join(base, "draws.nc"), os.path.join(base, "sampler.pkl")
    if os.path.isfile(draws_file):
        idata = arviz_module().from_netcdf(draws_file)
        took = f"{model}: draws of {len(data.subject)} people read from {draws_file}"
    else:
        start = time.perf_counter()
        if isinstance(settings, SamplerConfig):
            idata = sample(spec, data.records, settings, checkpoint=checkpoint, say=functools.partial(report_progress, base))
        else:
            idata, _ = approximate(spec, data.records, settings)
        save_draws(idata, draws_file)
        for file in (checkpoint, os.path.join(base, PROGRESS_FILE)):
            if os.path.isfile(file):
                os.remove(file)
        took = f"{model}: {time.perf_counter() - start:.0f} s for {len(data.subject)} people"
    table = summary_rows(idata, spec, data.subject, name)
    parts = {"loo.csv": loo_rows(spec, data.records, idata, name)}
    checked = checkable_people(data.records)  # a table without reward probabilities has NaN there
    if checked.any():
        parts["ppc.csv"] = predictive_stay(spec, data.records, idata, name)
    for file, part in {**parts, "summary.csv": table}.items():
        run_layout.write_atomically(os.path.join(base, file), lambda partial, part=part: part.to_csv(partial, index=False))
    if isinstance(settings, SamplerConfig):
        lines = [f"{took}, {settings.chains} chains x ({settings.warmup} warm-up + {settings.draws} draws)"] + warnings_of(
            table, divergences_of(idata), model)
    else:
        lines = [f"{took}, variational ({settings.steps} steps, {settings.draws} draws): no R-hat"]
    if checked.sum() < len(checked):
        lines.append(f"{model}: predictive check of {checked.sum()} of {len(checked)} people (the others' reward probabilities "
                     "are not in the data)")
    return lines


def report_progress(base, line):
    """A model's progress line, printed (a worker's log) and written to `<base>/progress.txt`, which
    `run_models` reads to say it."""
    print(line, flush=True)

    def write(partial):
        with open(partial, "w") as file:
            file.write(line + "\n")

    run_layout.write_atomically(os.path.join(base, PROGRESS_FILE), write)


def last_progress(base):
    """The progress line a model's task last wrote under `base` (None when none)."""
    path = os.path.join(base, PROGRESS_FILE)
    if not os.path.isfile(path):
        return None
    with open(path) as file:
        return file.read().strip() or None


def run_models(dataset, models, out, root=None, settings=SamplerConfig(), say=print, progress=True):
    """Every model's hierarchical fit not yet written, one Ray task each (Ray must be connected);
    then the tables `<out>/<dataset>_hierarchical.csv`, `_loo.csv` and `_ppc.csv` from every
    model's files, saying NUTS's progress lines as the tasks write them (`report_progress`). A rerun
    reuses a model's files when their key (`run_key`) matches. Returns the summary table."""
    import pandas as pd
    import ray

    from twostep import datasets
    from twostep.population_fits import people_digests
    from twostep.progress import progress_bar

    data = datasets.load(dataset, root)
    name = datasets.dataset_name(dataset)
    folder = os.path.join(out, f"{name}_hierarchical")
    os.makedirs(folder, exist_ok=True)
    digests = people_digests(data)
    keys = {model: run_key(digests, model, settings) for model in models}
    paths = {model: os.path.join(folder, f"{model}_{keys[model]}", "summary.csv") for model in models}
    todo = run_layout.files_to_write(paths, folder, "models already fitted", say)
    chains = settings.chains if isinstance(settings, SamplerConfig) else 1
    remote = ray.remote(num_cpus=min(chains, HOST_DEVICES, int(ray.cluster_resources().get("CPU", 1))))(fit_model)
    pending = {remote.remote(dataset, root, model, settings, folder, keys[model]): model for model in models if model in todo}
    with progress_bar(len(models), initial=len(models) - len(pending), unit="model", desc=f"hierarchical {name}",
                      enabled=progress) as bar:
        said = {}
        while pending:
            finished, _ = ray.wait(list(pending), num_returns=1, timeout=PROGRESS_SECONDS)
            for model in pending.values():  # the sampler's latest line (`fit_model`), once
                line = last_progress(os.path.join(folder, f"{model}_{keys[model]}"))
                if line and said.get(model) != line:
                    said[model] = line
                    say(line)
            if finished:
                for line in ray.get(finished[0]):  # a failed task stops the run; finished models stay, to resume
                    say(line)
                pending.pop(finished[0])
                bar.update(1)
    tables = {}
    for file, table_name in (("summary.csv", "hierarchical"), ("loo.csv", "loo"), ("ppc.csv", "ppc")):
        files = [os.path.join(os.path.dirname(paths[m]), file) for m in models]
        files = [f for f in files if os.path.isfile(f)]
        if files:
            tables[table_name] = pd.concat([pd.read_csv(f, dtype={"subject": str}) for f in files], ignore_index=True)
            path = os.path.join(out, f"{name}_{table_name}.csv")
            run_layout.write_atomically(path, lambda partial, t=tables[table_name]: t.to_csv(partial, index=False))
    return tables


# ---------------------------------------------------------------- beside the point estimates


def person_estimates(summary, fits, fits_eb, model, parameter):
    """Each person's `parameter` of `model` three ways, one row per person of the hierarchical
    summary (`summary_rows`' table): `subject`, `map` (fits: `two-step fit`'s table, fixed priors),
    `eb` (fits_eb: under the empirical-Bayes prior), `mean, q2.5, q97.5` (the hierarchical
    posterior); NaN where a table lacks the person."""
    rows = summary[(summary["model"] == model) & (summary["level"] == "person") & (summary["parameter"] == parameter)]
    table = rows[["subject", "mean", "q2.5", "q97.5"]].astype({"subject": str}).reset_index(drop=True)
    for column, fitted in (("map", fits), ("eb", fits_eb)):
        values = fitted[fitted["model"] == model].astype({"subject": str}).set_index("subject")[parameter]
        table.insert(len(table.columns) - 3, column, table["subject"].map(values))
    return table


# ---------------------------------------------------------------- calibration on simulated populations


def simulated_population(spec: daw_models.ModelSpec, mu_pr, sigma, people, trials, seed):
    """A population drawn from the hierarchy at known group values mu_pr, sigma [n_free], each
    person playing Daw et al.'s task (fresh drifting walks, `daw_agents.fresh_walks`): (records,
    the people's parameters [people, n_free])."""
    from twostep import daw_agents
    from twostep.configs import PRESETS

    rng = np.random.default_rng(seed)
    theta = linked(spec, np.asarray(mu_pr) + np.asarray(sigma) * rng.standard_normal((people, len(spec.free))))
    task = dataclasses.replace(PRESETS["daw-2011"], trials_per_episode=trials)
    return daw_models.simulate(spec, theta, daw_agents.fresh_walks(task, people, 1, seed), rng, common_prob=spec.common_prob), theta


def calibration_rows(spec: daw_models.ModelSpec, mu_pr, sigma, population, people=100, trials=200, settings=SamplerConfig(), level=0.9):
    """One simulated population's fit (`simulated_population`, seed `population`): per parameter,
    the true group mean link(mu_pr), the posterior's mean and central `level` interval of it,
    whether the interval covers the truth, the correlation of the people's posterior means with
    their true values, and the fit's largest R-hat and divergences."""
    arviz = arviz_module()
    import pandas as pd

    records, theta = simulated_population(spec, mu_pr, sigma, people, trials, population)
    idata = sample(spec, records, dataclasses.replace(settings, seed=population))
    group, persons = draws_of(idata, "mu"), draws_of(idata, "theta").mean(axis=0)
    lower, upper = np.quantile(group, [(1 - level) / 2, (1 + level) / 2], axis=0)
    truth = linked(spec, np.asarray(mu_pr, np.float64))
    rhat = float(arviz.rhat(idata, var_names=["mu_pr", "sigma"]).to_array().max())
    return pd.DataFrame({"population": population, "model": spec.name, "parameter": list(spec.names), "truth": truth,
                         "mean": group.mean(axis=0), "lower": lower, "upper": upper, "covered": (lower <= truth) & (truth <= upper),
                         "person_r": [np.corrcoef(persons[:, i], theta[:, i])[0, 1] for i in range(len(spec.free))],
                         "rhat_group": rhat, "divergences": divergences_of(idata)})
