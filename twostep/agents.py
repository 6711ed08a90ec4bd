"""Reference agents for the two-step task: the Bayes-optimal ideal observer and the classical
model-free, model-based and hybrid learners of Daw et al. 2011 (Neuron 69:1204).

Every agent plays any `TaskConfig` for many subjects side by side and returns the
same per-trial records as `a2c_lstm.evaluate`: numpy arrays [subject, episode, trial] of
"action", "state", "common", "reward", "prob" (of the chosen action), "value" (of the chosen
action) and "good_state", plus "belief" (the ideal observer's P(S2 is good) at the choice).
Subjects and episodes are array axes; the only Python loop runs over the trials of an episode.

All agents start every episode afresh (values 0.5, belief 0.5), as the meta-RL agent's LSTM
starts every episode from zeros; the task's good state carries on from episode to episode.

- `IdealObserver`: the exact posterior over which second-stage state is good (the task's own
  swap, transition and reward probabilities), choosing the action with the higher expected
  reward (greedy, or softmax with a finite inverse temperature). `belief_value_iteration`
  solves the belief-space Bellman equation to show that greedy is optimal. The posterior is
  carried as log-odds on an exact grid (`LOG_ODDS_STEP`), so that equal evidence gives bit-equal
  beliefs and a tie (equal expected rewards) is exactly a tie, which the greedy observer breaks at
  random (a coin flip drawn from the task's uniforms).
- `Hybrid`: Daw et al. 2011. Model-free values of the first-stage actions learn by TD with an
  eligibility trace (lambda); model-based values combine the second-stage values through the
  known transition matrix; choices are a softmax of w * MB + (1 - w) * MF plus a perseveration
  bonus for repeating the last choice. w = 0 is pure model-free, w = 1 pure model-based. In
  every variant here the second stage offers no choice, so this is Daw's model with one value
  per second-stage state: one choice per trial, whatever the number of LSTM steps.

`play` runs any of them over trials, either choosing (simulation) or replaying recorded choices
(the likelihood fits of `analysis.py`), so simulation and fit share one set of equations.
"""

import dataclasses
import fractions
import functools
import math

import numpy as np
from scipy.special import expit, logit

import two_step_env as env
from twostep.configs import S2, S3, SWAP_GOOD_STATE, TaskConfig


@dataclasses.dataclass(frozen=True)
class Hybrid:
    """Daw et al. 2011's hybrid learner; w = 0 model-free, w = 1 model-based."""

    learning_rate: float = 0.5  # alpha, for first- and second-stage values
    eligibility: float = 0.5  # lambda: how much the outcome's prediction error reaches the first-stage value
    inverse_temperature: float = 5.0  # beta of the softmax over the two first-stage actions
    model_based_weight: float = 0.5  # w
    perseveration: float = 0.0  # p: bonus (in value units times beta) for repeating the last choice

    def __post_init__(self):
        _check_fields(self, unit=("learning_rate", "eligibility", "model_based_weight"), positive=("inverse_temperature",))


@dataclasses.dataclass(frozen=True)
class IdealObserver:
    """Bayes-optimal inference of the good state; greedy with inverse_temperature = inf."""

    inverse_temperature: float = np.inf
    perseveration: float = 0.0

    def __post_init__(self):
        _check_fields(self, unit=(), positive=("inverse_temperature",))


def _check_fields(config, unit, positive):
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        ok = isinstance(value, (int, float)) and not np.isnan(value)
        ok = ok and (0.0 <= value <= 1.0 if field.name in unit else value > 0 if field.name in positive else np.isfinite(value))
        if not ok:
            expected = "a number in [0, 1]" if field.name in unit else "a number > 0" if field.name in positive else "a finite number"
            raise ValueError(f"{type(config).__name__}.{field.name}={value!r}: expected {expected}")


PARAMETERS = tuple(f.name for f in dataclasses.fields(Hybrid))
IDEAL_OBSERVER_PARAMETERS = tuple(f.name for f in dataclasses.fields(IdealObserver))
IDEAL_OBSERVER, HYBRID = "ideal observer", "hybrid"


def kind_of(agent):
    """HYBRID or IDEAL_OBSERVER for an agent config."""
    if isinstance(agent, IdealObserver):
        return IDEAL_OBSERVER
    if isinstance(agent, Hybrid):
        return HYBRID
    raise TypeError(f"agent={agent!r}: expected a Hybrid or an IdealObserver")


# ---------------------------------------------------------------- the equations


def through_transitions(task: TaskConfig, second_stage):
    """Values (action 0, action 1) of the first-stage actions from values (S2, S3) of the second
    stage and the known transition matrix: action 0 reaches S2 with common_prob, action 1 S3."""
    common, (s2, s3) = task.common_prob, second_stage
    return common * s2 + (1 - common) * s3, (1 - common) * s2 + common * s3


def expected_rewards(task: TaskConfig, belief):
    """Expected reward (in S2, in S3) when S2 is good with probability `belief`."""
    good, bad = task.good_reward_prob, task.bad_reward_prob
    return belief * good + (1 - belief) * bad, (1 - belief) * good + belief * bad


def belief_before_trial(task: TaskConfig, belief, trial_index):
    """P(S2 good) after the swap that may happen before trial `trial_index`."""
    swap = task.swap_prob if env.swap_possible(task, trial_index) else 0.0
    return belief * (1 - swap) + (1 - belief) * swap


def belief_after_outcome(task: TaskConfig, belief, state, reward):
    """Bayes' rule: P(S2 good) after reaching `state` (S2 or S3) and receiving `reward` (0 or 1).
    Outcomes with the same likelihood ratio give bit-equal posteriors (`outcome_evidence`)."""
    return expit(logit(np.asarray(belief, float)) + outcome_evidence(task, state, reward))


# The ideal observer carries its belief as log-odds L = log P(S2 good) / P(S3 good), which Bayes'
# rule changes by adding the outcome's log likelihood ratio. In probabilities, rounding makes equal
# evidence unequal: in the arxiv task a rewarded rare trial and an unrewarded common one (both
# likelihood ratio 9) left the belief at 0.5000000000000001 and at 0.5 after the same history, so
# the greedy observer decided in one case and flipped a coin in the other. Here the log likelihood
# ratios come from the task's probabilities as the decimals they are written in (1 - 0.9 is
# exactly 0.1), so equal ratios give bit-equal evidence, and every log-odds is a multiple of
# LOG_ODDS_STEP, so sums of evidence are exact in float64 (while |L| < 2**53 * LOG_ODDS_STEP =
# 512, beyond the reach of float64 probabilities: expit(37) is already 1.0): the log-odds after a
# set of outcomes does not depend on their order, L = 0 exactly when the evidence cancels, and
# there P(S2 good) = 1/2 and the two actions' expected rewards are equal to the bit. Rounding to
# the step (5.7e-14) moves a belief by less than 1e-14.
LOG_ODDS_STEP = 2.0**-44


def _on_grid(log_odds):
    """The nearest multiple of LOG_ODDS_STEP (infinities stay)."""
    return np.round(np.asarray(log_odds, float) / LOG_ODDS_STEP) * LOG_ODDS_STEP


def _log_ratio(numerator: fractions.Fraction, denominator: fractions.Fraction):
    """log(numerator / denominator), on the grid, computed from the ratio >= 1 so that a ratio and
    its inverse give opposite values bit for bit (log 9 = -log 1/9); +-inf where one side is 0,
    0 where both are (an outcome neither hypothesis allows says nothing)."""
    if numerator == denominator:
        return 0.0
    if numerator < denominator:
        return -_log_ratio(denominator, numerator)
    return math.inf if denominator == 0 else float(_on_grid(math.log(numerator / denominator)))


def _decimal(probability):
    """A task probability as the decimal it is written in: 0.9 -> 9/10, so 1 - 0.9 == 1/10."""
    return fractions.Fraction(repr(float(probability)))


@functools.cache
def likelihood_ratios(task: TaskConfig):
    """(unrewarded, rewarded): log P(outcome | S2 good) - log P(outcome | S3 good) of an outcome at
    S2, exact rationals of the task's probabilities put through one log each, on the grid. At S3
    the evidence is the negative."""
    good, bad = _decimal(task.good_reward_prob), _decimal(task.bad_reward_prob)
    return _log_ratio(1 - good, 1 - bad), _log_ratio(good, bad)


def outcome_evidence(task: TaskConfig, state, reward):
    """The log likelihood ratio (S2 good : S3 good) of reaching `state` and receiving `reward`:
    outcomes with equal likelihood ratios (in the arxiv task a rewarded rare trial and an
    unrewarded common one) give bit-equal values."""
    unrewarded, rewarded = likelihood_ratios(task)
    at_s2 = np.where(np.asarray(reward) > 0, rewarded, unrewarded)
    return np.where(np.asarray(state) == S2, at_s2, -at_s2)


def log_odds_before_trial(task: TaskConfig, log_odds, trial_index):
    """`belief_before_trial` in log-odds: after the swap that may happen before trial `trial_index`.
    Where no swap can happen the log-odds carry over unchanged; elsewhere -L gives the negative of
    what L gives, bit for bit (computed on |L|), so L = 0 stays exactly 0."""
    log_odds = np.asarray(log_odds, float)
    swap = task.swap_prob if env.swap_possible(task, trial_index) else 0.0
    if swap == 0.0:
        return log_odds
    fade = np.exp(-np.abs(log_odds))  # odds of the less likely state, in [0, 1]: no overflow, inf -> 0
    kept = np.log((1 - swap) + swap * fade) - np.log(swap + (1 - swap) * fade)
    return _on_grid(np.sign(log_odds) * kept)


def log_odds_after_outcome(task: TaskConfig, log_odds, state, reward):
    """Bayes' rule in log-odds: add the outcome's evidence (exact on the grid)."""
    return log_odds + outcome_evidence(task, state, reward)


def probability_of_action_1(values, previous_action, inverse_temperature, perseveration):
    """Softmax over two actions of values (action 0, action 1) with a perseveration bonus;
    previous_action is -1 on a first trial. An infinite inverse temperature chooses the higher
    value, either action on a tie."""
    difference = values[1] - values[0]
    repeat = np.where(previous_action < 0, 0.0, 2.0 * previous_action - 1.0)
    with np.errstate(invalid="ignore"):
        soft = expit(inverse_temperature * difference + perseveration * repeat)
    greedy = np.isinf(inverse_temperature)
    return np.where(greedy, 0.5 * (1 + np.sign(difference)), soft) if np.any(greedy) else soft


def play(kind, params, task: TaskConfig, batch_shape, respond):
    """Run one episode of an agent over a batch of independent episodes.

    `params` maps each name of `PARAMETERS` (or those of `IdealObserver`) to an array that
    broadcasts against `batch_shape`. At every trial n, `respond(n, p1)` gets P(action 1) and
    returns the trial's (action, state, reward), each `batch_shape`: drawn (simulation) or
    recorded (likelihood). Returns [..., trial] arrays: "p1", "value" (of the chosen action) and,
    for the ideal observer, "belief" (P(S2 good) at the choice).
    """
    half = np.full(batch_shape, 0.5)
    q_first = (half, half)  # model-free values of the first-stage actions 0 and 1
    q_second = (half, half)  # values of S2 and S3
    log_odds, previous = np.zeros(batch_shape), np.full(batch_shape, -1)  # the ideal observer's belief, 1/2
    out = {"p1": [], "value": [], "belief": []}
    for n in range(task.trials_per_episode):
        if kind == IDEAL_OBSERVER:
            log_odds = log_odds_before_trial(task, log_odds, n)
            belief = expit(log_odds)  # exactly 1/2 where log_odds == 0: then the values tie exactly
            values = through_transitions(task, expected_rewards(task, belief))
        else:
            w = params["model_based_weight"]
            values = tuple(w * mb + (1 - w) * mf for mb, mf in zip(through_transitions(task, q_second), q_first))
        p1 = probability_of_action_1(values, previous, params["inverse_temperature"], params["perseveration"])
        action, state, reward = respond(n, p1)
        took_1, at_s3 = action == 1, state == S3
        out["p1"].append(p1)
        out["value"].append(np.where(took_1, values[1], values[0]))
        if kind == IDEAL_OBSERVER:
            out["belief"].append(belief)
            log_odds = log_odds_after_outcome(task, log_odds, state, reward)
        else:  # Daw et al. 2011: TD(lambda) on the first-stage values, delta rule on the second stage
            alpha, lam = params["learning_rate"], params["eligibility"]
            reached_value = np.where(at_s3, q_second[1], q_second[0])
            stage_one_error = reached_value - np.where(took_1, q_first[1], q_first[0])
            outcome_error = reward - reached_value
            first_step, second_step = alpha * (stage_one_error + lam * outcome_error), alpha * outcome_error
            q_first = (q_first[0] + np.where(took_1, 0.0, first_step), q_first[1] + np.where(took_1, first_step, 0.0))
            q_second = (q_second[0] + np.where(at_s3, 0.0, second_step), q_second[1] + np.where(at_s3, second_step, 0.0))
        previous = action
    return {k: np.stack(v, axis=-1) for k, v in out.items() if v}


def as_arrays(configs):
    """One agent config per subject -> (kind, {parameter: array [subject, 1]})."""
    kinds = {kind_of(c) for c in configs}
    if len(kinds) != 1:
        raise ValueError("simulate: every subject must be the same kind of agent (all Hybrid or all IdealObserver)")
    fields = [f.name for f in dataclasses.fields(configs[0])]
    return kinds.pop(), {name: np.array([[float(getattr(c, name))] for c in configs]) for name in fields}


# ---------------------------------------------------------------- simulation


def task_draws(task: TaskConfig, subjects, episodes, seed):
    """Each subject's uniforms [episode, trial, 4] (u_swap, u_transition, u_reward, u_action) and good
    states [episode, trial]: the good state starts uniform and swaps by `two_step_env`'s rule,
    carrying on from one episode to the next. Subject k's draws depend only on (seed, k)."""
    uniforms, good = [], []
    for subject in range(subjects):
        rng = np.random.default_rng([seed, subject])
        u = rng.random((episodes, task.trials_per_episode, 4))
        swaps = env.swap_happens(task, u[..., 0], np.arange(task.trials_per_episode))
        flips = (rng.integers(2) + np.cumsum(swaps.ravel())).reshape(swaps.shape) % 2
        uniforms.append(u)
        good.append(np.where(flips == 0, S2, S3))
    return np.array(uniforms), np.array(good, dtype=np.int32)


def check_wang_task(task: TaskConfig):
    """ValueError for Daw et al.'s drifting task and Kool et al.'s tasks, which these agents do not play
    (`daw_agents`, `daw_models` and `kool_tasks` do)."""
    if task.rewards != SWAP_GOOD_STATE or task.has_stakes:
        raise ValueError(f"rewards={task.rewards!r}, high_stake={task.high_stake!r}: these agents play Wang et al.'s task (rewards="
                         f"{SWAP_GOOD_STATE!r}, no stakes); for Daw et al. 2011's drifting task use twostep.daw_agents or "
                         "twostep.daw_models, for Kool et al.'s tasks twostep.kool_tasks")


def simulate(subjects, task: TaskConfig, episodes: int, seed=0):
    """Play `episodes` episodes per subject; `subjects` is one agent config per subject (a list)
    or one config for a single subject. Returns records [subject, episode, trial] like
    `a2c_lstm.evaluate`; the same (seed, subject) gives the same task draws to every agent."""
    subjects = list(subjects) if isinstance(subjects, (list, tuple)) else [subjects]
    if not subjects:
        raise ValueError("simulate: expected at least one agent config")
    check_wang_task(task)
    if not (isinstance(episodes, int) and episodes > 0):
        raise ValueError(f"episodes={episodes!r}: expected an integer > 0")
    kind, params = as_arrays(subjects)
    uniforms, good = task_draws(task, len(subjects), episodes, seed)
    shape = good.shape[:2]  # [subject, episode]
    trials = {k: np.zeros(good.shape, d) for k, d in (("action", np.int32), ("state", np.int32), ("common", bool), ("reward", np.float32))}

    def respond(n, p1):
        u = uniforms[:, :, n]
        action = (u[..., 3] < p1).astype(np.int32)
        state, common = (np.asarray(t).reshape(shape) for t in env.transition(task, action.ravel(), u[..., 1].ravel()))
        reward = np.asarray(env.draw_reward(task, state.ravel(), good[:, :, n].ravel(), u[..., 2].ravel())).reshape(shape)
        for key, value in (("action", action), ("state", state), ("common", common), ("reward", reward)):
            trials[key][:, :, n] = value
        return action, state, reward

    out = play(kind, params, task, shape, respond)
    p1 = out["p1"]
    trials["prob"] = np.where(trials["action"] == 1, p1, 1 - p1).astype(np.float32)
    trials["value"] = out["value"].astype(np.float32)
    trials["good_state"] = good
    if "belief" in out:
        trials["belief"] = out["belief"].astype(np.float32)
    return trials


def known_state_reward(task: TaskConfig):
    """Reward per trial of an oracle told which state is good: it takes the common route there."""
    return task.common_prob * task.good_reward_prob + (1 - task.common_prob) * task.bad_reward_prob


# ---------------------------------------------------------------- optimality of the ideal observer


def belief_value_iteration(task: TaskConfig, grid_size=2001):
    """Solve the belief-space Bellman equation of one episode by backward induction.

    The state is b = P(S2 good) after the last outcome, on a grid of `grid_size` points (values
    between points by linear interpolation). Q_n(b, a) = E[r | b', a] + E[V_{n+1}(b'')], where
    b' is b after the swap that may precede trial n and b'' the posterior after the outcome.
    Returns (grid [G], Q [trial, G, 2]) to compare the optimal policy with the greedy one.
    """
    grid = np.linspace(0.0, 1.0, grid_size)
    q = np.zeros((task.trials_per_episode, grid_size, 2))
    next_value = np.zeros(grid_size)
    for n in reversed(range(task.trials_per_episode)):
        prior = belief_before_trial(task, grid, n)
        reward_prob = expected_rewards(task, prior)  # P(r = 1) in S2, in S3
        to_s2 = (task.common_prob, 1 - task.common_prob)
        for action in (0, 1):
            total = np.zeros(grid_size)
            for state, p_state in ((S2, to_s2[action]), (S3, 1 - to_s2[action])):
                p_reward = reward_prob[state - S2]
                for reward, p in ((1.0, p_reward), (0.0, 1 - p_reward)):
                    posterior = belief_after_outcome(task, prior, np.full(grid_size, state), reward)
                    total += p_state * p * (reward + np.interp(posterior, grid, next_value))
            q[n, :, action] = total
        next_value = q[n].max(axis=-1)
    return grid, q


def optimal_episode_reward(task: TaskConfig, grid_size=2001):
    """The Bayes-optimal expected reward of an episode, V(1/2) of `belief_value_iteration`: the best
    an agent that starts every episode not knowing the good state can earn."""
    grid, q = belief_value_iteration(task, grid_size)
    return float(np.interp(0.5, grid, q[0].max(-1)))


def greedy_is_optimal(task: TaskConfig, grid_size=2001):
    """(agree, gap): whether the Bellman-optimal action equals the greedy one (higher immediate
    expected reward) at every grid belief and trial where greedy has a strict preference, and
    the largest advantage over the greedy action that any other action has anywhere."""
    grid, q = belief_value_iteration(task, grid_size)
    immediate = np.array([through_transitions(task, expected_rewards(task, belief_before_trial(task, grid, n))) for n in range(len(q))])
    immediate = np.moveaxis(immediate, 1, -1)  # [trial, G, action]
    greedy = immediate.argmax(-1)
    strict = np.abs(immediate[..., 1] - immediate[..., 0]) > 1e-12
    agree = bool(np.all(q.argmax(-1)[strict] == greedy[strict]))
    greedy_q = np.take_along_axis(q, greedy[..., None], -1)[..., 0]
    return agree, float((q.max(-1) - greedy_q).max())


# ---------------------------------------------------------------- hand-written agents for the explainer


def model_free_choice(last_action, last_state, last_reward, rng):
    """Repeat a rewarded first-stage action, switch after no reward, ignoring the transition."""
    return last_action if last_reward else 1 - last_action


def model_based_choice(last_action, last_state, last_reward, rng):
    """Aim for the state just rewarded (or away from the one just unrewarded) via its common action."""
    target_is_s2 = (last_state == S2) == bool(last_reward)
    return 0 if target_is_s2 else 1


def simulate_policy(choice, config, episodes, seed=0, noise=0.1):
    """Run a hand-written choice rule (random with probability `noise`) on the Gymnasium task.

    Returns records like `a2c_lstm.evaluate` for one seed: arrays [1, episode, trial] of
    "action", "state", "common", "reward".
    """
    from two_step_env import TwoStepTask

    task, rng = TwoStepTask(config), np.random.default_rng(seed)
    task.reset(seed=seed)
    rows = []
    for _ in range(episodes):
        action, state, reward, episode = int(rng.integers(2)), None, 0.0, []
        for trial in range(config.trials_per_episode):
            if trial and rng.random() >= noise:
                action = choice(action, state, reward, rng)
            elif trial:
                action = int(rng.integers(2))
            _, reward, _, _, info = task.trial(action)
            state = info["state"]
            episode.append((action, state, info["common"], reward))
        task.reset()
        rows.append(episode)
    table = np.array(rows, dtype=float)  # [episode, trial, field]
    return {k: table[None, :, :, i] for i, k in enumerate(("action", "state", "common", "reward"))}
