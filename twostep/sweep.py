"""Sweeps: a grid of configurations x seeds, trained on Ray, one group of seeds per Ray task.

    two-step sweep --task biorxiv-final --set timestep_scale=0.005,1.0 --set learning_rate=3.5e-4,7e-4 \\
        --seeds 0-15 --episodes 20000 --out runs/sweep [--address auto]

Every `--set field=v1,v2,...` names a field of `AgentConfig` or `TaskConfig`; the grid is every
combination. Each configuration's seeds train in groups side by side in one compiled call (as
`a2c_lstm.train` does), each group one Ray task, in the usual layout under
`<out>/<configuration>/` (`model_<seed>/model-<episodes>/`, TensorBoard `train_<seed>/` with the
configuration as HParams), so `load_model` and `tensorboard --logdir <out>` work on any of them.
Without `--address` (or `RAY_ADDRESS`) Ray starts embedded on this machine's cores; with one, the
sweep joins that cluster, whose nodes need this project installed (`pip install .`).

A finished group leaves `<out>/<configuration>/group_<seeds>.json` with its results, and a rerun
of the same command skips it; an unfinished group resumes from its checkpoints. Ray retries a
task whose worker died (`retries`), and the retry resumes from the group's last checkpoint; a group
that keeps failing is reported and left out of the table.
`<out>/sweep.csv` (written atomically; every configuration swept into `<out>`, so a second
command can add configurations to a grid) has one row per (configuration, seed): every config
field, the episodes, the mean reward over the last 500 training episodes, the episode it left
chance, the four stay probabilities and the model-based index of 300 frozen test episodes, the
wall time of the task that finished the group (a resumed group counts only its resumed part) and
the node that ran it ('<hostname> (<ip>)').
"""

import contextlib
import dataclasses
import itertools
import json
import os
import sys
import time

from twostep import run_layout
from twostep.configs import DEFAULT_GROUP_SIZE, FIELDS, AgentConfig, RunConfig, TaskConfig, configs_from, parse_value, preset

SWEPT_FIELDS = sorted(name for name, (config, _) in FIELDS.items() if config in (TaskConfig, AgentConfig))


# ---------------------------------------------------------------- the grid (no TensorFlow, no Ray)


def parse_setting(text):
    """'learning_rate=3.5e-4,7e-4' -> ('learning_rate', [0.00035, 0.0007]); ValueError naming what is wrong."""
    name, equals, values = text.partition("=")
    name = name.strip().replace("-", "_")
    if not equals or not values.strip():
        raise ValueError(f"--set {text!r}: expected field=value1,value2,... such as learning_rate=3.5e-4,7e-4")
    if name not in SWEPT_FIELDS:
        raise ValueError(f"--set {text!r}: unknown field {name!r}; expected one of {', '.join(sorted(SWEPT_FIELDS))}")
    try:
        parsed = [parse_value(name, value) for value in values.split(",")]
    except ValueError as error:
        raise ValueError(f"--set {text!r}: {error}") from None
    if len(set(parsed)) != len(parsed):
        raise ValueError(f"--set {text!r}: a value is repeated")
    return name, parsed


def configuration_name(overrides):
    """A folder name for a configuration: its settings, e.g. 'learning_rate=0.0007,timestep_scale=0.005'."""
    return ",".join(f"{name}={value}" for name, value in sorted(overrides.items())) or "default"


def grid(task_name, settings):
    """[(name, overrides, TaskConfig, AgentConfig)] of every combination of `settings` ([(field, values)])
    on the `task_name` preset; ValueError naming a field set twice or a value a config rejects."""
    base = preset(task_name)
    names = [name for name, _ in settings]
    if len(set(names)) != len(names):
        raise ValueError(f"a field is set twice: {', '.join(sorted(n for n in set(names) if names.count(n) > 1))}")
    configurations = []
    for values in itertools.product(*(values for _, values in settings)):
        overrides = dict(zip(names, values))
        task, agent, _ = configs_from(base, overrides)
        configurations.append((configuration_name(overrides), overrides, task, agent))
    return configurations


def groups(seeds, size):
    """Seeds in groups of `size`, in order."""
    return [tuple(seeds[i : i + size]) for i in range(0, len(seeds), size)]


def init_from_paths(run, seeds):
    """The newest checkpoint of each of `seeds` in the run folder `run`; FileNotFoundError naming a missing seed."""
    newest = dict(zip(run_layout.seeds_with_checkpoints(run), run_layout.latest_checkpoints(run)))
    missing = [seed for seed in seeds if seed not in newest]
    if missing:
        raise FileNotFoundError(f"--init-from {run!r} has no checkpoints of seeds {missing} (it has seeds {sorted(newest)})")
    return [newest[seed] for seed in seeds]


def group_file(folder, seeds):
    return os.path.join(folder, f"group_{'-'.join(str(s) for s in seeds)}.json")


# ---------------------------------------------------------------- one group: a Ray task


def train_group(task, agent, run: RunConfig, seeds, episodes, folder, overrides, init_from=None):
    """Train (or resume) one group of seeds of a configuration to `episodes`, test it with frozen
    weights and write its results file; returns one row per seed. With `init_from` (a run folder),
    a fresh group starts from the weights of its seeds' newest checkpoints there (a curriculum)."""
    import numpy as np

    import a2c_lstm
    from two_step_env import STAY_CELLS, stay_probabilities
    from twostep import analysis, events

    start = time.time()
    state = a2c_lstm.latest_state(task, agent, seeds, folder, shared=True, log=lambda message: None)
    if state.episode == 0:
        _write_hparams(folder, seeds, overrides)
        if init_from:
            from twostep import checkpoints

            state = checkpoints.warm_start(state, checkpoints.load_models(init_from_paths(init_from, seeds)))
    if state.episode < episodes:
        state = a2c_lstm.train(state, episodes - state.episode, out=folder, run=run, progress=False)
    records = a2c_lstm.evaluate(state, run.test_episodes)
    paid = records["reward"] * records.get("stake", 1.0)  # Kool et al.'s tasks pay the points (or win) times the stake
    if task.common_prob < 1.0:
        probs, _ = stay_probabilities(records["action"], records["common"], records["reward"])
        index = [fit["reward x transition"]["coef"] for fit in analysis.stay_regression(records["action"], records["common"], records["reward"])]
    else:  # deterministic transitions (Kool et al.'s novel paradigm): no rare transition to read the stays by
        probs, index = np.full((len(seeds), len(STAY_CELLS)), np.nan), [np.nan] * len(seeds)
    # leaving chance: a mean reward over 500 episodes above 55% of the trials (55 in a 100-trial episode)
    curves = events.reward_curves(folder, seeds)
    node = _node_name()
    rows = []
    for k, seed in enumerate(seeds):
        row = {**dataclasses.asdict(task), **dataclasses.asdict(agent), "configuration": configuration_name(overrides), "seed": seed}
        row.update(episodes=state.episode, final_reward=float(events.final_reward(curves[k])),
                   left_chance_at=events.learning_onset(curves[k], threshold=0.55 * task.trials_per_episode),
                   test_reward=float(paid[k].sum(-1).mean()), model_based_index=float(index[k]))
        row.update({f"stay {cell}": float(p) for cell, p in zip(STAY_CELLS, probs[k])})
        row.update(wall_time=time.time() - start, node=node)
        rows.append({k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()})
    run_layout.write_atomically(group_file(folder, seeds), lambda path: _write_json(path, rows))
    return rows


def _write_json(path, rows):
    with open(path, "w") as f:
        json.dump(rows, f, indent=1)


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def _write_hparams(folder, seeds, overrides):
    """The configuration's settings as TensorBoard HParams of every seed's run."""
    from tensorboard.plugins.hparams import api as hparams

    from twostep.quiet_tensorflow import tf

    for seed in seeds:
        with tf.summary.create_file_writer(os.path.join(folder, f"train_{seed}")).as_default():
            hparams.hparams({**overrides, "seed": seed})


def _node_name():
    """Where the group ran: '<hostname> (<ip>)' of its Ray node, 'local' outside Ray."""
    import socket

    import ray

    return f"{socket.gethostname()} ({ray.util.get_node_ip_address()})" if ray.is_initialized() else "local"


# ---------------------------------------------------------------- the sweep


def connect(address=None, cpus=None):
    """Ray: the cluster at `address` (or RAY_ADDRESS), else an embedded instance on this machine.
    Workers find this project's modules and run TensorFlow quietly. ConnectionError if unreachable."""
    address = address or os.environ.get("RAY_ADDRESS")
    if address and address != "auto":
        _check_reachable(address)
    import logging

    import ray

    if ray.is_initialized() and not address:  # a second command in the same process (a notebook, a test)
        return ray
    project = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # a2c_lstm.py and twostep/
    runtime_env = {"env_vars": {"PYTHONPATH": project, "TF_CPP_MIN_LOG_LEVEL": "2"}}
    try:
        if address:
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=False, logging_level=logging.ERROR)
        else:
            ray.init(num_cpus=cpus, runtime_env=runtime_env, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    except Exception as error:  # Ray raises ConnectionError, RuntimeError or ValueError here (Exception if its start times out)
        where = f"reach a Ray cluster at {address!r}" if address else "start Ray on this machine"
        raise ConnectionError(f"cannot {where}: {str(error).splitlines()[0] if str(error) else type(error).__name__}") from error
    return ray


def _check_reachable(address, timeout=5.0):
    """ConnectionError at once if nothing listens at a 'host:port' (or 'ray://host:port') address,
    where Ray itself would keep retrying for minutes."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except (OSError, ValueError) as error:
        raise ConnectionError(f"cannot reach a Ray cluster at {address!r}: {error}") from None


def run_sweep(configurations, seeds, episodes, out, run=RunConfig(), group_size=DEFAULT_GROUP_SIZE, cpus_per_task=1, retries=3,
              progress=True, say=print, init_from=None):
    """Train every (configuration, group of seeds) not yet finished as a Ray task (Ray must be
    connected), then write `<out>/sweep.csv` (`collect`: every finished group under `out`, so a
    sweep adding configurations to a folder extends its table). Returns (table, failures).

    OSError naming `out` at once if it cannot be written. Says one line per finished group (and one
    for the groups skipped); with `progress`, a bar of the groups stays below those lines where
    stdout and stderr are both a terminal, and is left out in a pipe or a log file."""
    run_layout.check_writable(out)  # "--out '<out>' is not writable: <reason>" before any work, as `train` says it
    import ray

    remote = ray.remote(num_cpus=cpus_per_task, max_retries=retries)(train_group)
    pending, failures = {}, []
    work = [(name, overrides, task, agent, group) for name, overrides, task, agent in configurations for group in groups(seeds, group_size)]
    for name, overrides, task, agent, group in work:
        folder = os.path.join(out, name)
        os.makedirs(folder, exist_ok=True)
        if os.path.isfile(group_file(folder, group)):
            finished = _read_json(group_file(folder, group))
            if finished and finished[0]["episodes"] >= episodes:
                continue
        task_ref = remote.remote(task, agent, run, group, episodes, folder, overrides, init_from)
        pending[task_ref] = (name, group)
    with _Lines(say, total=len(work), initial=len(work) - len(pending), bar=progress) as lines:
        if len(pending) < len(work):
            lines.say(f"{len(work) - len(pending)} of {len(work)} groups already finished under {out}: skipped")
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            if not done:
                lines.tick()  # the bar's clock runs while a group trains
                continue
            name, group = pending.pop(done[0])
            try:
                group_rows = ray.get(done[0])
            except Exception as error:  # the task failed `retries` + 1 times
                failures.append((name, group, error))
                lines.say(f"FAILED {name}, seeds {list(group)}: {str(error).splitlines()[0]}")
            else:
                reward = sum(r["final_reward"] for r in group_rows) / len(group_rows)
                lines.say(f"done {name}, seeds {list(group)}: mean final reward {reward:.1f}, {group_rows[0]['wall_time']:.0f} s")
            lines.advance()
    table = collect(out)
    run_layout.write_atomically(os.path.join(out, "sweep.csv"), lambda path: table.to_csv(path, index=False))
    return table, failures


class _Lines:
    """A sweep's output: lines said through `say` (print by default), and a tqdm bar of the groups
    on stderr below them when stdout and stderr are both a terminal. Each line clears the bar, is
    written and flushed, and the bar is redrawn under it; whatever else writes to stdout meanwhile
    (Ray's driver prints a worker's death there from a thread) goes through the same path. In a
    pipe or a file, where a bar's carriage returns would land between the lines, there is no bar."""

    def __init__(self, say, total, initial, bar):
        from tqdm import tqdm

        self._say, self._tqdm = say, tqdm
        shown = bar and sys.stdout.isatty() and sys.stderr.isatty()
        self.bar = tqdm(total=total, initial=initial, unit="group", file=sys.stderr, disable=not shown, dynamic_ncols=True)
        self._stdout = _AboveTheBar(sys.stdout, tqdm, self.bar.fp) if shown else None

    def __enter__(self):
        if self._stdout:
            self._saved, sys.stdout = sys.stdout, self._stdout
        return self

    def __exit__(self, *failure):
        self.bar.close()
        if self._stdout:
            sys.stdout = self._saved
            self._stdout.close()

    def say(self, line):
        with self._tqdm.external_write_mode(file=self.bar.fp) if self._stdout else contextlib.nullcontext():
            self._say(line)  # with the bar cleared (and redrawn under the line after)
            sys.stdout.flush()

    def advance(self):
        self.bar.update(1)

    def tick(self):
        self.bar.refresh()


class _AboveTheBar:
    """stdout while a bar is shown: whole lines, each written with the bar cleared and redrawn under it
    (a part of a line waits for its end, or for the bar to go)."""

    def __init__(self, stream, tqdm, bar_stream):
        self._stream, self._tqdm, self._bar_stream, self._partial = stream, tqdm, bar_stream, ""

    def write(self, text):
        with self._tqdm.get_lock():
            lines, newline, self._partial = (self._partial + text).rpartition("\n")
            if newline:
                with self._tqdm.external_write_mode(file=self._bar_stream):
                    self._stream.write(lines + "\n")
                    self._stream.flush()
        return len(text)

    def flush(self):
        self._stream.flush()

    def close(self):
        """Write what is left of a line (the bar is gone)."""
        if self._partial:
            self._stream.write(self._partial)
            self._partial = ""
        self._stream.flush()

    def __getattr__(self, name):
        return getattr(self._stream, name)


def collect(out):
    """The table of every finished group under `out`, from their results files: the configurations
    of this sweep and of earlier ones into the same folder, one row per (configuration, seed)."""
    import glob

    import pandas as pd

    rows = [row for path in sorted(glob.glob(os.path.join(out, "*", "group_*.json"))) for row in _read_json(path)]
    return pd.DataFrame(rows).sort_values(["configuration", "seed"]).reset_index(drop=True) if rows else pd.DataFrame()


def learning_curves(out, every=100):
    """A pandas table of the training curves of every finished group under `out` (`collect`), one
    row per (configuration, seed, `every` episodes): the last episode logged in them, the mean reward
    per episode over them (`Perf/Reward`) and the seconds of training to their end (`events.training_seconds`)."""
    import numpy as np
    import pandas as pd

    from twostep import events

    rows = []
    for name, seed in collect(out)[["configuration", "seed"]].itertuples(index=False):
        steps, values, times = events.read_scalars(os.path.join(out, name, f"train_{seed}"), "Perf/Reward", wall_times=True)
        seconds, block = events.training_seconds(times), (steps - 1) // every
        for b in np.unique(block):
            rows.append({"configuration": name, "seed": seed, "episode": int(steps[block == b][-1]),
                         "reward": values[block == b].mean(), "training seconds": seconds[block == b][-1]})
    return pd.DataFrame(rows)
