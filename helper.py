"""Analysis and plots of the two-step task, as pure functions over `a2c_lstm.evaluate` records."""

import numpy as np

STAY_CELLS = ("rewarded, common", "rewarded, rare", "unrewarded, common", "unrewarded, rare")


def stay_probabilities(action, common, reward):
    """Stay probabilities (Daw et al. 2011) in the four cells of `STAY_CELLS`.

    Arrays are [..., episode, trial]. For each pair of consecutive trials inside an episode,
    trial n-1's reward and transition pick the cell and "stay" means trial n repeated trial
    n-1's first-stage action; pairs are pooled over episodes. Returns (probabilities, counts),
    each [..., 4]; a cell with no pair has probability NaN.
    """
    action, common, reward = np.asarray(action), np.asarray(common, bool), np.asarray(reward) > 0
    stay = action[..., 1:] == action[..., :-1]
    rewarded, was_common = reward[..., :-1], common[..., :-1]
    cells = [rewarded & was_common, rewarded & ~was_common, ~rewarded & was_common, ~rewarded & ~was_common]
    counts = np.stack([cell.sum(axis=(-2, -1)) for cell in cells], axis=-1)
    stays = np.stack([(cell & stay).sum(axis=(-2, -1)) for cell in cells], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, stays / np.maximum(counts, 1), np.nan), counts
