"""Sweeps on Ray: the grid and its errors, the layout and table, determinism against `train`,
a killed sweep rerun losing nothing, a killed worker retried losing nothing, the output in a
terminal and in a pipe, and a real two-node cluster on this machine."""

import dataclasses
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import a2c_lstm as a2c
from twostep import checkpoints, cli, configs, events, run_layout, sweep
from twostep.configs import AgentConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTINGS = [("trials_per_episode", [10]), ("learning_rate", [7e-4, 1.4e-3])]  # a short task: the tests are about the plumbing
EPISODES, SAVE_EVERY, LOG_EVERY, TEST_EPISODES = 30, 10, 10, 10


# ---------------------------------------------------------------- the grid


def test_grid_is_every_combination_with_named_folders():
    configurations = sweep.grid("biorxiv-final", [("timestep_scale", [0.0, 0.005]), ("learning_rate", [7e-4, 1.4e-3]), ("swap_prob", [0.1])])
    assert len(configurations) == 4
    name, overrides, task, agent = configurations[1]
    assert name == "learning_rate=0.0014,swap_prob=0.1,timestep_scale=0.0"
    assert task.swap_prob == 0.1 and task.common_prob == 0.8 and agent == AgentConfig(learning_rate=1.4e-3, timestep_scale=0.0)


@pytest.mark.parametrize(
    "text, message",
    [
        ("nope=1", "unknown field 'nope'; expected one of"),
        ("learning_rate=abc", "learning_rate takes float values, not 'abc'"),
        ("hidden=1.5", "hidden takes int values, not '1.5'"),
        ("reference_first_action=maybe", "reference_first_action takes bool values, not 'maybe'"),
        ("learning_rate", "expected field=value1,value2"),
        ("learning_rate=1e-3,1e-3", "a value is repeated"),
    ],
)
def test_bad_settings_are_named(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        sweep.parse_setting(text)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--set", "nope=1"], "unknown field 'nope'"),
        ([], "the grid is empty"),
        (["--set", "common_prob=2"], "TaskConfig.common_prob=2.0: expected a probability in [0, 1]"),
        (["--set", "learning_rate=1e-3", "--set", "learning_rate=2e-3"], "a field is set twice: learning_rate"),
        (["--set", "learning_rate=1e-3", "--address", "127.0.0.1:1"], "cannot reach a Ray cluster at '127.0.0.1:1'"),
    ],
)
def test_bad_sweep_stops_with_one_line_before_anything_starts(tmp_path, capsys, argv, message):
    out = tmp_path / "sweep"
    with pytest.raises(SystemExit) as stop:
        cli.main(["sweep", "--task", "arxiv", "--episodes", "5", "--out", str(out), *argv])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err
    assert not out.exists() or not any(out.iterdir())


def unwritable(tmp_path, kind):
    """A path a sweep cannot write: under a folder without write permission, or under a regular file
    (which stops root too)."""
    if kind == "read-only folder":
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        if os.access(folder, os.W_OK):
            folder.chmod(0o755)
            pytest.skip("this user (root) writes into a folder without write permission")
        return folder / "sweep"
    (tmp_path / "file.txt").write_text("not a folder")
    return tmp_path / "file.txt" / "sweep"


@pytest.mark.parametrize("kind", ["read-only folder", "under a file"])
def test_an_unwritable_out_stops_the_sweep_before_any_work(tmp_path, kind):
    out = unwritable(tmp_path, kind)
    with pytest.raises(OSError, match=f"^--out {re.escape(repr(str(out)))} is not writable: ") as stop:
        sweep.run_sweep(sweep.grid("biorxiv-final", SETTINGS), (0,), 5, str(out))  # no Ray: it stops before needing it
    assert len(str(stop.value).splitlines()) == 1
    assert not os.path.exists(out)


@pytest.mark.parametrize("kind", ["read-only folder", "under a file"])
def test_sweep_into_an_unwritable_out_says_so_on_one_line_before_ray_starts(tmp_path, capsys, kind):
    import ray

    out = unwritable(tmp_path, kind)
    started = ray.is_initialized()
    with pytest.raises(SystemExit) as stop:
        cli.main(["sweep", "--task", "arxiv", "--set", "learning_rate=1e-3", "--episodes", "5", "--out", str(out)])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"two-step sweep: error: --out {str(out)!r} is not writable: "), err
    assert ray.is_initialized() == started


# ---------------------------------------------------------------- what a sweep prints


LINES_CHILD = """
import os, sys, threading
from twostep import sweep

with sweep._Lines(print, total=3, initial=1, bar=True) as lines:
    lines.say("1 of 3 groups already finished under out: skipped")
    lines.tick()
    lines.say("done a, seeds [0]: mean final reward 5.0, 3 s")
    if not sys.stderr.isatty():  # in a pipe: straight to the file descriptor, after the line only if the line was flushed
        os.write(2, b"marker\\n")
    lines.advance()
    thread = threading.Thread(target=print, args=("(raylet) a worker died",))  # as Ray's driver prints from a thread
    thread.start()
    thread.join()
    lines.say("done b, seeds [1]: mean final reward 6.0, 4 s")
    lines.advance()
print("table: out/sweep.csv")
"""
SAID = ["1 of 3 groups already finished under out: skipped", "done a, seeds [0]: mean final reward 5.0, 3 s",
        "(raylet) a worker died", "done b, seeds [1]: mean final reward 6.0, 4 s"]


def child_env():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout buffered, as a user's is
    return dict(env, PYTHONPATH=ROOT)


def terminal_screen(raw):
    """The lines a terminal shows after `raw` (carriage returns overwrite, escape sequences dropped)."""
    rows, row, col = [[]], 0, 0
    for ch in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw):
        if ch == "\r":
            col = 0
        elif ch == "\n":
            row, col = row + 1, 0
            rows.extend([] for _ in range(row + 1 - len(rows)))
        else:
            rows[row] = rows[row] + [" "] * (col + 1 - len(rows[row]))
            rows[row][col] = ch
            col += 1
    return ["".join(r).rstrip() for r in rows]


def test_in_a_terminal_the_lines_stay_above_the_bar():
    import fcntl
    import pty
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # the child: stdout and stderr are a 100-column terminal
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
            os.execve(sys.executable, [sys.executable, "-c", LINES_CHILD], child_env())
        finally:
            os._exit(127)  # never back into pytest
    raw, deadline = b"", time.time() + 60
    while time.time() < deadline:
        if select.select([fd], [], [], 1.0)[0]:
            try:
                data = os.read(fd, 4096)
            except OSError:  # the child is gone
                break
            if not data:
                break
            raw += data
    os.close(fd)
    assert os.waitpid(pid, 0)[1] == 0, raw
    raw = raw.decode()
    assert " 33%|" in raw and " 67%|" in raw  # a bar was drawn, and redrawn
    screen = [line for line in terminal_screen(raw) if line]
    assert screen[:-2] == SAID, raw
    assert screen[-2].startswith("100%|") and "3/3" in screen[-2] and screen[-1] == "table: out/sweep.csv", raw


def test_in_a_pipe_there_is_no_bar_and_each_line_comes_at_once():
    piped = subprocess.run([sys.executable, "-c", LINES_CHILD], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env=child_env(), timeout=60)
    assert piped.returncode == 0 and piped.stdout == "\n".join([*SAID[:2], "marker", *SAID[2:], "table: out/sweep.csv"]) + "\n"


# ---------------------------------------------------------------- on Ray


def digests(folder, seed, episode=EPISODES):
    return json.load(open(os.path.join(folder, f"model_{seed}", f"model-{episode}", "config.json")))["files"]


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory):
    """A sweep of 2 configurations x 3 seeds in groups of 2 on an embedded Ray limited to 2 CPUs."""
    sweep.connect(cpus=2)
    out = str(tmp_path_factory.mktemp("sweep"))
    configurations = sweep.grid("biorxiv-final", SETTINGS)
    table, failures = sweep.run_sweep(configurations, (0, 1, 2), EPISODES, out, group_size=2, progress=False, run=configs.RunConfig(save_every=SAVE_EVERY, log_every=LOG_EVERY, test_episodes=TEST_EPISODES))
    return out, configurations, table, failures


@pytest.fixture
def local_sweep(ray_instance, sweep_run):
    return sweep_run


@pytest.mark.slow
def test_sweep_writes_the_usual_layout_and_a_tidy_table(local_sweep):
    out, configurations, table, failures = local_sweep
    assert failures == []
    assert len(table) == 6 and list(table["seed"]) == [0, 1, 2, 0, 1, 2]
    assert set(table["configuration"]) == {name for name, *_ in configurations}
    for column in ("learning_rate", "timestep_scale", "trials_per_episode", "final_reward", "left_chance_at", "model_based_index",
                   "stay rewarded, common", "stay unrewarded, rare", "wall_time", "episodes"):
        assert column in table, column
    assert (table["episodes"] == EPISODES).all() and table["final_reward"].between(0, 10).all()
    pd.testing.assert_frame_equal(pd.read_csv(os.path.join(out, "sweep.csv")), table, check_dtype=False)
    for name, _, task, agent in configurations:
        for seed in (0, 1, 2):
            state = checkpoints.load_model(os.path.join(out, name, f"model_{seed}", f"model-{EPISODES}"))
            assert state.task == task and state.agent == agent
            assert os.path.isdir(os.path.join(out, name, f"train_{seed}"))
        assert sorted(f for f in os.listdir(os.path.join(out, name)) if f.startswith("group_")) == ["group_0-1.json", "group_2.json"]
    assert hparams_of(os.path.join(out, configurations[0][0], "train_2")) == {"learning_rate", "trials_per_episode", "seed"}


def hparams_of(run_dir):
    """The names of the HParams a TensorBoard run records."""
    from tensorboard.plugins.hparams import plugin_data_pb2

    from twostep.quiet_tensorflow import tf

    for path in os.listdir(run_dir):
        for record in tf.data.TFRecordDataset(os.path.join(run_dir, path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "hparams":
                    data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
                    if data.HasField("session_start_info"):
                        return set(data.session_start_info.hparams)
    return set()


@pytest.mark.slow
def test_learning_curves_are_each_seeds_reward_points_in_blocks_with_their_training_time(local_sweep):
    out, configurations, table, _ = local_sweep
    curves = sweep.learning_curves(out, every=20)
    assert len(curves) == len(table) * 2  # blocks (0, 20] and (20, 30] of every seed
    for name, _, _, _ in configurations:
        for seed in (0, 1, 2):
            steps, values = events.read_scalars(os.path.join(out, name, f"train_{seed}"), "Perf/Reward")
            rows = curves[(curves["configuration"] == name) & (curves["seed"] == seed)]
            assert list(rows["episode"]) == [20, 30]
            np.testing.assert_allclose(rows["reward"], [values[steps <= 20].mean(), values[steps > 20].mean()])
            assert 0 <= rows["training seconds"].iloc[0] <= rows["training seconds"].iloc[1]


def test_training_seconds_leave_out_pauses_longer_than_asked():
    np.testing.assert_allclose(events.training_seconds([100.0, 101.0, 103.0, 500.0, 502.0]), [0, 1, 3, 3, 5])
    np.testing.assert_allclose(events.training_seconds([100.0, 101.0, 500.0], longest_pause=1000), [0, 1, 400])


@pytest.mark.slow
def test_a_sweep_started_from_a_run_equals_train_started_from_it(local_sweep, tmp_path):
    out, configurations, _, _ = local_sweep
    source = os.path.join(out, configurations[0][0])
    later = sweep.grid("biorxiv-final", [("trials_per_episode", [10]), ("episodes_per_update", [2])])
    run = configs.RunConfig(save_every=SAVE_EVERY, log_every=LOG_EVERY, test_episodes=TEST_EPISODES)
    _, failures = sweep.run_sweep(later, (0, 1), 20, str(tmp_path / "sweep"), run=run, group_size=2, progress=False, init_from=source)
    assert failures == []
    name, _, task, agent = later[0]
    fresh = a2c.init_state(task, agent, [1])
    warm = checkpoints.warm_start(fresh, checkpoints.load_models(sweep.init_from_paths(source, [1])))
    a2c.train(warm, 20, out=str(tmp_path / "alone"), progress=False, run=run)
    assert digests(str(tmp_path / "sweep" / name), 1, 20) == digests(str(tmp_path / "alone"), 1, 20)
    with pytest.raises(FileNotFoundError, match=r"has no checkpoints of seeds \[7\] \(it has seeds \[0, 1, 2\]\)"):
        sweep.init_from_paths(source, [0, 7])


@pytest.mark.slow
def test_a_seed_from_any_group_equals_train_of_that_seed_alone(local_sweep, tmp_path):
    out, configurations, _, _ = local_sweep
    name, _, task, agent = configurations[1]
    for seed in (1, 2):  # the second of a pair, and a group of its own
        alone = str(tmp_path / f"alone_{seed}")
        a2c.train(a2c.init_state(task, agent, [seed]), EPISODES, out=alone, progress=False, run=configs.RunConfig(save_every=SAVE_EVERY, log_every=LOG_EVERY))
        assert digests(os.path.join(out, name), seed) == digests(alone, seed)


@pytest.mark.slow
def test_rerunning_a_finished_sweep_skips_every_group(local_sweep):
    out, configurations, table, _ = local_sweep
    said = []
    again, failures = sweep.run_sweep(configurations, (0, 1, 2), EPISODES, out, group_size=2, progress=False, say=said.append)
    assert said == [f"4 of 4 groups already finished under {out}: skipped"] and failures == []
    pd.testing.assert_frame_equal(again, table)


@pytest.mark.slow
def test_a_finished_sweep_rerun_with_more_episodes_trains_on_from_its_checkpoints(local_sweep, tmp_path):
    configurations = sweep.grid("biorxiv-final", SETTINGS)[:1]  # the embedded Ray of local_sweep
    name, _, task, agent = configurations[0]
    out = str(tmp_path / "sweep")
    options = dict(group_size=2, progress=False, run=configs.RunConfig(save_every=SAVE_EVERY, log_every=LOG_EVERY, test_episodes=TEST_EPISODES))
    sweep.run_sweep(configurations, (0, 1), EPISODES, out, **options)
    table, failures = sweep.run_sweep(configurations, (0, 1), 2 * EPISODES, out, **options)
    assert failures == [] and (table["episodes"] == 2 * EPISODES).all()
    alone = str(tmp_path / "alone")
    a2c.train(a2c.init_state(task, agent, [1]), 2 * EPISODES, out=alone, progress=False, run=configs.RunConfig(save_every=SAVE_EVERY, log_every=LOG_EVERY))
    assert digests(os.path.join(out, name), 1, 2 * EPISODES) == digests(alone, 1, 2 * EPISODES)


def processes_with_files_under(folder):
    """PIDs of the processes holding a file open under `folder` (a group's worker holds its TensorBoard files)."""
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if any(os.readlink(os.path.join("/proc", pid, "fd", fd)).startswith(folder + os.sep) for fd in os.listdir(f"/proc/{pid}/fd")):
                found.add(int(pid))
        except OSError:  # gone, or not ours to read
            continue
    return found


KILL_EPISODES, KILL_SAVE_EVERY = 600, 100


@pytest.mark.slow
def test_a_worker_killed_mid_group_is_retried_from_its_checkpoint_and_loses_nothing(local_sweep, tmp_path):
    """SIGKILL the Ray worker training a group once its first checkpoint exists: Ray retries the task,
    which resumes from that checkpoint, and every seed still ends with the bits of `train` alone."""
    import threading

    configurations = sweep.grid("biorxiv-final", SETTINGS)[:1]  # on the embedded Ray of local_sweep
    name, _, task, agent = configurations[0]
    out = str(tmp_path / "sweep")
    folder = os.path.join(out, name)
    run = configs.RunConfig(save_every=KILL_SAVE_EVERY, log_every=KILL_SAVE_EVERY, test_episodes=TEST_EPISODES)
    result = {}
    sweeping = threading.Thread(target=lambda: result.update(zip(("table", "failures"), sweep.run_sweep(
        configurations, (0, 1), KILL_EPISODES, out, run=run, group_size=2, progress=False, say=lambda line: None))))
    sweeping.start()
    first = [os.path.join(folder, f"model_{seed}", f"model-{KILL_SAVE_EVERY}", "config.json") for seed in (0, 1)]
    deadline = time.time() + 300
    while not all(map(os.path.exists, first)) or not processes_with_files_under(folder):
        assert sweeping.is_alive() and time.time() < deadline, "the group never reached its first checkpoint"
        time.sleep(0.02)
    (worker,) = processes_with_files_under(folder)
    assert worker != os.getpid()
    assert not os.path.exists(os.path.join(folder, "model_0", f"model-{KILL_EPISODES}"))  # mid-group
    written = [os.stat(path).st_mtime_ns for path in first]
    os.kill(worker, signal.SIGKILL)
    sweeping.join(timeout=600)
    assert not sweeping.is_alive() and result["failures"] == []
    table = result["table"]
    assert list(table["seed"]) == [0, 1] and (table["episodes"] == KILL_EPISODES).all()
    assert [os.stat(path).st_mtime_ns for path in first] == written  # the retry resumed from it, it did not start over
    def writer(name):  # events...<host>.<pid>.<n>.v2, or events...<time>.rewritten.v2 where a resume dropped points
        return "rewritten" if name.endswith(".rewritten.v2") else name.rsplit(".", 3)[1]

    # the killed worker's file, kept or (killed while writing its next checkpoint) rewritten without the points
    # after the checkpoint the retry resumed from; and the retry's, in another process
    writers = {writer(name) for name in os.listdir(os.path.join(folder, "train_0"))}
    assert len(writers) == 2 and len(writers - {str(worker), "rewritten"}) == 1, writers
    for seed in (0, 1):
        alone = str(tmp_path / f"alone_{seed}")
        a2c.train(a2c.init_state(task, agent, [seed]), KILL_EPISODES, out=alone, progress=False, run=run)
        assert digests(folder, seed, KILL_EPISODES) == digests(alone, seed, KILL_EPISODES)
        for tag, every in (("Perf/Reward", 10), ("Stay/rewarded, rare", KILL_SAVE_EVERY)):  # every point once, as train alone writes it
            steps, values = events.read_scalars(os.path.join(folder, f"train_{seed}"), tag)
            np.testing.assert_array_equal(steps, np.arange(every, KILL_EPISODES + 1, every))
            np.testing.assert_array_equal(values, events.read_scalars(os.path.join(alone, f"train_{seed}"), tag)[1])


def sweep_command(out):
    return [sys.executable, "-m", "twostep.cli", "sweep", "--task", "biorxiv-final", "--set", "trials_per_episode=10",
            "--set", "learning_rate=7e-4,1.4e-3", "--seeds", "0-1", "--group-size", "1", "--episodes", "400",
            "--save-every", "50", "--log-every", "50", "--test-episodes", "10", "--cpus", "1", "--out", str(out)]


@pytest.mark.slow
@pytest.mark.ray  # its own Ray instance, in a subprocess: not beside another test's
def test_a_killed_sweep_rerun_loses_nothing(tmp_path):
    out = tmp_path / "sweep"
    process = subprocess.Popen(sweep_command(out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=ROOT)
    deadline = time.time() + 300
    while not list(out.glob("*/group_*.json")):  # one group finished (one CPU: the others wait or run)
        assert process.poll() is None, process.communicate()
        assert time.time() < deadline, "no group finished"
        time.sleep(0.2)
    finished = {p: p.read_text() for p in out.glob("*/group_*.json")}
    os.killpg(process.pid, signal.SIGTERM)  # the driver and its embedded Ray, mid-way through the other groups
    process.wait(timeout=120)
    rerun = subprocess.run(sweep_command(out), capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert rerun.returncode == 0, rerun.stderr
    assert "already finished" in rerun.stdout
    for path, text in finished.items():  # finished groups were not trained again
        assert path.read_text() == text
    table = pd.read_csv(out / "sweep.csv")
    assert len(table) == 4 and (table["episodes"] == 400).all()
    # every seed ends where an uninterrupted `train` of it ends, bit for bit
    for name, _, task, agent in sweep.grid("biorxiv-final", SETTINGS):
        for seed in (0, 1):
            alone = str(tmp_path / f"alone_{name}_{seed}")
            a2c.train(a2c.init_state(task, agent, [seed]), 400, out=alone, progress=False, run=configs.RunConfig(save_every=50, log_every=50))
            assert digests(str(out / name), seed, 400) == digests(alone, seed, 400)


@pytest.mark.slow
@pytest.mark.ray  # a cluster of its own, with the embedded instance shut down
def test_tasks_run_on_both_nodes_of_a_two_node_cluster(tmp_path):
    import ray
    from ray.cluster_utils import Cluster

    ray.shutdown()  # this process may still hold the embedded instance of another test
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")  # another address than the head's, as on two machines
        cluster.wait_for_nodes()
        sweep.connect(address=cluster.address)
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        configurations = sweep.grid("biorxiv-final", [("trials_per_episode", [10])])
        table, failures = sweep.run_sweep(configurations, (0, 1), 20, str(tmp_path), group_size=1, progress=False, run=configs.RunConfig(save_every=10, log_every=10, test_episodes=5))
        assert failures == [] and len(table) == 2
        addresses = {n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]}
        assert len(addresses) == 2 and set(table["node"]) == {f"{socket.gethostname()} ({a})" for a in addresses}  # one group on each node
        ray.shutdown()
        _, _, task, agent = configurations[0]
        for seed in (0, 1):  # the node makes no difference to the bits
            alone = str(tmp_path / f"alone_{seed}")
            a2c.train(a2c.init_state(task, agent, [seed]), 20, out=alone, progress=False, run=configs.RunConfig(save_every=10, log_every=10))
            assert digests(os.path.join(str(tmp_path), configurations[0][0]), seed, 20) == digests(alone, seed, 20)
    finally:
        cluster.shutdown()


@pytest.mark.slow
def test_the_daw_study_table_scores_every_seed_where_its_checkpoint_plays(tmp_path, data_root, ray_instance):
    from twostep import run_analysis

    out = str(tmp_path / "stage")
    run = configs.RunConfig(save_every=10, log_every=10, test_episodes=5)
    sweep.run_sweep(sweep.grid("daw-2011", [("trials_per_episode", [8]), ("option_input", [True])]), (0, 1), 20, out, run=run,
                    group_size=2, progress=False)
    arms, curves = run_analysis.write_daw_study([out], str(tmp_path / "study"), data_root=data_root, every=10)
    scores = run_analysis.daw_agent_scores(os.path.join(out, arms["configuration"][0]), data_root=data_root)
    np.testing.assert_allclose(arms["fresh walks"], scores["fresh walks"].iloc[:2])
    np.testing.assert_allclose(arms["Kool's walks"], scores["Kool's walks"].iloc[:2])
    assert scores["episode"].iloc[0] == 20 and list(scores.index) == [0, 1, "mean"]
    assert list(curves["episode"]) == [10, 20, 10, 20] and set(curves["sweep"]) == {"stage"}
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "study" / "arms.csv"), arms, check_dtype=False)


def test_a_group_of_the_novel_paradigm_with_stakes_reports_its_pay_and_no_stays(tmp_path):
    """Kool et al.'s novel paradigm has no rare transition: the stay probabilities and the model-based
    index are empty (NaN), and the test reward is the pay (points x stake) per episode."""
    task = dataclasses.replace(configs.preset("kool2017-novel-stakes"), trials_per_episode=8)
    rows = sweep.train_group(task, configs.AgentConfig(), configs.RunConfig(save_every=5, log_every=5, test_episodes=3), (0, 1), 10,
                             str(tmp_path), {})
    assert len(rows) == 2 and all(np.isnan(row["model_based_index"]) and np.isnan(row["stay rewarded, common"]) for row in rows)
    state = checkpoints.load_models(run_layout.latest_checkpoints(str(tmp_path)))
    records = a2c.evaluate(state, 3)
    np.testing.assert_allclose([row["test_reward"] for row in rows], (records["reward"] * records["stake"]).sum(-1).mean(-1), rtol=1e-6)
