"""The hyperparameters: one frozen dataclass per configuration, and the task presets.

`TaskConfig` is a variant of the two-step task, `AgentConfig` the meta-RL agent's network, loss
and optimiser, `RunConfig` how a training run checkpoints, logs and tests; every value is
explained in docs/reference.md. Each field carries its help text, from which the command line
builds its flags (as CleanRL derives its flags from `Args`), so a new field appears everywhere at
once. This module imports nothing heavy, so the command line can show defaults and reject bad
flags before TensorFlow loads.
"""

import dataclasses

SWAP_EVERY_TRIAL = "trial"
SWAP_EVERY_EPISODE = "episode"
SWAP_GOOD_STATE = "swap"  # Wang et al.: one good second-stage state, which may swap
DRIFT = "drift"  # Daw et al. 2011: four drifting reward probabilities, a choice at the second stage
POINTS = "points"  # Kool et al. 2016's novel paradigm: two first-stage states, deterministic transitions, drifting whole points
S1, S2, S3 = 0, 1, 2  # the states: first stage, then the one action 0 reaches commonly, then action 1's
OPTIONS = ("S2 option 0", "S2 option 1", "S3 option 0", "S3 option 1")  # the drifting task's reward probabilities


def option_index(state, option):
    """Index into `OPTIONS` of option 0/1 in state S2/S3 (numpy or TensorFlow)."""
    return 2 * (state - S2) + option


def setting(default, help):
    """A dataclass field with its help text (the command line's flag help)."""
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """One variant of the two-step task (the presets: Wang et al. 2016 and 2018, Daw et al. 2011, Kool et al. 2016 and
    2017; docs/reference.md)."""

    common_prob: float = setting(0.8, "probability of the common transition (action 0 -> S2, action 1 -> S3)")
    good_reward_prob: float = setting(0.9, "reward probability of the good second-stage state (swap)")
    bad_reward_prob: float = setting(0.1, "reward probability of the other second-stage state (swap)")
    swap_prob: float = setting(0.025, "probability that the good state swaps, where it may (swap)")
    swap_every: str = setting(SWAP_EVERY_TRIAL, f"when the good state may swap: {SWAP_EVERY_TRIAL!r} or {SWAP_EVERY_EPISODE!r} (swap)")
    trials_per_episode: int = setting(100, "trials per episode")
    steps_per_trial: int = setting(1, "LSTM steps per trial: 1 (two steps in one) or 2 (one at S1, one at S2/S3)")
    rewards: str = setting(SWAP_GOOD_STATE, f"reward process: {SWAP_GOOD_STATE!r} (Wang et al.), {DRIFT!r} (Daw et al. 2011) or "
                           f"{POINTS!r} (Kool et al. 2016's novel paradigm)")
    drift_sd: float = setting(0.025, "SD of each reward probability's Gaussian step after every trial (drift)")
    drift_low: float = setting(0.25, "lower reflecting bound of the reward probabilities (drift)")
    drift_high: float = setting(0.75, "upper reflecting bound of the reward probabilities (drift)")
    points_low: int = setting(-4, "lowest points a second-stage state pays (points)")
    points_high: int = setting(5, "highest points a second-stage state pays (points)")
    points_sd: float = setting(2.0, "SD of each state's Gaussian step of points after every trial, rounded, reflected at the bounds (points)")
    high_stake: float = setting(1.0, "the stake of a random half of the trials, cued before the first choice, multiplying the "
                                     "trial's reward (1: no stakes; Kool et al. 2017: 5)")

    def __post_init__(self):
        for name in ("common_prob", "good_reward_prob", "bad_reward_prob", "swap_prob", "drift_low", "drift_high"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise ValueError(f"TaskConfig.{name}={value!r}: expected a probability in [0, 1]")
        if self.swap_every not in (SWAP_EVERY_TRIAL, SWAP_EVERY_EPISODE):
            raise ValueError(
                f"TaskConfig.swap_every={self.swap_every!r}: expected {SWAP_EVERY_TRIAL!r} or {SWAP_EVERY_EPISODE!r}"
            )
        if not (isinstance(self.trials_per_episode, int) and self.trials_per_episode > 0):
            raise ValueError(f"TaskConfig.trials_per_episode={self.trials_per_episode!r}: expected an integer > 0")
        if self.steps_per_trial not in (1, 2):
            raise ValueError(
                f"TaskConfig.steps_per_trial={self.steps_per_trial!r}: expected 1 (two steps in one) "
                "or 2 (one LSTM step at S1, one at S2/S3)"
            )
        if self.rewards not in (SWAP_GOOD_STATE, DRIFT, POINTS):
            raise ValueError(f"TaskConfig.rewards={self.rewards!r}: expected {SWAP_GOOD_STATE!r}, {DRIFT!r} or {POINTS!r}")
        if self.rewards == POINTS and self.common_prob != 1.0:
            raise ValueError(f"TaskConfig.common_prob={self.common_prob!r}: the {POINTS!r} task's transitions are deterministic (1.0)")
        if not (isinstance(self.points_low, int) and isinstance(self.points_high, int) and self.points_low < self.points_high):
            raise ValueError(f"TaskConfig.points_low={self.points_low!r}, points_high={self.points_high!r}: expected whole numbers, "
                             "points_low < points_high")
        if not (isinstance(self.points_sd, (int, float)) and self.points_sd >= 0.0):
            raise ValueError(f"TaskConfig.points_sd={self.points_sd!r}: expected a number >= 0")
        if not (isinstance(self.high_stake, (int, float)) and self.high_stake >= 1.0):
            raise ValueError(f"TaskConfig.high_stake={self.high_stake!r}: expected a number >= 1 (1: no stakes)")
        if self.has_stakes and self.rewards == SWAP_GOOD_STATE:
            raise ValueError(f"TaskConfig.high_stake={self.high_stake!r}: stakes are Kool et al.'s ({DRIFT!r} or {POINTS!r} rewards)")
        if self.rewards == DRIFT and self.steps_per_trial != 2:
            raise ValueError(
                f"TaskConfig.steps_per_trial={self.steps_per_trial!r}: the {DRIFT!r} task has a choice at the second "
                "stage, so it needs 2 (one LSTM step at S1, one at S2/S3)"
            )
        if not (isinstance(self.drift_sd, (int, float)) and self.drift_sd >= 0.0):
            raise ValueError(f"TaskConfig.drift_sd={self.drift_sd!r}: expected a number >= 0")
        if not self.drift_low < self.drift_high:
            raise ValueError(
                f"TaskConfig.drift_low={self.drift_low!r}, drift_high={self.drift_high!r}: expected drift_low < drift_high"
            )

    @property
    def steps_per_episode(self) -> int:
        return self.trials_per_episode * self.steps_per_trial

    @property
    def max_step_counter(self) -> int:
        """The step counter's value at the end of an episode (2 per trial in both variants)."""
        return 2 * self.trials_per_episode

    @property
    def second_stage_choice(self) -> bool:
        """Whether the second-stage action matters (Daw et al. 2011's task)."""
        return self.rewards == DRIFT

    @property
    def first_states(self) -> int:
        """First-stage states: two in Kool et al.'s novel paradigm, drawn at random each trial; else one."""
        return 2 if self.rewards == POINTS else 1

    @property
    def has_stakes(self) -> bool:
        return self.high_stake != 1.0

    @property
    def reward_unit(self) -> float:
        """The most a trial can pay, in absolute value: the meta-RL agent reads and learns from the
        pay (points or win, times the stake) divided by this, so its rewards lie in [-1, 1]; 1 in
        Wang et al.'s and Daw et al.'s tasks, whose rewards it reads as they are."""
        most = max(abs(self.points_low), abs(self.points_high)) if self.rewards == POINTS else 1
        return float(most * self.high_stake)


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
    "daw-2011": TaskConfig(common_prob=0.7, rewards=DRIFT, trials_per_episode=201, steps_per_trial=2),
    "kool2016-novel": TaskConfig(common_prob=1.0, rewards=POINTS, trials_per_episode=125, steps_per_trial=2),
    "kool2017-novel-stakes": TaskConfig(
        common_prob=1.0, rewards=POINTS, trials_per_episode=200, steps_per_trial=2, points_low=0, points_high=9, high_stake=5.0
    ),
    "kool2017-daw-stakes": TaskConfig(common_prob=0.7, rewards=DRIFT, trials_per_episode=200, steps_per_trial=2, high_stake=5.0),
}


def preset(name: str) -> TaskConfig:
    """The task configuration of a named variant: one of `PRESETS`."""
    if name not in PRESETS:
        raise ValueError(f"task preset {name!r} is unknown: expected one of {', '.join(PRESETS)}")
    return PRESETS[name]


def preset_name(task: TaskConfig):
    """The name of the preset `task` is, or None for a configuration of one's own."""
    return next((name for name, config in PRESETS.items() if config == task), None)


@dataclasses.dataclass(frozen=True)
class AgentConfig:
    """Network, loss and optimiser of the reference A3C worker (docs/reference.md)."""

    hidden: int = setting(48, "LSTM units")
    gamma: float = setting(0.9, "discount factor")
    value_loss_weight: float = setting(0.05, "weight of the value loss")
    entropy_weight: float = setting(0.05, "weight of the entropy bonus")
    learning_rate: float = setting(7e-4, "RMSProp learning rate")
    rmsprop_decay: float = setting(0.9, "RMSProp decay")
    rmsprop_epsilon: float = setting(1e-10, "RMSProp epsilon")
    clip_norm: float = setting(999.0, "global-norm gradient clip")
    policy_init_std: float = setting(0.01, "column norm of the policy head's initial weights")
    value_init_std: float = setting(1.0, "column norm of the value head's initial weights")
    timestep_scale: float = setting(
        1.0, "the step counter input is t times this; 1.0 is the reference's raw t; the shipped biorxiv-final "
        "headline uses 0.005 (t / 200); 0 feeds no counter"
    )
    episodes_per_update: int = setting(
        1, "episodes each seed plays side by side (the same weights) before one update from the mean of their "
        "losses; 1 is the reference's one episode per update"
    )
    gae_lambda: float = setting(1.0, "GAE lambda of the advantages; 1 is the reference's (discounted TD errors to the episode's end)")
    entropy_decay_episodes: int = setting(
        0, "if > 0, the entropy bonus's weight falls linearly from entropy_weight to 0 at this episode; 0 keeps it constant"
    )
    learning_rate_decay_episodes: int = setting(
        0, "if > 0, the learning rate falls linearly from learning_rate to 0 at this episode; 0 keeps it constant"
    )
    option_input: bool = setting(
        False, "the drifting task: with the reward, also feed which of the four options (state x option) was "
        "chosen at the step before, a one-hot of 4 (zeros elsewhere); otherwise the network must bind the option to the state itself"
    )
    reference_first_action: bool = setting(
        False, "feed one_hot(0) as the previous action at an episode's first step, as the reference does "
        "(set for its imported TF1 checkpoints); otherwise zeros"
    )

    def __post_init__(self):
        if not (isinstance(self.hidden, int) and self.hidden > 0):
            raise ValueError(f"AgentConfig.hidden={self.hidden!r}: expected an integer > 0")
        for name in ("gamma", "rmsprop_decay"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"AgentConfig.{name}={getattr(self, name)!r}: expected a value in [0, 1]")
        for name in ("learning_rate", "rmsprop_epsilon", "clip_norm", "policy_init_std", "value_init_std"):
            if not getattr(self, name) > 0.0:
                raise ValueError(f"AgentConfig.{name}={getattr(self, name)!r}: expected a value > 0")
        for name in ("value_loss_weight", "entropy_weight"):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"AgentConfig.{name}={getattr(self, name)!r}: expected a value >= 0")
        if not self.timestep_scale >= 0.0:
            raise ValueError(f"AgentConfig.timestep_scale={self.timestep_scale!r}: expected a value >= 0 (0: no step counter input)")
        if not (isinstance(self.episodes_per_update, int) and not isinstance(self.episodes_per_update, bool) and self.episodes_per_update > 0):
            raise ValueError(f"AgentConfig.episodes_per_update={self.episodes_per_update!r}: expected an integer > 0")
        if not 0.0 <= self.gae_lambda <= 1.0:
            raise ValueError(f"AgentConfig.gae_lambda={self.gae_lambda!r}: expected a value in [0, 1]")
        for name in ("entropy_decay_episodes", "learning_rate_decay_episodes"):
            value = getattr(self, name)
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
                raise ValueError(f"AgentConfig.{name}={value!r}: expected an integer >= 0 (0: constant)")
        if not isinstance(self.option_input, bool):
            raise ValueError(f"AgentConfig.option_input={self.option_input!r}: expected True or False")
        if not isinstance(self.reference_first_action, bool):
            raise ValueError(f"AgentConfig.reference_first_action={self.reference_first_action!r}: expected True or False")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """How a training run checkpoints, logs and tests (`a2c_lstm.train`, sweeps)."""

    save_every: int = setting(1000, "checkpoint period in episodes")
    log_every: int = setting(500, "period in episodes of the stay probabilities logged to TensorBoard")
    test_episodes: int = setting(300, "frozen test episodes per seed after training (sweeps, figures)")

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
                raise ValueError(f"RunConfig.{field.name}={value!r}: expected an integer > 0")


FIELDS = {f.name: (config, f) for config in (TaskConfig, AgentConfig, RunConfig) for f in dataclasses.fields(config)}


def parse_value(name, text):
    """A field's value from text ('7e-4' for learning_rate, 'true' for a flag); ValueError saying what it takes."""
    if name not in FIELDS:
        raise ValueError(f"unknown field {name!r}; expected one of {', '.join(sorted(FIELDS))}")
    kind = FIELDS[name][1].type
    text = text.strip()
    if kind is bool:
        if text.lower() not in ("true", "false"):
            raise ValueError(f"{name} takes bool values, not {text!r} (true or false)")
        return text.lower() == "true"
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{name} takes {kind.__name__} values, not {text!r}") from None


def configs_from(task: TaskConfig, values):
    """(TaskConfig, AgentConfig, RunConfig) from {field: value} over `task`; ValueError naming a bad value."""
    by_config = {config: {} for config in (TaskConfig, AgentConfig, RunConfig)}
    for name, value in values.items():
        by_config[FIELDS[name][0]][name] = value
    return (
        dataclasses.replace(task, **by_config[TaskConfig]),
        AgentConfig(**by_config[AgentConfig]),
        RunConfig(**by_config[RunConfig]),
    )


# ---- Names the command line shows in its help, kept here (one source of truth each) so that `two-step --help`
# loads neither numpy nor the modules that use them; those import them from here.

DATASETS = ("kool2016", "decker2016", "potter2017", "gillan2016")  # Daw et al. 2011's task: dataset_manifest.json's first datasets
ARBITRATION_DATASETS = ("kool2016-novel", "kool2017-novel-stakes", "kool2017-daw-stakes")  # Kool et al.'s own tasks: the manifest's others
DEFAULT_GROUP_SIZE = 32  # sweep.py: seeds side by side per Ray task, from bench/bench_sweep.py: docs/speed.md
FAMILIES = ("published", "hierarchical", "extended", "rnn", "agent", "baseline")  # prediction.py: the families of contenders


@dataclasses.dataclass(frozen=True)
class SamplerConfig:
    """NUTS over a hierarchical model (hierarchical.py): hBayesDM's default is 4 chains of 1,000
    warm-up and 1,000 draws."""

    chains: int = setting(4, "Markov chains (side by side where JAX has a CPU device for each)")
    warmup: int = setting(1000, "warm-up iterations per chain (step size and mass matrix adapt, then are dropped)")
    draws: int = setting(1000, "draws kept per chain")
    seed: int = setting(0, "the sampler's random seed")
    target_accept: float = setting(0.8, "NUTS's target acceptance probability (raise it when there are divergences)")
    max_tree_depth: int = setting(10, "NUTS's largest tree: at most 2^depth - 1 leapfrog steps per draw")


@dataclasses.dataclass(frozen=True)
class VariationalConfig:
    """Variational inference over a hierarchical model (hierarchical.py): Adam steps on the
    evidence lower bound with a low-rank multivariate normal guide, then independent draws."""

    steps: int = setting(5000, "Adam steps on the evidence lower bound")
    learning_rate: float = setting(0.01, "Adam's step size")
    rank: int = setting(10, "rank of the guide's covariance beyond its diagonal")
    draws: int = setting(1000, "independent draws from the fitted guide")
    seed: int = setting(0, "the optimiser's and the draws' random seed")
