"""The numbers to match: the papers' and the reference reproduction's stay probabilities, and the
Bayes-optimal observer's, with the tables that set a run beside them (docs/reference.md says where
each number comes from)."""

import numpy as np

from two_step_env import STAY_CELLS

# mean stay probabilities in STAY_CELLS order (docs/reference.md: the papers' figures, the reference's results)
PAPER = {
    "biorxiv-final": ("Wang et al. 2018 (Sim. 4)", (0.99, 0.63, 0.62, 0.99)),
    "biorxiv-first-try": ("Wang et al. 2018 (Sim. 4)", (0.99, 0.63, 0.62, 0.99)),
    "arxiv": ("Wang et al. 2016 (Fig. 5c)", (1.0, 0.0, 0.0, 0.96)),
}
REFERENCE_TF1 = {"biorxiv-final": (0.94, 0.71, 0.59, 0.95), "arxiv": (0.98, 0.52, 0.56, 0.95)}
# the Bayes-optimal observer's (`agents.simulate` of 8 greedy `agents.IdealObserver` x 300 episodes, seed 0; docs/wang-task.md)
IDEAL_OBSERVER_STAY = {"biorxiv-final": (1.000, 0.662, 0.658, 1.000)}


def stay_table(probs, seeds, task_name):
    """A pandas table: each seed's stay probabilities, their mean, the paper's and the reference's."""
    rows = {f"seed {s}": p for s, p in zip(seeds, probs)}
    rows["mean over seeds"] = np.nanmean(probs, axis=0)
    return _with_targets(rows, task_name)


def means_table(runs, task_name):
    """A pandas table: the mean over seeds of each run's stay probabilities ({name: probs [seed, cell]}),
    the paper's and the reference's."""
    return _with_targets({name: np.nanmean(probs, axis=0) for name, probs in runs.items()}, task_name)


def _with_targets(rows, task_name):
    import pandas as pd

    rows = dict(rows)
    rows[PAPER[task_name][0]] = PAPER[task_name][1]
    if task_name in REFERENCE_TF1:
        rows["reference TF1 reproduction"] = REFERENCE_TF1[task_name]
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(STAY_CELLS)).round(3)


def closer_than_reference(probs, task_name):
    """[cell]: whether the mean over seeds of probs [seed, cell] is closer to the paper than the reference's."""
    paper, reference = np.array(PAPER[task_name][1]), np.array(REFERENCE_TF1[task_name])
    return np.abs(np.nanmean(probs, axis=0) - paper) < np.abs(reference - paper)
