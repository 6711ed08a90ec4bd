"""Checkpoints: what a group of seeds is, how it is written and read, and the reference's TF1 import.

- `TrainState`, `Params`: everything a group of seeds needs to continue training or to be
  evaluated; weights and RMSProp slots carry a leading seed axis.
- `save_checkpoints`: one checkpoint per seed in the reference layout
  `<out>/model_<seed>/model-<episodes>/`: the weights and RMSProp slots (`tf.train.Checkpoint`),
  the task's good state, the episode counter, the statistics of TensorBoard windows still open,
  and `config.json` with every task and agent field and a SHA-256 manifest of the other files.
  Written to a `.partial` folder and renamed into place: complete or absent.
- `load_model`: one seed's checkpoint by path (manifest verified), or a TF1 checkpoint of the
  reference reproduction (`load_tf1_checkpoint`, which maps its variable names to ours);
  `load_models`: several seeds' checkpoints as one group.
- `resume_point`: where a run under a folder resumes (its newest intact checkpoints); `warm_start`:
  a fresh group starting from another run's weights (a curriculum).
- `BackgroundSaver`: checkpoints written on a thread beside training; `deferred_stop_signals`,
  `TrainingInterrupted`: SIGINT and SIGTERM stop training at an episode boundary, with a checkpoint.

Where a run's files are (without TensorFlow) is `run_layout`'s; TensorBoard files are `events`'.
"""

import concurrent.futures
import contextlib
import dataclasses
import glob
import hashlib
import json
import os
import shutil
import signal
import threading
from typing import NamedTuple

import numpy as np

import two_step_env as env
from twostep.configs import S2, AgentConfig, TaskConfig, preset, preset_name
from twostep.quiet_tensorflow import tf
from twostep.run_layout import CONFIG_FILE, checkpoint_path, existing_checkpoints, seeds_with_checkpoints

CHECKPOINT_PREFIX = "ckpt"
WINDOWS_FILE = "open_windows.npz"  # per-episode statistics of TensorBoard windows still open at the checkpoint


class Params(NamedTuple):
    """Weights, each with a leading seed axis. The LSTM kernel is [S, 7 + hidden, 4 * hidden]
    with gate blocks i, j (candidate), f, o in that order, as in TF1's `LSTMCell`."""

    kernel: tf.Tensor
    bias: tf.Tensor
    policy: tf.Tensor
    value: tf.Tensor


@dataclasses.dataclass
class TrainState:
    """Everything a group of seeds needs to continue training or to be evaluated."""

    task: TaskConfig
    agent: AgentConfig
    seeds: tuple
    episode: int  # episodes trained so far (the same for every seed of the group)
    params: Params
    rms: Params  # RMSProp mean-square slots, same shapes as params
    good_state: np.ndarray  # [S] the task's current good state, carried across episodes
    recent: list = dataclasses.field(default_factory=list)  # per-episode stats of open TensorBoard windows


class CorruptCheckpointError(ValueError):
    """A checkpoint whose files are missing, truncated or altered since they were written."""


def _sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def save_checkpoints(state: TrainState, out):
    """Write one checkpoint per seed: weights, RMSProp slots, good state, episode counter, the
    statistics of still-open TensorBoard windows, and a manifest of SHA-256 digests.

    Each checkpoint is written to a temporary folder and renamed into place, so it is either
    complete or absent. A failed write (a full disk, say) removes the partial folder and raises
    `OSError` naming the checkpoint and the last complete one, which is left intact.
    """
    paths = []
    for k, seed in enumerate(state.seeds):
        path = checkpoint_path(out, seed, state.episode)
        partial = path + ".partial"
        try:
            shutil.rmtree(partial, ignore_errors=True)
            variables = {name: tf.Variable(w[k]) for name, w in zip(Params._fields, state.params)}
            variables.update({f"rms_{name}": tf.Variable(w[k]) for name, w in zip(Params._fields, state.rms)})
            variables["good_state"] = tf.Variable(int(state.good_state[k]))
            variables["episode"] = tf.Variable(state.episode, dtype=tf.int64)
            tf.train.Checkpoint(**variables).write(os.path.join(partial, CHECKPOINT_PREFIX))
            windows = {key: np.stack([s[key][..., k] for s in state.recent]) for key in (state.recent[:1] or [{}])[0]}
            np.savez(os.path.join(partial, WINDOWS_FILE), **windows)
            config = {
                "task": dataclasses.asdict(state.task),
                "preset": preset_name(state.task),  # the task's preset, or null for a task of one's own
                "agent": dataclasses.asdict(state.agent),
                "seed": seed,
                "episode": state.episode,
                "files": {name: _sha256(os.path.join(partial, name)) for name in sorted(os.listdir(partial))},
            }
            with open(os.path.join(partial, CONFIG_FILE), "w") as f:
                json.dump(config, f, indent=2)
            shutil.rmtree(path, ignore_errors=True)
            os.replace(partial, path)
        except (OSError, tf.errors.OpError) as error:
            shutil.rmtree(partial, ignore_errors=True)
            complete = existing_checkpoints(os.path.dirname(path))
            reason = getattr(error, "strerror", None) or getattr(error, "message", None) or str(error)
            raise OSError(
                f"could not write checkpoint {path} ({reason}); "
                f"the last complete checkpoint, {complete[-1] if complete else 'none'}, is intact"
            ) from error
        paths.append(path)
    return paths


def input_names(agent: AgentConfig, task: TaskConfig):
    """What each of the network's inputs is (`input_size` of them), in order."""
    observation = [f"state {k}" for k in range(env.N_STATES)] + ["reward"] + [f"action {k}" for k in range(env.N_ACTIONS)] + ["counter"]
    return observation + [f"option {k}" for k in range(len(env.OPTIONS))] * agent.option_input + env.cue_names(task)


def input_size(agent: AgentConfig, task: TaskConfig):
    """Numbers the network reads at each step: the observation (`two_step_env.OBS_SIZE`), with
    `option_input` a one-hot of the four options, then the task's cues (`two_step_env.cue_names`)."""
    return len(input_names(agent, task))


def _expected_shapes(agent: AgentConfig, task: TaskConfig):
    return Params(
        kernel=(input_size(agent, task) + agent.hidden, 4 * agent.hidden),
        bias=(4 * agent.hidden,),
        policy=(agent.hidden, env.N_ACTIONS),
        value=(agent.hidden, 1),
    )


def _check_shapes(params: Params, agent: AgentConfig, task: TaskConfig, where, names=Params._fields):
    """Raise ValueError naming the first variable whose shape does not fit `agent`'s network on `task`."""
    for name, shown, w, expected in zip(Params._fields, names, params, _expected_shapes(agent, task)):
        if tuple(np.shape(w)[1:]) != expected:
            raise ValueError(
                f"{where}: variable {shown} has shape {list(np.shape(w)[1:])}, but a network with "
                f"hidden={agent.hidden} and {input_size(agent, task)} inputs expects {list(expected)}"
            )


def load_model(path, agent: AgentConfig = None, task: TaskConfig = None) -> TrainState:
    """Load one seed's checkpoint, e.g. `results/biorxiv/final/model_3/model-20000`.

    Also takes a TF1 checkpoint of the reference reproduction: a prefix such as
    `.../model-20000/model-20000.cptk`, or its folder holding a `checkpoint` file (see
    `load_tf1_checkpoint`). With `agent`, the weights must fit that network. Raises
    FileNotFoundError (listing the checkpoints that do exist beside `path`),
    CorruptCheckpointError, or ValueError for a network of another shape.
    """
    if not str(path).strip():
        raise FileNotFoundError("no checkpoint at '': the path is empty; give a folder like results/biorxiv/final/model_3/model-20000")
    path = os.path.normpath(str(path))
    if os.path.isfile(os.path.join(path, CONFIG_FILE)):
        return _load_checkpoint(path, agent)
    tf1_prefix = path if os.path.isfile(path + ".index") else None
    if tf1_prefix is None and os.path.isfile(os.path.join(path, "checkpoint")):
        tf1_prefix = tf.train.latest_checkpoint(path)
    if tf1_prefix:
        return load_tf1_checkpoint(tf1_prefix, agent, task)
    if os.path.isdir(path) and os.path.basename(path).startswith("model-"):
        raise CorruptCheckpointError(f"checkpoint {path} lacks its {CONFIG_FILE} (the file that lists and verifies the others)")
    inside = existing_checkpoints(path)
    if inside:  # a seed folder: name its checkpoints
        raise FileNotFoundError(f"{path!r} is a seed's folder, not a checkpoint: give one of {', '.join(inside)}")
    parent = os.path.dirname(path)
    found = existing_checkpoints(parent)
    raise FileNotFoundError(
        f"no checkpoint at {path!r}; checkpoints under {parent or '.'!r}: {', '.join(found) if found else 'none'}"
    )


def _load_checkpoint(path, agent):
    config_file = os.path.join(path, CONFIG_FILE)
    try:
        with open(config_file) as f:
            config = json.load(f)
        files = config["files"]
    except (ValueError, KeyError, TypeError) as error:
        raise CorruptCheckpointError(f"checkpoint file {config_file} is unreadable ({error})") from error
    for name, digest in files.items():
        file = os.path.join(path, name)
        if not os.path.isfile(file):
            raise CorruptCheckpointError(f"checkpoint file {file} is missing")
        if _sha256(file) != digest:
            raise CorruptCheckpointError(f"checkpoint file {file} is corrupted: its SHA-256 differs from the one recorded at writing")
    saved_agent = AgentConfig(**config["agent"])
    reader = tf.train.load_checkpoint(os.path.join(path, CHECKPOINT_PREFIX))

    def read(name):
        return reader.get_tensor(f"{name}/.ATTRIBUTES/VARIABLE_VALUE")

    params = Params(*(read(n)[None] for n in Params._fields))
    task = TaskConfig(**config["task"])
    _check_shapes(params, agent or saved_agent, task, path)
    with np.load(os.path.join(path, WINDOWS_FILE)) as windows:
        n_open = len(windows[windows.files[0]]) if windows.files else 0
        recent = [{key: windows[key][i][..., None] for key in windows.files} for i in range(n_open)]
    return TrainState(
        task=task,
        agent=agent or saved_agent,
        seeds=(int(config["seed"]),),
        episode=int(read("episode")),
        params=params,
        rms=Params(*(read(f"rms_{n}")[None] for n in Params._fields)),
        good_state=np.array([read("good_state")], np.int32),
        recent=recent,
    )


TF1_VARIABLES = Params(  # the reference network's variable names in its TF1 checkpoints (docs/reference.md)
    kernel="global/rnn/lstm_cell/kernel",
    bias="global/rnn/lstm_cell/bias",
    policy="global/fully_connected/weights",
    value="global/fully_connected_1/weights",
)


def tf1_slot_name(variable):
    """Where the reference's checkpoints keep a variable's RMSProp mean-square slot: the worker
    applied its gradients to the global variables inside its own scope, so the slot of
    `global/...` is `worker_0/global/.../RMSProp` (its momentum slot, `.../RMSProp_1`, is unused)."""
    return f"worker_0/{variable}/RMSProp"


def load_tf1_checkpoint(prefix, agent: AgentConfig = None, task: TaskConfig = None) -> TrainState:
    """The reference reproduction's trained network from its TF1 checkpoint, as a one-seed state.

    Its LSTM kernel has our layout (rows: the 7 inputs in docs/reference.md's order, then the 48
    hidden units; columns: gates i, j, f, o), so weights map one to one, and the RMSProp slots
    (`tf1_slot_name`) are loaded with them, so training can resume from the reference's optimiser
    state. A checkpoint that lacks any of them raises ValueError naming what is missing. The agent
    feeds the reference's previous-action input at an episode's first step
    (`AgentConfig.reference_first_action`); the task defaults to biorxiv-final; the good state
    starts at S2.
    """
    shapes = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
    expected = list(TF1_VARIABLES) + [tf1_slot_name(name) for name in TF1_VARIABLES] + ["global_episodes"]
    missing = [name for name in expected if name not in shapes]
    if missing:
        raise ValueError(f"{prefix} is not a checkpoint of the reference network as it trains: it lacks {', '.join(missing)}")
    reader = tf.train.load_checkpoint(prefix)
    params = Params(*(reader.get_tensor(name)[None] for name in TF1_VARIABLES))
    agent = agent or AgentConfig(hidden=int(shapes[TF1_VARIABLES.policy][0]), reference_first_action=True)
    task = task or preset("biorxiv-final")
    _check_shapes(params, agent, task, prefix, names=TF1_VARIABLES)
    return TrainState(
        task=task,
        agent=agent,
        seeds=(0,),
        episode=int(reader.get_tensor("global_episodes")),
        params=params,
        rms=Params(*(reader.get_tensor(tf1_slot_name(name))[None] for name in TF1_VARIABLES)),
        good_state=np.array([S2], np.int32),
    )


def differences(found, asked):
    """'field=found (asked asked), ...' for the fields where two configurations differ."""
    return ", ".join(
        f"{f.name}={getattr(found, f.name)!r} (asked {getattr(asked, f.name)!r})"
        for f in dataclasses.fields(found)
        if getattr(found, f.name) != getattr(asked, f.name)
    )


def load_models(paths) -> TrainState:
    """One group from several seeds' checkpoints (`load_model` each); ValueError naming a path
    given twice, or the two paths and the fields that differ where configurations do not match."""
    repeated = sorted({os.path.normpath(p) for p in paths if [os.path.normpath(q) for q in paths].count(os.path.normpath(p)) > 1})
    if repeated:
        raise ValueError(f"a checkpoint is given twice: {', '.join(repeated)}")
    states = [load_model(p) for p in paths]
    for path, state in zip(paths[1:], states[1:]):
        for name, theirs, first in (("task", state.task, states[0].task), ("agent", state.agent, states[0].agent)):
            if theirs != first:
                raise ValueError(f"cannot evaluate {path} with {paths[0]}: another {name}: {differences(theirs, first)}")
        if state.episode != states[0].episode:
            raise ValueError(f"cannot evaluate {path} (episode {state.episode}) with {paths[0]} (episode {states[0].episode}): give checkpoints of one episode")
        if set(state.seeds) & set(states[0].seeds):
            raise ValueError(f"cannot evaluate {path} with {paths[0]}: both are seed {state.seeds[0]}")
    return stack_states(states)


def stack_states(states) -> TrainState:
    """One group from single-seed states of the same task, agent and episode (see `load_models`)."""
    first = states[0]
    for s in states[1:]:
        if (s.task, s.agent, s.episode, len(s.recent)) != (first.task, first.agent, first.episode, len(first.recent)):
            raise ValueError(
                f"cannot group seed {s.seeds} (episode {s.episode}) with seed {first.seeds} (episode {first.episode}): "
                f"{differences(s.task, first.task) or differences(s.agent, first.agent) or 'task, agent and episode must match'}"
            )

    def concatenate(arrays, axis=0):
        return np.concatenate([np.asarray(a) for a in arrays], axis=axis)

    return TrainState(
        task=first.task,
        agent=first.agent,
        seeds=tuple(seed for s in states for seed in s.seeds),
        episode=first.episode,
        params=Params(*(concatenate(ws) for ws in zip(*(s.params for s in states)))),
        rms=Params(*(concatenate(ws) for ws in zip(*(s.rms for s in states)))),
        good_state=concatenate([s.good_state for s in states]),
        recent=[{k: concatenate([s.recent[i][k] for s in states], axis=-1) for k in first.recent[i]} for i in range(len(first.recent))],
    )


def resume_point(task, agent, seeds, out, overwrite=False, log=print, shared=False):
    """The newest intact checkpoint of every seed under `out` as one state, or None to start afresh.

    A corrupted checkpoint is reported and skipped for the one before it. Checkpoints of other
    seeds, another task or another network stop with ValueError instead of mixing runs; with
    `overwrite`, the run under `out` (checkpoints and TensorBoard runs) is deleted instead.
    `shared`: `out` is shared with other groups of seeds of the same run (a sweep's groups), so
    checkpoints of other seeds are theirs, not a mistake.
    """
    model_dirs = glob.glob(os.path.join(out, "model_*"))
    if overwrite:
        for path in model_dirs + glob.glob(os.path.join(out, "train_*")):
            shutil.rmtree(path)
        return None
    found = seeds_with_checkpoints(out)
    if found and found != sorted(seeds) and not shared:
        raise ValueError(
            f"{out} holds checkpoints of seeds {found}, not of seeds {list(seeds)}: "
            "ask for the same seeds, choose another --out, or pass --overwrite"
        )
    per_seed = [{int(p.rsplit("-", 1)[1]) for p in existing_checkpoints(os.path.join(out, f"model_{s}"))} for s in seeds]
    common_episodes = sorted(set.intersection(*per_seed), reverse=True)
    for episode in common_episodes:
        try:
            state = stack_states([load_model(checkpoint_path(out, s, episode)) for s in seeds])
        except (CorruptCheckpointError, FileNotFoundError) as error:
            log(f"{error}; falling back to the checkpoint before it")
            continue
        for name, found_config, asked in (("task", state.task, task), ("agent", state.agent, agent)):
            if found_config != asked:
                raise ValueError(
                    f"the checkpoints under {out} have another {name}: {differences(found_config, asked)}; "
                    "choose another --out, or pass --overwrite"
                )
        return state
    if common_episodes:
        log(f"WARNING: none of the checkpoints under {out} is intact (episodes {', '.join(map(str, common_episodes))}): "
            f"seeds {list(seeds)} start again from episode 0")
    return None


def warm_start(state: TrainState, source: TrainState) -> TrainState:
    """A fresh `state` that starts from the weights and RMSProp slots of `source` (the same seeds
    and network, trained on another task): a curriculum. Inputs that `state`'s network reads and
    `source`'s did not (the option input, `option_input`; a task's cues, `two_step_env.cue_names`)
    start with zero weights (RMSProp slots at one), so it computes what `source` computes until it
    learns to use them. ValueError naming what does not match."""
    if tuple(source.seeds) != tuple(state.seeds):
        raise ValueError(f"--init-from holds seeds {list(source.seeds)}, not {list(state.seeds)}: ask for the same seeds")
    if source.agent.hidden != state.agent.hidden:
        raise ValueError(f"--init-from has hidden={source.agent.hidden}, not {state.agent.hidden}: the networks differ")
    old, new = input_names(source.agent, source.task), input_names(state.agent, state.task)
    dropped = [name for name in old if name not in new]
    if dropped:
        raise ValueError(f"--init-from reads inputs this network does not ({', '.join(dropped)}): the networks differ")
    rows = [old.index(name) if name in old else None for name in new] + list(range(len(old), len(old) + state.agent.hidden))

    def widened(kernel, fill):  # [S, inputs + hidden, 4 hidden] of `source` -> the rows of `state`'s inputs
        return np.stack([kernel[:, row] if row is not None else np.full_like(kernel[:, 0], fill) for row in rows], axis=1)

    params = source.params._replace(kernel=widened(source.params.kernel, 0.0))
    return dataclasses.replace(state, params=params, rms=source.rms._replace(kernel=widened(source.rms.kernel, 1.0)))


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived: training stopped at an episode boundary, checkpointed if it had `out`."""

    def __init__(self, signum, state, paths):
        self.signum, self.state, self.paths = signum, state, paths
        saved = f"; checkpoints written: {', '.join(paths)}; run the same command again to resume" if paths else ""
        super().__init__(f"{signal.Signals(signum).name} at episode {state.episode}{saved}")


@contextlib.contextmanager
def deferred_stop_signals():
    """While training, SIGINT and SIGTERM only ask the loop to stop at the next episode boundary."""
    received = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {s: signal.signal(s, lambda signum, frame: received.append(signum)) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class BackgroundSaver:
    """Writes checkpoints (`save_checkpoints`) on a thread of its own while training goes on, one
    save at a time: a save waits for the one before, and leaving the `with` block waits for the
    last. A failed save's OSError is raised by the next `save`, `wait` or the block's end; the last
    complete checkpoint stays intact either way."""

    def __init__(self, out):
        self.out, self.pending = out, None
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint writer")

    def save(self, snapshot):
        self.wait()
        self.pending = self.pool.submit(save_checkpoints, snapshot, self.out)

    def wait(self):
        """The paths of the save in progress once it is complete ([] if none); its error if it failed."""
        pending, self.pending = self.pending, None
        return pending.result() if pending else []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.wait()
        finally:
            self.pool.shutdown()
