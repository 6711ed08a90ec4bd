"""TensorBoard event files: writing the training scalars, rewriting a run on resume, reading curves back.

Training writes the reference's scalars (`Perf/Reward` every 10 episodes...) with `ScalarWriter`;
a resumed run drops the points logged after the checkpoint it resumes from; sweeps and figures
read each seed's `Perf/Reward` curve back and summarise it (final reward, learning onset). The Ray
workers of a sweep import this module, not the figures.
"""

import glob
import os
import socket
import time

import numpy as np

from two_step_env import STAY_CELLS, stay_probabilities
from twostep.quiet_tensorflow import tf

# ---------------------------------------------------------------- writing


class ScalarWriter:
    """One TensorBoard run's scalars, in a file of its own in `run_dir`: each step one event record
    whose summary holds every tag of that step as `tf.summary.scalar` writes a value (a float32
    tensor under the "scalars" plugin). The record is built here, not by the TensorFlow summary op
    (about a millisecond a tag): one template event per set of tags, whose values each step fills in."""

    _files = 0  # numbers the files of one process, as TensorFlow's writers do

    def __init__(self, run_dir):
        os.makedirs(run_dir, exist_ok=True)
        ScalarWriter._files += 1
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}.{ScalarWriter._files}.v2"
        self._records = tf.io.TFRecordWriter(os.path.join(run_dir, name))
        self._records.write(tf.compat.v1.Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString())
        self._templates = {}  # {tags: an Event whose summary holds those tags' points, values to fill in}

    def _template(self, tags):
        if tags not in self._templates:
            event = self._templates[tags] = tf.compat.v1.Event()
            metadata = tf.compat.v1.SummaryMetadata(plugin_data=tf.compat.v1.SummaryMetadata.PluginData(plugin_name="scalars"))
            for tag in tags:
                point = event.summary.value.add(tag=tag, metadata=metadata)
                point.tensor.dtype = tf.float32.as_datatype_enum
                point.tensor.tensor_shape.SetInParent()  # a scalar: an empty shape
        return self._templates[tags]

    def scalars(self, step, values):
        """Write {tag: value} at `step`, one event."""
        event = self._template(tuple(values))
        event.wall_time, event.step = time.time(), step
        for point, value in zip(event.summary.value, values.values()):
            point.tensor.tensor_content = np.float32(value).tobytes()
        self._records.write(event.SerializeToString())

    def flush(self):
        self._records.flush()

    def close(self):
        self._records.close()


# ---------------------------------------------------------------- the training run's scalars

REWARD_LOG_EVERY = 10  # the reference's TensorBoard scalars: every 10 episodes, means over those 10
TENSORBOARD_TAGS = {  # the reference's tags; losses are per step, as the reference logs them
    "Perf/Reward": "reward",
    "Perf/Value": "value",
    "Losses/Value Loss": "value_loss",
    "Losses/Policy Loss": "policy_loss",
    "Losses/Entropy": "entropy",
    "Losses/Grad Norm": "grad_norm",
    "Losses/Var Norm": "var_norm",
}
PER_STEP = {"value_loss", "policy_loss", "entropy"}


def write_scalars(writers, task, window, step):
    means = {k: np.mean([s[k] for s in window], axis=0) for k in TENSORBOARD_TAGS.values()}
    for seed_index, writer in enumerate(writers):
        values = {"Perf/Length": task.steps_per_episode}
        for tag, key in TENSORBOARD_TAGS.items():
            scale = 1.0 / task.steps_per_episode if key in PER_STEP else 1.0
            values[tag] = means[key][seed_index] * scale
        writer.scalars(step, values)


def write_stay_probabilities(writers, window, step):
    def stack(key):  # [episode, trial, seed] -> [seed, episode, trial]
        return np.stack([s[key] for s in window]).transpose(2, 0, 1)

    probs, _ = stay_probabilities(stack("action"), stack("common"), stack("trial_reward"))
    for seed_index, writer in enumerate(writers):
        writer.scalars(step, {f"Stay/{cell}": p for cell, p in zip(STAY_CELLS, probs[seed_index])})


def seed_writers(out, seeds, episode):
    """A `ScalarWriter` of every seed's run `<out>/train_<seed>`, resumed at `episode`: the points a
    killed run logged after that checkpoint are dropped first (`drop_events_after`)."""
    writers = []
    for seed in seeds:
        run_dir = os.path.join(out, f"train_{seed}")
        drop_events_after(run_dir, episode)
        writers.append(ScalarWriter(run_dir))
    return writers


def open_windows(recent, done, log_every):
    """The episodes of `recent` that belong to logging windows still open after episode `done`."""
    return recent[len(recent) - max(done % REWARD_LOG_EVERY, done % log_every) :]


def _read_events(path):
    """(events, truncated): the events of one file, up to a last record cut short by a killed writer."""
    events = []
    try:
        for record in tf.data.TFRecordDataset(path):
            events.append(tf.compat.v1.Event.FromString(record.numpy()))
    except tf.errors.DataLossError:
        return events, True
    return events, False


def rewrite_events(run_dir, keep):
    """Replace a TensorBoard run's event files by one file of the events for which `keep(event)` holds
    (also when a file ends in a record cut short, which is dropped)."""
    files = sorted(glob.glob(os.path.join(run_dir, "*tfevents*")))
    read = [_read_events(path) for path in files]
    events = [event for file_events, _ in read for event in file_events]
    kept = [e for e in events if e.HasField("summary") and keep(e)]
    truncated = any(cut for _, cut in read)
    if not files or (len(kept) == sum(e.HasField("summary") for e in events) and not truncated):
        return False
    header = next(e for e in events if not e.HasField("summary"))  # the file-version record
    target = os.path.join(run_dir, f"events.out.tfevents.{int(header.wall_time)}.rewritten.v2")
    with tf.io.TFRecordWriter(target + ".tmp") as writer:
        for event in [header] + kept:
            writer.write(event.SerializeToString())
    os.replace(target + ".tmp", target)
    for path in files:
        if path != target:
            os.remove(path)
    return True


def drop_events_after(run_dir, episode):
    """Drop TensorBoard points logged after `episode` (left by a run killed after its last checkpoint)."""
    if os.path.isdir(run_dir) and rewrite_events(run_dir, lambda event: event.step <= episode):
        print(f"{run_dir}: dropped TensorBoard points after episode {episode}, the checkpoint resumed from")


# ---------------------------------------------------------------- reading


def read_scalars(run_dir, tag, wall_times=False):
    """(steps, values) of one scalar tag from the TensorBoard event files in `run_dir`; with
    `wall_times`, (steps, values, the seconds since the epoch at which each point was written)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(run_dir, size_guidance={"tensors": 0})
    events.Reload()
    points = sorted((e.step, float(tf.make_ndarray(e.tensor_proto)), e.wall_time) for e in events.Tensors(tag))
    steps, values, times = zip(*points) if points else ((), (), ())
    return (np.array(steps), np.array(values)) + ((np.array(times),) if wall_times else ())


def training_seconds(wall_times, longest_pause=60.0):
    """Seconds of training up to each point, from the points' wall times: the gaps between points
    summed, leaving out any gap longer than `longest_pause` (a run stopped and resumed later, or a
    sweep's group waiting between two commands)."""
    gaps = np.diff(np.asarray(wall_times, float), prepend=wall_times[0] if len(wall_times) else 0.0)
    return np.cumsum(np.where(gaps <= longest_pause, gaps, 0.0))


def seed_runs(out):
    """The TensorBoard run folders `train_<seed>` under `out`, by seed."""
    return sorted(glob.glob(os.path.join(out, "train_*")), key=lambda p: int(p.rsplit("_", 1)[1]))


def reward_curves(out, seeds):
    """Each seed's training curve, (episodes, mean reward over the 10 episodes before each), read
    from the `Perf/Reward` points of its TensorBoard run `<out>/train_<seed>`."""
    return [read_scalars(os.path.join(out, f"train_{seed}"), "Perf/Reward") for seed in seeds]


def final_reward(curve, last=500):
    """Mean reward per episode over the last `last` training episodes of one curve: the mean of the
    points logged in them. In event files thinned after training, the points kept are a sample."""
    steps, values = curve
    return values[steps > steps[-1] - last].mean()


def learning_onset(curve, threshold=55.0, window=500):
    """First episode at which one curve's mean over the preceding `window` episodes exceeds
    `threshold` (chance is half the trials), or NaN if it never does."""
    steps, values = curve
    means = np.array([values[(steps > s - window) & (steps <= s)].mean() for s in steps])
    above = steps[(steps >= window) & (means > threshold)]
    return float(above[0]) if len(above) else np.nan


def final_rewards(out, seeds, last=500):
    """[seed]: `final_reward` of each seed's run in `out`."""
    return np.array([final_reward(curve, last) for curve in reward_curves(out, seeds)])


def learning_onsets(out, seeds, threshold=55.0, window=500):
    """[seed]: `learning_onset` of each seed's run in `out`."""
    return np.array([learning_onset(curve, threshold, window) for curve in reward_curves(out, seeds)], dtype=float)
