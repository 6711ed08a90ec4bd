"""What an agent's choices say about it: the field's analyses, on plain per-trial arrays.

Every function takes records shaped [subject, episode, trial] ("action", "state", "common",
"reward", "good_state", as `a2c_lstm.evaluate` and `agents.simulate` return them, or a person's
data in the same arrays), so the meta-RL agent, a reference agent and a participant go through
the same code.

- `stay_regression`: Daw et al. 2011's one-trial-back logistic regression (model-based index).
- `lagged_regression`: choices on the outcomes of the last 1..5 trials by transition and reward
  (Miller, Botvinick & Brody 2017), with Akam, Costa & Dayan 2015's "correct choice" predictor.
- `fit`, `fit_subjects`, `profile_interval`, `compare_models`: maximum-likelihood fits of the
  hybrid model and its pure model-free, model-based and ideal-observer cousins (scipy), per
  subject, with random restarts, BIC and a profile-likelihood interval for w.
- `prediction_errors`, `rpe_regression`: the agent's reward prediction errors from its value
  head against those of model-free and model-based learners on the same trials.
- `decode`, `decoded`: cross-validated linear read-out of a quantity (the ideal observer's
  belief) from the LSTM's state: its R^2, its predictions.
"""

import dataclasses

import numpy as np
from scipy import optimize, stats

import two_step_env as env
from two_step_env import stay_probabilities
from twostep import agents
from twostep.configs import S2, TaskConfig

# ---------------------------------------------------------------- stay regressions


REGRESSION_TERMS = ("intercept", "reward", "transition", "reward x transition")


def _logit_summary(y, design, names):
    """Fit a logistic regression (statsmodels); {name: {coef, se, ci, converged}} with 95% intervals.
    `converged` is False where the fit did not converge or the data separate (a player who always
    stays after a reward: the estimate is then where Newton's method stopped), said here rather
    than in one warning per fit."""
    import warnings

    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = sm.Logit(y, design).fit(disp=0)
    unsettled = [w for w in caught if issubclass(w.category, (ConvergenceWarning, PerfectSeparationWarning))]
    for other in (w for w in caught if w not in unsettled):
        warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    converged = bool(fit.mle_retvals.get("converged", True)) and not unsettled
    ci = fit.conf_int(0.05)
    return {name: {"coef": fit.params[i], "se": fit.bse[i], "ci": (ci[i, 0], ci[i, 1]), "converged": converged}
            for i, name in enumerate(names)}


def stay_regression(action, common, reward, missed=None):
    """Daw et al. 2011's logistic regression of stay on reward, transition and their product, per seed.

    Arrays are [seed, episode, trial]; predictors are coded +1/-1 (rewarded/unrewarded,
    common/rare); pairs with a missed trial (`missed`) are left out (`env.usable_trials`).
    Returns a list (one per seed) of dicts: for each term ("intercept", "reward",
    "transition", "reward x transition") its coefficient, standard error and 95% CI. The
    interaction coefficient is the model-based index.
    """
    pairs = env.stay_pairs(action, common, reward, missed)
    results = []
    for seed in range(len(pairs["pair"])):
        pair = pairs["pair"][seed]
        stay, r, t = (pairs[k][seed][pair] for k in ("stay", "reward", "transition"))
        results.append(_logit_summary(stay, np.column_stack([np.ones_like(r), r, t, r * t]), REGRESSION_TERMS))
    return results


def regression_table(fits, seeds):
    """A pandas table of regression results: coefficient, SE and 95% CI of each term, per seed."""
    import pandas as pd

    rows = []
    for seed, fit in zip(seeds, fits):
        for term, v in fit.items():
            rows.append({"seed": seed, "term": term, "coef": v["coef"], "se": v["se"], "ci low": v["ci"][0], "ci high": v["ci"][1]})
    return pd.DataFrame(rows).set_index(["seed", "term"]).round(3)


OUTCOME_TYPES = ("common, rewarded", "common, unrewarded", "rare, rewarded", "rare, unrewarded")


def lagged_design(action, common, reward, good_state, lags=5, correct=True, missed=None):
    """Design of `lagged_regression` for one subject's arrays [episode, trial].

    For lag k and each outcome type of `OUTCOME_TYPES`, the predictor is trial n-k's choice
    (+1 for action 1, -1 for action 0) where trial n-k had that outcome, else 0. A positive
    coefficient: the agent repeats a choice after that outcome. With `correct` (Akam et al. 2015),
    one more predictor: +1/-1 for the action whose common state is good at trial n-1, which
    absorbs the model-free learner's slow tracking of the better side that otherwise shows up
    as a spurious transition x outcome effect. Returns (y [N], X [N, p], names); trials with
    fewer than `lags` predecessors in their episode are left out, and so is every trial that is
    missed (`missed`) or has a missed trial among its `lags` predecessors.
    """
    usable = env.usable_trials(action, reward, missed)
    action, common, reward = np.asarray(action), np.asarray(common, bool), np.nan_to_num(np.asarray(reward, np.float64)) > 0
    signed = 2.0 * action - 1.0
    kinds = [common & reward, common & ~reward, ~common & reward, ~common & ~reward]
    n_trials = action.shape[-1]
    rows = slice(lags, n_trials)
    columns, names = [np.ones_like(signed[:, rows])], ["intercept"]
    for lag in range(1, lags + 1):
        for name, kind in zip(OUTCOME_TYPES, kinds):
            columns.append((signed * kind)[:, lags - lag : n_trials - lag])
            names.append(f"{name}, lag {lag}")
    if correct:
        good_action = np.where(np.asarray(good_state) == S2, -1.0, 1.0)  # action 0 commonly reaches S2
        columns.append(good_action[:, lags - 1 : n_trials - 1])
        names.append("correct")
    window = np.all([usable[:, lags - lag : n_trials - lag] for lag in range(lags + 1)], axis=0).ravel()
    y = action[:, rows].ravel().astype(float)
    return y[window], np.column_stack([c.ravel() for c in columns])[window], names


def lagged_regression(records, lags=5, correct=True):
    """Per subject: logistic regression of each choice on the outcomes of the last `lags` trials
    (`lagged_design`), statsmodels, coefficients with 95% CIs. Returns a pandas table indexed by
    (subject, outcome type, lag) with columns coef, ci low, ci high; the "correct" predictor is
    listed as outcome "correct" at lag 1: the good state from records["good_state"] or, in the
    drifting task, `two_step_env.best_state` of records["probs"]."""
    import pandas as pd

    if correct and "good_state" not in records and "probs" not in records:
        raise ValueError("lagged_regression(correct=True) needs records['good_state'] or records['probs']; pass correct=False for data without them")
    good_state = records["good_state"] if "good_state" in records else env.best_state(records["probs"]) if correct else None
    env.usable_trials(records["action"], records["reward"], records.get("missed"))  # names [subject, episode, trial]
    rows = []
    for subject in range(np.shape(records["action"])[0]):
        missed = records["missed"][subject] if "missed" in records else None
        good = None if good_state is None else good_state[subject]
        y, design, names = lagged_design(*(records[k][subject] for k in ("action", "common", "reward")), good, lags, correct, missed)
        for name, v in _logit_summary(y, design, names).items():
            kind, _, lag = name.partition(", lag ")
            if name != "intercept":  # "correct" concerns trial n-1: lag 1
                rows.append({"subject": subject, "outcome": kind, "lag": int(lag or 1), "coef": v["coef"], "ci low": v["ci"][0], "ci high": v["ci"][1]})
    return pd.DataFrame(rows).set_index(["subject", "outcome", "lag"])


# ---------------------------------------------------------------- likelihood fits


@dataclasses.dataclass(frozen=True)
class Model:
    """A model to fit: which agent equations, which parameters are free, the rest fixed."""

    name: str
    kind: str  # agents.HYBRID or agents.IDEAL_OBSERVER
    free: tuple
    fixed: tuple = ()  # (name, value) pairs


BOUNDS = {
    "learning_rate": (0.0, 1.0),
    "eligibility": (0.0, 1.0),
    "inverse_temperature": (0.0, 50.0),
    "model_based_weight": (0.0, 1.0),
    "perseveration": (-5.0, 5.0),
}
STARTS = {  # where random restarts draw their first guesses
    "learning_rate": (0.05, 0.95),
    "eligibility": (0.05, 0.95),
    "inverse_temperature": (0.5, 15.0),
    "model_based_weight": (0.05, 0.95),
    "perseveration": (-1.0, 1.0),
}
MODELS = {
    m.name: m
    for m in (
        Model("hybrid", agents.HYBRID, agents.PARAMETERS),
        Model("model-free", agents.HYBRID, ("learning_rate", "eligibility", "inverse_temperature", "perseveration"), (("model_based_weight", 0.0),)),
        Model("model-based", agents.HYBRID, ("learning_rate", "inverse_temperature", "perseveration"), (("model_based_weight", 1.0), ("eligibility", 0.0))),
        Model("ideal observer", agents.IDEAL_OBSERVER, ("inverse_temperature", "perseveration")),
    )
}


def subject_data(records, subject):
    """One subject's (action, state, reward) arrays [episode, trial], checked."""
    data = tuple(np.asarray(records[k])[subject] for k in ("action", "state", "reward"))
    if data[0].ndim != 2:
        raise ValueError(f"records must be shaped [subject, episode, trial]; action has shape {np.shape(records['action'])}")
    missed = np.asarray(records["missed"])[subject] if "missed" in records else np.zeros(data[0].shape, bool)
    incomplete = missed | ~np.isin(data[0], (0, 1)) | np.isnan(np.asarray(data[2], float))
    if incomplete.any():
        where = env.trial_position((subject, *np.argwhere(incomplete)[0].tolist()))
        raise ValueError(f"a missed trial at {where}: these fits replay complete episodes; for data with missed trials "
                         "use twostep.daw_models.fit(daw_models.SPECS[name], records), which leaves out the trials records['missed'] marks")
    return data


def negative_log_likelihood(model: Model, x, task: TaskConfig, data):
    """-log P(choices | parameters) for a batch of parameter vectors x [K, len(model.free)]: [K].

    `data` is one subject's (action, state, reward) [episode, trial]; `agents.play` replays the
    recorded trials, so the equations are those that simulate the agents.
    """
    action, state, reward = data
    x = np.atleast_2d(x)
    params = {name: x[:, i, None] for i, name in enumerate(model.free)}
    params.update({name: np.full((len(x), 1), value) for name, value in model.fixed})
    p1 = agents.play(model.kind, params, task, (len(x), action.shape[0]), lambda n, _: (action[:, n], state[:, n], reward[:, n]))["p1"]
    p_taken = np.where(action[None] == 1, p1, 1 - p1)
    return -np.log(np.clip(p_taken, 1e-12, 1.0)).sum(axis=(1, 2))


def _with_gradient(model, task, data, step=1e-6):
    """f(x) -> (value, forward-difference gradient) from one batched likelihood call (a step
    that would leave the bounds goes backward instead)."""
    high = np.array([BOUNDS[n][1] for n in model.free])

    def value_and_gradient(x):
        steps = np.where(x + step > high, -step, step)
        values = negative_log_likelihood(model, np.vstack([x, x + np.diag(steps)]), task, data)
        return values[0], (values[1:] - values[0]) / steps

    return value_and_gradient


def _minimise(model, task, data, starts):
    objective = _with_gradient(model, task, data)
    bounds = [BOUNDS[n] for n in model.free]
    best = None
    for x0 in starts:
        result = optimize.minimize(objective, x0, jac=True, method="L-BFGS-B", bounds=bounds)
        if best is None or result.fun < best.fun:
            best = result
    return best


def fit(model, records, task: TaskConfig, subject=0, restarts=4, seed=0):
    """Maximum-likelihood fit of `model` (a `MODELS` name or a `Model`) to one subject.

    L-BFGS-B within `BOUNDS` from `restarts` starting points: the middle of `STARTS`, then random
    ones (fixed seed). Returns a dict:
    the parameters, "nll" (negative log-likelihood), "bic" (2 nll + k ln n), "trials" (n),
    "model".
    """
    model = MODELS[model] if isinstance(model, str) else model
    if not (isinstance(restarts, int) and restarts > 0):
        raise ValueError(f"restarts={restarts!r}: expected an integer > 0")
    data = subject_data(records, subject)
    rng = np.random.default_rng([seed, subject])
    starts = [[np.mean(STARTS[n]) for n in model.free]] + [[rng.uniform(*STARTS[n]) for n in model.free] for _ in range(restarts - 1)]
    best = _minimise(model, task, data, starts)
    n = data[0].size
    result = {"model": model.name, **dict(model.fixed), **dict(zip(model.free, best.x))}
    result.update(nll=float(best.fun), bic=float(2 * best.fun + len(model.free) * np.log(n)), trials=n)
    return result


def profile_interval(records, task: TaskConfig, best, subject=0, name="model_based_weight", level=0.95, tolerance=2e-3):
    """Profile-likelihood confidence interval of one parameter of a `fit` result `best`.

    The profile fixes `name` and refits the others (warm-started at the best fit); the interval
    holds the values whose profile is within chi2(1, level) / 2 of the minimum, its ends found
    to within `tolerance` (a bound of the parameter is an end when the profile stays inside).
    """
    model = MODELS[best["model"]]
    if name not in model.free:
        raise ValueError(f"{name!r} is not a free parameter of the {model.name} model: expected one of {model.free}")
    data = subject_data(records, subject)
    others = tuple(n for n in model.free if n != name)
    drop = stats.chi2.ppf(level, 1) / 2

    def excess(value):
        fixed_model = Model(model.name, model.kind, others, model.fixed + ((name, value),))
        return _minimise(fixed_model, task, data, [[best[n] for n in others]]).fun - best["nll"] - drop

    return tuple(_profile_end(excess, best[name], edge, drop, tolerance) for edge in BOUNDS[name])


def _profile_end(excess, inside, edge, drop, tolerance, first_step=0.01):
    """Where excess (= -drop at `inside`) crosses 0 between `inside` and `edge`, or `edge` if it
    does not. Steps out to the crossing that a parabola through the points so far predicts, then
    refines with Brent's method in the last bracket."""
    known = inside  # the last point known to be inside the interval
    distance = min(first_step, abs(edge - inside))
    while distance > 0:
        point = inside + np.sign(edge - inside) * distance
        value = excess(point)
        if value > 0:
            return optimize.brentq(excess, *sorted((known, point)), xtol=tolerance)
        if point == edge:
            return edge
        known = point
        curvature = (value + drop) / distance**2  # excess ~ curvature * d^2 - drop
        distance = min(max(np.sqrt(drop / curvature) if curvature > 0 else 2 * distance, 1.2 * distance), abs(edge - inside))
    return edge


def standard_errors(best, records, task: TaskConfig, subject=0, step=1e-4):
    """Wald standard errors {name: se} of a `fit` result's free parameters, from the observed
    information (the numerical Hessian of the negative log-likelihood at the fit). A parameter
    at a bound gets NaN (the Wald approximation does not hold there) and is held fixed for the
    others; one with no effect on the likelihood (eligibility when w = 1) gets inf; the rest get
    NaN where their Hessian is not positive definite."""
    model = MODELS[best["model"]]
    interior = [n for n in model.free if BOUNDS[n][0] < best[n] < BOUNDS[n][1]]
    errors = dict.fromkeys(model.free, np.nan)
    if not interior:
        return errors
    fixed_model = Model(model.name, model.kind, tuple(interior), model.fixed + tuple((n, best[n]) for n in model.free if n not in interior))
    x = np.array([best[n] for n in interior])
    steps = step * np.maximum(1.0, np.abs(x))
    pairs = [(i, j) for i in range(len(x)) for j in range(i, len(x))]
    signs = ((1, 1), (1, -1), (-1, 1), (-1, -1))
    points = [x + si * steps[i] * np.eye(len(x))[i] + sj * steps[j] * np.eye(len(x))[j] for i, j in pairs for si, sj in signs]
    values = negative_log_likelihood(fixed_model, np.array(points), task, subject_data(records, subject)).reshape(len(pairs), 4)
    hessian = np.zeros((len(x), len(x)))
    for (i, j), (pp, pm, mp, mm) in zip(pairs, values):
        hessian[i, j] = hessian[j, i] = (pp - pm - mp + mm) / (4 * steps[i] * steps[j])
    flat = np.diag(hessian) <= 1e-9 * np.abs(hessian).max()  # no effect on the likelihood: not identifiable
    errors.update((n, np.inf) for n, f in zip(interior, flat) if f)
    informative = hessian[np.ix_(~flat, ~flat)]
    if informative.size and np.all(np.linalg.eigvalsh(informative) > 0):
        errors.update(zip(np.array(interior)[~flat], np.sqrt(np.diag(np.linalg.inv(informative)))))
    return errors


def fit_subjects(records, task: TaskConfig, models=tuple(MODELS), restarts=4, seed=0, interval="model_based_weight"):
    """Fit each model to each subject; a pandas table, one row per (subject, model), with the
    parameters, nll, BIC, and the profile interval of `interval` where it is free (None: skip)."""
    import pandas as pd

    rows = []
    for subject in range(np.shape(records["action"])[0]):
        for name in models:
            best = fit(name, records, task, subject, restarts, seed)
            if interval and interval in MODELS[name].free:
                best[f"{interval} low"], best[f"{interval} high"] = profile_interval(records, task, best, subject, interval)
            rows.append({"subject": subject, **best})
    return pd.DataFrame(rows).set_index(["subject", "model"])


def compare_models(table):
    """Per subject: each model's BIC minus the best BIC (0 for the best), and the best model's name."""
    bic = table["bic"].unstack("model")
    delta = bic.sub(bic.min(axis=1), axis=0)
    delta["best"] = bic.idxmin(axis=1)
    return delta


# ---------------------------------------------------------------- inside the agent


def expectation_change(value, outcome_value, gamma):
    """gamma V_{n+1} - V^outcome_n along the trial axis (V after the last trial: 0): the part of a
    TD error that is not the reward, from the value at each choice and where the reward arrives."""
    value = np.asarray(value, float)
    next_value = np.concatenate([value[..., 1:], np.zeros_like(value[..., :1])], axis=-1)
    return gamma * next_value - np.asarray(outcome_value, float)


def prediction_errors(records, gamma):
    """The agent's trial-level TD errors delta_n = r_n + gamma V_{n+1} - V^outcome_n from its
    value head ("value" at each choice, "outcome_value" where the reward arrives)."""
    return np.asarray(records["reward"], float) + expectation_change(records["value"], records["outcome_value"], gamma)


def fitted_values(table, records, task: TaskConfig, model):
    """Values of the chosen actions [subject, episode, trial] of `model` (a `MODELS` name) with
    each subject's parameters from a `fit_subjects` table, replaying the recorded trials."""
    fitted = table.xs(model, level="model")
    names = agents.PARAMETERS if MODELS[model].kind == agents.HYBRID else agents.IDEAL_OBSERVER_PARAMETERS
    return model_values({k: fitted[k].to_numpy() for k in names}, records, task, MODELS[model].kind)["value"]


def rpe_comparison(records, learner_values, gamma, skip_last=10):
    """Which learner's prediction errors the agent's follow (`rpe_regression`), per subject.

    Every TD error holds the same reward r_n, so the comparison is on what differs: the agent's
    gamma V_{n+1} - V_n against each learner's, computed from its values of the chosen actions
    (`learner_values`: {name: [subject, episode, trial]}). The last `skip_last` trials of each
    episode are left out: there the agent's value falls as the episode's end nears (gamma = 0.9
    looks about 10 trials ahead), which no trial-by-trial learner represents.
    """
    keep = slice(0, np.shape(records["action"])[-1] - skip_last)
    agent = expectation_change(records["value"], records["outcome_value"], gamma)[..., keep]
    return rpe_regression(agent, {name: expectation_change(v, v, gamma)[..., keep] for name, v in learner_values.items()})


def model_values(model_params, records, task: TaskConfig, kind=agents.HYBRID):
    """Values of the chosen actions [subject, episode, trial] and, for the ideal observer, beliefs,
    of an agent replaying the recorded trials. `model_params`: {name: array [subject]}."""
    action, state, reward = (np.asarray(records[k]) for k in ("action", "state", "reward"))
    params = {k: np.asarray(v, float)[:, None] for k, v in model_params.items()}
    return agents.play(kind, params, task, action.shape[:2], lambda n, _: (action[..., n], state[..., n], reward[..., n]))


def _standardised(x):
    """x with mean 0 and SD 1; zeros where x never varies (a learner whose values never change)."""
    spread = x.std()
    return (x - x.mean()) / spread if spread > 1e-9 * (1 + np.abs(x).max()) else np.zeros_like(x)


def rpe_regression(agent_delta, model_deltas):
    """Which learner's prediction errors the agent's follow, per subject.

    OLS of the agent's prediction errors on every model's (standardised) jointly. Each model's
    coefficient with its 95% CI, its correlation r with the agent's alone, and its unique share
    of the variance: the R^2 lost when that model is left out of the joint regression. A model
    whose prediction errors never vary (its values never change) is left out of the regressions:
    NaN coefficient and r, unique share 0.
    `model_deltas`: {name: [subject, ...]}. Returns a pandas table indexed by (subject, model).
    """
    import pandas as pd
    import statsmodels.api as sm

    rows = []
    for subject in range(len(agent_delta)):
        y = np.ravel(agent_delta[subject])
        zs = {name: _standardised(np.ravel(d[subject])) for name, d in model_deltas.items()}

        def ols(names):
            return sm.OLS(y, sm.add_constant(np.column_stack([zs[n] for n in names]), has_constant="add")).fit()

        varying = [name for name, z in zs.items() if z.any()]
        joint = ols(varying) if varying else None
        ci = joint.conf_int(0.05) if varying else None
        for name, z in zs.items():
            if name not in varying:
                rows.append({"subject": subject, "model": name, "coef": np.nan, "ci low": np.nan, "ci high": np.nan, "r": np.nan,
                             "unique R2": 0.0})
                continue
            i = varying.index(name) + 1
            unique = joint.rsquared - ols([n for n in varying if n != name]).rsquared if len(varying) > 1 else joint.rsquared
            rows.append({"subject": subject, "model": name, "coef": joint.params[i], "ci low": ci[i, 0], "ci high": ci[i, 1],
                         "r": np.corrcoef(y, z)[0, 1], "unique R2": unique})
    return pd.DataFrame(rows).set_index(["subject", "model"])


def decoded(features, target, groups, folds=5, ridge=1e-3):
    """Cross-validated predictions of `target` [N] (or [N, k], each column on its own) by a linear
    read-out (ridge regression with intercept) from `features` [N, d]: each group's from a fit to
    the other folds; `groups` [N] (e.g. episode index) keeps every group in one fold."""
    features, target, groups = np.asarray(features, float), np.asarray(target, float), np.asarray(groups)
    fold_of = np.unique(groups, return_inverse=True)[1] % folds
    predicted = np.empty_like(target)
    for k in range(folds):
        train, test = fold_of != k, fold_of == k
        mean_x, mean_y = features[train].mean(0), target[train].mean(0)
        x = features[train] - mean_x
        weights = np.linalg.solve(x.T @ x + ridge * len(x) * np.eye(x.shape[1]), x.T @ (target[train] - mean_y))
        predicted[test] = (features[test] - mean_x) @ weights + mean_y
    return predicted


def decode(features, target, groups, folds=5, ridge=1e-3):
    """Cross-validated R^2 of `decoded`'s linear read-out of `target` [N] from `features` [N, d]
    (for a target [N, k], the R^2 of each column [k])."""
    target = np.asarray(target, float)
    predicted = decoded(features, target, groups, folds, ridge)
    return 1.0 - np.sum((target - predicted) ** 2, axis=0) / np.sum((target - target.mean(0)) ** 2, axis=0)


def by_trial_type(x, records):
    """Mean of x [subject, episode, trial] over trials n >= 1 grouped by trial n-1's and trial n's
    outcome type (`OUTCOME_TYPES`): [subject, previous type, current type]."""
    common, rewarded = np.asarray(records["common"], bool), np.asarray(records["reward"]) > 0
    kind = np.select([common & rewarded, common & ~rewarded, ~common & rewarded], [0, 1, 2], 3)
    previous, current, x = kind[..., :-1], kind[..., 1:], np.asarray(x, float)[..., 1:]
    means = np.full(x.shape[:1] + (4, 4), np.nan)
    for p in range(4):
        for c in range(4):
            cell = (previous == p) & (current == c)
            with np.errstate(invalid="ignore"):
                means[:, p, c] = (x * cell).sum(axis=(1, 2)) / cell.sum(axis=(1, 2))
    return means


def transition_surprise(delta, records):
    """Per subject: how much less an omitted reward surprises after a rare transition than after a
    common one, in units of the reward's effect: (mean delta | rare, unrewarded - mean delta |
    common, unrewarded) / (mean delta | rewarded - mean delta | unrewarded), on the current trial.
    About 0 for a learner whose expectations ignore where the transition led (model-free at the
    outcome), positive for one that expected little from the state it did not aim for."""
    common, rewarded, delta = np.asarray(records["common"], bool), np.asarray(records["reward"]) > 0, np.asarray(delta, float)

    def mean(mask):
        return (delta * mask).sum(axis=(1, 2)) / mask.sum(axis=(1, 2))

    return (mean(~common & ~rewarded) - mean(common & ~rewarded)) / (mean(rewarded) - mean(~rewarded))


def ideal_observer_beliefs(records, task: TaskConfig):
    """The ideal observer's P(S2 good) at each choice [subject, episode, trial], given the trials the
    records show (the same history the agent had)."""
    greedy = {"inverse_temperature": np.full(np.shape(records["action"])[0], np.inf), "perseveration": np.zeros(np.shape(records["action"])[0])}
    return model_values(greedy, records, task, agents.IDEAL_OBSERVER)["belief"]


def agreement_with_ideal_observer(records, task: TaskConfig):
    """Per subject: the fraction of choices that match the ideal observer's on the same history
    (trials where it has a strict preference)."""
    values = agents.through_transitions(task, agents.expected_rewards(task, ideal_observer_beliefs(records, task)))
    preferred, strict = values[1] > values[0], values[1] != values[0]
    return ((np.asarray(records["action"]) == preferred) & strict).sum(axis=(1, 2)) / strict.sum(axis=(1, 2))


def belief_decoding(records, task: TaskConfig, seed=0):
    """Per subject: (R^2, R^2 with shuffled trials) of a cross-validated linear read-out of the
    ideal observer's belief P(S2 good) at each choice from the LSTM state [h, c] that made it
    (records from `a2c_lstm.evaluate(..., internals=True)`). Folds keep episodes whole; the
    control pairs each state with the belief of a random other trial. [subject, 2]."""
    belief = ideal_observer_beliefs(records, task)
    features = np.concatenate([records["hidden"], records["cell"]], axis=-1)
    n_subjects, n_episodes, n_trials = belief.shape
    groups = np.repeat(np.arange(n_episodes), n_trials)
    rng = np.random.default_rng(seed)
    scores = []
    for subject in range(n_subjects):
        x, y = features[subject].reshape(n_episodes * n_trials, -1), belief[subject].ravel()
        scores.append((decode(x, y, groups), decode(x, rng.permutation(y), groups)))
    return np.array(scores)


# ---------------------------------------------------------------- sweeps


def mean_interval(values, level=0.95):
    """(mean, low, high): a t-interval over independent values (seeds); NaNs left out."""
    values = np.asarray(values, float)
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return (values.mean() if len(values) else np.nan), np.nan, np.nan
    half = stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return values.mean(), values.mean() - half, values.mean() + half


def sweep_summary(table, references, by="configuration"):
    """Per configuration of a sweep table (one row per configuration and seed, `sweep.csv`): the
    fraction of seeds that left chance, the median episode they did, the final reward and each stay
    cell as mean [95% CI over seeds], and the mean absolute distance of the mean stay cells to each
    reference ({name: 4 stay probabilities}, e.g. the paper's and the ideal observer's)."""
    import pandas as pd

    cells = [f"stay {cell}" for cell in env.STAY_CELLS]
    rows = {}
    for name, group in table.groupby(by, sort=False):
        row = {"seeds": len(group), "left chance": np.mean(~group["left_chance_at"].isna()),
               "median episode leaving chance": group["left_chance_at"].median()}
        for column in ["final_reward", *cells]:
            mean, low, high = mean_interval(group[column])
            row[column], row[f"{column} low"], row[f"{column} high"] = mean, low, high
        means = group[cells].mean().to_numpy()
        for reference, probs in references.items():
            row[f"distance to {reference}"] = np.abs(means - np.asarray(probs)).mean()
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(by)


def stay_probabilities_by_trial(action, common, reward):
    """Stay probabilities of each consecutive pair (trial n-1 -> n) separately, pooled over episodes.

    Arrays are [..., episode, trial]; returns (probabilities, counts), each [..., trial - 1, 4].
    """
    pairs = [stay_probabilities(*(np.asarray(a)[..., n - 1 : n + 1] for a in (action, common, reward))) for n in range(1, np.shape(action)[-1])]
    return np.stack([p for p, _ in pairs], axis=-2), np.stack([c for _, c in pairs], axis=-2)
