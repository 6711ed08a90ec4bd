"""The shipped runs are what the docs say: 8 intact checkpoints per run, of the agent said, and TensorBoard runs with the reference tags."""

import os

import pytest

from twostep import checkpoints, configs
from twostep.events import read_scalars

pytestmark = pytest.mark.slow  # training runs, subprocess runs or notebook executions

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCAN = (20000, 36000, 37000, 38000, 39000, 40000)
RUNS = [
    ("results/biorxiv/final", "biorxiv-final", configs.AgentConfig(timestep_scale=0.005), SCAN),
    ("results/biorxiv/final-raw-timestep", "biorxiv-final", configs.AgentConfig(), SCAN),
    ("results/arxiv", "arxiv", configs.AgentConfig(), (40000, 80000, 150000)),
    ("results/biorxiv/first-try", "biorxiv-first-try", configs.AgentConfig(), (60000,)),
    ("results/daw-2011/previous-recipe", "daw-2011", configs.AgentConfig(timestep_scale=0.005, learning_rate=1.4e-3, entropy_weight=0.01),
     (10000, 20000, 30000)),
    ("results/daw-2011", "daw-2011", configs.AgentConfig(timestep_scale=0.005, learning_rate=1.4e-3, entropy_weight=0.01, episodes_per_update=8,
                                                         learning_rate_decay_episodes=40000), (10000, 20000, 30000, 40000)),
]
REFERENCE_TAGS = ["Perf/Reward", "Perf/Length", "Perf/Value", "Losses/Value Loss", "Losses/Policy Loss",
                  "Losses/Entropy", "Losses/Grad Norm", "Losses/Var Norm"]


@pytest.mark.parametrize("run, task, agent, episodes", RUNS)
def test_shipped_checkpoints_are_intact_and_of_their_task(run, task, agent, episodes):
    for seed in range(8):
        for episode in episodes:
            state = checkpoints.load_model(os.path.join(ROOT, run, f"model_{seed}", f"model-{episode}"))  # verifies SHA-256
            assert state.task == configs.preset(task) and state.agent == agent and state.episode == episode


def test_tensorboard_on_biorxiv_final_shows_8_runs_with_the_reference_tags():
    out = os.path.join(ROOT, "results/biorxiv/final")
    runs = sorted(d for d in os.listdir(out) if d.startswith("train_"))
    assert runs == [f"train_{s}" for s in range(8)]
    for tag in REFERENCE_TAGS:
        steps, _ = read_scalars(os.path.join(out, "train_0"), tag)
        assert list(steps) == list(range(10, 40001, 10)), tag


def test_shipped_study_is_the_grid_the_readme_describes_and_its_summary_is_computed_from_it(tmp_path):
    import dataclasses

    import pandas as pd

    import helper

    table = pd.read_csv(os.path.join(ROOT, "results/sweeps/sweep.csv"))
    grid = table[table["entropy_weight"] == 0.05]
    assert sorted(set(zip(grid["timestep_scale"], grid["learning_rate"]))) == sorted(
        (scale, rate) for scale in (0.0, 0.005, 0.05, 1.0) for rate in (3.5e-4, 7e-4, 1.4e-3))
    assert set(table.loc[table["entropy_weight"] != 0.05, "configuration"]) == {"entropy_weight=0.01,timestep_scale=0.005"}
    assert all(sorted(seeds) == list(range(16)) for _, seeds in table.groupby("configuration")["seed"])
    assert (table["episodes"] == 20000).all()
    for field, value in dataclasses.asdict(configs.preset("biorxiv-final")).items():
        if field in table:
            assert (table[field] == value).all(), field
        else:  # a field added after the study ran: its default is what the study's runs did
            assert value == dataclasses.fields(configs.TaskConfig)[list(dataclasses.asdict(configs.TaskConfig())).index(field)].default, field
    helper.write_study_results(os.path.join(ROOT, "results/sweeps/sweep.csv"), str(tmp_path))
    shipped, written = (pd.read_csv(os.path.join(folder, "summary.csv"), index_col=0) for folder in (os.path.join(ROOT, "results/sweeps"), tmp_path))
    pd.testing.assert_frame_equal(shipped, written)
    assert all(os.path.getsize(tmp_path / name) > 10_000 for name in ("heatmaps.png", "stay_heatmaps.png"))


REFERENCE = os.path.join(ROOT, "tests", "evaluation_reference.json")  # tests/make_evaluation_reference.py wrote it


@pytest.mark.parametrize("key", ["results/biorxiv/final model-40000", "results/arxiv model-40000", "results/biorxiv/first-try model-60000"])
def test_shipped_checkpoints_evaluate_as_before_the_drifting_task(key):
    """Wang et al.'s tasks evaluate as they did before Daw et al.'s drifting task joined the rollout
    (commit 858fb25, whose bits the reference was checked against): the same choices, states and
    rewards, and float records whose per-seed sums agree to what a change of CPU kernels can move
    (float32 round-off compounded over 100 recurrent steps: far less than 1e-5 of each value, so
    a sum moves by less than 1e-5 of the sum of its absolute values)."""
    import json

    import numpy as np

    from make_evaluation_reference import evaluate, summary

    expected = json.load(open(REFERENCE))[key]
    got = summary(evaluate(*key.split()))
    assert got["discrete_sha256"] == expected["discrete_sha256"]
    assert sorted(got["sums"]) == sorted(expected["sums"])
    for name, sums in expected["sums"].items():
        np.testing.assert_allclose(got["sums"][name], sums, rtol=0, atol=1e-5 * min(expected["absolute_sums"][name]), err_msg=name)
