"""Analysis: the regression separates the hand-written model-free and model-based agents; smoothing; figures."""

import numpy as np

import helper
import two_step_env as env
from twostep import agents, analysis, checkpoints, configs, events, published, run_analysis, run_layout

TASK = configs.preset("biorxiv-final")


def records_of(choice, episodes=100):
    return agents.simulate_policy(choice, TASK, episodes, seed=1)


def test_model_based_agent_has_a_positive_interaction_and_no_reward_effect():
    r = records_of(agents.model_based_choice)
    fit = analysis.stay_regression(r["action"], r["common"], r["reward"])[0]
    low, high = fit["reward x transition"]["ci"]
    assert low > 0 and fit["reward x transition"]["coef"] > 1.0
    assert fit["reward"]["ci"][0] < 0 < fit["reward"]["ci"][1]  # no main effect of reward


def test_model_free_agent_has_a_reward_effect_and_no_interaction():
    r = records_of(agents.model_free_choice)
    fit = analysis.stay_regression(r["action"], r["common"], r["reward"])[0]
    assert fit["reward"]["ci"][0] > 1.0
    low, high = fit["reward x transition"]["ci"]
    assert low < 0 < high


def test_stay_probabilities_of_hand_written_agents():
    # each agent follows its rule except for a 10% random choice: stay is 0.95 or 0.05 in each cell
    n_pairs = 100 * 99
    for choice, expected in [
        (agents.model_free_choice, [0.95, 0.95, 0.05, 0.05]),
        (agents.model_based_choice, [0.95, 0.05, 0.05, 0.95]),
    ]:
        r = records_of(choice)
        probs, counts = env.stay_probabilities(r["action"], r["common"], r["reward"])
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
    r = records_of(agents.model_based_choice, episodes=20)
    by_trial, counts = analysis.stay_probabilities_by_trial(r["action"], r["common"], r["reward"])
    assert by_trial.shape == (1, 99, 4) and counts.shape == (1, 99, 4)
    assert np.all(counts.sum(axis=-1) == 20)  # one pair per episode at each position
    pooled, pooled_counts = env.stay_probabilities(r["action"], r["common"], r["reward"])
    np.testing.assert_array_equal(counts.sum(axis=1), pooled_counts)
    stays = np.nansum(by_trial * counts, axis=1)
    np.testing.assert_allclose(stays / pooled_counts, pooled)


def test_checkpoint_spread_pools_each_seeds_variance_over_checkpoints():
    probs = np.zeros((2, 2, 4))  # [checkpoint, seed, cell]
    probs[:, 0, 2] = [0.5, 0.7]  # seed 0 moves: variance 0.02
    probs[:, 1, 2] = [0.6, 0.6]  # seed 1 stays: variance 0
    np.testing.assert_allclose(run_analysis.checkpoint_spread(probs), [0.0, 0.0, 0.1, 0.0])
    assert helper.checkpoint_stay_figure({"a": probs, "b": probs}, [1000, 2000], "biorxiv-final").axes


def test_checkpoint_stay_probabilities_evaluate_each_checkpoint(tmp_path):
    import a2c_lstm

    task = configs.TaskConfig(trials_per_episode=6, steps_per_trial=1)
    a2c_lstm.train(a2c_lstm.init_state(task, configs.AgentConfig(), [0, 1]), 20, out=str(tmp_path), run=configs.RunConfig(save_every=10), progress=False)
    probs = run_analysis.checkpoint_stay_probabilities(str(tmp_path), [10, 20], test_episodes=30)
    assert probs.shape == (2, 2, 4)
    for k, episode in enumerate([10, 20]):
        paths = [run_layout.checkpoint_path(str(tmp_path), s, episode) for s in (0, 1)]
        r = a2c_lstm.evaluate(checkpoints.stack_states([checkpoints.load_model(p) for p in paths]), 30)
        np.testing.assert_array_equal(probs[k], env.stay_probabilities(r["action"], r["common"], r["reward"])[0])


def write_rewards(run_dir, steps, reward_of_step):
    import tensorflow as tf

    with tf.summary.create_file_writer(str(run_dir)).as_default():
        for step in steps:
            tf.summary.scalar("Perf/Reward", float(reward_of_step(step)), step=step)


def test_final_rewards_average_the_points_logged_in_the_last_episodes(tmp_path):
    for seed, every in ((0, 10), (1, 100)):  # seed 1's event file thinned to every 100 episodes
        write_rewards(tmp_path / f"train_{seed}", range(every, 1001, every), lambda step: step)
    np.testing.assert_allclose(events.final_rewards(str(tmp_path), [0, 1], last=100), [955.0, 1000.0])
    np.testing.assert_allclose(events.final_rewards(str(tmp_path), [0, 1], last=300), [855.0, 900.0])


def test_learning_onset_is_the_first_window_whose_mean_passes_the_threshold(tmp_path):
    write_rewards(tmp_path / "train_0", range(10, 2001, 10), lambda step: 50.0 if step <= 1000 else 60.0)
    write_rewards(tmp_path / "train_1", range(10, 2001, 10), lambda step: 50.0)
    # window 100 ending at 1060: 960-1000 at 50 and 1010-1060 at 60, mean 56 (at 1050 it is exactly 55)
    onsets = events.learning_onsets(str(tmp_path), [0, 1], threshold=55.0, window=100)
    np.testing.assert_array_equal(onsets[:1], [1060.0])
    assert np.isnan(onsets[1])


def test_ideal_observer_stay_probabilities_are_those_its_simulation_gives():
    from twostep import agents

    records = agents.simulate([agents.IdealObserver()] * 8, configs.preset("biorxiv-final"), 300, seed=0)
    probs, _ = env.stay_probabilities(records["action"], records["common"], records["reward"])
    np.testing.assert_allclose(probs.mean(axis=0), published.IDEAL_OBSERVER_STAY["biorxiv-final"], atol=5e-4)  # to the 3 digits shown


def test_closer_than_reference_compares_distances_to_the_paper_cell_by_cell():
    # paper 0.99 / 0.63 / 0.62 / 0.99, reference 0.94 / 0.71 / 0.59 / 0.95
    probs = np.array([[0.98, 0.70, 0.565, 0.90], [1.0, 0.70, 0.565, 0.90]])  # mean 0.99 / 0.70 / 0.565 / 0.90
    np.testing.assert_array_equal(published.closer_than_reference(probs, "biorxiv-final"), [True, True, False, False])
    table = published.means_table({"run a": probs, "run b": probs[:1]}, "biorxiv-final")
    assert list(table.index) == ["run a", "run b", "Wang et al. 2018 (Sim. 4)", "reference TF1 reproduction"]
    np.testing.assert_allclose(table.loc["run a"], [0.99, 0.70, 0.565, 0.90])


def test_study_curves_figure_draws_each_arm_in_blocks_against_episodes_or_seconds():
    import pandas as pd

    curves = pd.DataFrame({"configuration": ["a"] * 4 + ["b"] * 4, "seed": 0, "episode": [100, 200, 300, 400] * 2,
                           "reward": [100.5, 100.5, 201.0, 201.0, 0.0, 0.0, 0.0, 0.0], "training seconds": [1.0, 2.0, 3.0, 4.0] * 2})
    for x, first_block_end in (("episode", 200), ("seconds", 1.5)):
        fig = helper.study_curves_figure(curves, {"a": "arm a", "b": "arm b"}, x=x, every=200, lines={"target": 0.75})
        arm_a = fig.axes[0].lines[0]
        assert list(arm_a.get_ydata()) == [0.5, 1.0] and arm_a.get_xdata()[0] == first_block_end
        assert [line.get_label() for line in fig.axes[0].lines] == ["arm a", "arm b", "target (0.750)"]
