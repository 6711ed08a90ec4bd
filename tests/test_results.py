"""The shipped runs are what the README says: 8 intact checkpoints per run and TensorBoard runs with the reference tags."""

import os

import pytest

import a2c_lstm as a2c
import two_step_env as env
from helper import read_scalars

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = [("results/biorxiv/final", "biorxiv-final", (20000, 40000)), ("results/arxiv", "arxiv", (40000, 80000, 150000)),
        ("results/biorxiv/first-try", "biorxiv-first-try", (60000,))]
REFERENCE_TAGS = ["Perf/Reward", "Perf/Length", "Perf/Value", "Losses/Value Loss", "Losses/Policy Loss",
                  "Losses/Entropy", "Losses/Grad Norm", "Losses/Var Norm"]


@pytest.mark.parametrize("run, task, episodes", RUNS)
def test_shipped_checkpoints_are_intact_and_of_their_task(run, task, episodes):
    for seed in range(8):
        for episode in episodes:
            state = a2c.load_model(os.path.join(ROOT, run, f"model_{seed}", f"model-{episode}"))  # verifies SHA-256
            assert state.task == env.preset(task) and state.agent == a2c.AgentConfig() and state.episode == episode


def test_tensorboard_on_biorxiv_final_shows_8_runs_with_the_reference_tags():
    out = os.path.join(ROOT, "results/biorxiv/final")
    runs = sorted(d for d in os.listdir(out) if d.startswith("train_"))
    assert runs == [f"train_{s}" for s in range(8)]
    for tag in REFERENCE_TAGS:
        steps, _ = read_scalars(os.path.join(out, "train_0"), tag)
        assert list(steps) == list(range(10, 40001, 10)), tag
