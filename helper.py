"""Analysis and plots of the two-step task, as pure functions over `a2c_lstm.evaluate` records.

    python helper.py results/biorxiv/final [--episodes 300]

evaluates every `model_<seed>/model-<latest>` checkpoint under the folder and writes the
stay-probability figure, the side-by-side figure with the paper, and the reward curve there.
"""

import argparse
import glob
import os

import numpy as np

STAY_CELLS = ("rewarded, common", "rewarded, rare", "unrewarded, common", "unrewarded, rare")
# SPEC.md: mean stay probabilities in STAY_CELLS order
PAPER = {
    "biorxiv-final": ("Wang et al. 2018 (Sim. 4)", (0.99, 0.63, 0.62, 0.99)),
    "biorxiv-first-try": ("Wang et al. 2018 (Sim. 4)", (0.99, 0.63, 0.62, 0.99)),
    "arxiv": ("Wang et al. 2016 (Fig. 5c)", (1.0, 0.0, 0.0, 0.96)),
}
REFERENCE_TF1 = {"biorxiv-final": (0.94, 0.71, 0.59, 0.95), "arxiv": (0.98, 0.52, 0.56, 0.95)}
COMMON_COLOUR, RARE_COLOUR = "tab:blue", "tab:red"


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


def stay_regression(action, common, reward):
    """Daw et al. 2011's logistic regression of stay on reward, transition and their product, per seed.

    Arrays are [seed, episode, trial]; predictors are coded +1/-1 (rewarded/unrewarded,
    common/rare). Returns a list (one per seed) of dicts: for each term ("intercept", "reward",
    "transition", "reward x transition") its coefficient, standard error and 95% CI. The
    interaction coefficient is the model-based index.
    """
    import statsmodels.api as sm

    results = []
    for seed_action, seed_common, seed_reward in zip(np.asarray(action), np.asarray(common), np.asarray(reward)):
        stay = (seed_action[:, 1:] == seed_action[:, :-1]).ravel().astype(float)
        r = np.where(seed_reward[:, :-1].ravel() > 0, 1.0, -1.0)
        t = np.where(seed_common[:, :-1].ravel().astype(bool), 1.0, -1.0)
        design = np.column_stack([np.ones_like(r), r, t, r * t])
        fit = sm.Logit(stay, design).fit(disp=0)
        ci = fit.conf_int(0.05)
        results.append(
            {
                name: {"coef": fit.params[i], "se": fit.bse[i], "ci": (ci[i, 0], ci[i, 1])}
                for i, name in enumerate(("intercept", "reward", "transition", "reward x transition"))
            }
        )
    return results


# ---------------------------------------------------------------- figures


def _bars(ax, probs, title):
    """Stay-probability bars on one axis: probs [seed, 4] (dots per seed) or [4] (bars only)."""
    probs = np.atleast_2d(probs)
    x = np.array([0.0, 0.4, 1.2, 1.6])
    colours = [COMMON_COLOUR, RARE_COLOUR, COMMON_COLOUR, RARE_COLOUR]
    ax.bar(x, np.nanmean(probs, axis=0), width=0.38, color=colours)
    if probs.shape[0] > 1:
        for k in range(4):
            ax.scatter(np.full(probs.shape[0], x[k]), probs[:, k], color="black", s=10, zorder=3)
    ax.set_xticks([0.2, 1.4], ["Last trial rewarded", "Last trial not rewarded"])
    ax.set_ylim(0.5, 1.0) if np.nanmin(probs) >= 0.5 else ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("Stay probability")
    ax.set_title(title)
    ax.legend(handles=[_patch(COMMON_COLOUR, "Common"), _patch(RARE_COLOUR, "Rare")], loc="upper right")


def _patch(colour, label):
    from matplotlib.patches import Patch

    return Patch(color=colour, label=label)


def stay_figure(probs, title="Stay probability"):
    """Blue common, red rare; bars are the mean over seeds, black dots each seed. probs [seed, 4]."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    _bars(ax, probs, title)
    fig.tight_layout()
    return fig


def side_by_side_figure(probs, task_name):
    """Ours (left, each seed a dot) next to the paper's bars (right), on the same axes."""
    import matplotlib.pyplot as plt

    paper_name, paper = PAPER[task_name]
    fig, (ours, theirs) = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    _bars(ours, probs, f"This reproduction ({np.atleast_2d(probs).shape[0]} seeds)")
    _bars(theirs, np.array(paper), paper_name)
    low = 0.0 if min(np.nanmin(probs), min(paper)) < 0.5 else 0.5
    ours.set_ylim(low, 1.0)
    fig.tight_layout()
    return fig


def read_scalars(run_dir, tag):
    """(steps, values) of one scalar tag from the TensorBoard event files in `run_dir`."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    import tensorflow as tf

    events = EventAccumulator(run_dir, size_guidance={"tensors": 0})
    events.Reload()
    points = sorted((e.step, float(tf.make_ndarray(e.tensor_proto))) for e in events.Tensors(tag))
    steps, values = zip(*points) if points else ((), ())
    return np.array(steps), np.array(values)


def smooth(values, weight=0.6):
    """TensorBoard's smoothing: a debiased exponential moving average with this weight."""
    smoothed, last, norm = [], 0.0, 0.0
    for v in values:
        last = weight * last + (1 - weight) * v
        norm = weight * norm + (1 - weight)
        smoothed.append(last / norm)
    return np.array(smoothed)


def reward_curve_figure(out, tag="Perf/Reward", weight=0.95):
    """Training curves of every seed's `train_<seed>` run under `out`, smoothed as TensorBoard would."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for run in sorted(glob.glob(os.path.join(out, "train_*")), key=lambda p: int(p.rsplit("_", 1)[1])):
        steps, values = read_scalars(run, tag)
        ax.plot(steps, smooth(values, weight), label=f"seed {run.rsplit('_', 1)[1]}", lw=1)
    ax.set_xlabel("episode")
    ax.set_ylabel(f"{tag} (smoothed {weight})")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def latest_checkpoints(out):
    """The newest `model_<seed>/model-<episode>` folder of every seed under `out`, by seed."""
    paths = []
    for seed_dir in sorted(glob.glob(os.path.join(out, "model_*")), key=lambda p: int(p.rsplit("_", 1)[1])):
        episodes = [int(p.rsplit("-", 1)[1]) for p in glob.glob(os.path.join(seed_dir, "model-*")) if p.rsplit("-", 1)[1].isdigit()]
        if episodes:
            paths.append(os.path.join(seed_dir, f"model-{max(episodes)}"))
    if not paths:
        raise FileNotFoundError(f"no checkpoints model_<seed>/model-<episode> under {out!r}")
    return paths


def main(argv=None):
    import a2c_lstm

    parser = argparse.ArgumentParser(description="Evaluate the checkpoints of a run and draw its figures.")
    parser.add_argument("out", help="a training folder, e.g. results/biorxiv/final")
    parser.add_argument("--episodes", type=a2c_lstm.positive_int, default=300, help="test episodes per seed")
    args = parser.parse_args(argv)
    state = a2c_lstm.stack_states([a2c_lstm.load_model(p) for p in latest_checkpoints(args.out)])
    records = a2c_lstm.evaluate(state, args.episodes)
    probs, _ = stay_probabilities(records["action"], records["common"], records["reward"])
    task_name = next(name for name, task in a2c_lstm.env.PRESETS.items() if task == state.task)
    stay_figure(probs).savefig(os.path.join(args.out, "stay_probability.png"), dpi=120)
    side_by_side_figure(probs, task_name).savefig(os.path.join(args.out, "side_by_side.png"), dpi=120)
    reward_curve_figure(args.out).savefig(os.path.join(args.out, "reward_curve.png"), dpi=120)
    print(f"{task_name}, {len(state.seeds)} seeds at episode {state.episode}, {args.episodes} test episodes each")
    print("mean stay probability: " + ", ".join(f"{c} {p:.3f}" for c, p in zip(STAY_CELLS, np.nanmean(probs, 0))))
    print(f"figures written to {args.out}")


if __name__ == "__main__":
    main()
