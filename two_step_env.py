"""The two-step task (Daw et al. 2011) in the three variants of Wang et al. 2016 and 2018.

One first-stage state S1 with two actions. Action 0 leads to S2 with probability
`common_prob` ("common"), else to S3 ("rare"); action 1 leads commonly to S3, rarely to S2.
In the second stage the action does not matter: the "good" state pays 1 with probability
`good_reward_prob`, the other with `bad_reward_prob`. Which state is good may swap, either at
the start of every trial or once at the start of every episode.

Two implementations of the same dynamics share one random-draw convention, so a test can
feed both the same numbers and compare trajectories. Each trial consumes three uniforms in
[0, 1), in this order:

    u_swap        the good state swaps if u_swap < swap_prob (and a swap may happen now)
    u_transition  the transition is common if u_transition < common_prob
    u_reward      reward 1 if u_reward < the reached state's reward probability

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

from twostep.configs import SWAP_EVERY_TRIAL, TaskConfig, preset
from twostep.quiet_tensorflow import tf

S1, S2, S3 = 0, 1, 2
N_STATES = 3
N_ACTIONS = 2
OBS_SIZE = N_STATES + 1 + N_ACTIONS + 1  # state one-hot, previous reward, previous action one-hot, step counter
STAY_CELLS = ("rewarded, common", "rewarded, rare", "unrewarded, common", "unrewarded, rare")


def observation(state, prev_reward, prev_action, step_counter):
    """The agent's input vector (numpy): state one-hot, reward, action one-hot (or zeros), counter."""
    obs = np.zeros(OBS_SIZE, dtype=np.float32)
    obs[state] = 1.0
    obs[N_STATES] = prev_reward
    if prev_action is not None:
        obs[N_STATES + 1 + prev_action] = 1.0
    obs[-1] = step_counter
    return obs


class TwoStepTask(gym.Env):
    """The two-step task as a Gymnasium environment.

    With `steps_per_trial=2` a trial takes two `step` calls: the first-stage choice (reward 0,
    the observation shows the reached state S2/S3) and the second-stage step (its action is
    ignored; the reward arrives; the observation shows S1 again). With `steps_per_trial=1`
    ("two steps in one") each `step` is a whole trial and the observation shows the
    second-stage state reached. `trial(action)` runs one whole trial in either variant.

    The good state is drawn uniformly at the first `reset` (and at every seeded `reset`) and
    then carries over from episode to episode, as the task runs on through training.
    """

    metadata = {"render_modes": []}

    def __init__(self, config: TaskConfig = preset("biorxiv-final")):
        self.config = config
        self.action_space = gym.spaces.Discrete(N_ACTIONS)
        high = np.ones(OBS_SIZE, dtype=np.float32)
        high[-1] = config.max_step_counter
        self.observation_space = gym.spaces.Box(np.zeros(OBS_SIZE, np.float32), high, dtype=np.float32)
        self.good_state = None
        self._stage_two_state = None

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None or self.good_state is None:
            self.good_state = S2 + int(self.np_random.integers(2))
        self.trial_index = 0
        self.step_counter = 0
        self._stage_two_state = None
        return observation(S1, 0.0, None, 0), {"good_state": self.good_state}

    def _run_trial(self, action, draws):
        """Advance one trial with the uniforms (u_swap, u_transition, u_reward)."""
        if not self.action_space.contains(action):
            raise ValueError(f"action={action!r}: expected 0 or 1")
        u_swap, u_transition, u_reward = draws
        if self.config.swap_every == SWAP_EVERY_TRIAL or self.trial_index == 0:
            if u_swap < self.config.swap_prob:
                self.good_state = S2 + S3 - self.good_state
        common = bool(u_transition < self.config.common_prob)
        reached = (S2 if action == 0 else S3) if common else (S3 if action == 0 else S2)
        reward_prob = self.config.good_reward_prob if reached == self.good_state else self.config.bad_reward_prob
        reward = float(u_reward < reward_prob)
        self.trial_index += 1
        info = {"state": reached, "common": common, "good_state": self.good_state}
        return reached, reward, info

    def trial(self, action):
        """One whole trial: returns (obs, reward, terminated, truncated, info) in the one-step form."""
        if self._stage_two_state is not None:
            raise RuntimeError("trial() called between the two stages of a trial: call step() to finish it")
        self._check_running()
        reached, reward, info = self._run_trial(action, self.np_random.random(3))
        self.step_counter += 2
        terminated = self.trial_index >= self.config.trials_per_episode
        return observation(reached, reward, action, self.step_counter), reward, terminated, False, info

    def step(self, action):
        if self.config.steps_per_trial == 1:
            return self.trial(action)
        self._check_running()
        if self._stage_two_state is None:  # first stage: choose, move to S2/S3, no reward yet
            reached, reward, info = self._run_trial(action, self.np_random.random(3))
            self._stage_two_state = (reached, reward, info)
            self.step_counter += 1
            return observation(reached, 0.0, action, self.step_counter), 0.0, False, False, dict(info, stage=1)
        if not self.action_space.contains(action):
            raise ValueError(f"action={action!r}: expected 0 or 1")
        reached, reward, info = self._stage_two_state
        self._stage_two_state = None
        self.step_counter += 1
        terminated = self.trial_index >= self.config.trials_per_episode
        return observation(S1, reward, action, self.step_counter), reward, terminated, False, dict(info, stage=2)

    def _check_running(self):
        if self.good_state is None:
            raise RuntimeError("call reset() before step()")
        if self.trial_index >= self.config.trials_per_episode and self._stage_two_state is None:
            raise RuntimeError("the episode has ended: call reset()")


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


def draw_reward(config: TaskConfig, reached, good_state, u_reward):
    """Reward [S] float32: 1 with the reached state's reward probability, else 0."""
    prob = tf.where(tf.equal(reached, good_state), config.good_reward_prob, config.bad_reward_prob)
    return tf.cast(u_reward < prob, tf.float32)


# ---- The task's headline measure ----


def stay_probabilities(action, common, reward):
    """Stay probabilities (Daw et al. 2011) in the four cells of `STAY_CELLS`.

    Arrays are [..., episode, trial]. For each pair of consecutive trials inside an episode,
    trial n-1's reward and transition pick the cell and "stay" means trial n repeated trial
    n-1's first-stage action; pairs are pooled over episodes. Returns (probabilities, counts),
    each [..., 4]; a cell with no pair has probability NaN.
    """
    action, common, reward = np.asarray(action), np.asarray(common, bool), np.asarray(reward) > 0
    stay = action[..., 1:] == action[..., :-1]
    rewarded, was_common = reward[..., :-1], common[..., :-1]
    cells = [rewarded & was_common, rewarded & ~was_common, ~rewarded & was_common, ~rewarded & ~was_common]
    counts = np.stack([cell.sum(axis=(-2, -1)) for cell in cells], axis=-1)
    stays = np.stack([(cell & stay).sum(axis=(-2, -1)) for cell in cells], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, stays / np.maximum(counts, 1), np.nan), counts
