"""What the drifting task's agent knows and how it uses it (run_analysis.daw_belief_scores): the
Bayesian learner's filter on a given history, the expected reward of a greedy choice, and the
decoding table on an agent whose state is known (the Bayesian learner itself) or carries nothing."""

import dataclasses

import numpy as np
import pytest

import two_step_env as env
from twostep import analysis, configs, daw_agents, run_analysis

DAW = dataclasses.replace(configs.preset("daw-2011"), trials_per_episode=40)


def bayesian_records(subjects=2, episodes=40, seed=0, grid_size=51):
    walks = daw_agents.fresh_walks(DAW, subjects, episodes, seed)
    draws = daw_agents.task_draws(DAW, subjects, episodes, seed)
    return daw_agents.simulate(daw_agents.BayesianLearner(grid_size), DAW, walks, draws)


def test_posterior_means_on_the_bayesian_learners_own_history_are_its_values():
    records = bayesian_records(episodes=5)
    option = env.option_index(records["state"], records["choice2"])
    means = daw_agents.posterior_means(DAW, option, records["reward"], grid_size=51)
    np.testing.assert_allclose(means, records["option_values"], rtol=0, atol=1e-12)
    assert means.shape == records["probs"].shape


def test_greedy_reward_follows_the_choices_through_the_transitions():
    c = DAW.common_prob
    probs = np.array([0.3, 0.4, 0.5, 0.6])
    # S2's best 0.6 (option 0), S3's best 0.5 (option 1): action 0 (0.7 * 0.6 + 0.3 * 0.5 > 0.3 * 0.6 + 0.7 * 0.5)
    assert daw_agents.greedy_reward(DAW, [0.6, 0.4, 0.3, 0.5], probs) == pytest.approx(c * 0.3 + (1 - c) * 0.6)
    # S3's best higher: action 1; a tie in S2 splits 50/50
    assert daw_agents.greedy_reward(DAW, [0.5, 0.5, 0.3, 0.7], probs) == pytest.approx((1 - c) * 0.35 + c * 0.6)
    # the oracle's values: the best option's state and the better option in each
    assert daw_agents.greedy_reward(DAW, probs, probs) == pytest.approx((1 - c) * 0.4 + c * 0.6)
    # a given first-stage action, then the greedy option in the state reached
    assert daw_agents.greedy_reward(DAW, [0.6, 0.4, 0.3, 0.5], probs, action=1) == pytest.approx((1 - c) * 0.3 + c * 0.6)
    both = daw_agents.greedy_reward(DAW, np.tile(probs, (2, 1)), np.tile(probs, (2, 1)), action=[0, 1])
    np.testing.assert_allclose(both, [c * 0.4 + (1 - c) * 0.6, (1 - c) * 0.4 + c * 0.6])


def test_decoding_table_of_an_agent_that_carries_the_bayesian_means_or_nothing():
    records = bayesian_records()
    rng = np.random.default_rng(1)
    noise = rng.standard_normal(records["option_values"].shape[:3] + (6,))
    knows = dict(records, hidden=10 * records["option_values"], cell=noise)  # the means, scaled beyond the ridge's reach
    blind = dict(records, hidden=noise[..., :4], cell=rng.standard_normal(noise.shape))
    table = run_analysis.daw_belief_scores(knows, DAW, grid_size=51)
    assert list(table.columns) == list(run_analysis.BELIEF_SCORES) and len(table) == 2
    assert (table["Bayesian means from the LSTM"] > 0.99).all()
    assert (table["Bayesian means from the LSTM, shuffled trials"].abs() < 0.02).all()
    assert (table["agreement with the Bayesian choice"] == 1).all()  # the agent is the greedy Bayesian learner
    assert (table["agreement with the Bayesian choice, the agent's likelier action"] == 1).all()
    np.testing.assert_allclose(table["reward: Bayesian learner"], table["reward: agent"])  # the same draws, the same play
    greedy = table["reward: greedy on the Bayesian means"]
    np.testing.assert_allclose(table["reward: greedy on the LSTM's decoded means"], greedy, atol=2e-3)
    first_stage_own = table["reward: the agent's first stage, greedy second on the Bayesian means"]
    np.testing.assert_allclose(first_stage_own, greedy, atol=2e-3)  # its ties broken by the draws, not 50/50
    ceiling = table["probabilities from the Bayesian means"]
    assert (ceiling > 0.03).all()
    np.testing.assert_allclose(table["probabilities from the LSTM"], ceiling, atol=0.03)  # the ceiling also has the sides' gap
    blind_table = run_analysis.daw_belief_scores(blind, DAW, grid_size=51)
    for column in ("Bayesian means from the LSTM", "probabilities from the LSTM", "Bayesian side gap from the LSTM",
                   "Bayesian side gap from h alone"):
        assert (blind_table[column].abs() < 0.1).all(), column  # 10 noise features, 40 episodes: a little below 0
    assert (blind_table["reward: greedy on the LSTM's decoded means"] < greedy - 0.02).all()
    assert (blind_table["agreement with the Bayesian choice, greedy on the LSTM's decoded means"] < 0.6).all()


def test_decode_of_several_targets_is_the_decode_of_each():
    rng = np.random.default_rng(2)
    features = rng.standard_normal((3000, 5))
    targets = np.column_stack([features @ rng.standard_normal(5) + rng.standard_normal(3000), rng.standard_normal(3000)])
    groups = np.arange(3000) // 30
    both = analysis.decode(features, targets, groups)
    np.testing.assert_allclose(both, [analysis.decode(features, t, groups) for t in targets.T], rtol=0, atol=1e-12)
    assert both[0] > 0.5 and abs(both[1]) < 0.02
