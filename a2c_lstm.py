"""Single-worker A2C with an LSTM on the two-step task (Wang et al. 2016, 2018).

The agent is one A3C worker: an LSTM of 48 units (TF1 `LSTMCell` semantics) reading the
observation, the previous reward, the previous action and the step counter, with a softmax
policy head and a value head, both linear without bias. After every episode it makes one
RMSProp update from that episode alone (gamma 0.9, GAE lambda 1, bootstrap 0); other recipes
(several episodes per update, GAE lambda < 1, decaying entropy bonus and learning rate) are
`AgentConfig` fields.

Many seeds train side by side: every weight, optimiser slot and random stream carries a
leading seed axis, and one whole update for all seeds (rollout, returns, advantages, loss,
gradients by backpropagation through time, update) is one call of a `tf.function(jit_compile=True)`.
Seeds never share a gradient: seed k trained in a group takes the same actions as seed k trained
alone. Random draws come from stateless generators keyed by (seed, episode).

Checkpoints, resuming and stopping on a signal are in `checkpoints.py`, TensorBoard scalars in
`events.py`, the command line in `cli.py` (`python a2c_lstm.py train ...` runs it, as `two-step
train ...` does once installed).
"""

if __name__ == "__main__":  # the command line parses its flags before TensorFlow loads
    from twostep import cli

    cli.main(prog="a2c_lstm.py")
    raise SystemExit

import dataclasses
import functools
from typing import NamedTuple

import numpy as np

import two_step_env as env
from twostep.checkpoints import BackgroundSaver, Params, TrainingInterrupted, TrainState, deferred_stop_signals, input_size, resume_point
from twostep.configs import DRIFT, POINTS, S1, S2, S3, AgentConfig, RunConfig, TaskConfig, preset_name
from twostep.events import REWARD_LOG_EVERY, open_windows, seed_writers, write_scalars, write_stay_probabilities
from twostep.progress import progress_bar
from twostep.quiet_tensorflow import tf

UNIFORMS_PER_TRIAL = 5  # u_swap, u_transition, u_reward (two_step_env), u_action stage 1, stage 2
EVAL_STREAM = 2**40  # evaluation episodes draw from keys (seed, EVAL_STREAM + episode)
INIT_STREAM = 2**41  # initial weights and good state draw from key (seed, INIT_STREAM)
WALK_STREAM = 2**42  # the drifting task's walk of an episode draws from key (seed, WALK_STREAM + episode)
PLAIN_LINE_EVERY = 500  # outside a terminal, training reports a plain line every 500 episodes (or 30 s)
TRIAL_RECORDS = {  # what `evaluate` returns per trial, [seed, episode, trial]
    "action": tf.int32,  # first-stage action
    "state": tf.int32,  # second-stage state reached (S2 or S3)
    "common": tf.bool,  # whether the transition was common
    "reward": tf.float32,
    "prob": tf.float32,  # probability the policy gave the chosen first-stage action
    "value": tf.float32,  # value estimate at the first-stage step
    "good_state": tf.int32,  # Wang et al.'s task: the state paying 0.9 this trial; the drifting task: the state holding the best option
}
DRIFT_RECORDS = {  # what the drifting task (Daw et al. 2011) adds per trial
    "choice2": tf.int32,  # the option chosen at the second stage
    "probs": tf.float32,  # [.., 4] the four reward probabilities of the trial (two_step_env.OPTIONS)
}
KOOL_RECORDS = {  # what Kool et al.'s tasks add per trial, each where the task has it; "reward" is then the points or win, before the stake
    "state1": tf.int32,  # the first-stage state, 0/1 (novel paradigm)
    "stake": tf.float32,  # the trial's stake, 1 or the high stake (stakes)
    "points": tf.float32,  # [.., 2] the points of S2 and S3 at the trial (novel paradigm)
}
INTERNAL_RECORDS = {  # what `evaluate(..., internals=True)` adds per trial
    "outcome_value": tf.float32,  # value estimate at the step where the trial's reward arrives
    "hidden": tf.float32,  # [.., hidden] LSTM output h after the step that chose the action
    "cell": tf.float32,  # [.., hidden] LSTM cell state c after that step
}
TRAILING_AXIS_RECORDS = ("hidden", "cell", "probs", "points")  # records with a trailing axis ([hidden], [4] or [2])


def record_types(task: TaskConfig, internals):
    """{name: dtype} of the per-trial records: `TRIAL_RECORDS`, `DRIFT_RECORDS` in the drifting task,
    `KOOL_RECORDS` where the task has them, and with `internals` `INTERNAL_RECORDS`."""
    kool = [*env.cue_names(task), *["points"] * (task.rewards == POINTS)]
    return dict(TRIAL_RECORDS, **(DRIFT_RECORDS if task.second_stage_choice else {}), **{name: KOOL_RECORDS[name] for name in kool},
                **(INTERNAL_RECORDS if internals else {}))


# ---------------------------------------------------------------- initialisation


def column_normalised(rng, shape, std):
    """Gaussian weights scaled so that every output column has L2 norm `std` (A3C's initialiser)."""
    weights = rng.standard_normal(shape).astype(np.float32)
    return weights * (std / np.sqrt(np.square(weights).sum(axis=0, keepdims=True)))


def init_seed(task: TaskConfig, agent: AgentConfig, seed: int):
    """One seed's weights (Glorot-uniform LSTM kernel, zero bias, column-normalised heads) and good state."""
    rng = np.random.default_rng([seed, INIT_STREAM])
    fan_in, fan_out = input_size(agent, task) + agent.hidden, 4 * agent.hidden
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    params = Params(
        kernel=rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32),
        bias=np.zeros(fan_out, np.float32),
        policy=column_normalised(rng, (agent.hidden, env.N_ACTIONS), agent.policy_init_std),
        value=column_normalised(rng, (agent.hidden, 1), agent.value_init_std),
    )
    return params, S2 + int(rng.integers(2))


def init_state(task: TaskConfig, agent: AgentConfig, seeds) -> TrainState:
    """A fresh group of seeds; RMSProp slots start at one, as TF1's `RMSPropOptimizer` does."""
    if agent.option_input and not task.second_stage_choice:
        raise ValueError(f"option_input=True needs a task with a choice at the second stage (rewards={DRIFT!r}), not rewards={task.rewards!r}")
    seeds = tuple(int(s) for s in seeds)
    inits = [init_seed(task, agent, s) for s in seeds]
    params = Params(*(np.stack(ws) for ws in zip(*(p for p, _ in inits))))
    return TrainState(
        task=task,
        agent=agent,
        seeds=seeds,
        episode=0,
        params=params,
        rms=Params(*(np.ones_like(w) for w in params)),
        good_state=np.array([g for _, g in inits], np.int32),
    )


# ---------------------------------------------------------------- network


def per_seed_matvec(x, w, bias=None):
    """x [S * E, n] times w [S, n, m] (plus bias [S, m]) -> [S * E, m], each seed's E rows (episodes
    played side by side, `AgentConfig.episodes_per_update`) with that seed's weights (a batched dot)."""
    n_seeds, rows = w.shape[0], x.shape[0]
    if rows == n_seeds:
        y = tf.einsum("si,sij->sj", x, w)
        return y if bias is None else y + bias
    y = tf.einsum("sei,sij->sej", tf.reshape(x, [n_seeds, rows // n_seeds, -1]), w)
    return tf.reshape(y if bias is None else y + bias[:, None], [rows, -1])


def lstm_gates(params: Params, x, h):
    """The gates' pre-activations z = [x, h] W + b, blocks i, j, f, o (TF1 LSTMCell)."""
    return per_seed_matvec(tf.concat([x, h], axis=-1), params.kernel, params.bias)


def lstm_cell(z, c):
    """c' = sig(f + 1) c + sig(i) tanh(j); h' = sig(o) tanh(c') (TF1 LSTMCell, forget bias 1): (h', c')."""
    i, j, f, o = tf.split(z, 4, axis=-1)
    c = tf.sigmoid(f + 1.0) * c + tf.sigmoid(i) * tf.tanh(j)
    return tf.sigmoid(o) * tf.tanh(c), c


def lstm_step(params: Params, x, h, c):
    """One TF1 LSTMCell step: (h', c')."""
    return lstm_cell(lstm_gates(params, x, h), c)


def heads(params: Params, h):
    """Policy logits [S * E, 2] and value [S * E] from the LSTM output, both linear without bias."""
    logits = per_seed_matvec(h, params.policy)
    value = per_seed_matvec(h, params.value)[:, 0]
    return logits, value


def agent_input(state, prev_reward, prev_action, step_counter, timestep_scale):
    """[S, 7]: one-hot state, previous reward, one-hot previous action (zeros at the start), and
    the step counter times `timestep_scale`."""
    counter = tf.fill(tf.shape(prev_reward), tf.cast(step_counter, tf.float32) * timestep_scale)
    return tf.concat(
        [tf.one_hot(state, env.N_STATES), prev_reward[:, None], prev_action, counter[:, None]], axis=-1
    )


def first_action_input(agent: AgentConfig, n_seeds):
    """[S, 2]: the previous-action input at an episode's first step: zeros, or the reference's one_hot(0)."""
    if agent.reference_first_action:
        return tf.one_hot(tf.zeros([n_seeds], tf.int32), env.N_ACTIONS)
    return tf.zeros([n_seeds, env.N_ACTIONS])


def sample_action(logits, u):
    """Inverse-CDF sample from softmax(logits) with uniforms u [S]: action 1 iff u >= pi(0)."""
    return tf.cast(u >= tf.nn.softmax(logits)[:, 0], tf.int32)


# ---------------------------------------------------------------- rollout


def episode_uniforms(task: TaskConfig, seed_ids, episode):
    """[S, trials, 5] uniforms, each row's from the stateless key (seed, episode); `episode` is
    one number or one per row."""
    shape = [task.trials_per_episode, UNIFORMS_PER_TRIAL]
    episodes = tf.broadcast_to(episode, tf.shape(seed_ids))
    return tf.stack(
        [
            tf.random.stateless_uniform(shape, seed=tf.stack([seed_ids[k], episodes[k]]), alg="philox")
            for k in range(seed_ids.shape[0])
        ]
    )


def has_walk(task: TaskConfig):
    """Whether the task's rewards follow a walk drawn per episode: the drifting task's four
    probabilities or the novel paradigm's points of S2 and S3."""
    return task.rewards in (DRIFT, POINTS)


def episode_walk(task: TaskConfig, seed_ids, episode):
    """[S, trials, 4] the drifting task's fresh walk of each row ([S, trials, 2] the novel
    paradigm's points), from the stateless key (seed, WALK_STREAM + episode); `episode` is one
    number or one per row."""
    walks = []
    width = 2 if task.rewards == POINTS else len(env.OPTIONS)
    episodes = tf.broadcast_to(episode, tf.shape(seed_ids))
    for k in range(seed_ids.shape[0]):
        start, steps = tf.split(
            tf.random.stateless_normal([task.trials_per_episode, width], seed=tf.stack([seed_ids[k], WALK_STREAM + episodes[k]]), alg="philox"),
            [1, task.trials_per_episode - 1],
        )
        uniforms = 0.5 * (1.0 + tf.math.erf(start[0] / np.sqrt(2.0)))  # one normal draw per option, uniform through its CDF
        walks.append((uniforms, steps))
    walk = env.tf_points_walk if task.rewards == POINTS else env.tf_drift_walk
    return walk(task, tf.stack([u for u, _ in walks]), tf.stack([z for _, z in walks]))


def episode_cues(task: TaskConfig, uniforms):
    """Each trial's first-stage state [S, trials] int32 and stake [S, trials] float32, drawn from
    uniforms the task leaves idle (`two_step_env.tf_trial_cues`): the swap's for the first-stage
    state, and for the stake the swap's in Daw et al.'s task, the reward's in the novel paradigm
    (whose points are not drawn). The other tasks' draws are untouched."""
    return env.tf_trial_cues(task, uniforms[..., 0], uniforms[..., 2 if task.rewards == POINTS else 0])


def felt_reward(task: TaskConfig, reward, stake):
    """What the network reads and learns from: the pay (reward [S] times stake [S]) over
    `TaskConfig.reward_unit`; in Wang et al.'s and Daw et al.'s tasks the reward itself."""
    return reward if task.reward_unit == 1.0 else reward * stake / task.reward_unit


class Carry(NamedTuple):
    """What one trial of the rollout hands to the next."""

    n: tf.Tensor  # trial index
    h: tf.Tensor  # LSTM output [S, hidden]
    c: tf.Tensor  # LSTM cell [S, hidden]
    good: tf.Tensor  # good state [S] (Wang et al.'s task)
    prev_state: tf.Tensor  # state the next LSTM step sees [S]
    prev_reward: tf.Tensor  # [S]
    prev_action: tf.Tensor  # one-hot [S, 2], or zeros at an episode's start
    prev_option: tf.Tensor  # one-hot [S, 4] of the option chosen at the step before (`AgentConfig.option_input`), or zeros
    steps: dict  # per-LSTM-step TensorArrays
    trials: dict  # per-trial TensorArrays


def rollout(task: TaskConfig, agent: AgentConfig, params: Params, good_state, uniforms, walk=None, internals=False, backprop=False,
            cues=None):
    """Run one episode for every seed. Differentiable in the logits and values.

    `walk` [S, trials, 4]: the drifting task's reward probabilities ([S, trials, 2] the novel
    paradigm's points; ignored by Wang et al.'s task). `cues`: (first-stage states, stakes), each
    [S, trials], in Kool et al.'s tasks; default `episode_cues`. The network reads, and learns from,
    the trial's pay (its reward times its stake) over `TaskConfig.reward_unit`.
    Returns (steps, trials, good_state): `steps` holds per-LSTM-step tensors [T, S] (logits
    [T, S, 2]) for the loss, and with `backprop` what `episode_gradients` needs;
    `trials` holds per-trial records [trials, S] for the analysis (`record_types`).
    """
    n_seeds = good_state.shape[0]
    hidden = params.policy.shape[1]
    n_trials, per_trial = task.trials_per_episode, task.steps_per_trial
    step_shapes = {"logits": [n_seeds, env.N_ACTIONS], "value": [n_seeds], "action": [n_seeds], "reward": [n_seeds]}
    step_types = {"logits": tf.float32, "value": tf.float32, "action": tf.int32, "reward": tf.float32}
    trailing = {"hidden": [hidden], "cell": [hidden], "probs": [4], "points": [2]}
    state1s, stakes = episode_cues(task, uniforms) if cues is None else cues
    cued = bool(env.cue_names(task))

    def with_cues(x, n):  # the trial's cues after the observation (and the option input), where the task has them
        return tf.concat([x, env.tf_cue_inputs(task, state1s[:, n], stakes[:, n])], axis=-1) if cued else x

    if backprop:  # for episode_gradients: the observation, the gates' pre-activations and c after each step
        step_shapes.update(input=[n_seeds, input_size(agent, task)], gates=[n_seeds, 4 * hidden], cell=[n_seeds, hidden])
        step_types.update(input=tf.float32, gates=tf.float32, cell=tf.float32)
    step_arrays = {k: tf.TensorArray(step_types[k], size=task.steps_per_episode, element_shape=s) for k, s in step_shapes.items()}
    trial_arrays = {
        k: tf.TensorArray(d, size=n_trials, element_shape=[n_seeds] + trailing.get(k, []))
        for k, d in record_types(task, internals).items()
    }

    def act(x, h, c, u):
        z = lstm_gates(params, x, h)
        h, c = lstm_cell(z, c)
        logits, value = heads(params, h)
        action = sample_action(logits, u)
        return h, c, logits, value, action, {"logits": logits, "value": value, "action": action, "input": x, "gates": z, "cell": c}

    def body(carry: Carry):
        n, u = carry.n, uniforms[:, carry.n]
        probs = walk[:, n] if has_walk(task) else None
        good = env.swap_good_state(task, carry.good, u[:, 0], n)
        counter = 2 * n
        # the first LSTM step of a trial sees S1 (two-step variant) or, "two steps in one", the
        # state reached in the previous trial; both arrive here as prev_state
        x = agent_input(carry.prev_state, carry.prev_reward, carry.prev_action, counter, agent.timestep_scale)
        if agent.option_input:
            x = tf.concat([x, carry.prev_option], axis=-1)
        h, c, logits, value, action, step1 = act(with_cues(x, n), carry.h, carry.c, u[:, 3])
        chose_with = {"hidden": h, "cell": c}
        reached, common = env.transition(task, action, u[:, 1])
        if per_trial == 2:  # a second LSTM step at the reached state, where the reward arrives
            x2 = agent_input(reached, tf.zeros([n_seeds]), tf.one_hot(action, env.N_ACTIONS), counter + 1, agent.timestep_scale)
            if agent.option_input:
                x2 = tf.concat([x2, tf.zeros([n_seeds, len(env.OPTIONS)])], axis=-1)
            h, c, logits2, value2, action2, step2 = act(with_cues(x2, n), h, c, u[:, 4])
            reward = env.draw_reward(task, reached, good, u[:, 2], action2, probs)
            felt = felt_reward(task, reward, stakes[:, n])
            written = [dict(step1, reward=tf.zeros_like(reward)), dict(step2, reward=felt)]
            next_state, last_action, outcome_value = tf.fill([n_seeds], S1), action2, value2
        else:
            reward = env.draw_reward(task, reached, good, u[:, 2], probs=probs)
            felt = felt_reward(task, reward, stakes[:, n])
            written = [dict(step1, reward=felt)]
            next_state, last_action, outcome_value = reached, action, value
        steps = carry.steps
        for k, values in enumerate(written):
            steps = {name: steps[name].write(n * per_trial + k, values[name]) for name in steps}
        record = {
            "action": action,
            "state": reached,
            "common": common,
            "reward": reward,
            "prob": tf.gather(tf.nn.softmax(logits), action, batch_dims=1),
            "value": value,
            "good_state": good,
            "state1": state1s[:, n],
            "stake": stakes[:, n],
        }
        if task.second_stage_choice:
            record.update(choice2=last_action, probs=probs, good_state=env.tf_best_state(probs))
        if task.rewards == POINTS:
            record.update(points=probs, good_state=tf.where(probs[:, 1] > probs[:, 0], S3, S2))
        if internals:
            record.update(outcome_value=outcome_value, **chose_with)
        trials = {name: carry.trials[name].write(n, record[name]) for name in carry.trials}
        option = tf.one_hot(env.option_index(reached, last_action), len(env.OPTIONS)) if agent.option_input else carry.prev_option
        return (Carry(n + 1, h, c, good, next_state, felt, tf.one_hot(last_action, env.N_ACTIONS), option, steps, trials),)

    zeros = tf.zeros([n_seeds, hidden])
    start = Carry(
        n=tf.constant(0),
        h=zeros,
        c=zeros,
        good=tf.convert_to_tensor(good_state, tf.int32),
        prev_state=tf.fill([n_seeds], S1),
        prev_reward=tf.zeros([n_seeds]),
        prev_action=first_action_input(agent, n_seeds),
        prev_option=tf.zeros([n_seeds, len(env.OPTIONS)]),
        steps=step_arrays,
        trials=trial_arrays,
    )
    (end,) = tf.while_loop(lambda carry: carry.n < n_trials, body, (start,), maximum_iterations=n_trials)
    return {k: v.stack() for k, v in end.steps.items()}, {k: v.stack() for k, v in end.trials.items()}, end.good


# ---------------------------------------------------------------- loss and update


def discounted_sums(x, gamma):
    """y_t = x_t + gamma y_{t+1}, y_T = 0, along the leading (time) axis of x [T, S]."""
    return tf.scan(lambda acc, xt: xt + gamma * acc, x, initializer=tf.zeros_like(x[0]), reverse=True)


def returns_and_advantages(rewards, values, gamma, gae_lambda=1.0):
    """Discounted returns (bootstrap 0) and GAE(lambda) advantages from TD errors, [T, S]."""
    next_values = tf.concat([values[1:], tf.zeros_like(values[:1])], axis=0)
    deltas = rewards + gamma * next_values - values
    return discounted_sums(rewards, gamma), discounted_sums(deltas, gamma * gae_lambda)


def linear_decay(value, episode, over):
    """`value` falling linearly to 0 at episode `over` and staying there; `value` itself if `over` is 0."""
    if not over:
        return value
    return value * tf.maximum(0.0, 1.0 - tf.cast(episode, tf.float32) / over)


def episode_targets(agent: AgentConfig, steps):
    """(returns, advantages) [T, S] of the episode's steps, constants for the loss."""
    return returns_and_advantages(steps["reward"], tf.stop_gradient(steps["value"]), agent.gamma, agent.gae_lambda)


def episode_losses(agent: AgentConfig, steps, entropy_weight=None, targets=None):
    """Per-row sums over the episode's steps: (total, value, policy, entropy), each [S]; the
    entropy bonus weighs `entropy_weight` (default `agent.entropy_weight`); `targets` are
    `episode_targets`, computed here if not given."""
    entropy_weight = agent.entropy_weight if entropy_weight is None else entropy_weight
    values = steps["value"]
    returns, advantages = targets or episode_targets(agent, steps)
    log_pi = tf.nn.log_softmax(steps["logits"])
    log_pi_taken = tf.gather(log_pi, steps["action"], batch_dims=2)
    value_loss = 0.5 * tf.reduce_sum(tf.square(returns - values), axis=0)
    policy_loss = -tf.reduce_sum(log_pi_taken * advantages, axis=0)
    entropy = -tf.reduce_sum(tf.exp(log_pi) * log_pi, axis=[0, 2])
    total = agent.value_loss_weight * value_loss + policy_loss - entropy_weight * entropy
    return total, value_loss, policy_loss, entropy


def episode_gradients(agent: AgentConfig, params: Params, steps, entropy_weight, targets, rows_per_seed=1):
    """The gradient of the episodes' total loss (`episode_losses`, averaged over each seed's
    `rows_per_seed` rows) with respect to the weights, by backpropagation through time written out:
    the loss's derivatives at every step at once, one reverse pass through the LSTM carrying
    (dL/dh, dL/dc) with a single matrix-vector product per step, then every weight's gradient as
    one product over all steps. The same numbers as `tf.GradientTape` on `episode_losses` (tested),
    without the tape's per-step accumulation of the weights' gradients. `steps` comes from
    `rollout(..., backprop=True)`, `targets` from `episode_targets`."""
    n_steps, rows = steps["value"].shape
    n_seeds = rows // rows_per_seed
    returns, advantages = targets
    log_pi = tf.nn.log_softmax(steps["logits"])
    pi = tf.exp(log_pi)
    entropy = -tf.reduce_sum(pi * log_pi, axis=-1, keepdims=True)
    taken = tf.one_hot(steps["action"], env.N_ACTIONS)
    # d/dlogits of -log pi(a) A - w H is -A (onehot(a) - pi) + w pi (log pi + H); d/dvalue of c/2 (R - v)^2 is c (v - R)
    d_logits = (-advantages[..., None] * (taken - pi) + entropy_weight * pi * (log_pi + entropy)) / rows_per_seed
    d_value = agent.value_loss_weight * (steps["value"] - returns) / rows_per_seed

    def by_seed(x):  # [T, S * E, ...] -> [T, S, E, ...]
        return tf.reshape(x, [n_steps, n_seeds, rows_per_seed] + x.shape[2:])

    i, j, f, o = tf.split(steps["gates"], 4, axis=-1)
    si, tj, sf, so, tc = tf.sigmoid(i), tf.tanh(j), tf.sigmoid(f + 1.0), tf.sigmoid(o), tf.tanh(steps["cell"])
    hidden_rows = so * tc  # h after each step
    hidden, d_logits, d_value = by_seed(hidden_rows), by_seed(d_logits), by_seed(d_value)
    d_policy = tf.einsum("tseh,tsea->sha", hidden, d_logits)
    d_value_head = tf.einsum("tseh,tse->sh", hidden, d_value)[..., None]
    policy, value = params.policy[None, :, None], params.value[None, :, None, :, 0]  # [1, S, 1, hidden, 2], [1, S, 1, hidden]
    d_hidden = tf.reshape(d_logits[..., :1] * policy[..., 0] + d_logits[..., 1:] * policy[..., 1] + d_value[..., None] * value, [n_steps, rows, -1])
    # everything of the reverse pass that does not depend on what flows back, for all steps at once
    cell_before = tf.concat([tf.zeros_like(steps["cell"][:1]), steps["cell"][:-1]], axis=0)
    through_h = so * (1.0 - tc * tc)  # dc/dh
    gate_factors = tf.concat([tj * si * (1.0 - si), si * (1.0 - tj * tj), cell_before * sf * (1.0 - sf), tc * so * (1.0 - so)], -1)
    recurrent_kernel = tf.transpose(params.kernel[:, params.kernel.shape[1] - params.policy.shape[1] :], [0, 2, 1])  # [S, 4 hidden, hidden]: how h enters the gates, transposed

    def backward(carry, t):
        dh_next, dc_next = carry
        dh = d_hidden[t] + dh_next
        dc = dc_next + dh * through_h[t]
        dz = tf.concat([dc, dc, dc, dh], -1) * gate_factors[t]
        return (per_seed_matvec(dz, recurrent_kernel), dc * sf[t]), dz

    zeros = tf.zeros_like(steps["cell"][0])
    d_gates = tf.scan(lambda carry, t: backward(carry[0], t), tf.range(n_steps), initializer=((zeros, zeros), tf.zeros_like(steps["gates"][0])), reverse=True)[1]
    hidden_before = tf.concat([tf.zeros_like(hidden_rows[:1]), hidden_rows[:-1]], axis=0)
    inputs = tf.concat([steps["input"], hidden_before], axis=-1)
    # the bias's gradient as the kernel's row of a constant input 1: a batched dot sums over steps in the same order
    # for any number of seeds, where a reduction's order depends on the group's size
    with_one = tf.concat([inputs, tf.ones_like(inputs[..., :1])], axis=-1)
    d_weights = tf.einsum("tsei,tsej->sij", by_seed(with_one), by_seed(d_gates))
    return Params(d_weights[:, :-1], d_weights[:, -1], d_policy, d_value_head)


def per_seed_norm(tensors):
    """Global L2 norm over a list of [S, ...] tensors, one per seed: [S]."""
    squares = [tf.reduce_sum(tf.reshape(tf.square(t), [t.shape[0], -1]), axis=1) for t in tensors]
    return tf.sqrt(tf.add_n(squares))


def seed_axis(scalars, like):
    """Reshape [S] so it broadcasts against a tensor shaped like `like` [S, ...]."""
    return tf.reshape(scalars, [-1] + [1] * (len(like.shape) - 1))


def rmsprop_update(agent: AgentConfig, params: Params, rms: Params, grads, learning_rate=None):
    """Per-seed global-norm clip, then TF1 RMSProp without momentum (at `learning_rate`, default `agent.learning_rate`)."""
    learning_rate = agent.learning_rate if learning_rate is None else learning_rate
    grad_norm = per_seed_norm(grads)
    scale = agent.clip_norm / tf.maximum(grad_norm, agent.clip_norm)
    new_params, new_rms = [], []
    for w, ms, g in zip(params, rms, grads):
        g = g * seed_axis(scale, g)
        ms = agent.rmsprop_decay * ms + (1.0 - agent.rmsprop_decay) * tf.square(g)
        new_params.append(w - learning_rate * g / tf.sqrt(ms + agent.rmsprop_epsilon))
        new_rms.append(ms)
    return Params(*new_params), Params(*new_rms), grad_norm


@functools.lru_cache(maxsize=None)
def make_train_episode(task: TaskConfig, agent: AgentConfig):
    """The compiled training step: E = `agent.episodes_per_update` episodes (episode, ..., episode +
    E - 1) side by side for every seed, then one update per seed from the mean of their losses.
    Each of a seed's E rows starts from the seed's good state; the last row's carries on.
    Statistics come per episode, [E, ...]."""
    n_rows = agent.episodes_per_update

    @tf.function(jit_compile=True)
    def train_episode(params, rms, good_state, seed_ids, episode):
        n_seeds = seed_ids.shape[0]
        row_ids = tf.repeat(seed_ids, n_rows)
        row_episodes = episode + tf.tile(tf.range(n_rows, dtype=tf.int64), [n_seeds])
        uniforms = episode_uniforms(task, row_ids, row_episodes)
        walk = episode_walk(task, row_ids, row_episodes) if has_walk(task) else None
        steps, trials, good_rows = rollout(task, agent, params, tf.repeat(good_state, n_rows), uniforms, walk, backprop=True)
        entropy_weight = linear_decay(agent.entropy_weight, episode, agent.entropy_decay_episodes)
        targets = episode_targets(agent, steps)
        losses = episode_losses(agent, steps, entropy_weight, targets)
        grads = episode_gradients(agent, params, steps, entropy_weight, targets, n_rows)
        learning_rate = linear_decay(agent.learning_rate, episode, agent.learning_rate_decay_episodes)
        new_params, new_rms, grad_norm = rmsprop_update(agent, params, rms, grads, learning_rate)

        def per_episode(rows):  # [..., S * E] -> [E, ..., S]
            rows = tf.reshape(rows, rows.shape[:-1] + [n_seeds, n_rows])
            return tf.transpose(rows, [len(rows.shape) - 1] + list(range(len(rows.shape) - 1)))

        def every_episode(per_update):  # [S] -> [E, S]
            return tf.repeat(per_update[None], n_rows, axis=0)

        stats = {
            "reward": per_episode(tf.reduce_sum(steps["reward"], axis=0) * task.reward_unit),  # the pay, as a person is paid
            "value": per_episode(tf.reduce_mean(steps["value"], axis=0)),
            "value_loss": per_episode(losses[1]),
            "policy_loss": per_episode(losses[2]),
            "entropy": per_episode(losses[3]),
            "grad_norm": every_episode(grad_norm),
            "var_norm": every_episode(per_seed_norm(list(new_params))),
            "action": per_episode(trials["action"]),
            "common": per_episode(trials["common"]),
            "trial_reward": per_episode(trials["reward"]),
        }
        return new_params, new_rms, good_rows[n_rows - 1 :: n_rows], stats

    return train_episode


@functools.lru_cache(maxsize=None)
def make_evaluate_episodes(task: TaskConfig, agent: AgentConfig, n_episodes: int, internals=False, given=()):
    """The compiled evaluation: `n_episodes` per seed with frozen weights, records [n, trials, S].
    It replays what `given` names of the episodes it is given (`given_episodes`: "walk" [n, S,
    trials, 4 or 2], "state1" and "stake" [n, S, trials]) and draws the rest."""

    @tf.function(jit_compile=True)
    def evaluate_episodes(params, good_state, seed_ids, arrays=None):
        def body(e, good, records):
            episode = EVAL_STREAM + tf.cast(e, tf.int64)
            uniforms = episode_uniforms(task, seed_ids, episode)
            drawn = dict(zip(("state1", "stake"), episode_cues(task, uniforms)))
            if has_walk(task):
                drawn["walk"] = episode_walk(task, seed_ids, episode) if "walk" not in given else None
            played = {name: tf.gather(arrays[name], e) if name in given else value for name, value in drawn.items()}
            _, trials, good = rollout(task, agent, params, good, uniforms, played.get("walk"), internals,
                                      cues=(played["state1"], played["stake"]))
            return e + 1, good, {k: records[k].write(e, v) for k, v in trials.items()}

        records = {k: tf.TensorArray(d, size=n_episodes) for k, d in record_types(task, internals).items()}
        _, _, records = tf.while_loop(lambda e, *_: e < n_episodes, body, (0, good_state, records))
        return {k: v.stack() for k, v in records.items()}

    return evaluate_episodes


# ---------------------------------------------------------------- training loop


def _as_tensors(params: Params) -> Params:
    return Params(*(tf.convert_to_tensor(w, tf.float32) for w in params))


def _as_run(state: TrainState):
    """The group's tensors as the compiled functions run them: (params, rms, good_state, seed_ids).

    XLA lowers a batched dot over a seed axis of size 1 to a plain dot, which rounds differently
    from the batched kernel that every larger group uses. A single seed therefore runs as a
    group of two (itself twice, the twin discarded), so that seed k gives the same bits alone
    or in any group (tests/test_agent.py checks it).
    """
    repeat = 2 if len(state.seeds) == 1 else 1
    params, rms = (Params(*(tf.repeat(w, repeat, axis=0) for w in _as_tensors(p))) for p in (state.params, state.rms))
    good = tf.repeat(tf.constant(state.good_state, tf.int32), repeat)
    return params, rms, good, tf.repeat(tf.constant(state.seeds, tf.int64), repeat)


def _with_run(state: TrainState, episode, params, rms, good, recent) -> TrainState:
    """`state` at `episode` with the run's tensors, the twin of a single seed dropped (as numpy)."""
    n = len(state.seeds)
    params, rms = (Params(*(w.numpy()[:n] for w in p)) for p in (params, rms))
    return dataclasses.replace(state, episode=episode, params=params, rms=rms, good_state=good.numpy()[:n], recent=list(recent))


def train(state: TrainState, episodes: int, out=None, run: RunConfig = RunConfig(), progress=True) -> TrainState:
    """Train every seed of the group for `episodes` more episodes; returns the new state.

    With `out`, writes TensorBoard scalars to `<out>/train_<seed>/` (the reference's tags every 10
    episodes, means over those 10; stay probabilities of the last `log_every` episodes every
    `log_every` episodes) and checkpoints every `save_every` episodes and at the end (`run`). A state
    resumed from a checkpoint continues exactly as the uninterrupted run would have: TensorBoard
    points written after that checkpoint are dropped before they are written again. Checkpoints are
    written on a thread beside the training (`checkpoints.BackgroundSaver`); `train` returns once the last is
    complete. SIGINT and SIGTERM stop at the next episode boundary with a checkpoint, raising
    `TrainingInterrupted`. With `progress`, a bar in a terminal, plain lines elsewhere (`twostep.progress`).
    """
    if not (isinstance(episodes, int) and episodes > 0):
        raise ValueError(f"episodes={episodes!r}: expected an integer > 0")
    save_every, log_every, per_update = run.save_every, run.log_every, state.agent.episodes_per_update
    for name, value in (("episodes", episodes), ("the state's episode", state.episode), ("save_every", save_every * bool(out))):
        if value % per_update:
            raise ValueError(f"{name}={value}: expected a multiple of episodes_per_update={per_update} (an update plays that many)")
    params, rms, good, seed_ids = _as_run(state)
    # the traced function itself: calling it skips tf.function's matching of arguments to traces every episode
    train_episode = make_train_episode(state.task, state.agent).get_concrete_function(
        params, rms, good, seed_ids, tf.constant(state.episode, tf.int64))
    n_seeds, window = len(state.seeds), max(REWARD_LOG_EVERY, log_every)
    writers = seed_writers(out, state.seeds, state.episode) if out else []
    recent = list(state.recent)  # per-episode stats [..., seed] of the open logging windows
    first, last = state.episode, state.episode + episodes
    bar = progress_bar(last, initial=first, unit="episode", desc="train", enabled=progress, every=PLAIN_LINE_EVERY)
    with bar, deferred_stop_signals() as stop_signals, BackgroundSaver(out) as saver:
        for episode in range(first, last, per_update):
            params, rms, good, stats = train_episode(params, rms, good, seed_ids, tf.constant(episode, tf.int64))
            stats = {k: v.numpy()[..., :n_seeds] for k, v in stats.items()}
            for row in range(per_update):
                recent = (recent + [{k: v[row] for k, v in stats.items()}])[-window:]
                done = episode + row + 1
                if done % REWARD_LOG_EVERY == 0:
                    bar.set_postfix(reward=f"{np.mean([s['reward'] for s in recent[-REWARD_LOG_EVERY:]]):.1f}")
                    write_scalars(writers, state.task, recent[-REWARD_LOG_EVERY:], done)
                if done % log_every == 0:
                    write_stay_probabilities(writers, recent[-log_every:], done)
            _advance(bar, done, per_update, compiled_now=episode == first)
            stop = bool(stop_signals)
            if stop or (out and (done % save_every == 0 or done == last)):
                snapshot = _with_run(state, done, params, rms, good, open_windows(recent, done, log_every))
                saver.wait()  # the checkpoint before is complete before points after it reach the disk
                for writer in writers:
                    writer.flush()
                if out:
                    saver.save(snapshot)
                if stop:
                    raise TrainingInterrupted(stop_signals[0], snapshot, saver.wait())
    for writer in writers:
        writer.close()
    return _with_run(state, last, params, rms, good, open_windows(recent, last, log_every))


def _advance(bar, done, episodes, compiled_now):
    """Move the progress bar `episodes` on, to `done`. The first update of a call compiles the training
    step: the bar restarts its clock after it, so the rate and the time left count training alone."""
    if compiled_now:
        bar.restart_clock(done)
    else:
        bar.update(episodes)


# ---------------------------------------------------------------- evaluation


def given_episodes(task: TaskConfig, n_seeds, reward_probs=None, points=None, state1=None, stakes=None):
    """The episodes given to `evaluate`, checked (`two_step_env`'s checks): {"walk", "state1", "stake": [seed,
    episode, trial, ...]} of those given, each given as [episode, trial, ...] (every seed) or [seed, episode, trial, ...]."""
    where = {"reward_probs": (reward_probs, task.second_stage_choice, "walk", env.check_walk, [len(env.OPTIONS)], "the drifting task's"),
             "points": (points, task.rewards == POINTS, "walk", env.check_points, [2], "the novel paradigm's"),
             "state1": (state1, task.first_states > 1, "state1", env.check_state1, [], "the novel paradigm's"),
             "stakes": (stakes, task.has_stakes, "stake", env.check_stakes, [], "a task with stakes'")}
    given = {}
    for name, (values, fits, key, check, trailing, whose) in where.items():
        if values is None:
            continue
        if not fits:
            raise ValueError(f"{name} given for {preset_name(task) or 'a task'} (rewards={task.rewards!r}, high_stake={task.high_stake!r}): "
                             f"only {whose} episodes take it")
        values = check(task, values)
        if values.ndim == len(trailing) + 2:  # [episode, trial, ...]: every seed plays the same
            values = np.broadcast_to(values, (n_seeds,) + values.shape)
        if values.ndim != len(trailing) + 3 or values.shape[0] != n_seeds:
            shape = ", ".join(["episode", "trial", *map(str, trailing)])
            raise ValueError(f"{name} has shape {values.shape}: expected [{shape}] or [{n_seeds} seeds, {shape}]")
        given[key] = values
    episodes = {key: values.shape[1] for key, values in given.items()}
    if len(set(episodes.values())) > 1:
        raise ValueError(f"the given episodes differ in number: {episodes}; give as many of each")
    return given


def evaluate(state: TrainState, episodes: int = 300, task: TaskConfig = None, internals=False, reward_probs=None, points=None,
             state1=None, stakes=None):
    """Run `episodes` test episodes per seed with frozen weights (no update), policy sampled.

    Returns a dict of numpy arrays shaped [seed, episode, trial] (see `record_types`). `task`
    defaults to the task the state was trained on; the good state carries on from training.
    With `internals`, also the value where each reward arrives and the LSTM state that chose
    each action (`INTERNAL_RECORDS`; "hidden" and "cell" are [seed, episode, trial, hidden]),
    for reward-prediction-error and decoding analyses. The actions are the same either way.
    Given episodes replay what a person saw instead of fresh draws (`episodes` is then theirs),
    each [episode, trial, ...] (every seed) or [seed, episode, trial, ...], as the Gymnasium
    task's `reset` options: `reward_probs` [.., 4] the drifting task's walks, `points` [.., 2] the
    novel paradigm's, `state1` its first-stage states, `stakes` the stakes of a task with them.
    """
    task = task or state.task
    n_seeds = len(state.seeds)
    if env.cue_names(task) != env.cue_names(state.task):
        raise ValueError(f"the agent reads the cues {env.cue_names(state.task) or 'none'} and this task has {env.cue_names(task) or 'none'}: "
                         "evaluate it on a task with the same cues")
    given = given_episodes(task, n_seeds, reward_probs, points, state1, stakes)
    if given:
        episodes = next(iter(given.values())).shape[1]
    if not (isinstance(episodes, int) and episodes > 0):
        raise ValueError(f"episodes={episodes!r}: expected an integer > 0")
    evaluate_episodes = make_evaluate_episodes(task, state.agent, episodes, bool(internals), tuple(sorted(given)))
    params, _, good, seed_ids = _as_run(state)
    # [seed, episode, trial, ...] -> [episode, seed (and a single seed's twin), trial, ...]
    arrays = {name: tf.constant(np.swapaxes(np.repeat(values, good.shape[0] // n_seeds, axis=0), 0, 1), tf.int32 if name == "state1" else tf.float32)
              for name, values in given.items()}
    records = evaluate_episodes(params, good, seed_ids, arrays) if given else evaluate_episodes(params, good, seed_ids)
    # [episode, trial, seed, extra] for the records with a trailing axis; the rest [episode, trial, seed]
    return {k: np.moveaxis(v.numpy(), 2 if k in TRAILING_AXIS_RECORDS else -1, 0)[:n_seeds] for k, v in records.items()}


@functools.lru_cache(maxsize=None)
def make_replay_trials(agent: AgentConfig, n_rows: int, n_trials: int):
    """The compiled loop of `replay_logits`: the drifting task's inputs built as `rollout` builds them
    from given `trials` ("action", "state", "choice2", "reward", "answered", each [n_trials, n_rows],
    rows seed-major); a trial not answered leaves the LSTM and the inputs as they were. Returns the
    logits of 1 over 0 at both steps, [n_trials, n_rows, 2]."""

    def with_option(x, option):
        return tf.concat([x, option], axis=-1) if agent.option_input else x

    @tf.function(jit_compile=True)
    def replay_trials(params, trials):
        def logit_of_one(h):
            logits, _ = heads(params, h)
            return logits[:, 1] - logits[:, 0]

        def body(n, h, c, prev_reward, prev_action, prev_option, logits):
            action, reached, choice2, reward, answered = (trials[name][n] for name in ("action", "state", "choice2", "reward", "answered"))
            x = agent_input(tf.fill([n_rows], S1), prev_reward, prev_action, 2 * n, agent.timestep_scale)
            h1, c1 = lstm_step(params, with_option(x, prev_option), h, c)
            x2 = agent_input(reached, tf.zeros([n_rows]), tf.one_hot(action, env.N_ACTIONS), 2 * n + 1, agent.timestep_scale)
            h2, c2 = lstm_step(params, with_option(x2, tf.zeros_like(prev_option)), h1, c1)
            option = tf.one_hot(env.option_index(reached, choice2), len(env.OPTIONS)) if agent.option_input else prev_option
            after = (h2, c2, reward, tf.one_hot(choice2, env.N_ACTIONS), option)
            before = (h, c, prev_reward, prev_action, prev_option)
            carried = [tf.where(seed_axis(answered, new), new, old) for new, old in zip(after, before)]
            return (n + 1, *carried, logits.write(n, tf.stack([logit_of_one(h1), logit_of_one(h2)], axis=-1)))

        zeros = tf.zeros([n_rows, agent.hidden])
        start = (0, zeros, zeros, tf.zeros([n_rows]), first_action_input(agent, n_rows), tf.zeros([n_rows, len(env.OPTIONS)]),
                 tf.TensorArray(tf.float32, size=n_trials, element_shape=[n_rows, 2]))
        *_, logits = tf.while_loop(lambda n, *_: n < n_trials, body, start, maximum_iterations=n_trials)
        return logits.stack()

    return replay_trials


def replay_logits(state: TrainState, records) -> np.ndarray:
    """The agent as a model of people: every seed reads each person's own trials as its inputs (as
    `rollout` builds them in the drifting task; the step counter goes on past the task's trials) and
    gives per trial the logit of choice 1 over choice 0 at the first stage and at the second, in the
    state the person reached: [seed, person, trial, 2]. `records` holds [person, trial] arrays
    "action", "state", "choice2", "reward" and "missed" (`twostep.datasets`' codes). A missed trial is
    skipped: its logits are NaN, the LSTM and the inputs carry on from the last answered trial, the
    step counter counts it."""
    task = state.task
    if not task.second_stage_choice:
        raise ValueError(
            f"replay_logits replays people's two choices per trial, so it needs an agent of the drifting task (rewards={DRIFT!r}, "
            f"steps_per_trial=2, as the daw-2011 preset); this one is of {preset_name(task) or 'a task'} with rewards={task.rewards!r}, "
            f"steps_per_trial={task.steps_per_trial}, which has no choice at the second stage"
        )
    if env.cue_names(task):
        raise ValueError(f"replay_logits replays Daw et al.'s task, and this agent of {preset_name(task) or 'a task'} also reads "
                         f"the cues {env.cue_names(task)}, which people's records of that task do not give it")
    codes = {"action": (0, 1), "state": (S2, S3), "choice2": (0, 1), "reward": (0, 1)}  # on answered trials
    absent = [name for name in (*codes, "missed") if name not in records]
    if absent:
        raise ValueError(f"records lack {', '.join(map(repr, absent))}: expected [person, trial] arrays {', '.join(map(repr, (*codes, 'missed')))}")
    shapes = {name: np.shape(records[name]) for name in (*codes, "missed")}
    if len(set(shapes.values())) != 1 or len(shapes["action"]) != 2 or 0 in shapes["action"]:
        raise ValueError(f"records have shapes {shapes}: expected one shape [person, trial] for all, with at least one of each")
    answered = ~np.asarray(records["missed"], bool)
    for name, allowed in codes.items():
        wrong = answered & ~np.isin(records[name], allowed)
        if wrong.any():
            person, trial = np.argwhere(wrong)[0]
            raise ValueError(
                f"records[{name!r}] is {np.asarray(records[name])[person, trial].item()!r} at [person, trial] = [{person}, {trial}]: expected one of "
                f"{allowed} on an answered trial (mark a missed trial True in records['missed'])"
            )
    params, _, good, _ = _as_run(state)
    n_runs, (n_people, n_trials) = good.shape[0], answered.shape  # the seeds, and a single seed's twin (`_as_run`)

    def trial_rows(values, dtype):  # [person, trial] -> [trial, seed * person]: every seed replays every person
        return tf.constant(np.tile(np.transpose(values), [1, n_runs]), dtype)

    trials = {name: trial_rows(np.where(answered, records[name], 0), tf.float32 if name == "reward" else tf.int32) for name in codes}
    logits = make_replay_trials(state.agent, n_runs * n_people, n_trials)(params, dict(trials, answered=trial_rows(answered, tf.bool)))
    logits = np.moveaxis(logits.numpy().reshape(n_trials, -1, n_people, 2), 0, 2)[: len(state.seeds)]
    logits[:, ~answered] = np.nan
    return logits


def latest_state(task, agent, seeds, out, overwrite=False, log=print, shared=False):
    """Resume point: the newest intact checkpoint of every seed under `out` (`checkpoints.resume_point`),
    else a fresh state."""
    return resume_point(task, agent, seeds, out, overwrite, log, shared) or init_state(task, agent, seeds)


def train_to(state: TrainState, episodes: int, out, **options) -> TrainState:
    """Train until `episodes` in total (from a `latest_state` resume point); says what it does."""
    if state.episode >= episodes:
        print(f"{out}: seeds {list(state.seeds)} already trained for {state.episode} episodes; nothing to do")
        return state
    if state.episode:
        print(f"resuming from episode {state.episode} in {out}")
    return train(state, episodes - state.episode, out=out, **options)
