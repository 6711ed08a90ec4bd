"""Which model predicts a person's next choice: held-out negative log-likelihood on people's
two-step choices, for the published models, tiny recurrent networks, the meta-RL agent and
simple baselines, all through the same per-trial arrays [person, episode, trial].

    two-step predict --data kool2016 --out results/humans [--address auto]

Two protocols (Ji-An, Benna & Mattar 2025 score both ways):
- "held-out-trials": each person's answered trials are dealt into `n_folds` interleaved folds
  (the k-th answered trial into fold k mod n_folds). For test fold k, every model sees every
  trial's events (it learns from each outcome), but is fitted on the choices of the other folds
  and scored on fold k's. Fold k + 1 (mod n_folds) is the validation fold: models with
  hyperparameters (the lagged regression's lags and penalty, a network's stopping step) choose
  them by the summed validation NLL, then fit on the training folds (the regression refits on
  training and validation choices); models without hyperparameters fit on both.
- "held-out-people": people are dealt into `n_folds` folds (a seeded permutation); what is fitted
  to a population (a network's weights, one parameter vector for everybody) is fitted on the other
  folds' people, fold k + 1's people validating, and scored on every answered trial of fold k's.

The contenders (`CONTENDERS`), by family:
- "published": every `daw_models.SPECS` model, MAP per person on the training choices with the
  authors' priors, or ("-eb") under priors estimated from everybody's training choices; three of
  them also as one parameter vector for everybody (held-out people). Each predicts every answered
  trial (Nussenbaum et al. fitted from trial 10 on);
- "hierarchical": "daw2011-hierarchical", hBayesDM's hierarchy over the hybrid (`hierarchical`, by
  SVI), each person's posterior predictive (held-out trials), or the training people's population
  posterior as a new person's prior, updated by their own earlier choices (held-out people);
- "extended" (ours): a published model whose second stage is read per person with a temperature and
  a stickiness to the last choice in the state ("+readout", `person_readout`), or whose two stages
  are corrected per person by Miller et al.'s lagged regressors ("+lags", `lagged_readout`);
- "rnn": Ji-An et al.'s tiny GRUs (`tiny_rnn`), of 1 to 16 units, trained on everybody's choices,
  read per person ("-fitted"), or one per person ("-person");
- "agent": the trained daw-2011 meta-RL agent reading the person's own history
  (`a2c_lstm.replay_logits`): as it is, the mixture of its 8 seeds' policies ("agent"; the log of
  the mean of the seeds' probabilities of each choice) or each seed alone ("agent-seed-<k>"), or
  its seeds' mean logit read per person ("agent-fitted");
- "baseline": repeat the last choice; Miller et al. 2017's lagged logistic regression.

Scores, per person: the summed log-probability of the scored first- and second-stage choices;
nll_stage1 = -sum / choices, nll_stage2 likewise, nll = both stages' sum over both stages' choices
(per choice), and the normalised likelihood exp(-nll). A dataset's leaderboard row is the mean of
its people's values, with the standard error across people.

Each (model, protocol, fold) is one Ray task that writes its people's sums to
`<out>/<dataset>_prediction/<model>_<protocol>_<fold>_<key>.csv` (`<dataset>`: the dataset's name or a table
file's stem, `datasets.dataset_name`), the key a digest of the data and
the settings, so a stopped run resumes; `<out>/prediction_people.csv` (per person) and
`<out>/prediction.csv` (the leaderboard) are rewritten from them, other datasets' rows kept.
"""

import dataclasses
import hashlib
import json
import math
import os

import numpy as np
from scipy.special import log_expit

from twostep import daw_models, run_layout
from twostep.configs import FAMILIES, S3

PROTOCOLS = ("held-out-trials", "held-out-people")
RNN_SIZES = (1, 2, 4, 16)
PARTICLES = 2000  # a new person's parameter vectors drawn from the population posterior (held-out people)
MAX_REPLAYED = 10_000_000  # vectors x trials x stages replayed at once by the hierarchical contender (80 MB an array)
NETWORK_STARTS = 3  # initial weights per network, the best kept by validation NLL
LAGS = (1, 2, 3, 5)  # the lagged regression's candidate numbers of lags (Miller et al. 2017 use up to 5 and more)
PENALTIES = (0.1, 1.0, 10.0)  # its candidate L2 penalties on every weight but the bias
AGENT_RUN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "results", "daw-2011")
AGENT_SEEDS = tuple(range(8))  # AGENT_RUN's seeds: "agent" is their mixture, "agent-seed-<k>" each alone
PEOPLE_COLUMNS = ("dataset", "protocol", "model", "family", "subject", "n_stage1", "n_stage2", "logp_stage1", "logp_stage2",
                  "nll_stage1", "nll_stage2", "nll")
BOARD_COLUMNS = ("dataset", "protocol", "model", "family", "n_people", "nll_stage1", "nll_stage2", "nll", "nll_se", "likelihood")


@dataclasses.dataclass(frozen=True)
class PredictionConfig:
    """The benchmark's settings (every chunk's key holds them)."""

    n_folds: int = 5  # folds of trials (held-out-trials) and of people (held-out-people)
    restarts: int = 8  # random starting points per person of a published model's MAP fit
    seed: int = 0  # people's permutation into folds, restarts, networks' initial weights
    eb_iterations: int = 3  # EM iterations of the priors estimated from the training choices

    def __post_init__(self):
        for name in ("n_folds", "restarts", "eb_iterations"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < (2 if name == "n_folds" else 1):
                raise ValueError(f"PredictionConfig.{name}={getattr(self, name)!r}: expected an integer >= {2 if name == 'n_folds' else 1}")


# ---------------------------------------------------------------- folds


def trial_folds(missed, n_folds):
    """[P, E, T] -> each answered trial's fold, its rank among the person's answered trials mod
    n_folds (interleaved: every stretch of the session is in every fold); -1 at missed trials."""
    answered = ~np.asarray(missed, bool)
    rank = np.cumsum(answered.reshape(len(answered), -1), axis=1).reshape(answered.shape) - 1
    return np.where(answered, rank % n_folds, -1)


def people_folds(n_people, n_folds, seed):
    """[P]: each person's fold, from a seeded permutation (folds differ in size by one at most)."""
    return np.random.default_rng(seed).permutation(n_people) % n_folds


def fold_masks(records, protocol, fold, config: PredictionConfig):
    """(train, validation, test) bool [P, E, T] of test fold `fold` under `protocol`: disjoint,
    answered trials only."""
    answered = ~np.asarray(records["missed"], bool)
    if protocol == "held-out-trials":
        folds = trial_folds(records["missed"], config.n_folds)
    elif protocol == "held-out-people":
        folds = np.broadcast_to(people_folds(len(answered), config.n_folds, config.seed)[:, None, None], answered.shape)
    else:
        raise ValueError(f"protocol {protocol!r}: expected one of {PROTOCOLS}")
    test, validation = folds == fold, folds == (fold + 1) % config.n_folds
    return answered & ~test & ~validation, answered & validation, answered & test


# ---------------------------------------------------------------- logistic regressions (baselines, the agent's read-out)


def ridge_logistic(features, choices, weights, penalty, penalised, offset=0.0, iterations=50):
    """Per-row L2-penalised logistic regressions by Newton's method with step halving (the
    objective is concave, so it converges from zero): logit = offset [R, N] + features [R, N, K] .
    beta, choices [R, N] (0/1), weights [R, N] (1 where a choice counts), penalty on the
    coefficients where `penalised` [K] is True -> coefficients beta [R, K]."""
    x, y, m = (np.asarray(a, np.float64) for a in (features, choices, weights))
    ridge = penalty * np.diag(np.asarray(penalised, np.float64))
    sign = 2 * y - 1

    def objective(beta):  # the penalised log-likelihood per row
        logit = offset + np.einsum("rnk,rk->rn", x, beta)
        return (m * log_expit(sign * logit)).sum(axis=1) - 0.5 * np.einsum("rk,kl,rl->r", beta, ridge, beta)

    beta = np.zeros(x.shape[::2])
    value = objective(beta)
    for _ in range(iterations):
        p = np.exp(log_expit(offset + np.einsum("rnk,rk->rn", x, beta)))
        gradient = np.einsum("rnk,rn->rk", x, m * (y - p)) - beta @ ridge
        hessian = np.einsum("rnk,rn,rnl->rkl", x, m * p * (1 - p), x) + ridge + 1e-9 * np.eye(len(ridge))
        step = np.linalg.solve(hessian, gradient[..., None])[..., 0]
        for _ in range(30):  # halve the rows' steps that would lower the objective
            trial = objective(beta + step)
            worse = ~(trial >= value - 1e-12)
            if not worse.any():
                break
            step = np.where(worse[:, None], step / 2, step)
        step = np.where(worse[:, None], 0.0, step)
        beta, value = beta + step, np.where(worse, value, trial)
        if np.abs(step).max() < 1e-8:
            break
    return beta


def fitted_logits(features, choices, fitted, penalty, penalised, pooled=False, offset=None):
    """The logits [P, E, T] of `ridge_logistic` fitted per person (or, pooled, once for everybody)
    on the `fitted` choices: offset [P, E, T] (or none) + features [P, E, T, K] . beta."""
    rows = lambda a: a.reshape((1 if pooled else len(a), -1) + a.shape[3:])  # noqa: E731
    beta = ridge_logistic(rows(features), rows(np.maximum(choices, 0)), rows(fitted), penalty, penalised,
                          offset=0.0 if offset is None else rows(offset))
    linear = np.einsum("petk,pk->pet", features, np.broadcast_to(beta, (len(features), beta.shape[-1])))
    return linear if offset is None else offset + linear


def signed_log_probs(logits, choices):
    """log P(choice) of two-way choices given the logit of option 1 over 0 (0 where choices < 0)."""
    return np.where(choices >= 0, log_expit(np.where(choices == 1, logits, -logits)), 0.0)


def stage_log_probs(logit1, logit2, records):
    """[P, E, T, 2]: log P of the recorded first- and second-stage choices (0 at missed trials)."""
    answered = ~np.asarray(records["missed"], bool)
    action, choice2 = (np.where(answered, records[k], -1) for k in ("action", "choice2"))
    return np.stack([signed_log_probs(logit1, action), signed_log_probs(logit2, choice2)], axis=-1)


# ---------------------------------------------------------------- the contenders


def published_log_probs(spec, records, theta):
    """`spec`'s log P of every recorded choice at each person's parameters: theta [P, n] ->
    [P, E, T, 2], or K vectors per person, theta [P, K, n] -> [P, K, E, T, 2]."""
    theta = np.asarray(theta, np.float64)
    vectors = theta if theta.ndim == 3 else theta[:, None]
    inputs = daw_models.replay_inputs(spec, records)
    recorded = {k: v[:, None] for k, v in inputs.items() if k != "layout"}
    logits = np.zeros((2,) + vectors.shape[:2] + inputs["action"].shape[1:])

    def respond(t, logit1, logit2):
        logits[0, ..., t] = logit1
        logits[1, ..., t] = np.where(recorded["state"][..., t] == S3, logit2[1], logit2[0])
        return tuple(recorded[k][..., t] for k in ("action", "state", "choice2", "reward", "used"))

    daw_models.play(spec, vectors, inputs["layout"], respond, inputs)
    log_probs = stage_log_probs(logits[0], logits[1], {k: np.asarray(records[k])[:, None] for k in ("missed", "action", "choice2")})
    return log_probs if theta.ndim == 3 else log_probs[:, 0]


def every_trial(spec):
    """`spec` predicting every answered trial (Nussenbaum et al. fitted from trial 10 on)."""
    return dataclasses.replace(spec, first_trial=0)


def pooled_records(records, mask):
    """Everybody's records as the episodes of one subject [1, P * E, T], fitted where `mask`."""
    return {k: np.asarray(v).reshape((1, -1) + np.shape(v)[2:]) for k, v in dict(records, fitted=mask).items()}


def published_spec(name):
    """The published model behind a contender's name ("daw2011", "daw2011-eb", "daw2011-hierarchical",
    "daw2011+readout", "daw2011+lags"), or None."""
    return daw_models.SPECS.get(name.removesuffix("-eb").removesuffix("-hierarchical").removesuffix("+readout").removesuffix("+lags"))


def predict_published(name, records, train, validation, protocol, config):
    """MAP fit of a published model on the training and validation choices: per person (held-out
    trials) or one parameter vector for everybody (held-out people, people as episodes); "-eb":
    per person under priors estimated from everybody's training choices, as `empirical_bayes`'
    EM from its broad start (N(0, START_SD) in z), `eb_iterations` M-steps, then the last E-step;
    "+readout" (a model of ours, family "extended"): the fitted model's second-stage logits read per
    person by `person_readout` on the same choices, which adds second-stage stickiness (which no
    published model has) and refits that stage's temperature; the first stage as fitted; "+lags"
    (ours too): both stages read per person by `lagged_readout`."""
    from twostep import empirical_bayes

    spec = every_trial(published_spec(name))
    fitted = train | validation
    if protocol == "held-out-people":
        theta = daw_models.fit(spec, pooled_records(records, fitted), config.restarts, config.seed)["params"]
        return published_log_probs(spec, records, np.repeat(theta, len(fitted), axis=0))
    if not name.endswith("-eb"):
        log_probs = published_log_probs(spec, records, daw_models.fit(spec, dict(records, fitted=fitted), config.restarts, config.seed)["params"])
        if name.endswith("+readout"):  # the second stage read anew, the first as fitted
            log_probs[..., 1] = person_readout(choice_logits(log_probs, records), records, fitted, False)[..., 1]
        if name.endswith("+lags"):
            log_probs = lagged_readout(choice_logits(log_probs, records), records, fitted)
        return log_probs
    mean, sd, params = np.zeros(len(spec.free)), np.full(len(spec.free), empirical_bayes.START_SD), None
    for iteration in range(config.eb_iterations + 1):  # E-steps, each but the last followed by an M-step
        under = empirical_bayes.with_prior(spec, mean, sd)
        starts = None if params is None else params[:, None]
        result = daw_models.fit(under, dict(records, fitted=fitted), config.restarts, config.seed + iteration, starts=starts)
        params = result["params"]
        mean, sd = empirical_bayes.m_step(*empirical_bayes.posterior_z(spec, params, result["hessian"]))
    return published_log_probs(spec, records, params)


def previous_choices(records):
    """[P, E, T] each: the last answered trial's first-stage action before t, and the choice made
    at the last visit to the state reached at t (-1 where there is none)."""
    action, state, choice2 = (np.asarray(records[k]) for k in ("action", "state", "choice2"))
    answered = ~np.asarray(records["missed"], bool)
    last_action = np.full(action.shape[:2], -1)
    last_choice = np.full((2,) + action.shape[:2], -1)  # at S2, S3
    previous, previous_here = np.full(action.shape, -1), np.full(action.shape, -1)
    for t in range(action.shape[-1]):
        at_s3 = (state[..., t] == S3).astype(int)
        previous[..., t] = last_action
        previous_here[..., t] = np.take_along_axis(last_choice, at_s3[None], 0)[0]
        last_action = np.where(answered[..., t], action[..., t], last_action)
        last_choice = np.where(answered[..., t] & (np.arange(2)[:, None, None] == at_s3), choice2[..., t], last_choice)
    return previous, previous_here


def repeat_logits(records, fitted, pooled):
    """The repeat-last-choice baseline's logits at both stages: log-odds of repeating the previous
    first-stage choice, and the choice last made in the state reached, fitted as smoothed frequencies
    ((repeats + 1) / (choices + 2)) per person, or pooled over everybody; 0 with nothing to repeat."""
    logits = []
    for previous, choice in zip(previous_choices(records), (records["action"], records["choice2"])):
        counted = fitted & (previous >= 0)
        axes = None if pooled else (1, 2)
        repeats = (counted & (choice == previous)).sum(axis=axes, keepdims=True)
        p_repeat = (repeats + 1) / (counted.sum(axis=axes, keepdims=True) + 2)
        log_odds = np.log(p_repeat) - np.log1p(-p_repeat)
        logits.append(np.where(previous < 0, 0.0, np.where(previous == 1, log_odds, -log_odds)))
    return logits


def predict_repeat(name, records, train, validation, protocol, config):
    """Repeat the last choice (with the fitted probability of doing so)."""
    return stage_log_probs(*repeat_logits(records, train | validation, protocol == "held-out-people"), records)


def lagged_features(records, lags):
    """Miller et al. 2017's lagged regressors. Stage 1 [P, E, T, 1 + 4 lags]: a bias, and for each
    of the last `lags` answered trials one column per trial type (common or rare transition x
    rewarded or not), +1 if that trial's first-stage action was 1, -1 if 0. Stage 2 [P, E, T,
    1 + 2 lags]: a bias, and for each of the last `lags` visits to the state reached, one column
    per outcome (rewarded or not), +1 / -1 by the choice made there."""
    action, state, choice2, common = (np.asarray(records[k]) for k in ("action", "state", "choice2", "common"))
    answered = ~np.asarray(records["missed"], bool)
    reward = np.nan_to_num(np.asarray(records["reward"], np.float64))
    shape = action.shape
    history1 = np.zeros(shape[:2] + (lags, 4))
    history2 = np.zeros((2,) + shape[:2] + (lags, 2))
    stage1 = np.zeros(shape + (1 + 4 * lags,))
    stage2 = np.zeros(shape + (1 + 2 * lags,))
    stage1[..., 0] = stage2[..., 0] = 1.0
    for t in range(shape[-1]):
        at_s3 = (state[..., t] == S3).astype(int)
        stage1[..., t, 1:] = history1.reshape(shape[:2] + (-1,))
        stage2[..., t, 1:] = np.take_along_axis(history2, at_s3[None, ..., None, None], 0)[0].reshape(shape[:2] + (-1,))
        live = answered[..., t]
        trial_type = 2 * (1 - common[..., t].astype(int)) + (1 - reward[..., t].astype(int))  # CR, CO, RR, RO
        entry1 = np.eye(4)[trial_type] * (2 * action[..., t] - 1)[..., None]
        shifted1 = np.concatenate([entry1[:, :, None], history1[:, :, :-1]], axis=2)
        history1 = np.where(live[..., None, None], shifted1, history1)
        entry2 = np.eye(2)[1 - reward[..., t].astype(int)] * (2 * choice2[..., t] - 1)[..., None]
        shifted2 = np.concatenate([np.broadcast_to(entry2[None, :, :, None], (2,) + shape[:2] + (1, 2)), history2[..., :-1, :]], axis=3)
        visited = live & (np.arange(2)[:, None, None] == at_s3)
        history2 = np.where(visited[..., None, None], shifted2, history2)
    return stage1, stage2


def regression_log_probs(records, lags, penalty, fitted, pooled):
    """Log P [P, E, T, 2] of the lagged regressions fitted on `fitted` choices, per person or pooled."""
    logits = []
    for features, choice in zip(lagged_features(records, lags), (records["action"], records["choice2"])):
        logits.append(fitted_logits(features, choice, fitted, penalty, np.arange(features.shape[-1]) > 0, pooled))
    return stage_log_probs(*logits, records)


def lagged_readout(logits, records, fitted, lags=2, penalty=10.0):
    """Log P [P, E, T, 2] of a model's logits [P, E, T, 2] corrected per person by Miller et al.'s
    lagged regressors (`lagged_features`, with `lags` lags) and a temperature on the logit, fitted
    on `fitted` choices offset by the logit, every coefficient under the L2 `penalty` (so that
    it is pulled to the model itself). Lags and penalty are set, not chosen on validation trials
    (the model was fitted on those): 2 and 10, the best of 1-3 lags and penalties 1, 10 and 30 for
    Nussenbaum et al.'s model on Potter et al.'s first test fold (Potter's score of these models is
    therefore not wholly held out; the other datasets' are)."""
    out = []
    for stage, (features, choice) in enumerate(zip(lagged_features(records, lags), (records["action"], records["choice2"]))):
        x = np.concatenate([logits[..., stage:stage + 1], features], axis=-1)
        out.append(fitted_logits(x, choice, fitted, penalty, np.ones(x.shape[-1], bool), offset=logits[..., stage]))
    return stage_log_probs(*out, records)


def predict_regression(name, records, train, validation, protocol, config):
    """The lagged logistic regressions, lags and penalty chosen (shared by everybody) by the summed
    validation NLL of fits on the training choices, then refitted on training and validation."""
    pooled = protocol == "held-out-people"
    scores = {(lags, penalty): -(regression_log_probs(records, lags, penalty, train, pooled) * validation[..., None]).sum()
              for lags in LAGS for penalty in PENALTIES}
    lags, penalty = min(scores, key=scores.get)
    return regression_log_probs(records, lags, penalty, train | validation, pooled)


def sequences(records):
    """[P, E, T] records as [P * E, T] sequences, the arrays the networks and the agent read."""
    keys = ("action", "state", "choice2", "reward", "missed")
    return {k: np.asarray(records[k]).reshape(-1, np.shape(records[k])[-1]) for k in keys}


def agent_seed_logits(records, run=AGENT_RUN, seeds=AGENT_SEEDS):
    """Each of the trained daw-2011 agent's `seeds` reading the person's own history
    (`a2c_lstm.replay_logits`, its newest checkpoint under `run`): the logits [seed, P, E, T, 2]
    of choice 1 over 0 at both stages (NaN at missed trials). FileNotFoundError naming a seed
    without checkpoints."""
    import a2c_lstm
    from twostep import checkpoints

    paths = []
    for seed in seeds:
        found = run_layout.existing_checkpoints(os.path.join(run, f"model_{seed}"))
        if not found:
            raise FileNotFoundError(f"no checkpoints model_{seed}/model-<episode> under {run!r} "
                                    f"(the agent's seeds asked for: {list(seeds)})")
        paths.append(found[-1])
    logits = a2c_lstm.replay_logits(checkpoints.load_models(paths), sequences(records))
    return logits.reshape((len(seeds),) + np.shape(records["action"]) + (2,))


def agent_logits(records, run=AGENT_RUN):
    """The agent's logits [P, E, T, 2] averaged over its seeds (`agent_seed_logits`): what
    "agent-fitted" reads, and the logit whose dynamics prediction.ipynb draws."""
    return agent_seed_logits(records, run).mean(axis=0)


def mixture_log_probs(seed_logits, records):
    """log P [P, E, T, 2] of the recorded choices under the mixture of the seeds' policies
    (logits [seed, P, E, T, 2]): at each stage the log of the mean over seeds of each seed's
    probability of the recorded choice (0 at missed trials). By Jensen's inequality it is at least
    the mean of the seeds' log-probabilities."""
    from scipy.special import logsumexp

    per_seed = np.stack([stage_log_probs(logits[..., 0], logits[..., 1], records) for logits in seed_logits]).astype(np.float64)
    answered = ~np.asarray(records["missed"], bool)
    return np.where(answered[..., None], logsumexp(per_seed, axis=0) - np.log(len(per_seed)), 0.0)


def same_side(records):
    """[P, E, T]: +1 where first-stage action 1 is shown on the side chosen at the last answered
    trial, -1 where it is not, 0 before any (or without screen sides): Kool et al.'s response
    stickiness regressor for action 1."""
    side1, action = np.asarray(records["side1"]), np.asarray(records["action"])
    answered = ~np.asarray(records["missed"], bool) & np.isin(side1, (0, 1))
    layout = np.where(action == 1, side1, 1 - side1)  # the screen side of action 1 on each trial
    previous = np.full(action.shape[:2], -1)
    out = np.zeros(action.shape)
    for t in range(action.shape[-1]):
        out[..., t] = np.where((previous < 0) | ~answered[..., t], 0.0, np.where(layout[..., t] == previous, 1.0, -1.0))
        previous = np.where(answered[..., t], side1[..., t], previous)
    return out


def repeat_features(records):
    """[P, E, T] each: +1 / -1 where the previous first-stage choice, and the last choice in the
    state reached, was option 1 / 0; 0 where there is none."""
    return [np.where(previous < 0, 0.0, 2.0 * previous - 1) for previous in previous_choices(records)]


def response_duplicates_choice(records):
    """Whether response stickiness (`same_side`) equals stickiness to the previous first-stage
    choice at every answered trial, as on Gillan et al.'s data, where the screen side of every
    choice is the choice itself (`datasets` refuses other trials): the two are then collinear."""
    answered = ~np.asarray(records["missed"], bool)
    return bool(answered.any()) and np.array_equal(same_side(records)[answered], repeat_features(records)[0][answered])


def person_readout(logits, records, fitted, pooled):
    """Log P [P, E, T, 2] of a policy's logits [P, E, T, 2] read per person (or, pooled, for
    everybody) with, at each stage, an inverse temperature on the logit and stickiness to the
    person's previous choice there (the previous first-stage choice, and response stickiness to
    its screen side where sides are recorded and it is not the same regressor,
    `response_duplicates_choice`; the last choice in the state reached), fitted on `fitted`
    choices: a logistic regression on those inputs, offset by the logit, with a weak L2 penalty of
    0.01 pulling the temperatures to 1 and the stickiness to 0."""
    repeat = repeat_features(records)
    response = [] if response_duplicates_choice(records) else [same_side(records)]
    out = []
    for stage, (choice, extra) in enumerate(((records["action"], [repeat[0], *response]), (records["choice2"], [repeat[1]]))):
        features = np.stack([logits[..., stage], *extra], axis=-1)
        out.append(fitted_logits(features, choice, fitted, 0.01, np.ones(features.shape[-1], bool), pooled, offset=logits[..., stage]))
    return stage_log_probs(*out, records)


def predict_agent(name, records, masks, protocol, config):
    """The meta-RL agent as a model of a person, every fold in one task (its replay does not depend
    on the fold). "agent": its policy as it is, nothing fitted: the mixture of its seeds' policies
    (`mixture_log_probs`), the same in every fold and protocol. "agent-seed-<k>": seed k's policy
    alone. "agent-fitted": the seeds' mean logit (`agent_logits`) read per person (held-out trials)
    or for everybody (held-out people) by `person_readout`, fitted on the training and validation
    choices."""
    if name.startswith("agent-seed-"):
        logits = np.nan_to_num(agent_seed_logits(records, seeds=(int(name.removeprefix("agent-seed-")),))[0])
        return [stage_log_probs(logits[..., 0], logits[..., 1], records)] * len(masks)
    if name == "agent":
        return [mixture_log_probs(np.nan_to_num(agent_seed_logits(records)), records)] * len(masks)
    logits = np.nan_to_num(agent_logits(records))
    return [person_readout(logits, records, train | validation, protocol == "held-out-people") for train, validation in masks]


def choice_logits(log_probs, records):
    """The logits of option 1 over 0 [P, E, T, 2] behind log P of the recorded choices (0 at missed trials)."""
    chosen = np.minimum(log_probs, -1e-12)
    logit = chosen - np.log(-np.expm1(chosen))  # the recorded choice's logit over the other
    sign = np.stack([2.0 * np.asarray(records[k]) - 1 for k in ("action", "choice2")], axis=-1)
    return np.where(np.stack([~np.asarray(records["missed"], bool)] * 2, -1), logit * sign, 0.0)


def predict_network(name, records, masks, protocol, config):
    """Ji-An et al.'s tiny recurrent networks (`tiny_rnn`), trained on people's choices: "gru-<d>"
    one network of d units for everybody per fold, "gru-<d>-person" one per person and fold
    (held-out trials); "gru-<d>-fitted": the everybody network read per person (`person_readout`). Each is trained from NETWORK_STARTS initial weights, all side by side, and
    the start with the best validation NLL is kept (Ji-An et al. keep the best of several seeds).
    Returns the log P [P, E, T, 2] of each fold's networks."""
    from twostep import tiny_rnn

    units, per_person = int(name.split("-")[1]), "-person" in name
    data = tiny_rnn.sequence_inputs(sequences(records))
    shape = np.shape(records["action"])
    n, n_trials = len(data["answered"]), shape[-1]
    train, validation = (np.stack([np.asarray(fold[k]).reshape(n, n_trials) for fold in masks]) for k in (0, 1))  # [folds, N, T]
    if per_person:  # a group per fold and person, each of one sequence
        members = np.tile(np.arange(n), len(masks))[:, None]
        train, validation = train.reshape(-1, 1, n_trials), validation.reshape(-1, 1, n_trials)
    else:  # a group per fold, of every sequence
        members = np.broadcast_to(np.arange(n), (len(masks), n))
    groups = len(members)
    starts = [np.repeat(a, NETWORK_STARTS, axis=0) for a in (members, train, validation)]
    weights, info = tiny_rnn.fit(tiny_rnn.RNNConfig(units=units, seed=config.seed), data, *starts)
    log_probs = tiny_rnn.log_probs(weights, data, starts[0]).reshape((groups, NETWORK_STARTS) + members.shape[1:] + (n_trials, 2))
    best = info["validation_nll"].reshape(groups, NETWORK_STARTS).argmin(axis=1)
    log_probs = log_probs[np.arange(groups), best].reshape((len(masks),) + shape + (2,))
    if not name.endswith("-fitted"):
        return list(log_probs)
    fitted = [train | validation for train, validation in masks]
    return [person_readout(choice_logits(fold, records), records, mask, protocol == "held-out-people") for fold, mask in zip(log_probs, fitted)]


def predict_hierarchical(name, records, train, validation, protocol, config):
    """hBayesDM's hierarchy over a published model ("daw2011-hierarchical"; `hierarchical`), its
    posterior approximated by SVI (`VariationalConfig`'s settings) on the training and validation
    choices. Held-out trials: each person's posterior predictive, the mean over the posterior's
    draws of P(choice) (`posterior_predictive`). Held-out people: the population posterior of the
    training people is a new person's prior, PARTICLES parameter vectors drawn from it
    (`population_particles`), updated by the person's own earlier choices alone
    (`sequential_predictive`)."""
    from twostep import hierarchical
    from twostep.configs import VariationalConfig

    spec = every_trial(published_spec(name))
    fitted = train | validation
    settings = VariationalConfig(seed=config.seed)
    if protocol == "held-out-trials":
        idata, _ = hierarchical.approximate(spec, dict(records, fitted=fitted), settings)
        return posterior_predictive(spec, records, np.swapaxes(hierarchical.draws_of(idata, "theta"), 0, 1))
    people = fitted.any(axis=(1, 2))
    idata, _ = hierarchical.approximate(spec, daw_models.people_records(dict(records, fitted=fitted), people), settings)
    particles = population_particles(spec, idata, PARTICLES, config.seed)
    log_probs = np.zeros(np.shape(records["action"]) + (2,))
    new = np.flatnonzero(~people)
    chunks = max(1, math.ceil(len(new) * PARTICLES * log_probs[0].size / MAX_REPLAYED))  # people replayed at once: MAX_REPLAYED values
    for chunk in np.array_split(new, chunks):
        replayed = published_log_probs(spec, daw_models.people_records(records, chunk), np.broadcast_to(particles, (len(chunk),) + particles.shape))
        log_probs[chunk] = sequential_predictive(replayed)
    return log_probs


def population_particles(spec, idata, count, seed):
    """`count` parameter vectors [count, n] of a new person under a hierarchical posterior: a group
    draw (mu_pr, sigma) for each, in turn, and the person's own standard-normal offset."""
    from twostep import hierarchical

    mu_pr, sigma = (hierarchical.draws_of(idata, k) for k in ("mu_pr", "sigma"))
    group = np.arange(count) % len(mu_pr)
    z = np.random.default_rng(seed).standard_normal((count, len(spec.free)))
    return hierarchical.linked(spec, mu_pr[group] + sigma[group] * z)


def sequential_predictive(log_probs):
    """log P [P, K, E, T, 2] of every choice under K parameter vectors drawn from a person's prior
    -> log P [P, E, T, 2] of each choice given the choices before it (episode by episode, stage 1
    before stage 2): the mean of the vectors' probabilities weighted by their likelihood of the
    earlier choices (importance weights; 0 stays 0 at missed trials)."""
    from scipy.special import logsumexp

    shape = log_probs.shape
    flat = log_probs.reshape(shape[:2] + (-1,))
    after = np.cumsum(flat, axis=-1)
    return (logsumexp(after, axis=1) - logsumexp(after - flat, axis=1)).reshape(shape[:1] + shape[2:])


def posterior_predictive(spec, records, theta):
    """log P [P, E, T, 2] of every choice under each person's posterior, draws theta [P, D, n]: the
    log of the mean over draws of P(choice), replayed a chunk of draws at a time."""
    from scipy.special import logsumexp

    step = max(1, MAX_REPLAYED // (np.size(records["action"]) * 2))
    total = None
    for start in range(0, theta.shape[1], step):
        part = logsumexp(published_log_probs(spec, records, theta[:, start:start + step]), axis=1)
        total = part if total is None else np.logaddexp(total, part)
    return total - np.log(theta.shape[1])


def one_fold_at_a_time(predict):
    """A contender fitted fold by fold as the list-of-folds contender the runner calls."""

    def predict_folds(name, records, masks, protocol, config):
        return [predict(name, records, train, validation, protocol, config) for train, validation in masks]

    return predict_folds


@dataclasses.dataclass(frozen=True)
class Contender:
    """A model of people's choices: its family, the protocols it is scored under, how it predicts
    (name, records, [(train, validation) per fold], protocol, config) -> [log P [P, E, T, 2] per
    fold], and whether one Ray task fits all folds side by side (networks) or one fold each."""

    family: str
    protocols: tuple
    predict: object
    folds_together: bool = False


POOLED_PUBLISHED = ("daw2011", "kool2016-hybrid-st", "nussenbaum2020")  # also fitted as one vector for everybody
CONTENDERS = {
    **{name: Contender("published", PROTOCOLS if name in POOLED_PUBLISHED else PROTOCOLS[:1], one_fold_at_a_time(predict_published))
       for name, spec in daw_models.SPECS.items() if spec.paradigm == "daw" and not spec.has_stakes},  # the datasets' task
    **{f"{name}-eb": Contender("published", PROTOCOLS[:1], one_fold_at_a_time(predict_published)) for name in POOLED_PUBLISHED},
    "daw2011-hierarchical": Contender("hierarchical", PROTOCOLS, one_fold_at_a_time(predict_hierarchical)),
    **{f"{name}{suffix}": Contender("extended", PROTOCOLS[:1], one_fold_at_a_time(predict_published))
       for name in (*POOLED_PUBLISHED, "kool2016-hybrid-st-respst") for suffix in ("+readout", "+lags")},
    **{f"gru-{units}": Contender("rnn", PROTOCOLS, predict_network, folds_together=True) for units in RNN_SIZES},
    "gru-2-person": Contender("rnn", PROTOCOLS[:1], predict_network),
    "gru-16-fitted": Contender("rnn", PROTOCOLS, predict_network, folds_together=True),
    "agent": Contender("agent", PROTOCOLS, predict_agent, folds_together=True),
    **{f"agent-seed-{seed}": Contender("agent", PROTOCOLS, predict_agent, folds_together=True) for seed in AGENT_SEEDS},
    "agent-fitted": Contender("agent", PROTOCOLS, predict_agent, folds_together=True),
    "repeat-last": Contender("baseline", PROTOCOLS, one_fold_at_a_time(predict_repeat)),
    "lagged-regression": Contender("baseline", PROTOCOLS, one_fold_at_a_time(predict_regression)),
}
MODEL_GROUPS = {"all": tuple(CONTENDERS), **{family: tuple(n for n, c in CONTENDERS.items() if c.family == family) for family in FAMILIES}}


def unusable(model, records):
    """Why `model` cannot be scored on these records (None if it can): a published model with
    response stickiness needs the screen side of each first-stage choice."""
    spec = published_spec(model)
    answered = ~np.asarray(records["missed"], bool)
    if spec is not None and spec.uses_sides and not np.isin(np.asarray(records["side1"])[answered], (0, 1)).all():
        return "response stickiness needs the screen sides (side1), which this dataset does not record"
    return None


def collinear_response(model, records):
    """What `model` does where response stickiness duplicates choice stickiness
    (`response_duplicates_choice`), or None: a published model with response stickiness is scored
    with the two collinear; a readout (`person_readout`) leaves the response column out."""
    if not response_duplicates_choice(records):
        return None
    spec = published_spec(model)
    notes = []
    if spec is not None and spec.uses_sides:
        notes.append("its response stickiness is collinear with its choice stickiness "
                     "(scored; the choices determine only the two weights' sum)")
    if model.endswith("+readout") or model.endswith("-fitted"):
        notes.append("its readout leaves the response column out")
    return "; ".join(notes) or None


def contender_names(text):
    """'all', a family (configs.FAMILIES: published, hierarchical, extended, rnn, agent, baseline) or names, comma-separated ->
    contender names; ValueError naming an unknown one."""
    names = []
    for part in (p.strip() for p in text.split(",")):
        if part not in MODEL_GROUPS and part not in CONTENDERS:
            raise ValueError(f"unknown model {part!r}: expected one of {', '.join([*MODEL_GROUPS, *CONTENDERS])}")
        names.extend(MODEL_GROUPS.get(part, (part,)))
    return tuple(dict.fromkeys(names))


# ---------------------------------------------------------------- scores


def fold_scores(log_probs, test, subjects, fold):
    """Per person rows of one fold: choices scored and summed log P per stage on `test` trials."""
    import pandas as pd

    scored = np.where(test[..., None], log_probs, 0.0)
    return pd.DataFrame({"subject": [str(s) for s in subjects], "fold": fold,
                         "n_stage1": test.sum(axis=(1, 2)), "n_stage2": test.sum(axis=(1, 2)),
                         "logp_stage1": scored[..., 0].sum(axis=(1, 2)), "logp_stage2": scored[..., 1].sum(axis=(1, 2))})


def person_scores(folds):
    """Per person NLL per choice from their rows over folds (`fold_scores`): stage 1, stage 2, both."""
    people = folds.groupby("subject", sort=False)[["n_stage1", "n_stage2", "logp_stage1", "logp_stage2"]].sum().reset_index()
    people = people[people["n_stage1"] > 0]
    people["nll_stage1"] = -people["logp_stage1"] / people["n_stage1"]
    people["nll_stage2"] = -people["logp_stage2"] / people["n_stage2"]
    people["nll"] = -(people["logp_stage1"] + people["logp_stage2"]) / (people["n_stage1"] + people["n_stage2"])
    return people


def leaderboard(people):
    """The mean over people of each (dataset, protocol, model)'s NLL per choice, its standard error
    across people and the normalised likelihood exp(-nll), best first per dataset and protocol."""
    keys = ["dataset", "protocol", "model", "family"]
    grouped = people.groupby(keys, sort=False)
    board = grouped[["nll_stage1", "nll_stage2", "nll"]].mean().reset_index()
    board["n_people"] = grouped.size().to_numpy()
    board["nll_se"] = grouped["nll"].sem().to_numpy()
    board["likelihood"] = np.exp(-board["nll"])
    return board.sort_values(["dataset", "protocol", "nll"]).reindex(columns=BOARD_COLUMNS).reset_index(drop=True)


# ---------------------------------------------------------------- the runner


def task_key(digests, model, protocol, folds, config):
    """The digest naming a task's file: the people's data, the contender, protocol, folds, settings."""
    settings = json.dumps({"people": list(digests), "model": model, "protocol": protocol, "folds": list(folds),
                           "config": dataclasses.asdict(config)})
    return hashlib.sha256(settings.encode()).hexdigest()[:12]


def task_file(out, dataset, model, protocol, folds, key):
    """`<out>/<dataset>_prediction/<model>_<protocol>_<folds>_<key>.csv`."""
    return os.path.join(out, f"{dataset}_prediction", f"{model}_{protocol}_{'-'.join(map(str, folds))}_{key}.csv")


def predict_task(dataset, root, model, protocol, folds, config, path):
    """Fit `model` under `protocol` for test folds `folds` of the dataset and write every person's
    per-fold sums (`fold_scores`) to `path`, atomically. Returns the number of rows."""
    import pandas as pd

    from twostep import datasets

    data = datasets.load(dataset, root)
    records = data.records
    masks = [fold_masks(records, protocol, fold, config) for fold in folds]
    predicted = CONTENDERS[model].predict(model, records, [(train, validation) for train, validation, _ in masks], protocol, config)
    rows = pd.concat([fold_scores(log_probs, test, data.subject, fold) for log_probs, (_, _, test), fold in zip(predicted, masks, folds)])
    rows = rows[rows["n_stage1"] > 0]
    run_layout.write_atomically(path, lambda partial: rows.to_csv(partial, index=False))
    return len(rows)


def run_predictions(dataset, models, out, root=None, config=PredictionConfig(), progress=True, say=print):
    """Every (contender, protocol, fold group) of `models` not yet written, as a Ray task (Ray must
    be connected); then `<out>/prediction_people.csv` and `<out>/prediction.csv` rewritten with
    this dataset's rows of these models replaced. Returns (leaderboard, people)."""
    import pandas as pd
    import ray

    from twostep import datasets, population_fits
    from twostep.progress import progress_bar

    data = datasets.load(dataset, root)
    dataset_path, dataset = dataset, datasets.dataset_name(dataset)  # the data's file (or name); the name in the outputs
    skipped = {model: unusable(model, data.records) for model in models}
    for model, why in skipped.items():
        if why:
            say(f"{model}: not scored on {dataset}: {why}")
    models = [model for model in models if not skipped[model]]
    for model in models:
        note = collinear_response(model, data.records)
        if note:
            say(f"{model}: on {dataset} the screen side of every first-stage choice is the choice itself: {note}")
    digests = population_fits.people_digests(data)
    os.makedirs(os.path.join(out, f"{dataset}_prediction"), exist_ok=True)
    every_fold = tuple(range(config.n_folds))
    work = [(model, protocol, folds) for model in models for protocol in CONTENDERS[model].protocols
            for folds in ([every_fold] if CONTENDERS[model].folds_together else [(k,) for k in every_fold])]
    paths = {task: task_file(out, dataset, *task, task_key(digests, *task, config)) for task in work}
    todo = run_layout.files_to_write(paths, os.path.join(out, f"{dataset}_prediction"), "tasks already written", say)
    remote = ray.remote(num_cpus=1)(predict_task)
    pending = {remote.remote(dataset_path, root, *task, config, paths[task]): task for task in todo}
    failures = []
    with progress_bar(len(work), initial=len(work) - len(todo), unit="task", desc=f"predict {dataset}", enabled=progress, every=1) as bar:
        while pending:
            finished, _ = ray.wait(list(pending), num_returns=1)
            task = pending.pop(finished[0])
            try:
                ray.get(finished[0])
            except ray.exceptions.RayTaskError as error:  # the other tasks go on; their files are kept
                failures.append(f"{task[0]} {task[1]} folds {list(task[2])}: {error.cause!r}")
            bar.set_postfix(last=f"{task[0]} {task[1]} fold {task[2][0] if len(task[2]) == 1 else 'all'}")
            bar.update(1)
    if failures:
        raise RuntimeError(f"{len(failures)} of {len(todo)} tasks failed (the others' files are written; a rerun does only "
                           f"what is missing): " + "; ".join(failures))
    parts = []
    for model in models:
        for protocol in CONTENDERS[model].protocols:
            folds = pd.concat([pd.read_csv(paths[task], dtype={"subject": str}) for task in work if task[:2] == (model, protocol)])
            scores = person_scores(folds)
            scores.insert(0, "dataset", dataset)
            scores.insert(1, "protocol", protocol)
            scores.insert(2, "model", model)
            scores.insert(3, "family", CONTENDERS[model].family)
            parts.append(scores)
    return write_tables(out, pd.concat(parts, ignore_index=True).reindex(columns=PEOPLE_COLUMNS))


def write_tables(out, new):
    """Merge `new` per-person rows into `<out>/prediction_people.csv` (replacing the rows of their
    dataset, protocol and model) and rewrite the leaderboard `<out>/prediction.csv` from it."""
    import pandas as pd

    path = os.path.join(out, "prediction_people.csv")
    people = new
    if os.path.isfile(path):
        old = pd.read_csv(path, dtype={"subject": str})
        replaced = old.set_index(["dataset", "protocol", "model"]).index.isin(new.set_index(["dataset", "protocol", "model"]).index)
        people = pd.concat([old[~replaced], new], ignore_index=True)
    board = leaderboard(people)
    run_layout.write_atomically(path, lambda partial: people.to_csv(partial, index=False))
    run_layout.write_atomically(os.path.join(out, "prediction.csv"), lambda partial: board.to_csv(partial, index=False))
    return board, people


# ---------------------------------------------------------------- comparisons


def best_model(board, dataset, protocol, family="published"):
    """The name of the lowest-NLL model of `family` on the leaderboard."""
    rows = board[(board["dataset"] == dataset) & (board["protocol"] == protocol) & (board["family"] == family)]
    return rows.loc[rows["nll"].idxmin(), "model"]


def paired_differences(people, dataset, protocol, reference):
    """Each model's NLL per choice minus `reference`'s, person by person: the mean difference and
    its 95% interval (t), the paired t-test's and Wilcoxon's signed-rank p, and the fraction of
    people the model predicts better; most negative (best) first."""
    import pandas as pd
    from scipy import stats

    rows = people[(people["dataset"] == dataset) & (people["protocol"] == protocol)]
    table = rows.pivot(index="subject", columns="model", values="nll").dropna()
    out = []
    for model in table.columns.drop(reference):
        difference = table[model] - table[reference]
        half = stats.t.ppf(0.975, len(difference) - 1) * difference.sem()
        out.append({"model": model, "family": rows.loc[rows["model"] == model, "family"].iloc[0], "mean_difference": difference.mean(),
                    "ci_low": difference.mean() - half, "ci_high": difference.mean() + half,
                    "t_p": stats.ttest_rel(table[model], table[reference]).pvalue,
                    "wilcoxon_p": stats.wilcoxon(difference).pvalue if (difference != 0).any() else 1.0,
                    "better_fraction": (difference < 0).mean(), "n_people": len(difference)})
    return pd.DataFrame(out).sort_values("mean_difference").reset_index(drop=True)


# ---------------------------------------------------------------- what a model does


def logit_dynamics(logits, records):
    """Ji-An et al.'s view of a model: per answered trial followed by another, the first-stage
    logit of action 1 [n], its change to the next answered trial [n], the trial's type [n]
    (0 common rewarded, 1 common unrewarded, 2 rare rewarded, 3 rare unrewarded) and action [n]."""
    answered = ~np.asarray(records["missed"], bool)
    logit = np.asarray(logits)[..., 0]
    rows = []
    for person, episode in np.ndindex(answered.shape[:2]):
        trials = np.flatnonzero(answered[person, episode])
        now, after = trials[:-1], trials[1:]
        common, reward = (np.asarray(records[k])[person, episode, now] for k in ("common", "reward"))
        rows.append((logit[person, episode, now], logit[person, episode, after] - logit[person, episode, now],
                     2 * (1 - common.astype(int)) + (1 - reward.astype(int)), np.asarray(records["action"])[person, episode, now]))
    return tuple(np.concatenate(column) for column in zip(*rows))


def everybody_network_logits(records, units, seed=0, rnn_options=None):
    """The logits [P, E, T, 2] of a network of `units` trained on everybody's choices, one people
    fold of five (`people_folds`) validating, the best of NETWORK_STARTS starts, and its validation
    NLL per choice: the network whose dynamics `logit_dynamics` shows."""
    from twostep import tiny_rnn

    data = tiny_rnn.sequence_inputs(sequences(records))
    shape, n = np.shape(records["action"]), len(data["answered"])
    validating = np.repeat(people_folds(shape[0], 5, seed) == 0, shape[1])[:, None] & data["answered"]
    members = np.broadcast_to(np.arange(n), (NETWORK_STARTS, n))
    masks = [np.broadcast_to(m, (NETWORK_STARTS,) + m.shape) for m in (data["answered"] & ~validating, validating)]
    weights, info = tiny_rnn.fit(tiny_rnn.RNNConfig(units=units, seed=seed, **(rnn_options or {})), data, members, *masks)
    best = int(np.argmin(info["validation_nll"]))
    log_probs = tiny_rnn.log_probs(weights, data, members)[best].reshape(shape + (2,))
    return choice_logits(log_probs, records), float(info["validation_nll"][best])


def people_scaling(records, units, counts=None, config=PredictionConfig(), rnn_options=None):
    """How an everybody network's held-out-people score grows with the people it learns from:
    networks of `units` trained on the first `counts` people (a seeded order) of people fold 0's
    training people, all side by side (NETWORK_STARTS each, the best by validation NLL on fold 1's
    people), scored on fold 0's people. Returns a table: n_people, nll (mean over tested people)
    and nll_se."""
    import pandas as pd

    from twostep import tiny_rnn

    data = tiny_rnn.sequence_inputs(sequences(records))
    shape, n = np.shape(records["action"]), len(data["answered"])
    train, validation, test = (m.reshape(n, shape[-1]) for m in fold_masks(records, "held-out-people", 0, config))
    order = np.random.default_rng(config.seed).permutation(np.flatnonzero(train.any(axis=1)))
    counts = counts or [len(order) // 8, len(order) // 4, len(order) // 2, len(order)]
    if max(counts) > len(order):
        raise ValueError(f"counts {list(counts)}: at most {len(order)} training people in fold 0")
    subsets = [np.isin(np.arange(n), order[:count])[:, None] & train for count in counts]
    masks = [np.repeat(np.stack(m), NETWORK_STARTS, axis=0) for m in (subsets, [validation] * len(counts))]
    members = np.broadcast_to(np.arange(n), (len(counts) * NETWORK_STARTS, n))
    weights, info = tiny_rnn.fit(tiny_rnn.RNNConfig(units=units, seed=config.seed, **(rnn_options or {})), data, members, *masks)
    log_probs = tiny_rnn.log_probs(weights, data, members).reshape((len(counts), NETWORK_STARTS, n, shape[-1], 2))
    best = info["validation_nll"].reshape(len(counts), NETWORK_STARTS).argmin(axis=1)
    rows = []
    for count, fold in zip(counts, log_probs[np.arange(len(counts)), best]):
        scores = person_scores(fold_scores(fold.reshape(shape + (2,)), test.reshape(shape), np.arange(shape[0]), 0))
        rows.append({"n_people": count, "nll": scores["nll"].mean(), "nll_se": scores["nll"].sem()})
    return pd.DataFrame(rows)
