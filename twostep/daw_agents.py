"""Reference agents for Daw et al. 2011's drifting two-step task (Neuron 69:1204): the floor, a
Bayesian learner and the ceiling, all played on the same walks and draws.

- `RandomPlay`: 0.5/0.5 at both stages.
- `BayesianLearner`: the exact posterior over each option's reward probability on a grid, under
  the task's own reflected Gaussian walk and Bernoulli rewards; greedy on posterior means.
- `Oracle`: knows the four reward probabilities of the current trial.

`posterior_means` runs the Bayesian learner's filter on a given history (another agent's), and
`greedy_reward` scores a greedy choice on any option values against the true probabilities.

`fresh_walks` and `task_draws` give every subject its own walks [episode, trial, 4] and uniforms
[episode, trial, len(DRAWS)] from (seed, subject) alone, so agents played on the same arrays
meet the same rewards and transitions (common random numbers). `simulate` returns the project's
records [subject, episode, trial]; subjects and episodes are array axes and the only Python loop
runs over trials. Every episode starts afresh: a uniform prior at the start of the walk.
"""

import dataclasses

import numpy as np
from scipy.special import expit, ndtr

import two_step_env as env
from twostep.configs import S2, S3, TaskConfig

DRAWS = ("transition", "reward", "action", "choice2")  # uniforms: common if < common_prob, reward if < prob, 1 if < P(1)
TIE_TOLERANCE = 1e-12  # value differences this small are ties, broken 50/50: equal evidence, equal values up to rounding


@dataclasses.dataclass(frozen=True)
class RandomPlay:
    """Chooses 0.5/0.5 at both stages; it has no values ("value" is NaN)."""


@dataclasses.dataclass(frozen=True)
class Oracle:
    """Knows the four reward probabilities of the current trial: takes the best option of the state
    reached and the first-stage action with the higher expected value through the known transitions
    (common_prob) of each state's best probability. Greedy on the present trial, it is the ceiling
    of any agent that cannot see the future of the walk."""


@dataclasses.dataclass(frozen=True)
class BayesianLearner:
    """Exact Bayesian inference of the four reward probabilities (Daw et al. 2011's generative
    process), on a grid of `grid_size` cells over [drift_low, drift_high].

    The prior at an episode's start is uniform over the cells (the walk's uniform start). After
    every trial the chosen option's posterior is multiplied by the Bernoulli likelihood of its
    reward, then every option's posterior (observed or not) takes one step of the walk
    (`walk_kernel`). The options' posteriors are independent: their walks are, and a reward
    depends on the chosen option alone.

    Choices are greedy on posterior means (or a softmax with a finite `inverse_temperature`, one
    for both stages): at the second stage the option with the higher mean in the state reached, at
    the first the action with the higher expected value through the known transitions of each
    state's best mean; ties 50/50 from the draws. It is myopic: no exploration bonus, no value of
    information, so it is a reference for a learner that knows the task, not the Bayes-optimal
    policy.
    """

    grid_size: int = 201
    inverse_temperature: float = np.inf

    def __post_init__(self):
        if not (isinstance(self.grid_size, int) and self.grid_size >= 2):
            raise ValueError(f"BayesianLearner.grid_size={self.grid_size!r}: expected an integer >= 2")
        if not (isinstance(self.inverse_temperature, (int, float)) and self.inverse_temperature > 0):
            raise ValueError(f"BayesianLearner.inverse_temperature={self.inverse_temperature!r}: expected a number > 0")


# ---------------------------------------------------------------- the task's walks and draws


def fresh_walks(config: TaskConfig, subjects, episodes, seed):
    """Each subject's walks [episode, trial, 4] (order `env.OPTIONS`) by `env.drift_walk`, stacked
    [subject, episode, trial, 4]; subject k's depend only on (seed, k)."""
    walks = []
    for subject in range(subjects):
        rng = np.random.default_rng([seed, subject, 0])
        uniforms = rng.random((episodes, len(env.OPTIONS)))
        normals = rng.standard_normal((episodes, config.trials_per_episode - 1, len(env.OPTIONS)))
        walks.append(env.drift_walk(config, uniforms, normals))
    return np.array(walks)


def task_draws(config: TaskConfig, subjects, episodes, seed):
    """Each subject's uniforms [episode, trial, len(DRAWS)], stacked [subject, ...]; subject k's
    depend only on (seed, k) and not on its walks."""
    shape = (episodes, config.trials_per_episode, len(DRAWS))
    return np.array([np.random.default_rng([seed, subject, 1]).random(shape) for subject in range(subjects)])


def transition(config: TaskConfig, action, u_transition):
    """`env.transition` in numpy: action -> (reached state S2/S3, common)."""
    common = u_transition < config.common_prob
    return np.where((action == 0) == common, S2, S3).astype(np.int32), common


# ---------------------------------------------------------------- the Bayesian learner's filter


def walk_grid(config: TaskConfig, size):
    """Centres of `size` equal cells tiling [drift_low, drift_high]."""
    width = (config.drift_high - config.drift_low) / size
    return config.drift_low + width * (np.arange(size) + 0.5)


def walk_kernel(config: TaskConfig, size):
    """The walk's transition matrix on the grid [from cell, to cell]: the probability that
    reflect(centre + N(0, drift_sd^2)) lands in each cell.

    Reflection at both bounds folds the real line onto [low, high]: a cell [a, b] is reached from
    its images [a, b] + 2k span and its mirror images [2 low - b, 2 low - a] + 2k span (span =
    high - low), so its probability is a sum of Gaussian CDF differences over k, with enough k
    that the Gaussian beyond them is below double precision (40 SD). Rows sum to 1.
    """
    low, span, sd = config.drift_low, config.drift_high - config.drift_low, config.drift_sd
    edges = low + span * np.arange(size + 1) / size
    centres = walk_grid(config, size)[:, None]
    reach = int(np.ceil(40 * sd / span)) + 1
    kernel = np.zeros((size, size))
    with np.errstate(divide="ignore"):  # drift_sd = 0: the identity
        for shift in 2 * span * np.arange(-reach, reach + 1):
            kernel += np.diff(ndtr((edges + shift - centres) / sd), axis=-1)
            kernel -= np.diff(ndtr((2 * low - edges + shift - centres) / sd), axis=-1)
    return kernel


def observe(posterior, grid, option, reward):
    """Bayes' rule: posterior [..., 4, G] after `option` [...] (index into `env.OPTIONS`) paid `reward` [...]."""
    flat, rows, option = posterior.reshape((-1,) + posterior.shape[-2:]).copy(), np.arange(np.size(option)), np.ravel(option)
    chosen = flat[rows, option] * np.where(np.ravel(reward)[:, None] > 0, grid, 1 - grid)
    flat[rows, option] = chosen / chosen.sum(axis=-1, keepdims=True)
    return flat.reshape(posterior.shape)


def diffuse(posterior, kernel):
    """Every option's posterior [..., G] after one step of the walk (`walk_kernel`)."""
    return (posterior.reshape(-1, kernel.shape[0]) @ kernel).reshape(posterior.shape)


def posterior_means(config: TaskConfig, option, reward, grid_size=201):
    """The Bayesian learner's posterior means [..., trial, 4] of the four reward probabilities at
    each trial's choice, given the options taken [..., trial] (index into `env.OPTIONS`) and their
    rewards [..., trial] in earlier trials of the episode: its filter run on a given history (an
    agent's own), from a uniform prior at each episode's start (as in `simulate`)."""
    option, reward = np.asarray(option), np.asarray(reward)
    grid, kernel = walk_grid(config, grid_size), walk_kernel(config, grid_size)
    posterior = np.full(option.shape[:-1] + (len(env.OPTIONS), grid_size), 1 / grid_size)
    means = []
    for n in range(option.shape[-1]):
        means.append(posterior @ grid)
        posterior = diffuse(observe(posterior, grid, option[..., n], reward[..., n]), kernel)
    return np.stack(means, axis=-2)


# ---------------------------------------------------------------- choices


def first_stage_values(config: TaskConfig, option_values):
    """Values [..., 2] of the first-stage actions from option values [..., 4]: each state's best
    option, through the known transitions (action 0 reaches S2 with common_prob, action 1 S3)."""
    best = option_values.reshape(option_values.shape[:-1] + (2, 2)).max(axis=-1)  # [..., (S2, S3)]
    common, rare = config.common_prob, 1 - config.common_prob
    return np.stack([common * best[..., 0] + rare * best[..., 1], rare * best[..., 0] + common * best[..., 1]], axis=-1)


def greedy_reward(config: TaskConfig, option_values, probs, action=None):
    """The expected reward [...] of one trial played greedily on option values [..., 4] (ties 50/50,
    as the greedy `BayesianLearner`) when the options pay with probabilities `probs` [..., 4]: over
    the first-stage action's transitions, the probability of the option it would take in each state.
    With `action` [...], that first-stage action instead of the greedy one (the second stage greedy)."""
    values, probs = np.asarray(option_values, float), np.asarray(probs, float)
    by_state = values.reshape(values.shape[:-1] + (2, 2)), probs.reshape(probs.shape[:-1] + (2, 2))
    p_option1 = choice_probability(by_state[0][..., 1] - by_state[0][..., 0], np.inf)  # [..., (S2, S3)]
    state_reward = p_option1 * by_state[1][..., 1] + (1 - p_option1) * by_state[1][..., 0]
    if action is None:
        action_values = first_stage_values(config, values)
        p_action1 = choice_probability(action_values[..., 1] - action_values[..., 0], np.inf)
    else:
        p_action1 = np.asarray(action, float)
    to_s2 = (1 - p_action1) * config.common_prob + p_action1 * (1 - config.common_prob)
    return to_s2 * state_reward[..., 0] + (1 - to_s2) * state_reward[..., 1]


def choice_probability(advantage, inverse_temperature):
    """P(choice 1) given value(1) - value(0): a softmax, or with an infinite inverse temperature
    the better one; 1/2 without a preference (|advantage| <= TIE_TOLERANCE, or NaN: no values)."""
    advantage = np.where(np.isnan(advantage) | (np.abs(advantage) <= TIE_TOLERANCE), 0.0, advantage)
    if np.isinf(inverse_temperature):
        return 0.5 * (1 + np.sign(advantage))
    return expit(inverse_temperature * advantage)


# ---------------------------------------------------------------- simulation


def simulate(agent, config: TaskConfig, walks, draws):
    """Play `agent` (RandomPlay, Oracle or BayesianLearner) on walks [subject, episode, trial, 4]
    with uniforms [subject, episode, trial, len(DRAWS)] (`fresh_walks`, `task_draws`).

    Returns records [subject, episode, trial]: "action" (first stage), "state" (S2/S3), "common",
    "reward", "choice2" (the option taken in the state reached), "probs" [..., 4] (the walk),
    "prob" (P(the first-stage action taken)), "value" (the agent's expected reward of that action;
    NaN for RandomPlay) and "option_values" [..., 4] (its values of the options at the choice:
    posterior means, the true probabilities, or NaN).
    """
    if not config.second_stage_choice:
        raise ValueError(f"simulate: config.rewards={config.rewards!r}: these agents play Daw et al. 2011's drifting task")
    walks, draws = env.check_walk(config, walks, "walks"), np.asarray(draws, np.float64)
    if walks.ndim != 4 or draws.shape != walks.shape[:3] + (len(DRAWS),):
        raise ValueError(
            f"simulate: walks {walks.shape} and draws {draws.shape}: expected [subject, episode, trial, 4] and "
            f"[subject, episode, trial, {len(DRAWS)}]"
        )
    beta = getattr(agent, "inverse_temperature", np.inf)
    if isinstance(agent, BayesianLearner):
        grid, kernel = walk_grid(config, agent.grid_size), walk_kernel(config, agent.grid_size)
        posterior = np.full(walks.shape[:2] + (len(env.OPTIONS), agent.grid_size), 1 / agent.grid_size)
    elif not isinstance(agent, (Oracle, RandomPlay)):
        raise TypeError(f"agent={agent!r}: expected a RandomPlay, an Oracle or a BayesianLearner")
    out = {key: [] for key in ("action", "state", "common", "reward", "choice2", "prob", "value", "option_values")}
    for n in range(config.trials_per_episode):
        probs, u = walks[:, :, n], dict(zip(DRAWS, np.moveaxis(draws[:, :, n], -1, 0)))
        if isinstance(agent, BayesianLearner):
            values = posterior @ grid
        else:
            values = probs if isinstance(agent, Oracle) else np.full(probs.shape, np.nan)
        action_values = first_stage_values(config, values)
        p1 = choice_probability(action_values[..., 1] - action_values[..., 0], beta)
        action = (u["action"] < p1).astype(np.int32)
        state, common = transition(config, action, u["transition"])
        option0 = env.option_index(state, 0)
        p_option1 = choice_probability(pick(values, option0 + 1) - pick(values, option0), beta)
        choice2 = (u["choice2"] < p_option1).astype(np.int32)
        option = option0 + choice2
        reward = (u["reward"] < pick(probs, option)).astype(np.float64)
        if isinstance(agent, BayesianLearner):
            posterior = diffuse(observe(posterior, grid, option, reward), kernel)
        trial = {"action": action, "state": state, "common": common, "reward": reward, "choice2": choice2}
        trial.update(prob=np.where(action == 1, p1, 1 - p1), value=pick(action_values, action), option_values=values)
        for key, value in trial.items():
            out[key].append(value)
    return dict({key: np.stack(value, axis=2) for key, value in out.items()}, probs=walks)


def pick(values, index):
    """values[..., index] for an index array of the batch shape."""
    return np.take_along_axis(values, np.asarray(index)[..., None], axis=-1)[..., 0]
