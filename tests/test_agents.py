"""Reference agents: the ideal observer's belief against brute force, its optimality, the task
they play, and the records they return."""

import dataclasses
import itertools

import numpy as np
import pytest

import a2c_lstm
import two_step_env as env
from twostep import agents, configs

FINAL = configs.preset("biorxiv-final")


def brute_force_beliefs(task, state, reward):
    """P(S2 good) before each trial given the outcomes of the trials before it, by summing over
    every sequence of good states (prior 1/2, the task's swap process)."""
    n = len(state)
    weights, s2_good = [], []
    for sequence in itertools.product((env.S2, env.S3), repeat=n):
        weight = 0.5
        for t in range(1, n):
            swap = task.swap_prob if (task.swap_every == configs.SWAP_EVERY_TRIAL) else 0.0
            weight *= swap if sequence[t] != sequence[t - 1] else 1 - swap
        weights.append(weight)
        s2_good.append(np.array(sequence) == env.S2)
    weights, s2_good = np.array(weights), np.array(s2_good)
    beliefs = []
    for t in range(n):
        likelihood = np.ones(len(weights))
        for m in range(t):
            good_here = np.array([seq == (state[m] == env.S2) for seq in s2_good[:, m]])
            p = np.where(good_here, task.good_reward_prob, task.bad_reward_prob)
            likelihood *= p if reward[m] else 1 - p
        beliefs.append((weights * likelihood * s2_good[:, t]).sum() / (weights * likelihood).sum())
    return np.array(beliefs)


@pytest.mark.parametrize("swap_every, swap_prob", [(configs.SWAP_EVERY_TRIAL, 0.025), (configs.SWAP_EVERY_TRIAL, 0.3), (configs.SWAP_EVERY_EPISODE, 0.5)])
def test_ideal_observer_belief_equals_brute_force_enumeration(swap_every, swap_prob):
    task = dataclasses.replace(FINAL, swap_every=swap_every, swap_prob=swap_prob, trials_per_episode=7, good_reward_prob=0.8, bad_reward_prob=0.3)
    rng = np.random.default_rng(0)
    for _ in range(5):
        state = rng.choice([env.S2, env.S3], size=7)
        reward = rng.integers(2, size=7).astype(float)
        action = rng.integers(2, size=7)
        params = {"inverse_temperature": np.array([np.inf]), "perseveration": np.array([0.0])}
        beliefs = agents.play(agents.IDEAL_OBSERVER, params, task, (1,), lambda n, _: (action[n : n + 1], state[n : n + 1], reward[n : n + 1]))["belief"][0]
        np.testing.assert_allclose(beliefs, brute_force_beliefs(task, state, reward), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(configs.PRESETS))
def test_greedy_policy_is_bellman_optimal(name):
    agree, gap = agents.greedy_is_optimal(configs.preset(name), grid_size=501)
    assert agree
    assert gap < 1e-9


def test_bellman_value_equals_the_simulated_ideal_observers_reward():
    # V_0(1/2), the optimal expected reward of an episode, against 8 x 300 simulated episodes:
    # the simulated mean lies within 4 standard errors of it
    grid, q = agents.belief_value_iteration(FINAL, grid_size=2001)
    optimal = np.interp(0.5, grid, q[0].max(-1))
    per_episode = agents.simulate([agents.IdealObserver()] * 8, FINAL, 300, seed=5)["reward"].sum(-1).ravel()
    assert abs(per_episode.mean() - optimal) < 4 * per_episode.std() / np.sqrt(per_episode.size)
    assert optimal < 100 * agents.known_state_reward(FINAL)  # inferring the good state costs reward


def test_ideal_observer_earns_more_than_every_classical_agent():
    rewards = {}
    for w in (0.0, 0.5, 1.0):
        rewards[w] = agents.simulate([agents.Hybrid(model_based_weight=w)] * 4, FINAL, 200, seed=2)["reward"].sum(-1).ravel()
    ideal = agents.simulate([agents.IdealObserver()] * 4, FINAL, 200, seed=2)["reward"].sum(-1).ravel()
    for w, r in rewards.items():
        standard_error = np.sqrt(ideal.var() / ideal.size + r.var() / r.size)
        assert ideal.mean() - r.mean() > 4 * standard_error, w


def test_records_have_the_layout_and_dtypes_of_evaluate():
    records = agents.simulate([agents.Hybrid(), agents.Hybrid(model_based_weight=1.0)], FINAL, 3, seed=0)
    for key, dtype in a2c_lstm.TRIAL_RECORDS.items():
        assert records[key].shape == (2, 3, 100), key
        assert records[key].dtype == dtype.as_numpy_dtype, key
    chosen = np.where(records["action"] == 0, env.S2, env.S3)
    np.testing.assert_array_equal(records["common"], records["state"] == chosen)
    assert set(np.unique(records["reward"])) <= {0.0, 1.0}
    assert "belief" in agents.simulate(agents.IdealObserver(), FINAL, 2)


def test_every_agent_plays_the_same_task_draws():
    model_free = agents.simulate(agents.Hybrid(model_based_weight=0.0), FINAL, 20, seed=4)
    ideal = agents.simulate(agents.IdealObserver(), FINAL, 20, seed=4)
    np.testing.assert_array_equal(model_free["good_state"], ideal["good_state"])


@pytest.mark.parametrize("name", sorted(configs.PRESETS))
def test_good_state_swaps_as_the_task_says(name):
    task = configs.preset(name)
    good = agents.simulate(agents.IdealObserver(), task, 2000, seed=1)["good_state"][0]
    flat = good.ravel()
    swaps = flat[1:] != flat[:-1]
    if task.swap_every == configs.SWAP_EVERY_EPISODE:
        assert not np.any(good[:, 1:] != good[:, :-1])  # fixed within an episode
        swaps = good[1:, 0] != good[:-1, -1]
    n = swaps.size
    assert abs(swaps.mean() - task.swap_prob) < 4 * np.sqrt(task.swap_prob * (1 - task.swap_prob) / n)


def test_hybrid_weight_moves_stay_probabilities_from_reward_to_interaction():
    records = agents.simulate([agents.Hybrid(model_based_weight=w) for w in (0.0, 1.0)], FINAL, 200, seed=0)
    probs, counts = env.stay_probabilities(records["action"], records["common"], records["reward"])
    model_free, model_based = probs
    # model-free: rewarded-rare repeats more than unrewarded-rare; model-based: the reverse
    assert model_free[1] > model_free[3] and model_based[1] < model_based[3]
    standard_error = np.sqrt(0.25 / counts.min())
    assert model_based[3] - model_based[1] > model_free[3] - model_free[1] + 4 * standard_error


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: agents.Hybrid(learning_rate=1.5), "Hybrid.learning_rate=1.5: expected a number in [0, 1]"),
        (lambda: agents.Hybrid(inverse_temperature=0.0), "Hybrid.inverse_temperature=0.0: expected a number > 0"),
        (lambda: agents.Hybrid(perseveration=float("nan")), "Hybrid.perseveration=nan: expected a finite number"),
        (lambda: agents.IdealObserver(inverse_temperature=-1), "IdealObserver.inverse_temperature=-1: expected a number > 0"),
        (lambda: agents.simulate([], FINAL, 1), "expected at least one agent config"),
        (lambda: agents.simulate(agents.Hybrid(), FINAL, 0), "episodes=0: expected an integer > 0"),
        (lambda: agents.simulate([agents.Hybrid(), agents.IdealObserver()], FINAL, 1), "every subject must be the same kind"),
    ],
)
def test_bad_input_is_named(make, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make()


def test_simulate_rejects_what_is_not_an_agent():
    with pytest.raises(TypeError, match="expected a Hybrid or an IdealObserver"):
        agents.simulate("model-free", FINAL, 1)
