"""Reliability: resume after SIGKILL/SIGINT/SIGTERM equals an uninterrupted run, corrupt checkpoints
fall back, mismatched runs stop, TF1 checkpoints load, runs are deterministic, faults are clear."""

import json
import os
import random
import resource
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

import a2c_lstm as a2c
import two_step_env as env
from twostep import checkpoints, cli, configs, events
from twostep.events import read_scalars

pytestmark = pytest.mark.slow  # training runs, subprocess runs or notebook executions

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EPISODES, SAVE_EVERY, LOG_EVERY = 600, 100, 50


def command(out, episodes=EPISODES, *extra):
    task = [] if "--task" in extra else ["--task", "arxiv"]
    return [sys.executable, os.path.join(ROOT, "a2c_lstm.py"), "train", *task, "--seeds", "0-1",
            "--episodes", str(episodes), "--save-every", str(SAVE_EVERY), "--log-every", str(LOG_EVERY),
            "--out", str(out), *extra]


def run(out, episodes=EPISODES, *extra, **options):
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(command(out, episodes, *extra), capture_output=True, text=True, env=environment, **options)


def start(out, *extra):
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.Popen(command(out, EPISODES, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)


def wait_for(path, process, timeout=120):
    deadline = time.time() + timeout
    while not os.path.isdir(path):
        assert process.poll() is None, process.communicate()
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def digests(out, episode=EPISODES):
    """SHA-256 of every file of every seed's checkpoint at `episode` (from its manifest)."""
    return {s: json.load(open(out / f"model_{s}" / f"model-{episode}" / "config.json"))["files"] for s in (0, 1)}


def scalars(out):
    """Every TensorBoard point of both seeds, as (seed, tag, step, value), in file order."""
    points = []
    for seed in (0, 1):
        run_dir = str(out / f"train_{seed}")
        for tag in list(events.TENSORBOARD_TAGS) + ["Perf/Length"] + [f"Stay/{c}" for c in env.STAY_CELLS]:
            steps, values = read_scalars(run_dir, tag)
            points += [(seed, tag, int(s), float(v)) for s, v in zip(steps, values)]
    return points


MODES = {  # the reference's update, and every training option added since, at once
    "reference": (),
    "batched, annealed, GAE": ("--episodes-per-update", "2", "--entropy-decay-episodes", "300",
                               "--learning-rate-decay-episodes", "500", "--gae-lambda", "0.8"),
    "drifting task, option input": ("--task", "daw-2011", "--trials-per-episode", "10", "--option-input", "true",
                                    "--episodes-per-update", "2"),
    "novel paradigm with stakes": ("--task", "kool2017-novel-stakes", "--trials-per-episode", "10"),
}


@pytest.fixture(scope="module", params=list(MODES))
def mode(request):
    return MODES[request.param]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, mode):
    out = tmp_path_factory.mktemp("uninterrupted")
    finished = run(out, EPISODES, *mode)
    assert finished.returncode == 0, finished.stderr
    return out


def assert_same_run(out, reference):
    assert digests(out) == digests(reference)
    points = scalars(out)
    np.testing.assert_equal(points, scalars(reference))  # NaN equals NaN: a stay cell without pairs (no rare transitions)
    keys = [(seed, tag, step) for seed, tag, step, _ in points]
    assert len(keys) == len(set(keys)), "duplicated TensorBoard points"
    assert {step for _, tag, step, _ in points if tag == "Perf/Reward"} == set(range(10, EPISODES + 1, 10))


def test_sigkill_then_rerun_equals_uninterrupted_run(tmp_path, uninterrupted, mode):
    process = start(tmp_path, *mode)
    after = random.Random(0).choice(range(SAVE_EVERY, EPISODES - SAVE_EVERY, SAVE_EVERY))
    wait_for(tmp_path / "model_1" / f"model-{after}", process)  # then killed somewhere past that checkpoint
    process.kill()
    process.wait()
    assert not (tmp_path / "model_0" / f"model-{EPISODES}").exists(), "the run finished before the kill"
    resumed = run(tmp_path, EPISODES, *mode)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from episode" in resumed.stdout
    assert_same_run(tmp_path, uninterrupted)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_checkpoint_at_the_interruption(tmp_path, uninterrupted, mode, signum):
    process = start(tmp_path, *mode)
    wait_for(tmp_path / "model_1" / f"model-{SAVE_EVERY}", process)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signum, err
    name = signal.Signals(signum).name
    assert f"interrupted: {name} at episode" in err
    stopped_at = int(err.split(f"{name} at episode ")[1].split(";")[0])
    # its own checkpoint, at the episode where it stopped (mostly between periodic ones; on a loaded machine the
    # signal can land at a periodic checkpoint's episode, which the same code then writes)
    assert SAVE_EVERY < stopped_at < EPISODES
    assert os.path.isdir(tmp_path / "model_0" / f"model-{stopped_at}")
    assert checkpoints.load_model(tmp_path / "model_0" / f"model-{stopped_at}").episode == stopped_at
    resumed = run(tmp_path, EPISODES, *mode)
    assert resumed.returncode == 0 and f"resuming from episode {stopped_at}" in resumed.stdout
    assert_same_run(tmp_path, uninterrupted)


def test_rerunning_a_finished_run_does_nothing(uninterrupted, mode):
    before = scalars(uninterrupted)
    again = run(uninterrupted, EPISODES, *mode)
    assert again.returncode == 0 and "already trained for 600 episodes; nothing to do" in again.stdout
    np.testing.assert_equal(scalars(uninterrupted), before)


def test_corrupt_newest_checkpoint_falls_back_with_a_message(tmp_path):
    task, agent = configs.preset("arxiv"), configs.AgentConfig()
    a2c.train(a2c.init_state(task, agent, [0, 1]), 40, out=str(tmp_path), progress=False, run=configs.RunConfig(save_every=20))
    data = tmp_path / "model_1" / "model-40" / "ckpt.data-00000-of-00001"
    corrupted = bytearray(data.read_bytes())
    corrupted[len(corrupted) // 2] ^= 0xFF
    data.write_bytes(bytes(corrupted))
    messages = []
    state = a2c.latest_state(task, agent, [0, 1], str(tmp_path), log=messages.append)
    assert state.episode == 20
    assert len(messages) == 1 and str(data) in messages[0] and "corrupted" in messages[0]
    with pytest.raises(checkpoints.CorruptCheckpointError, match="ckpt.data-00000-of-00001 is corrupted"):
        checkpoints.load_model(data.parent)
    # resuming from 20 rewrites episode 40 exactly as it was before the corruption
    fresh = a2c.train(a2c.init_state(task, agent, [0, 1]), 40, progress=False)
    resumed = a2c.train_to(state, 40, str(tmp_path), progress=False, run=configs.RunConfig(save_every=20))
    for f, r in zip(fresh.params + fresh.rms, resumed.params + resumed.rms):
        np.testing.assert_array_equal(f, r)
    checkpoints.load_model(data.parent)


def test_truncated_checkpoint_is_detected(tmp_path):
    a2c.train(a2c.init_state(configs.preset("arxiv"), configs.AgentConfig(), [0]), 10, out=str(tmp_path), progress=False)
    index = tmp_path / "model_0" / "model-10" / "ckpt.index"
    index.write_bytes(index.read_bytes()[:20])
    with pytest.raises(checkpoints.CorruptCheckpointError, match=f"{index} is corrupted"):
        checkpoints.load_model(index.parent)


def test_network_of_another_shape_names_the_variable(tmp_path):
    a2c.train(a2c.init_state(configs.preset("arxiv"), configs.AgentConfig(), [0]), 10, out=str(tmp_path), progress=False)
    with pytest.raises(ValueError, match=r"variable kernel has shape \[55, 192\], but a network with hidden=64 and 7 inputs expects \[71, 256\]"):
        checkpoints.load_model(tmp_path / "model_0" / "model-10", agent=configs.AgentConfig(hidden=64))


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--task", "biorxiv-final"], "have another task: common_prob=0.75 (asked 0.8)"),
        (["--hidden", "32"], "have another agent: hidden=48 (asked 32)"),
        (["--timestep-scale", "0.005"], "have another agent: timestep_scale=1.0 (asked 0.005)"),
        (["--seeds", "0-2"], "holds checkpoints of seeds [0, 1], not of seeds [0, 1, 2]"),
    ],
)
def test_arguments_contradicting_the_checkpoints_stop_unless_overwrite(tmp_path, capsys, extra, message):
    base = ["train", "--task", "arxiv", "--seeds", "0-1", "--episodes", "20", "--out", str(tmp_path)]
    cli.main(base)
    capsys.readouterr()
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    changed = base[:-2] + extra + base[-2:]
    for i, flag in enumerate(changed[:-len(extra) - 2]):  # the changed flag replaces the original one
        if flag == extra[0]:
            del changed[i : i + 2]
            break
    with pytest.raises(SystemExit) as stopped:
        cli.main(changed)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written or lost
    cli.main(changed + ["--overwrite"])
    assert "nothing to do" not in capsys.readouterr().out


def test_same_command_twice_gives_bit_identical_checkpoints_and_records(tmp_path):
    records = []
    for name in ("first", "second"):
        out = tmp_path / name
        cli.main(["train", "--task", "arxiv", "--seeds", "0-1", "--episodes", "60", "--save-every", "30", "--out", str(out)])
        model = out / "model_1" / "model-60"
        cli.main(["evaluate", "--model", str(model), "--episodes", "30", "--records", str(out / "records.npz")])
        records.append(np.load(out / "records.npz"))
    for episode in (30, 60):
        assert digests(tmp_path / "first", episode) == digests(tmp_path / "second", episode)
    for key in a2c.TRIAL_RECORDS:
        np.testing.assert_array_equal(records[0][key], records[1][key])


def test_out_that_is_not_writable_exits_2_and_writes_nothing(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(SystemExit) as stopped:
        cli.main(["train", "--task", "arxiv", "--episodes", "20", "--out", str(blocker / "run")])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"--out '{blocker / 'run'}' is not writable" in err and len(err.strip().splitlines()) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]


def test_full_disk_stops_clearly_and_keeps_the_last_good_checkpoint(tmp_path):
    first = run(tmp_path, 100)
    assert first.returncode == 0, first.stderr
    good = tmp_path / "model_0" / "model-100"
    before = digests(tmp_path, 100)
    size = os.path.getsize(good / "ckpt.data-00000-of-00001")

    def small_disk():  # every file this process writes is capped below a checkpoint's size
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size // 2, size // 2))

    failed = run(tmp_path, 200, preexec_fn=small_disk)
    assert failed.returncode == 1
    message = failed.stderr.strip().splitlines()[-1]
    assert f"could not write checkpoint {tmp_path / 'model_0' / 'model-200'}" in message
    assert f"the last complete checkpoint, {good}, is intact" in message
    assert digests(tmp_path, 100) == before and checkpoints.load_model(good).episode == 100
    assert not list(tmp_path.rglob("*.partial")) and not (tmp_path / "model_0" / "model-200").exists()


def test_reference_tf1_checkpoint_loads_and_gives_the_same_policy_and_value(tmp_path):
    environment = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
    made = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "make_tf1_checkpoint.py"), str(tmp_path)],
                          capture_output=True, text=True, env=environment)
    assert made.returncode == 0, made.stderr
    expected = np.load(tmp_path / "expected.npz", allow_pickle=True)
    assert {"global/rnn/lstm_cell/kernel:0", "global/fully_connected_1/weights:0"} <= set(expected["names"])
    for path in (tmp_path / "model-20000.cptk", tmp_path):  # the prefix, or its folder with a `checkpoint` file
        state = checkpoints.load_model(path)
        assert state.episode == 20000 and state.agent.hidden == 48
        params = a2c._as_tensors(state.params)
        h = c = tf.zeros([1, 48])
        policies, values = [], []
        for x in expected["inputs"]:
            h, c = a2c.lstm_step(params, tf.constant(x[None]), h, c)
            logits, value = a2c.heads(params, h)
            policies.append(tf.nn.softmax(logits)[0].numpy())
            values.append(value[0].numpy())
        np.testing.assert_allclose(policies, expected["policy"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(values, expected["value"], rtol=1e-5, atol=1e-5)
        records = a2c.evaluate(state, 3)
        assert records["action"].shape == (1, 3, 100)
        # the optimiser's slots come with the weights (the worker_0 layout), and the reference's
        # previous-action convention at an episode's first step
        for name, slot in zip(expected["slot_names"], expected["slots"]):
            field = checkpoints.TF1_VARIABLES.index(name[len("worker_0/") : -len("/RMSProp")])
            np.testing.assert_array_equal(state.rms[field][0], slot)
            assert not np.allclose(slot, 1.0)
        assert state.agent.reference_first_action


def test_tf1_checkpoint_without_its_optimiser_slots_fails_loudly(tmp_path):
    tf1 = tf.compat.v1
    with tf.Graph().as_default():
        variables = {name: tf1.get_variable(name, shape, initializer=tf1.zeros_initializer())
                     for name, shape in (("global/rnn/lstm_cell/kernel", [55, 192]), ("global/rnn/lstm_cell/bias", [192]),
                                         ("global/fully_connected/weights", [48, 2]), ("global/fully_connected_1/weights", [48, 1]))}
        variables["global_episodes"] = tf1.get_variable("global_episodes", [], tf.int32, initializer=tf1.zeros_initializer())
        with tf1.Session() as session:
            session.run(tf1.global_variables_initializer())
            tf1.train.Saver(variables).save(session, str(tmp_path / "model-5.cptk"))
    with pytest.raises(ValueError, match="lacks worker_0/global/rnn/lstm_cell/kernel/RMSProp, "):
        checkpoints.load_model(tmp_path / "model-5.cptk")
