"""The two-step task: Daw et al. 2011's original and the three variants of Wang et al. 2016 and 2018.

One first-stage state S1 with two actions. Action 0 leads to S2 with probability
`common_prob` ("common"), else to S3 ("rare"); action 1 leads commonly to S3, rarely to S2.

- Wang et al. (`rewards="swap"`): in the second stage the action does not matter; the "good"
  state pays 1 with probability `good_reward_prob`, the other with `bad_reward_prob`. Which
  state is good may swap, either at the start of every trial or once at the start of every episode.
- Daw et al. 2011 (`rewards="drift"`, preset `daw-2011`): each second-stage state offers two
  options, and option k of the state reached pays 1 with its current probability. The four
  probabilities (order `OPTIONS`: S2 option 0, S2 option 1, S3 option 0, S3 option 1) start
  uniform in [drift_low, drift_high] and after every trial each takes an independent Gaussian step
  (SD `drift_sd`) reflected at the bounds: a fresh walk every episode, or a walk given as an
  array [trial, 4] (the walk a person saw), so any agent can replay a person's task.

Two implementations of the same dynamics share one random-draw convention, so a test can
feed both the same numbers and compare trajectories. Each trial consumes three uniforms in
[0, 1), in this order:

    u_swap        the good state swaps if u_swap < swap_prob (and a swap may happen now)
    u_transition  the transition is common if u_transition < common_prob
    u_reward      reward 1 if u_reward < the reward probability of the state (and option) reached

The drifting task's walk draws apart: 4 uniforms for its start and 4 standard normals per
trial for its steps (`walk_start`, `walk_step`, `drift_walk`).

- `TwoStepTask`: a `gymnasium.Env` for people and other RL tools.
- `swap_good_state`, `transition`, `draw_reward`: pure TensorFlow functions over a batch
  (one row per seed), used inside the compiled trainer in `a2c_lstm.py` and by the reference
  agents in `agents.py`.
- `stay_probabilities`: the task's headline measure, used by every layer above.

Observations are what the meta-RL agent sees at each LSTM step (Wang et al. 2018): a one-hot
of the state [S1, S2, S3], the previous reward, a one-hot of the previous action and the step
counter as a raw number (it advances by 2 per trial in both variants, as in the reference). The
agent multiplies the counter by its `AgentConfig.timestep_scale`; the environment always shows t.
`TaskConfig` and the presets live in `twostep/configs.py`.
"""

import gymnasium as gym
import numpy as np

from twostep.configs import OPTIONS, POINTS, S1, S2, S3, SWAP_EVERY_TRIAL, SWAP_GOOD_STATE, TaskConfig, option_index, preset
from twostep.quiet_tensorflow import tf

N_STATES = 3
N_ACTIONS = 2
OBS_SIZE = N_STATES + 1 + N_ACTIONS + 1  # state one-hot, previous reward, previous action one-hot, step counter
STAY_CELLS = ("rewarded, common", "rewarded, rare", "unrewarded, common", "unrewarded, rare")
HIGH_STAKE_PROB = 0.5  # P(a trial's stake is the high one) in a task with stakes (Kool et al. 2017)


# ---- Daw et al. 2011's drifting reward probabilities (numpy or TensorFlow alike)


def reflect(x, low, high):
    """x folded into [low, high] by reflection at both bounds (any number of times)."""
    span = high - low
    folded = (x - low) % (2 * span)
    return low + span - abs(folded - span)


def walk_start(config: TaskConfig, uniforms):
    """The four probabilities of an episode's first trial from 4 uniforms in [0, 1)."""
    return config.drift_low + (config.drift_high - config.drift_low) * uniforms


def walk_step(config: TaskConfig, probs, normals):
    """The probabilities of the next trial: one Gaussian step (SD drift_sd) each, reflected."""
    return reflect(probs + config.drift_sd * normals, config.drift_low, config.drift_high)


def drift_walk(config: TaskConfig, uniforms, normals):
    """A whole walk [..., trials, 4] (numpy) from start uniforms [..., 4] and normals [..., trials - 1, 4]."""
    probs = [walk_start(config, np.asarray(uniforms, np.float64))]
    for step in np.moveaxis(np.asarray(normals, np.float64), -2, 0):
        probs.append(walk_step(config, probs[-1], step))
    return np.stack(probs, axis=-2)


def best_state(probs):
    """The second-stage state holding the best option at each trial, probs [..., 4] -> [...] int
    (S2 on a tie): the drifting task's counterpart of Wang et al.'s good state, as Akam et al.'s
    "correct choice" predictor of the lagged regression needs it."""
    probs = np.asarray(probs)
    return np.where(probs[..., 2:].max(-1) > probs[..., :2].max(-1), S3, S2)


def check_walk(config: TaskConfig, probs, name="reward_probs"):
    """A given walk as float64 [..., trials, 4]; ValueError naming what is wrong with it."""
    probs = np.asarray(probs, np.float64)
    if probs.ndim < 2 or probs.shape[-2:] != (config.trials_per_episode, len(OPTIONS)):
        raise ValueError(
            f"{name} has shape {probs.shape}: expected [..., {config.trials_per_episode} trials, {len(OPTIONS)} options]"
        )
    if not np.all((probs >= 0) & (probs <= 1)):
        raise ValueError(f"{name} holds values outside [0, 1] (or NaN): expected reward probabilities")
    return probs


# ---- Kool et al. 2016's drifting points (numpy)


def points_walk(config: TaskConfig, uniforms, normals):
    """A whole walk of both second-stage states' points [..., trials, 2] (numpy) from start uniforms
    [..., 2] (a uniform whole start in [points_low, points_high]) and normals [..., trials - 1, 2]
    (steps round(points_sd z), reflected at the bounds)."""
    low, high = config.points_low, config.points_high
    points = [low + np.floor(np.asarray(uniforms, np.float64) * (high - low + 1))]
    for step in np.moveaxis(np.asarray(normals, np.float64), -2, 0):
        points.append(reflect(points[-1] + np.round(config.points_sd * step), low, high))
    return np.stack(points, axis=-2)


def check_points(config: TaskConfig, points, name="points"):
    """A given walk of points as float64 [..., trials, 2]; ValueError naming what is wrong with it."""
    points = np.asarray(points, np.float64)
    if points.ndim < 2 or points.shape[-2:] != (config.trials_per_episode, 2):
        raise ValueError(f"{name} has shape {points.shape}: expected [..., {config.trials_per_episode} trials, 2 states]")
    if not np.all((points == np.round(points)) & (points >= config.points_low) & (points <= config.points_high)):
        raise ValueError(f"{name} holds values that are not whole numbers in [{config.points_low}, {config.points_high}]")
    return points


def _check_cue(config: TaskConfig, name, values, allowed, what, single):
    """Given cues [..., trials] ([trials] if `single`) holding only `allowed`; ValueError naming what is wrong."""
    values, n = np.asarray(values, float), config.trials_per_episode
    if (values.shape != (n,) if single else values.shape[-1:] != (n,)) or not np.isin(values, allowed).all():
        raise ValueError(f"{name} has shape {values.shape} or values other than {' and '.join(f'{a:g}' for a in allowed)}: expected "
                         f"[{'' if single else '..., '}{n} trials] {what}")
    return values


def draw_stakes(config: TaskConfig, uniforms):
    """Stakes from uniforms (numpy): the high stake where a uniform is below `HIGH_STAKE_PROB`, else 1."""
    return np.where(np.asarray(uniforms) < HIGH_STAKE_PROB, config.high_stake, 1.0)


def check_state1(config: TaskConfig, state1, single=False):
    """Given first-stage states as int [..., trials] ([trials] if `single`); ValueError naming what is wrong."""
    return _check_cue(config, "state1", state1, (0, 1), "first-stage states", single).astype(int)


def check_stakes(config: TaskConfig, stakes, single=False):
    """Given stakes as float [..., trials] ([trials] if `single`); ValueError naming what is wrong."""
    return _check_cue(config, "stakes", stakes, (1.0, config.high_stake), "stakes", single)


def observation(state, prev_reward, prev_action, step_counter, cues=()):
    """The agent's input vector (numpy): state one-hot, reward, action one-hot (or zeros), counter,
    then the trial's cues in Kool et al.'s tasks (`trial_cues`)."""
    obs = np.zeros(OBS_SIZE + len(cues), dtype=np.float32)
    obs[state] = 1.0
    obs[N_STATES] = prev_reward
    if prev_action is not None:
        obs[N_STATES + 1 + prev_action] = 1.0
    obs[OBS_SIZE - 1] = step_counter
    obs[OBS_SIZE:] = cues
    return obs


def cue_names(config: TaskConfig):
    """The cues of `trial_cues`, in their order: "state1", "stake", each where the task has it."""
    return ["state1"] * (config.first_states > 1) + ["stake"] * config.has_stakes


def observation_size(config: TaskConfig):
    """`OBS_SIZE`, plus one input per cue of Kool et al.'s tasks (`trial_cues`)."""
    return OBS_SIZE + len(cue_names(config))


def trial_cues(config: TaskConfig, state1, stake):
    """What the agent sees of a trial before choosing, beyond the state: 1 in the second
    first-stage state (novel paradigm), 1 at the high stake (stakes); each only where the task has it."""
    shown = {"state1": float(state1 == 1), "stake": float(stake > 1.0)}
    return [shown[name] for name in cue_names(config)]


class TwoStepTask(gym.Env):
    """The two-step task as a Gymnasium environment.

    With `steps_per_trial=2` a trial takes two `step` calls: the first-stage choice (reward 0,
    the observation shows the reached state S2/S3) and the second-stage step (the reward arrives;
    the observation shows S1 again). The second-stage action is ignored in Wang et al.'s task and
    chooses the option in Daw et al.'s. With `steps_per_trial=1` ("two steps in one") each `step`
    is a whole trial and the observation shows the second-stage state reached. `trial(action,
    option)` runs one whole trial in any variant.

    The good state is drawn uniformly at the first `reset` (and at every seeded `reset`) and
    then carries over from episode to episode, as the task runs on through training. The
    drifting task draws a fresh walk at every `reset`, or replays the walk given as
    `reset(options={"reward_probs": array [trials, 4]})`; `info["probs"]` shows the trial's four.

    Kool et al.'s tasks (presets kool2016-novel, kool2017-novel-stakes, kool2017-daw-stakes): in the
    novel paradigm (`rewards="points"`) each trial starts in one of two first-stage states, action k
    leads to state S2 + k, always, and the state reached pays its points (the second-stage action is
    ignored: one option); with stakes a trial's reward is multiplied by its stake. `reset` draws a
    fresh walk of points (`points_walk`), the first-stage states and the stakes of the whole episode,
    or takes a person's: `options={"points": [trials, 2], "state1": [trials], "stakes": [trials]}`.
    The observation adds the trial's cues (`trial_cues`), shown from the step before its first choice;
    `info` shows "points", "state1" and "stake" where the task has them.
    """

    metadata = {"render_modes": []}

    def __init__(self, config: TaskConfig = preset("biorxiv-final")):
        self.config = config
        self.action_space = gym.spaces.Discrete(N_ACTIONS)
        size = observation_size(config)
        high = np.ones(size, dtype=np.float32)
        high[OBS_SIZE - 1] = config.max_step_counter
        low = np.zeros(size, np.float32)
        low[N_STATES] = min(0.0, config.points_low * config.high_stake) if config.rewards == POINTS else 0.0
        high[N_STATES] = max(1.0, config.points_high) * config.high_stake if config.rewards == POINTS else config.high_stake
        self.observation_space = gym.spaces.Box(low, high, dtype=np.float32)
        self.good_state = None
        self.reward_probs = None
        self.points = None
        self.state1 = np.zeros(config.trials_per_episode, int)
        self.stakes = np.ones(config.trials_per_episode)
        self._stage_two = None

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        config = self.config
        if config.rewards == POINTS:
            self.points = self._given_or_fresh(options, "points", 2, points_walk, check_points)
        elif config.second_stage_choice:
            self.reward_probs = self._given_or_fresh(options, "reward_probs", len(OPTIONS), drift_walk, check_walk)
        elif seed is not None or self.good_state is None:
            self.good_state = S2 + int(self.np_random.integers(2))
        self.state1, self.stakes = self._episode_cues(options or {})
        self.trial_index = 0
        self.step_counter = 0
        self._stage_two = None
        return self._observe(S1, 0.0, None, 0), self._task_info()

    def _given_or_fresh(self, options, key, width, walk, check):
        """The walk given as `options[key]` (`check`ed), or a fresh one: `walk` of `width` start uniforms and
        [trials - 1, width] standard normals."""
        given = (options or {}).get(key)
        if given is not None:
            return check(self.config, given, key)
        uniforms = self.np_random.random(width)
        return walk(self.config, uniforms, self.np_random.standard_normal((self.config.trials_per_episode - 1, width)))

    def _episode_cues(self, options):
        """The episode's first-stage states and stakes [trials]: given, or drawn where the task has them."""
        config, n = self.config, self.config.trials_per_episode
        state1, stakes = np.zeros(n, int), np.ones(n)
        if config.first_states > 1:
            state1 = options.get("state1")
            state1 = self.np_random.integers(0, 2, n) if state1 is None else check_state1(config, state1, single=True)
        if config.has_stakes:
            stakes = options.get("stakes")
            stakes = draw_stakes(config, self.np_random.random(n)) if stakes is None else check_stakes(config, stakes, single=True)
        return state1, stakes

    def _observe(self, state, reward, action, counter, trial=None):
        """`observation` with the cues of `trial` (default: the current one; none left: zeros)."""
        trial = self.trial_index if trial is None else trial
        cues = trial_cues(self.config, self.state1[trial], self.stakes[trial]) if trial < self.config.trials_per_episode else [
            0.0] * (observation_size(self.config) - OBS_SIZE)
        return observation(state, reward, action, counter, cues)

    def _task_info(self):
        config, trial = self.config, min(self.trial_index, self.config.trials_per_episode - 1)
        cues = {"state1": int(self.state1[trial])} if config.first_states > 1 else {}
        cues.update({"stake": float(self.stakes[trial])} if config.has_stakes else {})
        if config.rewards == POINTS:
            return {"points": self.points[trial].copy(), **cues}
        if config.second_stage_choice:
            return {"probs": self.reward_probs[trial].copy(), **cues}
        return {"good_state": self.good_state}

    def _first_stage(self, action, u_swap, u_transition):
        """The swap (Wang et al.) and the transition: (reached state, common)."""
        _check_action(action)
        config = self.config
        if config.rewards == SWAP_GOOD_STATE and (config.swap_every == SWAP_EVERY_TRIAL or self.trial_index == 0):
            if u_swap < config.swap_prob:
                self.good_state = S2 + S3 - self.good_state
        common = bool(u_transition < config.common_prob)
        reached = (S2 if action == 0 else S3) if common else (S3 if action == 0 else S2)
        return reached, common

    def _outcome(self, reached, option, u_reward):
        """The reward of `option` (drifting task), of the state (Wang et al.) or the state's points
        (novel paradigm), times the trial's stake; ends the trial."""
        _check_action(option)
        info = self._task_info()
        if self.config.rewards == POINTS:
            reward = float(self.points[self.trial_index][reached - S2])
        elif self.config.second_stage_choice:
            reward = float(u_reward < self.reward_probs[self.trial_index][option_index(reached, option)])
            info["option"] = option
        else:
            reward_prob = self.config.good_reward_prob if reached == self.good_state else self.config.bad_reward_prob
            reward = float(u_reward < reward_prob)
        reward *= float(self.stakes[self.trial_index])
        self.trial_index += 1
        return reward, info

    def _run_trial(self, action, draws, option=0):
        """Advance one trial with the uniforms (u_swap, u_transition, u_reward)."""
        u_swap, u_transition, u_reward = draws
        reached, common = self._first_stage(action, u_swap, u_transition)
        reward, info = self._outcome(reached, option, u_reward)
        return reached, reward, dict(info, state=reached, common=common)

    def trial(self, action, option=None):
        """One whole trial: returns (obs, reward, terminated, truncated, info) in the one-step form.
        `option` is the second-stage choice: required in the drifting task, ignored otherwise."""
        if self._stage_two is not None:
            raise RuntimeError("trial() called between the two stages of a trial: call step() to finish it")
        if self.config.second_stage_choice and option is None:
            raise ValueError("option=None: the drifting task needs the second-stage choice, 0 or 1")
        self._check_running()
        reached, reward, info = self._run_trial(action, self.np_random.random(3), 0 if option is None else option)
        self.step_counter += 2
        terminated = self.trial_index >= self.config.trials_per_episode
        return self._observe(reached, reward, action, self.step_counter), reward, terminated, False, info

    def step(self, action):
        if self.config.steps_per_trial == 1:
            return self.trial(action)
        self._check_running()
        if self._stage_two is None:  # first stage: choose, move to S2/S3, no reward yet
            u_swap, u_transition, u_reward = self.np_random.random(3)
            reached, common = self._first_stage(action, u_swap, u_transition)
            self._stage_two = (reached, common, u_reward)
            self.step_counter += 1
            info = dict(self._task_info(), state=reached, common=common, stage=1)
            return self._observe(reached, 0.0, action, self.step_counter), 0.0, False, False, info
        reached, common, u_reward = self._stage_two
        reward, info = self._outcome(reached, action, u_reward)
        self._stage_two = None
        self.step_counter += 1
        terminated = self.trial_index >= self.config.trials_per_episode
        info = dict(info, state=reached, common=common, stage=2)
        return self._observe(S1, reward, action, self.step_counter), reward, terminated, False, info

    def _check_running(self):
        if self.good_state is None and self.reward_probs is None and self.points is None:
            raise RuntimeError("call reset() before step()")
        if self.trial_index >= self.config.trials_per_episode and self._stage_two is None:
            raise RuntimeError("the episode has ended: call reset()")


def _check_action(action):
    if action not in (0, 1):
        raise ValueError(f"action={action!r}: expected 0 or 1")


# ---- The same dynamics in TensorFlow, over a batch of independent tasks (one per seed) ----


def swap_possible(config: TaskConfig, trial_index):
    """Whether the good state may swap before trial `trial_index` of an episode (numpy or TensorFlow)."""
    return (config.swap_every == SWAP_EVERY_TRIAL) | (trial_index == 0)


def swap_happens(config: TaskConfig, u_swap, trial_index):
    """Whether the good state swaps before trial `trial_index`: u_swap < swap_prob where it may."""
    return (u_swap < config.swap_prob) & swap_possible(config, trial_index)


def swap_good_state(config: TaskConfig, good_state, u_swap, trial_index):
    """good_state [S] int32 in {S2, S3}; swaps where `swap_happens`."""
    return tf.where(swap_happens(config, u_swap, trial_index), S2 + S3 - good_state, good_state)


def transition(config: TaskConfig, action, u_transition):
    """action [S] int32 -> (reached state [S] int32, common [S] bool)."""
    common = u_transition < config.common_prob
    goes_to_s2 = tf.equal(action, 0) == common
    return tf.where(goes_to_s2, S2, S3), common


def draw_reward(config: TaskConfig, reached, good_state, u_reward, option=None, probs=None):
    """Reward [S] float32: 1 with the reward probability of the reached state (Wang et al.: good
    or not) or of the option chosen there (the drifting task: probs [S, 4], option [S]), else 0;
    in the novel paradigm the reached state's points (probs [S, 2]). Before any stake."""
    if config.rewards == POINTS:
        return tf.gather(probs, reached - S2, batch_dims=1)
    if config.second_stage_choice:
        prob = tf.gather(probs, option_index(reached, option), batch_dims=1)
    else:
        prob = tf.where(tf.equal(reached, good_state), config.good_reward_prob, config.bad_reward_prob)
    return tf.cast(u_reward < prob, tf.float32)


def tf_drift_walk(config: TaskConfig, uniforms, normals):
    """`drift_walk` in TensorFlow: uniforms [S, 4], normals [S, trials - 1, 4] -> [S, trials, 4] float32."""
    start = walk_start(config, uniforms)
    steps = tf.scan(lambda probs, z: walk_step(config, probs, z), tf.transpose(normals, [1, 0, 2]), initializer=start)
    return tf.concat([start[:, None], tf.transpose(steps, [1, 0, 2])], axis=1)


def tf_best_state(probs):
    """`best_state` in TensorFlow: probs [S, 4] -> [S] int32."""
    return tf.where(tf.reduce_max(probs[:, 2:], -1) > tf.reduce_max(probs[:, :2], -1), S3, S2)


def tf_points_walk(config: TaskConfig, uniforms, normals):
    """`points_walk` in TensorFlow: uniforms [S, 2], normals [S, trials - 1, 2] -> [S, trials, 2] float32."""
    low, high = config.points_low, config.points_high
    start = low + tf.floor(uniforms * (high - low + 1))
    steps = tf.scan(lambda points, z: reflect(points + tf.round(config.points_sd * z), low, high), tf.transpose(normals, [1, 0, 2]),
                    initializer=start)
    return tf.concat([start[:, None], tf.transpose(steps, [1, 0, 2])], axis=1)


def tf_trial_cues(config: TaskConfig, u_state1, u_stake):
    """A trial's first-stage state [S] int32 (0 where the task has one) and stake [S] float32 (1
    where it has none), from uniforms: state 1 iff u_state1 >= 0.5, the high stake iff u_stake <
    `HIGH_STAKE_PROB`."""
    state1 = tf.cast(u_state1 >= 0.5, tf.int32) * int(config.first_states > 1)
    stake = tf.where(u_stake < HIGH_STAKE_PROB, config.high_stake, 1.0)
    return state1, stake


def tf_cue_inputs(config: TaskConfig, state1, stake):
    """`trial_cues` in TensorFlow: state1 [S], stake [S] -> [S, cues]."""
    shown = {"state1": tf.cast(tf.equal(state1, 1), tf.float32), "stake": tf.cast(stake > 1.0, tf.float32)}
    return tf.stack([shown[name] for name in cue_names(config)], axis=-1)


# ---- The task's headline measure ----


def usable_trials(action, reward, missed=None):
    """[..., trial] bool: the trials an analysis may use. With `missed` (True where a person missed a
    choice), those trials are left out; without it, every trial must be complete, and an action
    other than 0/1 or a NaN reward is a ValueError naming where, as an unmarked missed trial would
    otherwise count as a switch (or a loss)."""
    action, reward = np.asarray(action), np.asarray(reward, np.float64)
    bad = ~((action == 0) | (action == 1)) | np.isnan(reward)
    missed = np.zeros(action.shape, bool) if missed is None else np.asarray(missed, bool)
    if (bad & ~missed).any():
        where = tuple(int(i) for i in np.argwhere(bad & ~missed)[0])
        raise ValueError(
            f"action {action[where].item()!r}, reward {reward[where].item()!r} at {trial_position(where)} (a missed trial?): "
            "mark missed trials True in records['missed'] (an argument `missed` where a function takes the arrays) to leave them out"
        )
    return ~missed


def trial_position(index):
    """A trial's index named by its axes, as every message of the project names it:
    "[subject, episode, trial] = [0, 5, 10]" (the last axes of [..., subject, episode, trial])."""
    axes = ("subject", "episode", "trial")[-len(index):] if len(index) <= 3 else ("...", "subject", "episode", "trial")
    return f"[{', '.join(axes)}] = {list(index)}"


def stay_pairs(action, common, reward, missed=None):
    """Daw et al. 2011's pairs of consecutive trials inside an episode, each [..., episode, trial - 1]:
    "stay" (1.0 where trial n repeated trial n-1's first-stage action), trial n-1's "reward" and
    "transition" coded +1/-1 (rewarded or not, common or rare), and "pair" (both trials usable,
    `usable_trials`): what the stay probabilities and the stay regressions count."""
    usable = usable_trials(action, reward, missed)
    action = np.asarray(action)
    return {
        "stay": (action[..., 1:] == action[..., :-1]).astype(np.float64),
        "reward": np.where(np.nan_to_num(np.asarray(reward, np.float64))[..., :-1] > 0, 1.0, -1.0),
        "transition": np.where(np.asarray(common, bool)[..., :-1], 1.0, -1.0),
        "pair": usable[..., 1:] & usable[..., :-1],
    }


def model_based_index(probs):
    """The model-based index read off stay probabilities [..., 4] (`STAY_CELLS`): the reward x
    transition interaction, ((RC - RR) - (UC - UR)) / 2 (R/U rewarded or not, C/R common or rare)."""
    probs = np.asarray(probs, np.float64)
    return ((probs[..., 0] - probs[..., 1]) - (probs[..., 2] - probs[..., 3])) / 2


def stay_probabilities(action, common, reward, missed=None):
    """Stay probabilities (Daw et al. 2011) in the four cells of `STAY_CELLS`.

    Arrays are [..., episode, trial]. For each pair of consecutive trials inside an episode,
    trial n-1's reward and transition pick the cell and "stay" means trial n repeated trial
    n-1's first-stage action; pairs are pooled over episodes. A pair with a missed trial
    (`missed`, as the authors of the human datasets do) is left out (`usable_trials`). Returns
    (probabilities, counts), each [..., 4]; a cell with no pair has probability NaN.
    """
    pairs = stay_pairs(action, common, reward, missed)
    pair, stay, rewarded, was_common = pairs["pair"], pairs["stay"] > 0, pairs["reward"] > 0, pairs["transition"] > 0
    cells = [rewarded & was_common, rewarded & ~was_common, ~rewarded & was_common, ~rewarded & ~was_common]
    counts = np.stack([(cell & pair).sum(axis=(-2, -1)) for cell in cells], axis=-1)
    stays = np.stack([(cell & pair & stay).sum(axis=(-2, -1)) for cell in cells], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, stays / np.maximum(counts, 1), np.nan), counts
