"""Analysis: the regression separates the hand-written model-free and model-based agents; smoothing; figures."""

import numpy as np

import helper
import two_step_env as env

TASK = env.preset("biorxiv-final")


def records_of(choice, episodes=100):
    return helper.simulate_policy(choice, TASK, episodes, seed=1)


def test_model_based_agent_has_a_positive_interaction_and_no_reward_effect():
    r = records_of(helper.model_based_choice)
    fit = helper.stay_regression(r["action"], r["common"], r["reward"])[0]
    low, high = fit["reward x transition"]["ci"]
    assert low > 0 and fit["reward x transition"]["coef"] > 1.0
    assert fit["reward"]["ci"][0] < 0 < fit["reward"]["ci"][1]  # no main effect of reward


def test_model_free_agent_has_a_reward_effect_and_no_interaction():
    r = records_of(helper.model_free_choice)
    fit = helper.stay_regression(r["action"], r["common"], r["reward"])[0]
    assert fit["reward"]["ci"][0] > 1.0
    low, high = fit["reward x transition"]["ci"]
    assert low < 0 < high


def test_stay_probabilities_of_hand_written_agents():
    # each agent follows its rule except for a 10% random choice: stay is 0.95 or 0.05 in each cell
    n_pairs = 100 * 99
    for choice, expected in [
        (helper.model_free_choice, [0.95, 0.95, 0.05, 0.05]),
        (helper.model_based_choice, [0.95, 0.05, 0.05, 0.95]),
    ]:
        r = records_of(choice)
        probs, counts = helper.stay_probabilities(r["action"], r["common"], r["reward"])
        assert counts.sum() == n_pairs
        tolerance = 5 * np.sqrt(0.05 * 0.95 / counts[0])
        assert np.all(np.abs(probs[0] - expected) < tolerance), probs


def test_smoothing_is_tensorboards_debiased_moving_average():
    values = np.array([1.0, 3.0, 2.0])
    w = 0.6
    first = values[0]
    second = (w * (1 - w) * values[0] + (1 - w) * values[1]) / (1 - w**2)
    np.testing.assert_allclose(helper.smooth(values, w)[:2], [first, second])
    np.testing.assert_allclose(helper.smooth(np.full(5, 7.0), 0.9), 7.0)


def test_figures_draw():
    probs = np.array([[0.9, 0.6, 0.6, 0.9], [0.95, 0.7, 0.55, 0.97]])
    for fig in (helper.stay_figure(probs), helper.side_by_side_figure(probs, "biorxiv-final"), helper.task_diagram()):
        assert fig.axes
    assert helper.side_by_side_figure(probs, "arxiv").axes[0].get_ylim() == (0.0, 1.0)


def test_stay_probabilities_by_trial_pool_each_pair_over_episodes():
    r = records_of(helper.model_based_choice, episodes=20)
    by_trial, counts = helper.stay_probabilities_by_trial(r["action"], r["common"], r["reward"])
    assert by_trial.shape == (1, 99, 4) and counts.shape == (1, 99, 4)
    assert np.all(counts.sum(axis=-1) == 20)  # one pair per episode at each position
    pooled, pooled_counts = helper.stay_probabilities(r["action"], r["common"], r["reward"])
    np.testing.assert_array_equal(counts.sum(axis=1), pooled_counts)
    stays = np.nansum(by_trial * counts, axis=1)
    np.testing.assert_allclose(stays / pooled_counts, pooled)
