"""Reference agents of Daw et al. 2011's drifting task (twostep.daw_agents): the task's walk from many
draws, the Bayesian learner's posterior against enumeration and against the task's own walk, tie
breaking, and the order oracle > Bayesian learner > random play.

Statistical checks allow Z standard errors, the standard error derived from the sample size."""

import dataclasses
import itertools

import numpy as np
import pytest
from scipy.special import expit

import two_step_env as env
from twostep import configs, daw_agents
from twostep.configs import S2

DAW = configs.preset("daw-2011")
Z = 5.0


def short_task(trials, **changes):
    return dataclasses.replace(DAW, trials_per_episode=trials, **changes)


# ---------------------------------------------------------------- the task's walk


def test_walk_starts_uniform_between_the_bounds():
    start = daw_agents.fresh_walks(short_task(1), 4, 20000, seed=0)[..., 0, :].ravel()
    width, n = DAW.drift_high - DAW.drift_low, start.size
    assert abs(start.mean() - 0.5) < Z * np.sqrt(width**2 / 12 / n)
    fourth_moment, variance = width**4 / 80, width**2 / 12
    assert abs(start.var() - variance) < Z * np.sqrt((fourth_moment - variance**2) / n)
    assert np.all((start >= DAW.drift_low) & (start < DAW.drift_high))


def test_walk_steps_away_from_the_bounds_have_the_drift_sd():
    walks = daw_agents.fresh_walks(short_task(50), 4, 2000, seed=1)
    assert np.all((walks >= DAW.drift_low) & (walks <= DAW.drift_high))
    before, after = walks[..., :-1, :], walks[..., 1:, :]
    margin = 8 * DAW.drift_sd  # a step from here crosses a bound with probability ~1e-15
    interior = (before > DAW.drift_low + margin) & (before < DAW.drift_high - margin)
    steps, n = (after - before)[interior], interior.sum()
    assert n > 100000
    assert abs(steps.mean()) < Z * DAW.drift_sd / np.sqrt(n)
    assert abs(steps.std() - DAW.drift_sd) < Z * DAW.drift_sd / np.sqrt(2 * n)


def test_reflect_mirrors_what_crosses_a_bound():
    x = np.array([0.5, 0.74 + 0.03, 0.26 - 0.03, 0.75, 0.25, 0.75 + 0.6, 0.25 - 1.1])
    np.testing.assert_allclose(env.reflect(x, 0.25, 0.75), [0.5, 0.73, 0.27, 0.75, 0.25, 0.35, 0.35], atol=1e-12)
    step = np.array([[1.2, -1.2, 0.4, 0.0]])  # in units of drift_sd: 0.03, -0.03, 0.01, 0
    stepped = env.walk_step(DAW, np.array([[0.74, 0.26, 0.5, 0.75]]), step)
    np.testing.assert_allclose(stepped, [[0.73, 0.27, 0.51, 0.75]], atol=1e-12)


@pytest.mark.parametrize("drift_sd", [0.025, 0.3])
def test_walk_kernel_is_the_task_walk_on_the_grid(drift_sd):
    task, size, n = short_task(2, drift_sd=drift_sd), 10, 40000
    kernel = daw_agents.walk_kernel(task, size)
    np.testing.assert_allclose(kernel.sum(axis=1), 1.0, atol=1e-12)
    centres = daw_agents.walk_grid(task, size)
    landed = env.walk_step(task, np.repeat(centres, n), np.random.default_rng(2).standard_normal(size * n))
    cells = np.minimum(((landed - task.drift_low) / (task.drift_high - task.drift_low) * size).astype(int), size - 1)
    observed = np.array([np.bincount(row, minlength=size) / n for row in cells.reshape(size, n)])
    assert np.all(np.abs(observed - kernel) <= Z * np.sqrt(kernel * (1 - kernel) / n) + 1 / n)


def test_walk_kernel_without_drift_is_the_identity():
    np.testing.assert_array_equal(daw_agents.walk_kernel(short_task(2, drift_sd=0.0), 7), np.eye(7))


# ---------------------------------------------------------------- the Bayesian learner's posterior


def enumerated_means(task, size, option, reward):
    """Posterior means [trial, 4] before each trial given the outcomes before it, by summing over every
    path of each option's probability through the grid cells (uniform start, `walk_kernel` steps)."""
    grid, kernel = daw_agents.walk_grid(task, size), daw_agents.walk_kernel(task, size)
    trials = len(option)
    means = np.zeros((trials, len(env.OPTIONS)))
    for k in range(len(env.OPTIONS)):
        for t in range(trials):
            total = weighted = 0.0
            for path in itertools.product(range(size), repeat=t + 1):
                weight = 1.0 / size
                for m in range(t):
                    weight *= kernel[path[m], path[m + 1]]
                    if option[m] == k:
                        weight *= grid[path[m]] if reward[m] else 1 - grid[path[m]]
                total += weight
                weighted += weight * grid[path[t]]
            means[t, k] = weighted / total
    return means


@pytest.mark.parametrize("drift_sd", [0.1, 0.3])
def test_bayesian_posterior_equals_enumeration_over_grid_paths(drift_sd):
    task, size = short_task(4, drift_sd=drift_sd), 5
    walks, draws = daw_agents.fresh_walks(task, 1, 6, seed=3), daw_agents.task_draws(task, 1, 6, seed=3)
    records = daw_agents.simulate(daw_agents.BayesianLearner(grid_size=size, inverse_temperature=3.0), task, walks, draws)
    option = env.option_index(records["state"], records["choice2"])[0]
    for episode in range(6):
        expected = enumerated_means(task, size, option[episode], records["reward"][0, episode])
        np.testing.assert_allclose(records["option_values"][0, episode], expected, rtol=0, atol=1e-12)


def filtered_means(task, size, option, reward):
    """Posterior means of the four options after the given outcomes, by the learner's recursive filter."""
    grid, kernel = daw_agents.walk_grid(task, size), daw_agents.walk_kernel(task, size)
    posterior = np.full((len(env.OPTIONS), size), 1.0 / size)
    for o, r in zip(option, reward):
        posterior = daw_agents.diffuse(daw_agents.observe(posterior, grid, o, r), kernel)
    return posterior @ grid


def test_bayesian_posterior_mean_matches_importance_sampling_of_the_task_walk():
    """The grid filter against the continuous walk itself: walks drawn by `env.drift_walk`, weighted
    by the likelihood of the outcomes. Allowed: Z weighted-mean standard errors plus twice the grid
    error estimated by Richardson extrapolation (the error falls as 1 / size^2)."""
    option, reward = [0, 0, 0, 3, 0, 2], [1, 1, 0, 0, 1, 1]
    task, n = short_task(len(option) + 1, drift_sd=0.1), 150000
    rng = np.random.default_rng(4)
    walks = env.drift_walk(task, rng.random((n, 4)), rng.standard_normal((n, task.trials_per_episode - 1, 4)))
    seen = walks[:, np.arange(len(option)), option]
    weights = np.prod(np.where(np.array(reward) > 0, seen, 1 - seen), axis=1)
    weights /= weights.sum()
    last = walks[:, -1]
    sampled = weights @ last
    standard_error = np.sqrt(weights**2 @ (last - sampled) ** 2)
    coarse, fine = filtered_means(task, 201, option, reward), filtered_means(task, 402, option, reward)
    grid_error = 4 / 3 * np.abs(coarse - fine)
    assert np.all(np.abs(coarse - sampled) < Z * standard_error + 2 * grid_error)


# ---------------------------------------------------------------- choices


def test_ties_are_broken_50_50_by_the_draws():
    task = short_task(2)
    walks, draws = daw_agents.fresh_walks(task, 2, 200, seed=5), daw_agents.task_draws(task, 2, 200, seed=5)
    records = daw_agents.simulate(daw_agents.BayesianLearner(), task, walks, draws)
    u = dict(zip(daw_agents.DRAWS, np.moveaxis(draws, -1, 0)))
    # trial 0: four equal priors, so both stages tie
    np.testing.assert_array_equal(records["prob"][..., 0], 0.5)
    np.testing.assert_array_equal(records["action"][..., 0], u["action"][..., 0] < 0.5)
    np.testing.assert_array_equal(records["choice2"][..., 0], u["choice2"][..., 0] < 0.5)
    # trial 1: after no reward the state's best is its unseen option, as good as the other state's
    unrewarded = records["reward"][..., 0] == 0
    np.testing.assert_array_equal(records["prob"][..., 1][unrewarded], 0.5)
    # after a reward the action that commonly reaches the rewarded state, surely
    common_action = records["state"][..., 0] - S2
    np.testing.assert_array_equal(records["prob"][..., 1][~unrewarded], 1.0)
    np.testing.assert_array_equal(records["action"][..., 1][~unrewarded], common_action[~unrewarded])


def test_choice_probabilities_and_values_follow_the_option_values():
    task = short_task(30)
    walks, draws = daw_agents.fresh_walks(task, 2, 10, seed=6), daw_agents.task_draws(task, 2, 10, seed=6)
    learner = daw_agents.simulate(daw_agents.BayesianLearner(inverse_temperature=20.0), task, walks, draws)
    values = daw_agents.first_stage_values(task, learner["option_values"])
    chosen, other = (np.take_along_axis(values, a[..., None], -1)[..., 0] for a in (learner["action"], 1 - learner["action"]))
    np.testing.assert_allclose(learner["prob"], expit(20.0 * (chosen - other)), rtol=1e-12)
    np.testing.assert_allclose(learner["value"], chosen, rtol=1e-12)
    oracle = daw_agents.simulate(daw_agents.Oracle(), task, walks, draws)
    np.testing.assert_array_equal(oracle["option_values"], walks)
    values = daw_agents.first_stage_values(task, walks)
    np.testing.assert_array_equal(oracle["action"], values.argmax(-1))
    np.testing.assert_array_equal(oracle["value"], values.max(-1))
    in_state = walks.reshape(walks.shape[:-1] + (2, 2))
    best = np.where(oracle["state"] == S2, in_state[..., 0, :].argmax(-1), in_state[..., 1, :].argmax(-1))
    np.testing.assert_array_equal(oracle["choice2"], best)
    randomly = daw_agents.simulate(daw_agents.RandomPlay(), task, walks, draws)
    np.testing.assert_array_equal(randomly["prob"], 0.5)
    assert np.all(np.isnan(randomly["value"]))


def test_oracle_beats_bayesian_learner_beats_random_play():
    """Paired on the same walks and draws; each margin is Z standard errors of the mean per-episode difference."""
    walks, draws = daw_agents.fresh_walks(DAW, 8, 50, seed=0), daw_agents.task_draws(DAW, 8, 50, seed=0)
    agents = (daw_agents.Oracle(), daw_agents.BayesianLearner(), daw_agents.RandomPlay())
    oracle, learner, randomly = (daw_agents.simulate(agent, DAW, walks, draws)["reward"].mean(-1).ravel() for agent in agents)
    for better, worse in ((oracle, learner), (learner, randomly)):
        difference = better - worse
        assert difference.mean() > Z * difference.std(ddof=1) / np.sqrt(difference.size)
    assert abs(randomly.mean() - 0.5) < Z * randomly.std(ddof=1) / np.sqrt(randomly.size)


# ---------------------------------------------------------------- draws and input


def test_draws_depend_only_on_seed_and_subject():
    np.testing.assert_array_equal(daw_agents.fresh_walks(DAW, 3, 2, seed=7)[:2], daw_agents.fresh_walks(DAW, 2, 2, seed=7))
    np.testing.assert_array_equal(daw_agents.task_draws(DAW, 3, 2, seed=7)[:2], daw_agents.task_draws(DAW, 2, 2, seed=7))
    assert not np.array_equal(daw_agents.task_draws(DAW, 1, 2, seed=7), daw_agents.task_draws(DAW, 1, 2, seed=8))


def test_transition_is_the_task_transition():
    rng = np.random.default_rng(8)
    action, u = rng.integers(2, size=1000).astype(np.int32), rng.random(1000)
    state, common = daw_agents.transition(DAW, action, u)
    expected_state, expected_common = env.transition(DAW, action, u)
    np.testing.assert_array_equal(state, np.asarray(expected_state))
    np.testing.assert_array_equal(common, np.asarray(expected_common))


def test_simulate_rejects_what_it_cannot_play():
    walks, draws = daw_agents.fresh_walks(DAW, 1, 1, seed=0), daw_agents.task_draws(DAW, 1, 1, seed=0)
    with pytest.raises(ValueError, match="drifting task"):
        daw_agents.simulate(daw_agents.Oracle(), configs.preset("biorxiv-final"), walks, draws)
    with pytest.raises(ValueError, match="draws"):
        daw_agents.simulate(daw_agents.Oracle(), DAW, walks, draws[..., :3])
    with pytest.raises(TypeError, match="RandomPlay"):
        daw_agents.simulate("oracle", DAW, walks, draws)
    with pytest.raises(ValueError, match="grid_size"):
        daw_agents.BayesianLearner(grid_size=1)
