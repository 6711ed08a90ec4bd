"""The task: presets, validation, Gymnasium API, statistics, and gym == TensorFlow dynamics."""

import copy

import numpy as np
import pytest
import tensorflow as tf
from gymnasium.utils.env_checker import check_env

import two_step_env as env
from twostep import configs

Z = 5.0  # tolerance in standard errors for the frequency tests (false alarm ~ 6e-7 each)


def within(count, n, p):
    """Observed frequency count / n is within Z binomial standard errors of p."""
    return abs(count / n - p) <= Z * np.sqrt(p * (1 - p) / n)


def test_presets_match_spec():
    assert configs.preset("arxiv") == configs.TaskConfig(0.75, 0.9, 0.1, 0.5, "episode", 10, 2)
    assert configs.preset("biorxiv-first-try") == configs.TaskConfig(0.8, 0.9, 0.1, 0.025, "trial", 100, 2)
    assert configs.preset("biorxiv-final") == configs.TaskConfig(0.8, 0.9, 0.1, 0.025, "trial", 100, 1)


@pytest.mark.parametrize(
    "field, value, accepted",
    [
        ("common_prob", 1.2, "probability in [0, 1]"),
        ("swap_prob", -0.1, "probability in [0, 1]"),
        ("good_reward_prob", "0.9", "probability in [0, 1]"),
        ("trials_per_episode", 0, "integer > 0"),
        ("steps_per_trial", 3, "expected 1"),
        ("swap_every", "sometimes", "'trial' or 'episode'"),
    ],
)
def test_invalid_config_names_field_value_and_accepted(field, value, accepted):
    with pytest.raises(ValueError) as error:
        configs.TaskConfig(**{field: value})
    assert f"{field}={value!r}" in str(error.value) and accepted in str(error.value)


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"'biorxiv'.*arxiv, biorxiv-first-try, biorxiv-final"):
        configs.preset("biorxiv")


@pytest.mark.parametrize("name", sorted(configs.PRESETS))
def test_gymnasium_env_checker_passes(name):
    check_env(env.TwoStepTask(configs.preset(name)), skip_render_check=True)


def test_bad_action_and_stepping_after_the_end():
    task = env.TwoStepTask(configs.TaskConfig(trials_per_episode=1))
    task.reset(seed=0)
    with pytest.raises(ValueError, match=r"action=2: expected 0 or 1"):
        task.step(2)
    assert task.step(0)[2]
    with pytest.raises(RuntimeError, match="reset"):
        task.step(0)


@pytest.mark.parametrize("name", sorted(configs.PRESETS))
def test_episode_length_and_observations(name):
    config = configs.preset(name)
    task = env.TwoStepTask(config)
    obs, _ = task.reset(seed=1)
    np.testing.assert_array_equal(obs, [1, 0, 0, 0, 0, 0, 0])
    steps, terminated = 0, False
    while not terminated:
        obs, reward, terminated, truncated, info = task.step(steps % 2)
        steps += 1
        assert obs in task.observation_space and not truncated
        assert obs[:3].sum() == 1 and obs[3] == reward and obs[4:6].sum() == 1
    assert steps == config.steps_per_episode
    assert obs[-1] == 2 * config.trials_per_episode


def play(config, n_trials, seed=0):
    """Random first-stage choices for n_trials whole trials: per-trial arrays."""
    task = env.TwoStepTask(config)
    task.reset(seed=seed)
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n_trials):
        before = task.good_state
        action = int(rng.integers(2))
        _, reward, terminated, _, info = task.trial(action)
        rows.append((action, info["state"], info["common"], reward, info["good_state"], before, task.trial_index))
        if terminated:
            task.reset()
    return np.array(rows, dtype=float).T


def test_statistics_biorxiv_final():
    n = 100_000
    action, state, common, reward, good, before, _ = play(configs.preset("biorxiv-final"), n)
    assert within(common.sum(), n, 0.8)
    expected_state = np.where(common == 1, env.S2 + action, env.S3 - action)
    np.testing.assert_array_equal(state, expected_state)
    in_good = state == good
    assert within(reward[in_good].sum(), in_good.sum(), 0.9)
    assert within(reward[~in_good].sum(), (~in_good).sum(), 0.1)
    assert within((good != before).sum(), n, 0.025)  # a swap may happen at every trial


def test_statistics_arxiv_swaps_only_at_episode_start():
    n = 100_000
    _, _, common, _, good, before, trial_index = play(configs.preset("arxiv"), n)
    assert within(common.sum(), n, 0.75)
    first = trial_index == 1
    assert not np.any(good[~first] != before[~first])
    assert within((good[first] != before[first]).sum(), first.sum(), 0.5)


def test_gym_and_tensorflow_dynamics_are_the_same_task():
    """Both implementations, fed the same uniforms and actions, give the same trajectory."""
    for name in ("biorxiv-final", "arxiv"):
        config = configs.preset(name)
        task = env.TwoStepTask(config)
        task.reset(seed=7)
        draws = copy.deepcopy(task.np_random).random((2000, 3)).astype(np.float32)
        actions = np.random.default_rng(3).integers(2, size=2000)
        good = tf.constant([task.good_state])
        for n, (action, u) in enumerate(zip(actions, draws)):
            if task.trial_index == config.trials_per_episode:
                task.reset()
            trial_index = task.trial_index
            _, reward, info = task._run_trial(int(action), u)
            good = env.swap_good_state(config, good, tf.constant(u[:1]), trial_index)
            reached, common = env.transition(config, tf.constant([action], tf.int32), tf.constant(u[1:2]))
            tf_reward = env.draw_reward(config, reached, good, tf.constant(u[2:3]))
            assert (int(good[0]), int(reached[0]), bool(common[0]), float(tf_reward[0])) == (
                info["good_state"],
                info["state"],
                info["common"],
                reward,
            ), f"{name}: trial {n} differs"
