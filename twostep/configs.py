"""The hyperparameters: one frozen dataclass per configuration, and the task presets.

`TaskConfig` is a variant of the two-step task, `AgentConfig` the meta-RL agent's network, loss
and optimiser; every value is explained in docs/reference.md. This module imports nothing heavy,
so the command line can show defaults and reject bad flags before TensorFlow loads.
"""

import dataclasses

SWAP_EVERY_TRIAL = "trial"
SWAP_EVERY_EPISODE = "episode"


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """One variant of the two-step task (the presets: Wang et al. 2016 and 2018, docs/reference.md)."""

    common_prob: float = 0.8
    good_reward_prob: float = 0.9
    bad_reward_prob: float = 0.1
    swap_prob: float = 0.025
    swap_every: str = SWAP_EVERY_TRIAL
    trials_per_episode: int = 100
    steps_per_trial: int = 1

    def __post_init__(self):
        for name in ("common_prob", "good_reward_prob", "bad_reward_prob", "swap_prob"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise ValueError(f"TaskConfig.{name}={value!r}: expected a probability in [0, 1]")
        if self.swap_every not in (SWAP_EVERY_TRIAL, SWAP_EVERY_EPISODE):
            raise ValueError(
                f"TaskConfig.swap_every={self.swap_every!r}: expected "
                f"{SWAP_EVERY_TRIAL!r} or {SWAP_EVERY_EPISODE!r}"
            )
        if not (isinstance(self.trials_per_episode, int) and self.trials_per_episode > 0):
            raise ValueError(
                f"TaskConfig.trials_per_episode={self.trials_per_episode!r}: expected an integer > 0"
            )
        if self.steps_per_trial not in (1, 2):
            raise ValueError(
                f"TaskConfig.steps_per_trial={self.steps_per_trial!r}: expected 1 (two steps in one) "
                "or 2 (one LSTM step at S1, one at S2/S3)"
            )

    @property
    def steps_per_episode(self) -> int:
        return self.trials_per_episode * self.steps_per_trial

    @property
    def max_step_counter(self) -> int:
        """The step counter's value at the end of an episode (2 per trial in both variants)."""
        return 2 * self.trials_per_episode


PRESETS = {
    "arxiv": TaskConfig(
        common_prob=0.75, swap_prob=0.5, swap_every=SWAP_EVERY_EPISODE, trials_per_episode=10, steps_per_trial=2
    ),
    "biorxiv-first-try": TaskConfig(
        common_prob=0.8, swap_prob=0.025, swap_every=SWAP_EVERY_TRIAL, trials_per_episode=100, steps_per_trial=2
    ),
    "biorxiv-final": TaskConfig(
        common_prob=0.8, swap_prob=0.025, swap_every=SWAP_EVERY_TRIAL, trials_per_episode=100, steps_per_trial=1
    ),
}


def preset(name: str) -> TaskConfig:
    """The task configuration of a named variant: one of `PRESETS`."""
    if name not in PRESETS:
        raise ValueError(f"task preset {name!r} is unknown: expected one of {', '.join(PRESETS)}")
    return PRESETS[name]


@dataclasses.dataclass(frozen=True)
class AgentConfig:
    """Network, loss and optimiser of the reference A3C worker (docs/reference.md)."""

    hidden: int = 48
    gamma: float = 0.9
    value_loss_weight: float = 0.05
    entropy_weight: float = 0.05
    learning_rate: float = 7e-4
    rmsprop_decay: float = 0.9
    rmsprop_epsilon: float = 1e-10
    clip_norm: float = 999.0
    policy_init_std: float = 0.01
    value_init_std: float = 1.0
    timestep_scale: float = 1.0  # the step counter input is t * timestep_scale; 1.0: the reference's raw t, 0: none
    # the previous-action input at an episode's first step: zeros (ours), or one_hot(0) = [1, 0] as
    # the reference feeds it (used for its imported TF1 checkpoints)
    reference_first_action: bool = False

    def __post_init__(self):
        if not (isinstance(self.hidden, int) and self.hidden > 0):
            raise ValueError(f"AgentConfig.hidden={self.hidden!r}: expected an integer > 0")
        for name in ("gamma", "rmsprop_decay"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"AgentConfig.{name}={getattr(self, name)!r}: expected a value in [0, 1]")
        for name in ("learning_rate", "rmsprop_epsilon", "clip_norm", "policy_init_std", "value_init_std"):
            if not getattr(self, name) > 0.0:
                raise ValueError(f"AgentConfig.{name}={getattr(self, name)!r}: expected a value > 0")
        if not self.timestep_scale >= 0.0:
            raise ValueError(f"AgentConfig.timestep_scale={self.timestep_scale!r}: expected a value >= 0 (0: no step counter input)")
        if not isinstance(self.reference_first_action, bool):
            raise ValueError(f"AgentConfig.reference_first_action={self.reference_first_action!r}: expected True or False")
