"""Every notebook runs top to bottom: with the shipped checkpoints, and with a tiny TRAIN = True run.

The notebooks are executed from copies in memory (nbclient); the committed files, with their
full outputs, are never rewritten.
"""

import os

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow  # training runs, subprocess runs or notebook executions

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAINING_NOTEBOOKS = ["biorxiv-final.ipynb", "biorxiv-first-try.ipynb", "arxiv.ipynb"]


def execute(name, overrides):
    """Run a notebook with a cell of parameter overrides injected after its `parameters` cell."""
    notebook = nbformat.read(os.path.join(ROOT, name), as_version=4)
    index = next(i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", []))
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(overrides))
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": ROOT}}).execute()
    return notebook


def outputs_text(notebook):
    return "\n".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.parametrize("name", TRAINING_NOTEBOOKS)
def test_notebook_with_shipped_checkpoints(name):
    notebook = execute(name, "SEEDS = [0, 1]\nTEST_EPISODES = 20")  # two of the shipped seeds, briefly: every cell runs
    assert "2 seeds at episode" in outputs_text(notebook)


@pytest.mark.parametrize("name", TRAINING_NOTEBOOKS)
def test_notebook_with_a_tiny_training_run(name, tmp_path):
    overrides = f"TRAIN = True\nSEEDS = [0, 1]\nEPISODES = 20\nTEST_EPISODES = 5\nLOG_EVERY = 10\nTRAIN_OUT = {str(tmp_path)!r}"
    if name == "biorxiv-final.ipynb":  # it also trains the raw-counter run and compares its last five checkpoints
        overrides += f"\nSAVE_EVERY = 4\nRAW_TRAIN_OUT = {str(tmp_path / 'raw')!r}"
    notebook = execute(name, overrides)
    assert "2 seeds at episode 20" in outputs_text(notebook)
    assert os.path.isdir(tmp_path / "model_1" / "model-20")
    assert os.path.isfile(tmp_path / "training_stay_probability.gif")


def test_explainer_notebook():
    notebook = execute("two-step-task.ipynb", "EPISODES = 20\nRECOVERY_EPISODES = 10")
    assert "model-based" in outputs_text(notebook)


def test_sweeps_notebook_reads_the_shipped_study():
    notebook = execute("sweeps.ipynb", "")
    assert "configurations x 16 seeds" in outputs_text(notebook)


def test_humans_notebook_with_the_fetched_data(data_root):
    overrides = f"DATA_ROOT = {str(data_root)!r}\nFIT_RESTARTS = 1\nSWEEP_REPEATS = 2\nHARTLEY_PLAYS = 2\nCOMPARISON_SUBJECTS = 8"
    notebook = execute("humans.ipynb", overrides)
    assert "8 seeds at episode" in outputs_text(notebook)


def test_daw_notebook_reads_the_study_and_scores_the_shipped_agent(data_root):
    notebook = execute("daw-2011.ipynb", f"DATA_ROOT = {str(data_root)!r}\nEPISODES = 20")
    text = outputs_text(notebook)
    assert "23 arms" in text and "8 seeds at episode 40000 (results/daw-2011)" in text


def test_gillan_notebook_with_the_fetched_data(data_root):
    notebook = execute("gillan.ipynb", f"DATA_ROOT = {str(data_root)!r}\nPLAYS = 4")
    text = outputs_text(notebook)
    assert "study 2: 1413 people" in text and "one walk for everyone: True" in text
    assert "study 2, reward:transition:Factor2 -0.055" in text and "meta-RL agent: 8 seeds x 4 plays" in text
    assert "empirical priors: w mean" in text


def test_prediction_notebook_reads_the_leaderboard_and_shows_a_networks_dynamics(data_root):
    overrides = f"DATA_ROOT = {str(data_root)!r}\nDYNAMICS_DATASET = 'potter2017'\nRNN_OPTIONS = {{'max_steps': 50}}"
    text = outputs_text(execute("prediction.ipynb", overrides))
    assert "kool2016: 197 people" in text and "a 2-unit network on 74 people of potter2017" in text
    assert "agent-fitted ranks" in text


def test_your_data_notebook_on_an_exported_dataset(data_root, tmp_path):
    """The notebook from a table to every analysis, on the first 12 of Decker et al.'s people exported as a CSV, with
    brief settings: every cell runs, the comparison of w is printed for these people and for Kool's, the tables are written."""
    overrides = (f"DATA_ROOT = {str(data_root)!r}\nOUT = {str(tmp_path)!r}\nPEOPLE = 12\nMODELS = 'daw2011'\n"
                 "RESTARTS = 2\nEB_ITERATIONS = 2\nSAMPLER = {'chains': 2, 'warmup': 100, 'draws': 100}\n"
                 "PREDICT = 'daw2011,daw2011-hierarchical,repeat-last'\nFOLDS = 3\nCPUS = 2")
    text = outputs_text(execute("your-data.ipynb", overrides))
    assert "decker2016 exported" in text and "decker2016-first12: 12 people" in text
    assert "kool2016: group mean of w, hierarchical" in text and "decker2016-first12: group mean of w" in text
    assert os.path.isfile(tmp_path / "decker2016-first12_hierarchical.csv") and os.path.isfile(tmp_path / "prediction.csv")


def test_kool_notebook_reads_the_shipped_tables():
    notebook = execute("kool.ipynb", "")
    assert "novel-stakes: 98 people, 8 seeds" in outputs_text(notebook)
