"""The agent: LSTM cell, returns and advantages, compiled gradients, seed groups, checkpoints, CLI."""

import dataclasses
import glob
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import a2c_lstm as a2c
import two_step_env as env
from two_step_env import stay_probabilities
from twostep import checkpoints, cli, configs, events
from twostep.configs import S1, S2, S3

TINY = configs.TaskConfig(trials_per_episode=6, steps_per_trial=1)
TINY_TWO_STEP = configs.TaskConfig(trials_per_episode=4, steps_per_trial=2, swap_every="episode", swap_prob=0.5)
AGENT = configs.AgentConfig()


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def random_params(seeds=2, hidden=48):
    rng = np.random.default_rng(0)
    fan_in = env.OBS_SIZE + hidden
    return checkpoints.Params(
        kernel=rng.normal(0, 0.3, (seeds, fan_in, 4 * hidden)).astype(np.float32),
        bias=rng.normal(0, 0.3, (seeds, 4 * hidden)).astype(np.float32),
        policy=rng.normal(0, 0.3, (seeds, hidden, 2)).astype(np.float32),
        value=rng.normal(0, 0.3, (seeds, hidden, 1)).astype(np.float32),
    )


def test_lstm_cell_matches_tf1_equations_and_keras():
    params = random_params()
    rng = np.random.default_rng(1)
    x, h, c = (rng.normal(size=(2, n)).astype(np.float32) for n in (7, 48, 48))
    new_h, new_c = (t.numpy() for t in a2c.lstm_step(params, x, h, c))
    for s in range(2):  # TF1 LSTMCell: gates i, j, f, o; forget bias +1
        z = np.concatenate([x[s], h[s]]) @ params.kernel[s] + params.bias[s]
        i, j, f, o = np.split(z, 4)
        expected_c = sigmoid(f + 1.0) * c[s] + sigmoid(i) * np.tanh(j)
        np.testing.assert_allclose(new_c[s], expected_c, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(new_h[s], sigmoid(o) * np.tanh(expected_c), rtol=1e-5, atol=1e-6)
        # keras orders the gates i, f, c(=j), o and has no built-in forget bias
        kernel_blocks, bias_blocks = np.split(params.kernel[s], 4, axis=1), np.split(params.bias[s], 4)
        order = [0, 2, 1, 3]
        kernel = np.concatenate([kernel_blocks[g] for g in order], axis=1)
        bias = np.concatenate([bias_blocks[g] + (1.0 if g == 2 else 0.0) for g in order])
        cell = keras.layers.LSTMCell(48)
        cell.build((None, 7))
        cell.set_weights([kernel[:7], kernel[7:], bias])
        keras_h, (_, keras_c) = cell(x[s : s + 1], [h[s : s + 1], c[s : s + 1]])
        np.testing.assert_allclose(new_h[s], np.asarray(keras_h)[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(new_c[s], np.asarray(keras_c)[0], rtol=1e-5, atol=1e-6)


def test_initialisation_is_column_normalised():
    state = a2c.init_state(configs.preset("biorxiv-final"), AGENT, [0, 1])
    np.testing.assert_allclose(np.linalg.norm(state.params.policy, axis=1), 0.01, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(state.params.value, axis=1), 1.0, rtol=1e-5)
    assert state.params.kernel.shape == (2, 55, 192) and not state.params.bias.any()
    assert np.all(state.rms.kernel == 1.0)  # TF1 RMSProp starts its mean square at one


@pytest.mark.parametrize("gae_lambda", [1.0, 0.7])
def test_returns_and_advantages_match_direct_numpy(gae_lambda):
    rng = np.random.default_rng(2)
    rewards = rng.integers(2, size=(30, 3)).astype(np.float32)
    values = rng.normal(size=(30, 3)).astype(np.float32)
    returns, advantages = (t.numpy() for t in a2c.returns_and_advantages(rewards, values, 0.9, gae_lambda))
    for s in range(3):
        for t in range(30):
            future = np.arange(t, 30)
            discount = 0.9 ** (future - t)
            np.testing.assert_allclose(returns[t, s], (discount * rewards[future, s]).sum(), rtol=1e-5)
            next_values = np.append(values[1:, s], 0.0)
            deltas = rewards[:, s] + 0.9 * next_values - values[:, s]
            weights = (0.9 * gae_lambda) ** (future - t)
            np.testing.assert_allclose(advantages[t, s], (weights * deltas[future]).sum(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("task", [TINY, TINY_TWO_STEP], ids=["one-step", "two-step"])
def test_compiled_update_equals_eager_uncompiled_update(task):
    state = a2c.init_state(task, AGENT, [0, 5])
    params, rms = a2c._as_tensors(random_params()), a2c._as_tensors(state.rms)
    good, seeds, episode = tf.constant(state.good_state), tf.constant([0, 5], tf.int64), tf.constant(4, tf.int64)
    compiled = a2c.make_train_episode(task, AGENT)(params, rms, good, seeds, episode)
    # the same draws as the compiled step (XLA's Philox streams differ from the eager kernel's);
    # everything after the draws runs eagerly, uncompiled
    uniforms = tf.function(a2c.episode_uniforms, jit_compile=True)(task, seeds, episode)
    with tf.GradientTape() as tape:
        tape.watch(params)
        steps, _, _ = a2c.rollout(task, AGENT, params, good, uniforms)
        total = tf.reduce_sum(a2c.episode_losses(AGENT, steps)[0])
    grads = checkpoints.Params(*tape.gradient(total, list(params)))
    eager_params, eager_rms, _ = a2c.rmsprop_update(AGENT, params, rms, grads)
    first_stage_actions = steps["action"].numpy()[:: task.steps_per_trial]
    np.testing.assert_array_equal(compiled[3]["action"].numpy()[0], first_stage_actions)  # statistics per episode: [E = 1, ...]
    for name, c, e in zip(checkpoints.Params._fields, compiled[1], eager_rms):
        np.testing.assert_allclose(c.numpy(), e.numpy(), rtol=1e-4, atol=1e-9, err_msg=name)
    for name, c, e, before in zip(checkpoints.Params._fields, compiled[0], eager_params, params):
        # compare the updates, not the (much larger) weights; float32 sums reordered by XLA
        # differ by a few ulps of the largest term, hence a tolerance scaled to the largest update
        compiled_update, eager_update = (c - before).numpy(), (e - before).numpy()
        scale = np.abs(eager_update).max()
        assert scale > 0, name
        np.testing.assert_allclose(compiled_update, eager_update, rtol=1e-3, atol=1e-4 * scale, err_msg=name)


TINY_DRIFT = configs.TaskConfig(trials_per_episode=5, steps_per_trial=2, rewards="drift", common_prob=0.7)


@pytest.mark.parametrize("task", [TINY, TINY_DRIFT], ids=["one-step", "drifting"])
def test_an_update_from_several_episodes_is_the_mean_of_their_single_episode_gradients(task):
    """episodes_per_update = 3: row j of seed k plays episode (k, 4 + j) as a single-episode rollout
    would; the update follows the mean of the three episodes' gradients, with the entropy weight and
    the learning rate of episode 4 on their linear schedules; the last row's good state carries on."""
    agent = configs.AgentConfig(episodes_per_update=3, gae_lambda=0.7, entropy_decay_episodes=10, learning_rate_decay_episodes=8)
    seeds, episode = [0, 5], 4
    params, rms = a2c._as_tensors(random_params()), a2c._as_tensors(a2c.init_state(task, agent, seeds).rms)
    good, seed_ids = tf.constant([S2, S3]), tf.constant(seeds, tf.int64)
    new_params, _, new_good, stats = a2c.make_train_episode(task, agent)(params, rms, good, seed_ids, tf.constant(episode, tf.int64))
    draws = tf.function(lambda ids, e: (a2c.episode_uniforms(task, ids, e), a2c.episode_walk(task, ids, e)), jit_compile=True)
    mean_grads = [0.0] * 4
    for j in range(3):
        uniforms, walk = draws(seed_ids, tf.constant(episode + j, tf.int64))
        with tf.GradientTape() as tape:
            tape.watch(params)
            steps, _, good_after = a2c.rollout(task, agent, params, good, uniforms, walk if task.second_stage_choice else None)
            total = tf.reduce_sum(a2c.episode_losses(agent, steps, entropy_weight=agent.entropy_weight * (1 - 4 / 10))[0])
        mean_grads = [m + g / 3 for m, g in zip(mean_grads, tape.gradient(total, list(params)))]
        np.testing.assert_array_equal(stats["action"].numpy()[j], steps["action"].numpy()[:: task.steps_per_trial])
    np.testing.assert_array_equal(new_good.numpy(), good_after.numpy())
    eager_params, _, _ = a2c.rmsprop_update(agent, params, rms, checkpoints.Params(*mean_grads), agent.learning_rate * (1 - 4 / 8))
    for name, c, e, before in zip(checkpoints.Params._fields, new_params, eager_params, params):
        compiled_update, eager_update = (c - before).numpy(), (e - before).numpy()
        scale = np.abs(eager_update).max()
        assert scale > 0, name
        np.testing.assert_allclose(compiled_update, eager_update, rtol=1e-3, atol=1e-4 * scale, err_msg=name)


def test_the_option_input_is_the_option_chosen_at_the_step_before_with_its_reward():
    agent = configs.AgentConfig(option_input=True)
    state = a2c.init_state(TINY_DRIFT, agent, [0, 1])
    uniforms, walk = (tf.function(f, jit_compile=True)(TINY_DRIFT, tf.constant([0, 1], tf.int64), tf.constant(0, tf.int64))
                      for f in (a2c.episode_uniforms, a2c.episode_walk))
    steps, trials, _ = a2c.rollout(TINY_DRIFT, agent, a2c._as_tensors(state.params), tf.constant(state.good_state), uniforms, walk, backprop=True)
    options = steps["input"].numpy()[:, :, env.OBS_SIZE :]  # [step, seed, 4]
    chosen = env.option_index(trials["state"].numpy(), trials["choice2"].numpy())  # [trial, seed]
    np.testing.assert_array_equal(options[0], 0)  # nothing chosen before the first trial
    np.testing.assert_array_equal(options[1::2], 0)  # the second-stage step: no reward, no option
    np.testing.assert_array_equal(options[2::2], np.eye(4)[chosen[:-1]])
    np.testing.assert_array_equal(steps["input"].numpy()[2::2, :, 3], trials["reward"].numpy()[:-1])  # with its reward
    with pytest.raises(ValueError, match="option_input=True needs a task with a choice at the second stage"):
        a2c.init_state(TINY, agent, [0])


def test_a_network_given_the_option_input_starts_from_a_run_without_it_computing_the_same():
    source = a2c.train(a2c.init_state(TINY_DRIFT, AGENT, [0, 1]), 20, progress=False)
    widened = checkpoints.warm_start(a2c.init_state(TINY_DRIFT, configs.AgentConfig(option_input=True), [0, 1]), source)
    assert widened.params.kernel.shape == (2, env.OBS_SIZE + 4 + 48, 4 * 48)
    np.testing.assert_array_equal(widened.params.kernel[:, env.OBS_SIZE : env.OBS_SIZE + 4], 0)
    before, after = a2c.evaluate(source, 10), a2c.evaluate(widened, 10)
    np.testing.assert_array_equal(before["action"], after["action"])
    np.testing.assert_allclose(before["prob"], after["prob"], atol=1e-5)
    with pytest.raises(ValueError, match=r"reads inputs this network does not \(option 0, option 1, option 2, option 3\): the networks differ"):
        checkpoints.warm_start(a2c.init_state(TINY_DRIFT, AGENT, [0, 1]), widened)


def test_a_network_of_a_task_with_stakes_starts_from_one_without_them_reading_the_stake_with_zero_weights():
    """A curriculum: an agent of Daw et al.'s task goes on in Kool et al.'s with stakes; it computes what
    it computed on the inputs it had, and the stake's row starts at zero (its RMSProp slot at one)."""
    source = a2c.train(a2c.init_state(TINY_DRIFT, configs.AgentConfig(option_input=True), [0, 1]), 20, progress=False)
    task = dataclasses.replace(configs.preset("kool2017-daw-stakes"), trials_per_episode=TINY_DRIFT.trials_per_episode)
    stakes = checkpoints.warm_start(a2c.init_state(task, configs.AgentConfig(option_input=True), [0, 1]), source)
    names = checkpoints.input_names(stakes.agent, task)
    assert names[-1] == "stake" and stakes.params.kernel.shape == (2, len(names) + 48, 4 * 48)
    np.testing.assert_array_equal(np.delete(stakes.params.kernel, len(names) - 1, axis=1), source.params.kernel)
    np.testing.assert_array_equal(stakes.params.kernel[:, len(names) - 1], 0)
    np.testing.assert_array_equal(stakes.rms.kernel[:, len(names) - 1], 1)
    high = np.full((5, TINY_DRIFT.trials_per_episode), task.high_stake)
    walks = a2c.evaluate(source, 5)["probs"][0]
    before, after = a2c.evaluate(source, reward_probs=walks), a2c.evaluate(stakes, reward_probs=walks, stakes=high)
    np.testing.assert_array_equal(before["action"], after["action"])  # at the high stake a win reads 1 (reward_unit 5), as before


def test_schedules_reach_zero_and_stay_there():
    assert a2c.linear_decay(0.01, tf.constant(5, tf.int64), 0) == 0.01  # 0: constant
    np.testing.assert_allclose([a2c.linear_decay(0.01, tf.constant(e, tf.int64), 10).numpy() for e in (0, 5, 10, 20)], [0.01, 0.005, 0, 0])


def test_training_several_episodes_per_update_needs_whole_updates(tmp_path):
    state = a2c.init_state(TINY, configs.AgentConfig(episodes_per_update=4), [0])
    with pytest.raises(ValueError, match="episodes=6: expected a multiple of episodes_per_update=4"):
        a2c.train(state, 6, progress=False)
    with pytest.raises(ValueError, match="save_every=10: expected a multiple of episodes_per_update=4"):
        a2c.train(state, 8, out=str(tmp_path), run=configs.RunConfig(save_every=10), progress=False)
    trained = a2c.train(state, 8, progress=False)
    assert trained.episode == 8


def test_gradient_of_value_loss_matches_finite_differences():
    """The compiled loss's gradient is a true gradient: check one weight by central differences."""
    task, params = TINY, random_params(seeds=1)
    uniforms = a2c.episode_uniforms(task, tf.constant([0], tf.int64), tf.constant(0, tf.int64))

    def loss(value_weights):
        p = params._replace(value=value_weights)
        steps, _, _ = a2c.rollout(task, AGENT, a2c._as_tensors(p), tf.constant([S2]), uniforms)
        return tf.reduce_sum(a2c.episode_losses(AGENT, steps)[1])  # value loss only

    w = tf.constant(params.value.astype(np.float64).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(w)
        y = loss(w)
    grad = tape.gradient(y, w).numpy()[0, 3, 0]
    eps = 1e-2
    bump = np.zeros_like(params.value)
    bump[0, 3, 0] = eps
    numeric = (loss(w + bump).numpy() - loss(w - bump).numpy()) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=2e-2)


@pytest.mark.slow
@pytest.mark.parametrize("task, agent", [
    (configs.preset("biorxiv-final"), AGENT),
    (configs.TaskConfig(trials_per_episode=40, steps_per_trial=2, rewards="drift"),
     configs.AgentConfig(episodes_per_update=4, gae_lambda=0.8, entropy_decay_episodes=200, learning_rate_decay_episodes=400, option_input=True)),
    (dataclasses.replace(configs.preset("daw-2011"), trials_per_episode=40), AGENT),
    (dataclasses.replace(configs.preset("kool2017-novel-stakes"), trials_per_episode=40), AGENT),
], ids=["reference", "batched, annealed, GAE, option input", "daw-2011", "kool2017-novel-stakes"])
def test_seed_trained_in_a_group_equals_seed_trained_alone(task, agent):
    group = a2c.train(a2c.init_state(task, agent, range(8)), 300, progress=False)
    alone = a2c.train(a2c.init_state(task, agent, [3]), 300, progress=False)
    group_records = a2c.evaluate(group, 20)
    alone_records = a2c.evaluate(alone, 20)
    np.testing.assert_array_equal(group_records["action"][3], alone_records["action"][0])
    assert group.good_state[3] == alone.good_state[0]
    for name, g, a in zip(checkpoints.Params._fields, group.params, alone.params):
        np.testing.assert_array_equal(np.asarray(g)[3], np.asarray(a)[0], err_msg=name)


def test_training_is_repeatable():
    task = TINY
    first = a2c.train(a2c.init_state(task, AGENT, [0, 1]), 50, progress=False)
    second = a2c.train(a2c.init_state(task, AGENT, [0, 1]), 50, progress=False)
    for f, s in zip(first.params + first.rms, second.params + second.rms):
        np.testing.assert_array_equal(np.asarray(f), np.asarray(s))


THREADS_CHILD = """
import hashlib, os
import a2c_lstm as a2c
from twostep import configs
state = a2c.train(a2c.init_state(configs.preset("biorxiv-final"), configs.AgentConfig(), range(8)), 20, progress=False)
print(os.environ["TF_NUM_INTRAOP_THREADS"], hashlib.sha256(b"".join(w.tobytes() for w in state.params + state.rms)).hexdigest())
"""


@pytest.mark.slow
def test_one_thread_per_operation_unless_set_and_the_same_bits_either_way():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    runs = []
    for threads in (None, "2"):
        environment = {k: v for k, v in os.environ.items() if k != "TF_NUM_INTRAOP_THREADS"}
        environment.update({"TF_NUM_INTRAOP_THREADS": threads} if threads else {})
        child = subprocess.run([sys.executable, "-c", THREADS_CHILD], env=environment, cwd=root, capture_output=True, text=True)
        assert child.returncode == 0, child.stderr[-2000:]
        runs.append(child.stdout.split())
    (default_threads, default_bits), (set_threads, set_bits) = runs
    assert (default_threads, set_threads) == ("1", "2")
    assert default_bits == set_bits


def test_evaluate_records_shapes_and_frozen_weights():
    task = configs.preset("arxiv")
    state = a2c.init_state(task, AGENT, [0, 1, 2])
    before = [np.array(w) for w in state.params]
    records = a2c.evaluate(state, 7)
    assert set(records) == set(a2c.TRIAL_RECORDS)
    for key, array in records.items():
        assert array.shape == (3, 7, 10), key
    assert set(np.unique(records["state"])) <= {S2, S3}
    assert np.all((records["prob"] > 0) & (records["prob"] < 1))
    for b, w in zip(before, state.params):
        np.testing.assert_array_equal(b, w)
    again = a2c.evaluate(state, 7)
    np.testing.assert_array_equal(records["action"], again["action"])


def test_the_drifting_task_replays_given_walks_and_pays_the_option_chosen():
    """Daw et al.'s task: the records hold the walk played, the reward follows the option chosen in
    the state reached, and the good state is the one holding the best option."""
    import dataclasses

    task = dataclasses.replace(configs.preset("daw-2011"), trials_per_episode=12)
    state = a2c.init_state(task, AGENT, [0, 1])
    rng = np.random.default_rng(3)
    walks = env.drift_walk(task, rng.random((5, 4)), 3 * rng.standard_normal((5, 11, 4)))  # large steps: both states lead at times
    walks[0] = [0.0, 0.0, 0.0, 1.0]  # episode 0: only option 1 of S3 pays, and always
    records = a2c.evaluate(state, reward_probs=walks)
    assert set(records) == set(a2c.TRIAL_RECORDS) | set(a2c.DRIFT_RECORDS)
    assert records["action"].shape == (2, 5, 12) and records["probs"].shape == (2, 5, 12, 4)
    np.testing.assert_allclose(records["probs"], np.broadcast_to(walks, (2, 5, 12, 4)), atol=1e-7)
    np.testing.assert_array_equal(records["reward"][:, 0], (records["state"][:, 0] == S3) & (records["choice2"][:, 0] == 1))
    np.testing.assert_array_equal(records["good_state"], env.best_state(walks[None].astype(np.float32)).repeat(2, axis=0))
    assert set(np.unique(records["good_state"][:, 1:])) == {S2, S3}
    per_seed = a2c.evaluate(state, reward_probs=np.stack([walks, walks[::-1]]))
    np.testing.assert_array_equal(per_seed["probs"][1], records["probs"][1, ::-1])
    with pytest.raises(ValueError, match=r"reward_probs has shape \(3, 5, 12, 4\): expected \[episode, trial, 4\] or \[2 seeds"):
        a2c.evaluate(state, reward_probs=np.stack([walks] * 3))
    with pytest.raises(ValueError, match="reward_probs given for .*rewards='swap'"):
        a2c.evaluate(a2c.init_state(TINY, AGENT, [0]), reward_probs=walks)


KOOL_TASKS = {name: dataclasses.replace(configs.preset(name), trials_per_episode=12)
              for name in ("kool2016-novel", "kool2017-novel-stakes", "kool2017-daw-stakes")}


class ReplayedDraws:
    """A Gymnasium task's random generator that hands out the compiled rollout's uniforms, trial by trial."""

    def __init__(self, uniforms):
        self.rows = iter(uniforms)

    def random(self, size):
        return next(self.rows)[:size]


@pytest.mark.parametrize("name", list(KOOL_TASKS))
def test_the_compiled_agent_plays_kool_et_als_tasks_as_the_gymnasium_task_does(name):
    """The network's every input is the Gymnasium observation (the trial's cues from the step before
    its choice; the pay, points or win times the stake, over reward_unit), and the compiled task
    moves and pays as the Gymnasium task does on the same draws, walk, states and stakes."""
    task = KOOL_TASKS[name]
    state = a2c.init_state(task, AGENT, [0, 1])
    seed_ids = tf.constant([0, 1], tf.int64)
    episode = tf.constant(3, tf.int64)
    uniforms, walk = a2c.episode_uniforms(task, seed_ids, episode), a2c.episode_walk(task, seed_ids, episode)
    state1, stakes = (t.numpy() for t in a2c.episode_cues(task, uniforms))
    steps, trials, _ = a2c.rollout(task, AGENT, a2c._as_tensors(state.params), tf.constant(state.good_state), uniforms, walk, backprop=True)
    inputs, actions = steps["input"].numpy(), steps["action"].numpy()
    assert inputs.shape[-1] == env.observation_size(task) and task.reward_unit == {"kool2016-novel": 5, "kool2017-novel-stakes": 45,
                                                                                   "kool2017-daw-stakes": 5}[name]
    walk_key = "points" if task.rewards == configs.POINTS else "reward_probs"
    for seed in range(2):
        game = env.TwoStepTask(task)
        obs, _ = game.reset(options={walk_key: walk.numpy()[seed], "state1": state1[seed], "stakes": stakes[seed]})
        game.np_random = ReplayedDraws(uniforms.numpy()[seed])
        for t in range(task.steps_per_episode):
            obs[env.N_STATES] /= task.reward_unit
            np.testing.assert_allclose(inputs[t, seed], obs, rtol=1e-6, err_msg=f"seed {seed}, step {t}")
            obs, reward, _, _, info = game.step(int(actions[t, seed]))
            if t % 2:
                trial = t // 2
                assert info["state"] == trials["state"][trial, seed]
                assert reward == pytest.approx(trials["reward"][trial, seed] * stakes[seed, trial])
                assert reward / task.reward_unit == pytest.approx(steps["reward"][t, seed])
    assert set(np.unique(stakes)) == ({1.0, 5.0} if task.has_stakes else {1.0})
    assert set(np.unique(state1)) == ({0, 1} if task.first_states > 1 else {0})


def test_kool_et_als_tasks_replay_a_persons_points_states_and_stakes():
    task = KOOL_TASKS["kool2017-novel-stakes"]
    state = a2c.init_state(task, AGENT, [0, 1])
    rng = np.random.default_rng(0)
    points = env.points_walk(task, rng.random((3, 2)), rng.standard_normal((3, 11, 2)))
    state1, stakes = rng.integers(0, 2, (3, 12)), np.where(rng.random((3, 12)) < 0.5, 5.0, 1.0)
    records = a2c.evaluate(state, points=points, state1=state1, stakes=stakes)
    assert set(records) == set(a2c.TRIAL_RECORDS) | {"state1", "stake", "points"}
    np.testing.assert_array_equal(records["points"], np.broadcast_to(points, (2, 3, 12, 2)))
    np.testing.assert_array_equal(records["state1"], np.broadcast_to(state1, (2, 3, 12)))
    np.testing.assert_array_equal(records["stake"], np.broadcast_to(stakes, (2, 3, 12)))
    np.testing.assert_array_equal(records["reward"], np.take_along_axis(records["points"], (records["state"] - S2)[..., None], -1)[..., 0])
    np.testing.assert_array_equal(records["state"] - S2, records["action"])  # action k leads to S2 + k, always
    drawn = a2c.evaluate(state, points=points)  # what is not given is drawn
    np.testing.assert_array_equal(drawn["points"][0], points)
    assert not np.array_equal(drawn["stake"], records["stake"])
    for given, message in [({"stakes": np.full((3, 12), 2.0)}, r"stakes has shape \(3, 12\) or values other than 1 and 5"),
                           ({"points": points, "stakes": stakes[:2]}, r"the given episodes differ in number: \{'walk': 3, 'stake': 2\}"),
                           ({"reward_probs": np.full((3, 12, 4), 0.5)}, r"reward_probs given for a task \(rewards='points', high_stake=5.0\): only the drifting task's"),
                           ({"state1": state1[:, :5]}, r"state1 has shape \(3, 5\)")]:
        with pytest.raises(ValueError, match=message):
            a2c.evaluate(state, **given)
    with pytest.raises(ValueError, match=r"the agent reads the cues \['state1', 'stake'\] and this task has none"):
        a2c.evaluate(state, 2, task=configs.preset("daw-2011"))


def test_an_agent_of_one_cue_is_refused_a_task_of_another_cue():
    state = a2c.init_state(KOOL_TASKS["kool2016-novel"], AGENT, [0])
    with pytest.raises(ValueError, match=r"the agent reads the cues \['state1'\] and this task has \['stake'\]"):
        a2c.evaluate(state, 2, task=KOOL_TASKS["kool2017-daw-stakes"])


@pytest.mark.parametrize("task, agent", [(TINY, AGENT), (TINY_TWO_STEP, AGENT), (TINY, configs.AgentConfig(reference_first_action=True))])
def test_evaluate_internals_add_lstm_states_and_outcome_values_without_changing_play(task, agent):
    state = a2c.init_state(task, agent, [0, 1])
    plain, inside = a2c.evaluate(state, 4), a2c.evaluate(state, 4, internals=True)
    assert set(inside) == set(a2c.TRIAL_RECORDS) | set(a2c.INTERNAL_RECORDS)
    for key in plain:
        np.testing.assert_array_equal(plain[key], inside[key])
    n = task.trials_per_episode
    assert inside["hidden"].shape == inside["cell"].shape == (2, 4, n, agent.hidden)
    # replay seed 1's first episode step by step: the recorded state is the one that chose the action
    params = checkpoints.Params(*(tf.constant(w[1:2]) for w in state.params))
    h = c = tf.zeros([1, agent.hidden])
    prev_state, prev_reward = S1, 0.0
    prev_action = tf.constant([[1.0, 0.0]]) if agent.reference_first_action else tf.zeros([1, 2])  # the reference's one_hot(0)
    for trial in range(n):
        x = a2c.agent_input(tf.constant([prev_state]), tf.constant([prev_reward]), prev_action, 2 * trial, AGENT.timestep_scale)
        h, c = a2c.lstm_step(params, x, h, c)
        np.testing.assert_allclose(h[0], inside["hidden"][1, 0, trial], atol=1e-5)
        np.testing.assert_allclose(c[0], inside["cell"][1, 0, trial], atol=1e-5)
        np.testing.assert_allclose(a2c.heads(params, h)[1][0], inside["value"][1, 0, trial], atol=1e-5)
        action, reached, reward = (inside[k][1, 0, trial] for k in ("action", "state", "reward"))
        if task.steps_per_trial == 2:
            x2 = a2c.agent_input(tf.constant([reached]), tf.constant([0.0]), tf.one_hot([action], 2), 2 * trial + 1, AGENT.timestep_scale)
            h, c = a2c.lstm_step(params, x2, h, c)
            np.testing.assert_allclose(a2c.heads(params, h)[1][0], inside["outcome_value"][1, 0, trial], atol=1e-5)
            break  # the second-stage action is not recorded: the first trial checks the two-step layout
        prev_state, prev_reward, prev_action = reached, reward, tf.one_hot([action], 2)
    if task.steps_per_trial == 1:
        np.testing.assert_array_equal(inside["outcome_value"], inside["value"])


def test_timestep_scale_scales_only_the_counter_input():
    state, reward, action = tf.constant([0, 2]), tf.constant([1.0, 0.0]), tf.one_hot([1, 0], env.N_ACTIONS)
    raw = a2c.agent_input(state, reward, action, 150, timestep_scale=1.0).numpy()
    scaled = a2c.agent_input(state, reward, action, 150, timestep_scale=0.005).numpy()
    np.testing.assert_array_equal(raw[:, :-1], scaled[:, :-1])
    np.testing.assert_array_equal(raw[:, -1], [150.0, 150.0])
    np.testing.assert_allclose(scaled[:, -1], [0.75, 0.75], rtol=1e-6)


@pytest.mark.parametrize("field, value", [("timestep_scale", -0.5), ("learning_rate", -1e-3), ("hidden", 0), ("episodes_per_update", 0),
                                          ("gae_lambda", 1.5), ("entropy_decay_episodes", -1), ("learning_rate_decay_episodes", 2.5),
                                          ("option_input", 1)])
def test_invalid_agent_config_names_field_and_value(field, value):
    with pytest.raises(ValueError, match=f"AgentConfig.{field}={value!r}: expected"):
        configs.AgentConfig(**{field: value})


def test_checkpoint_round_trip_and_reference_layout(tmp_path):
    task, agent = TINY, configs.AgentConfig(timestep_scale=0.25)  # a non-default agent must come back as saved
    state = a2c.train(a2c.init_state(task, agent, [2, 3]), 30, out=str(tmp_path), progress=False, run=configs.RunConfig(save_every=20))
    assert os.path.isdir(tmp_path / "model_3" / "model-20") and os.path.isdir(tmp_path / "model_3" / "model-30")
    loaded = checkpoints.load_model(tmp_path / "model_3" / "model-30")
    assert loaded.seeds == (3,) and loaded.episode == 30 and loaded.task == task and loaded.agent == agent
    for name, original, restored in zip(checkpoints.Params._fields, state.params + state.rms, loaded.params + loaded.rms):
        np.testing.assert_array_equal(np.asarray(original)[1], restored[0], err_msg=name)
    a, b = a2c.evaluate(state, 10), a2c.evaluate(loaded, 10)
    for key in a:
        np.testing.assert_array_equal(a[key][1], b[key][0], err_msg=key)


def test_load_model_wrong_path_lists_existing_checkpoints(tmp_path):
    a2c.train(a2c.init_state(TINY, AGENT, [0]), 20, out=str(tmp_path), progress=False, run=configs.RunConfig(save_every=10))
    wrong = tmp_path / "model_0" / "model-25"
    with pytest.raises(FileNotFoundError) as error:
        checkpoints.load_model(wrong)
    message = str(error.value)
    assert str(wrong) in message and "model-10" in message and "model-20" in message


def test_tensorboard_tags_every_ten_episodes(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    a2c.train(a2c.init_state(TINY, AGENT, [0, 1]), 40, out=str(tmp_path), progress=False, run=configs.RunConfig(log_every=20))
    for seed in (0, 1):
        events = EventAccumulator(str(tmp_path / f"train_{seed}"), size_guidance={"tensors": 0})
        events.Reload()
        tags = set(events.Tags()["tensors"])
        expected = {"Perf/Reward", "Perf/Length", "Perf/Value", "Losses/Value Loss", "Losses/Policy Loss"}
        expected |= {"Losses/Entropy", "Losses/Grad Norm", "Losses/Var Norm"}
        assert expected | {f"Stay/{c}" for c in env.STAY_CELLS} <= tags
        assert [e.step for e in events.Tensors("Perf/Reward")] == [10, 20, 30, 40]
        assert [e.step for e in events.Tensors("Stay/rewarded, common")] == [20, 40]
        rewards = [float(tf.make_ndarray(e.tensor_proto)) for e in events.Tensors("Perf/Reward")]
        assert all(0 <= r <= TINY.trials_per_episode for r in rewards)


def test_stay_probabilities_match_a_direct_count():
    rng = np.random.default_rng(4)
    action, common, reward = (rng.integers(2, size=(2, 5, 20)) for _ in range(3))
    probs, counts = stay_probabilities(action, common, reward)
    for s in range(2):
        stays, totals = np.zeros(4), np.zeros(4)
        for e in range(5):
            for t in range(1, 20):
                cell = 2 * (1 - reward[s, e, t - 1]) + (1 - common[s, e, t - 1])
                totals[cell] += 1
                stays[cell] += action[s, e, t] == action[s, e, t - 1]
        np.testing.assert_array_equal(counts[s], totals)
        np.testing.assert_allclose(probs[s], stays / totals)


@pytest.mark.parametrize(
    "argv, reason",
    [
        (["train", "--task", "nope", "--episodes", "10"], "invalid choice: 'nope'"),
        (["train", "--task", "arxiv", "--episodes", "0"], "invalid value '0'"),
        (["train", "--task", "arxiv", "--episodes", "10", "--seeds", "3-1"], "invalid seeds '3-1'"),
        (["train", "--task", "arxiv", "--episodes", "10", "--seeds", "a"], "invalid seeds 'a'"),
        (["evaluate", "--model", "MISSING/model_0/model-5"], "no checkpoint or run folder at"),
        (["evaluate", "--model", "x", "--episodes", "-3"], "invalid value '-3'"),
        (["train", "--task", "arxiv", "--episodes", "10", "--learning-rate", "0"], "AgentConfig.learning_rate=0.0: expected a value > 0"),
        (["train", "--task", "arxiv", "--episodes", "10", "--timestep-scale", "-1"], "AgentConfig.timestep_scale=-1.0: expected a value >= 0"),
    ],
)
def test_bad_command_line_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, argv, reason):
    out = tmp_path / "out"
    argv = [a.replace("MISSING", str(tmp_path)) for a in argv]
    if argv[0] == "train":
        argv += ["--out", str(out)]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and reason in err
    assert not out.exists() and not glob.glob(str(tmp_path / "*"))


def test_help_documents_every_flag(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = capsys.readouterr().out
    for flag in ("--task", "--seeds", "--episodes", "--out", "--save-every", "--log-every", "--hidden", "--overwrite",
                 "--learning-rate", "--entropy-weight", "--timestep-scale"):
        assert flag in text


def test_scalar_writer_records_read_back_as_tf_summary_writes_them(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    written = {10: {"A": 1.5, "B": -2.0}, 20: {"A": 3.25, "B": 0.0}, 30: {"B": 7.0, "A": -0.5}, 40: {"C": 1e-3}}
    writer = events.ScalarWriter(str(tmp_path / "ours"))
    for step, values in written.items():
        writer.scalars(step, values)
    writer.close()
    with tf.summary.create_file_writer(str(tmp_path / "tf_summary")).as_default():
        for step, values in written.items():
            for tag, value in values.items():
                tf.summary.scalar(tag, value, step=step)
    read = {}
    for run in ("ours", "tf_summary"):
        accumulator = EventAccumulator(str(tmp_path / run), size_guidance={"tensors": 0})
        accumulator.Reload()
        assert {accumulator.SummaryMetadata(tag).plugin_data.plugin_name for tag in "ABC"} == {"scalars"}
        read[run] = {tag: [(e.step, e.tensor_proto) for e in accumulator.Tensors(tag)] for tag in "ABC"}
    assert read["ours"] == read["tf_summary"]
    for tag, points in read["ours"].items():
        expected = [(step, np.float32(values[tag])) for step, values in written.items() if tag in values]
        assert [(step, tf.make_ndarray(proto)) for step, proto in points] == expected


def test_resuming_repairs_an_event_file_cut_short_by_a_kill(tmp_path):
    run_dir = str(tmp_path / "train_0")
    writer = events.ScalarWriter(run_dir)
    for step in (10, 20, 30):
        writer.scalars(step, {"Perf/Reward": step / 10})
    writer.close()
    (event_file,) = glob.glob(os.path.join(run_dir, "*tfevents*"))
    with open(event_file, "ab") as f:  # a record whose writer was killed half-way
        f.write(b"\x2a\x00\x00\x00\x00\x00\x00\x00garbage")
    events.drop_events_after(run_dir, 20)
    steps, values = events.read_scalars(run_dir, "Perf/Reward")
    assert list(steps) == [10, 20] and list(values) == [1.0, 2.0]
