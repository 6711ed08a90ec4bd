"""The task: presets, validation, Gymnasium API, statistics, and gym == TensorFlow dynamics."""

import copy

import numpy as np
import pytest
import tensorflow as tf
from gymnasium.utils.env_checker import check_env

import two_step_env as env
from twostep import configs
from twostep.configs import S2, S3

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
    np.testing.assert_array_equal(obs[: env.OBS_SIZE], [1, 0, 0, 0, 0, 0, 0])
    assert obs.shape == (env.observation_size(config),) and obs in task.observation_space
    steps, terminated = 0, False
    while not terminated:
        obs, reward, terminated, truncated, info = task.step(steps % 2)
        steps += 1
        assert obs in task.observation_space and not truncated
        assert obs[:3].sum() == 1 and obs[3] == reward and obs[4:6].sum() == 1
    assert steps == config.steps_per_episode
    assert obs[env.OBS_SIZE - 1] == 2 * config.trials_per_episode


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
    expected_state = np.where(common == 1, S2 + action, S3 - action)
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


# ---- Daw et al. 2011's drifting task

DAW = configs.preset("daw-2011")


def test_daw_preset_and_its_checks():
    assert DAW == configs.TaskConfig(common_prob=0.7, trials_per_episode=201, steps_per_trial=2, rewards="drift",
                                     drift_sd=0.025, drift_low=0.25, drift_high=0.75)
    with pytest.raises(ValueError, match=r"steps_per_trial=1: the 'drift' task has a choice at the second stage"):
        configs.TaskConfig(rewards="drift", steps_per_trial=1)
    with pytest.raises(ValueError, match=r"drift_low=0.8, drift_high=0.75: expected drift_low < drift_high"):
        configs.TaskConfig(rewards="drift", steps_per_trial=2, drift_low=0.8)
    with pytest.raises(ValueError, match=r"rewards='walk': expected 'swap', 'drift' or 'points'"):
        configs.TaskConfig(rewards="walk")


def test_gym_and_tensorflow_walks_and_outcomes_are_the_same_task():
    """Fed the same uniforms, normals, actions and options, both faces give the same walk and trials."""
    rng = np.random.default_rng(5)
    uniforms, normals = rng.random((3, 4)), 4 * rng.standard_normal((3, DAW.trials_per_episode - 1, 4))  # large steps: many reflections
    walks = env.drift_walk(DAW, uniforms, normals)
    tf_walks = env.tf_drift_walk(DAW, tf.constant(uniforms), tf.constant(normals)).numpy()
    np.testing.assert_allclose(tf_walks, walks, atol=1e-12)
    assert walks.min() >= 0.25 and walks.max() <= 0.75
    task = env.TwoStepTask(DAW)
    task.reset(seed=1, options={"reward_probs": walks[0]})
    draws = rng.random((DAW.trials_per_episode, 3)).astype(np.float32)
    actions, options = rng.integers(2, size=(2, DAW.trials_per_episode))
    for n in range(DAW.trials_per_episode):
        reached, reward, info = task._run_trial(int(actions[n]), draws[n], int(options[n]))
        tf_reached, common = env.transition(DAW, tf.constant([actions[n]], tf.int32), tf.constant(draws[n, 1:2]))
        tf_reward = env.draw_reward(DAW, tf_reached, None, tf.constant(draws[n, 2:3]), tf.constant([options[n]], tf.int32),
                                    tf.constant(walks[0, n][None], tf.float32))
        assert (reached, info["common"], reward) == (int(tf_reached[0]), bool(common[0]), float(tf_reward[0])), f"trial {n}"
        np.testing.assert_array_equal(info["probs"], walks[0, n])


def test_best_state_is_the_state_holding_the_best_option_in_numpy_and_tensorflow():
    probs = np.array([[0.6, 0.2, 0.5, 0.3], [0.2, 0.3, 0.7, 0.1], [0.4, 0.5, 0.5, 0.1], [0.3, 0.3, 0.1, 0.3]])
    np.testing.assert_array_equal(env.best_state(probs), [S2, S3, S2, S2])  # ties: S2
    walks = env.drift_walk(DAW, *(np.random.default_rng(0).random((2, 4)), np.random.default_rng(1).standard_normal((2, 200, 4))))
    np.testing.assert_array_equal(env.tf_best_state(tf.constant(walks.reshape(-1, 4))).numpy(), env.best_state(walks).ravel())


def test_drifting_env_draws_a_fresh_walk_every_episode_and_replays_a_given_one():
    task = env.TwoStepTask(DAW)
    _, first = task.reset(seed=0)
    _, second = task.reset()
    assert not np.array_equal(first["probs"], second["probs"])
    walk = np.full((DAW.trials_per_episode, 4), 0.5)
    walk[:, 3] = 1.0  # S3 option 1 always pays
    task.reset(options={"reward_probs": walk})
    rewards = []
    for _ in range(20):
        obs, _, _, _, info = task.step(1)  # towards S3, mostly
        _, reward, _, _, info = task.step(1)
        if info["state"] == S3:
            rewards.append(reward)
    assert rewards and all(r == 1.0 for r in rewards)
    with pytest.raises(ValueError, match=r"reward_probs has shape \(5, 4\): expected \[\.\.\., 201 trials, 4 options\]"):
        task.reset(options={"reward_probs": np.full((5, 4), 0.5)})
    with pytest.raises(ValueError, match="option=None: the drifting task needs the second-stage choice"):
        task.reset()
        task.trial(0)


def test_reflection_folds_any_overshoot_back_inside():
    x = np.array([0.5, 0.76, 0.24, 0.75 + 0.6, 0.25 - 1.1])
    np.testing.assert_allclose(env.reflect(x, 0.25, 0.75), [0.5, 0.74, 0.26, 0.35, 0.35], atol=1e-12)  # 1.35 -> 0.15 -> 0.35


def test_stay_pairs_and_the_model_based_index():
    action, common = np.array([[[0, 0, 1, 1]]]), np.array([[[True, False, True, True]]])
    reward, missed = np.array([[[1.0, 0.0, np.nan, 1.0]]]), np.array([[[False, False, True, False]]])
    pairs = env.stay_pairs(action, common, reward, missed)
    np.testing.assert_array_equal(pairs["stay"][0, 0], [1, 0, 1])
    np.testing.assert_array_equal(pairs["reward"][0, 0], [1, -1, -1])
    np.testing.assert_array_equal(pairs["transition"][0, 0], [1, -1, 1])
    np.testing.assert_array_equal(pairs["pair"][0, 0], [True, False, False])  # pairs with the missed trial are out
    assert env.model_based_index([1.0, 0.0, 0.0, 1.0]) == 1.0  # stay after rewarded common and unrewarded rare only
    assert env.model_based_index([1.0, 1.0, 0.0, 0.0]) == 0.0  # model-free: reward alone


# ---- Kool et al.'s tasks ----


def test_the_novel_paradigm_pays_the_points_of_the_state_an_action_leads_to_times_the_stake():
    """A person's walk, first-stage states and stakes replayed: the trial's cues are shown before
    its first choice and at its second step, action k reaches S2 + k, the second-stage action is
    ignored, and the reward is the state's points times the stake."""
    config = configs.preset("kool2017-novel-stakes")
    task = env.TwoStepTask(config)
    rng = np.random.default_rng(3)
    points = env.points_walk(config, rng.random(2), rng.standard_normal((199, 2)))
    state1, stakes = rng.integers(0, 2, 200), np.where(rng.random(200) < 0.5, 5.0, 1.0)
    obs, info = task.reset(seed=0, options={"points": points, "state1": state1, "stakes": stakes})
    for t in range(200):
        cues = [float(state1[t]), float(stakes[t] == 5.0)]
        assert obs[env.OBS_SIZE:].tolist() == cues
        action = int(rng.integers(2))
        obs, reward, terminated, _, info = task.step(action)
        assert info["state"] == S2 + action and info["common"] and obs[env.OBS_SIZE:].tolist() == cues and reward == 0
        assert info["state1"] == state1[t] and info["stake"] == stakes[t] and info["points"].tolist() == points[t].tolist()
        obs, reward, terminated, _, info = task.step(int(rng.integers(2)))
        assert reward == points[t, action] * stakes[t] and obs[3] == reward and terminated == (t == 199)
    assert obs[env.OBS_SIZE:].tolist() == [0.0, 0.0]


def test_a_fresh_points_walk_is_whole_and_within_its_bounds():
    config = configs.preset("kool2016-novel")
    task = env.TwoStepTask(config)
    task.reset(seed=4)
    assert task.points.shape == (125, 2) and (task.points == np.round(task.points)).all()
    assert task.points.min() >= -4 and task.points.max() <= 5 and set(np.unique(task.state1)) == {0, 1}
    assert (task.stakes == 1.0).all() and env.observation_size(config) == env.OBS_SIZE + 1


def test_daws_task_with_stakes_pays_wins_times_the_stake():
    config = configs.preset("kool2017-daw-stakes")
    task = env.TwoStepTask(config)
    task.reset(seed=5)
    paid = []
    for t in range(200):
        _, reward, _, _, info = task.trial(0, 1)
        paid.append((reward, task.stakes[t]))
    assert all(reward in (0.0, stake) for reward, stake in paid) and {stake for _, stake in paid} == {1.0, 5.0}


@pytest.mark.parametrize("options, message", [
    ({"points": np.zeros((124, 2))}, r"points has shape \(124, 2\): expected \[..., 125 trials, 2 states\]"),
    ({"points": np.full((125, 2), 0.5)}, r"points holds values that are not whole numbers in \[-4, 5\]"),
    ({"state1": np.full(125, 2)}, r"state1 has shape \(125,\) or values other than 0 and 1"),
])
def test_a_persons_task_that_does_not_fit_is_refused(options, message):
    with pytest.raises(ValueError, match=message):
        env.TwoStepTask(configs.preset("kool2016-novel")).reset(seed=0, options=options)


@pytest.mark.parametrize("name", ["kool2016-novel", "kool2017-novel-stakes"])
def test_the_points_walk_in_tensorflow_is_the_numpy_walk(name):
    config = configs.preset(name)
    rng = np.random.default_rng(1)
    uniforms, normals = rng.random((6, 2)).astype(np.float32), rng.standard_normal((6, config.trials_per_episode - 1, 2)).astype(np.float32)
    np.testing.assert_array_equal(env.tf_points_walk(config, tf.constant(uniforms), tf.constant(normals)).numpy(),
                                  env.points_walk(config, uniforms, normals))
