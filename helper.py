"""Figures and notebook glue for the two-step task, over `a2c_lstm.evaluate` records.

    python helper.py results/biorxiv/final [--episodes 300]      (the same as `two-step figures ...`)

evaluates every `model_<seed>/model-<latest>` checkpoint under the folder and writes the
stay-probability figure, the side-by-side figure with the paper, and the reward curve there.
"""

if __name__ == "__main__":  # the command line parses its flags before TensorFlow loads
    import sys

    from twostep import cli

    cli.main(["figures", *sys.argv[1:]], prog="helper.py")
    raise SystemExit

import os

import numpy as np

from two_step_env import STAY_CELLS, stay_probabilities
from twostep import agents, analysis, events, published, run_analysis

COMMON_COLOUR, RARE_COLOUR = "tab:blue", "tab:red"


# ---------------------------------------------------------------- figures


def cell_means(probs):
    """The mean over seeds of each stay cell, probs [seed, 4] -> [4], NaN (without a warning) for a
    cell no seed has pairs in."""
    probs = np.atleast_2d(probs)
    return np.array([cell[np.isfinite(cell)].mean() if np.isfinite(cell).any() else np.nan for cell in probs.T])


def _bars(ax, probs, title):
    """Stay-probability bars on one axis: probs [seed, 4] (dots per seed) or [4] (bars only)."""
    probs = np.atleast_2d(probs)
    x = np.array([0.0, 0.4, 1.2, 1.6])
    colours = [COMMON_COLOUR, RARE_COLOUR, COMMON_COLOUR, RARE_COLOUR]
    ax.bar(x, cell_means(probs), width=0.38, color=colours)  # a cell without pairs: no bar
    if probs.shape[0] > 1:
        for k in range(4):
            ax.scatter(np.full(probs.shape[0], x[k]), probs[:, k], color="black", s=10, zorder=3)
    ax.set_xticks([0.2, 1.4], ["Last trial rewarded", "Last trial not rewarded"])
    ax.set_ylim(0.5, 1.0) if np.nanmin(probs) >= 0.5 else ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("Stay probability")
    ax.set_title(title)
    ax.legend(handles=[_patch(COMMON_COLOUR, "Common"), _patch(RARE_COLOUR, "Rare")], loc="upper center", ncol=2, fontsize=8, bbox_to_anchor=(0.5, -0.08), frameon=False)


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


def stay_panels_figure(probs_by_name):
    """One stay-probability panel per agent ({name: probs [subject, 4]}), on the same axes."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(probs_by_name), figsize=(3.6 * len(probs_by_name), 3.8), sharey=True, squeeze=False)
    for ax, (name, probs) in zip(axes[0], probs_by_name.items()):
        _bars(ax, probs, name)
        ax.set_ylim(0, 1)
    fig.tight_layout()
    return fig


def side_by_side_figure(probs, task_name):
    """Ours (left, each seed a dot) next to the paper's bars (right), on the same axes."""
    import matplotlib.pyplot as plt

    paper_name, paper = published.PAPER[task_name]
    fig, (ours, theirs) = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    _bars(ours, probs, f"This reproduction ({np.atleast_2d(probs).shape[0]} seeds)")
    _bars(theirs, np.array(paper), paper_name)
    low = 0.0 if min(np.nanmin(probs), min(paper)) < 0.5 else 0.5
    ours.set_ylim(low, 1.0)
    fig.tight_layout()
    return fig


def smooth(values, weight=0.6):
    """TensorBoard's smoothing: a debiased exponential moving average with this weight."""
    smoothed, last, norm = [], 0.0, 0.0
    for v in values:
        last = weight * last + (1 - weight) * v
        norm = weight * norm + (1 - weight)
        smoothed.append(last / norm)
    return np.array(smoothed)


def plot_seed_curves(ax, out, tag="Perf/Reward", weight=0.95, per=1.0, lw=0.8):
    """Every seed's `tag` under `out` (its `train_<seed>` runs) on `ax`, smoothed as TensorBoard would, divided by `per`."""
    for run in events.seed_runs(out):
        steps, values = events.read_scalars(run, tag)
        ax.plot(steps, smooth(values, weight) / per, label=f"seed {run.rsplit('_', 1)[1]}", lw=lw)


def reward_curve_figure(out, tag="Perf/Reward", weight=0.95):
    """Training curves of every seed's `train_<seed>` run under `out`, smoothed as TensorBoard would."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    plot_seed_curves(ax, out, tag, weight, lw=1)
    ax.set_xlabel("episode")
    ax.set_ylabel(f"{tag} (smoothed {weight})")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def pay_curves_figure(runs, lines=None, weight=0.95):
    """Training curves of several runs side by side, one panel per run ({label: (run folder, trials per
    episode)}): every seed's `Perf/Reward` per trial, smoothed as TensorBoard would; `lines` {label:
    {name: value}} draws reference levels (random play, the Bayesian learner) across that panel."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(runs), figsize=(3.4 * len(runs), 3.3), squeeze=False)
    for ax, (label, (out, trials)) in zip(axes[0], runs.items()):
        plot_seed_curves(ax, out, weight=weight, per=trials)
        levels = [ax.axhline(value, color="0.3", ls=("--", ":", "-.")[k % 3], lw=1, label=f"{name} ({value:.3g})")
                  for k, (name, value) in enumerate((lines or {}).get(label, {}).items())]
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("episode")
        ax.grid(alpha=0.3)
        if levels:
            ax.legend(handles=levels, fontsize=7, loc="lower right")
    axes[0][0].set_ylabel(f"pay per trial in training (smoothed {weight})")
    fig.tight_layout()
    return fig


def stay_gif(out, path, fps=4, max_frames=100):
    """A GIF of the stay-probability bars (dots: seeds) over training, one frame per logged point
    (every k-th point when there are more than `max_frames`)."""
    import imageio.v2 as imageio
    import matplotlib.pyplot as plt

    runs = events.seed_runs(out)
    curves = [[events.read_scalars(run, f"Stay/{cell}") for cell in STAY_CELLS] for run in runs]
    steps = curves[0][0][0]
    probs = np.array([[values for _, values in run] for run in curves])  # [seed, cell, point]
    frames = []
    for point in range(0, len(steps), -(-len(steps) // max_frames)):
        step = steps[point]
        window = steps[0]  # points are logged every `log_every` episodes, the first at log_every
        fig = stay_figure(probs[:, :, point], title=f"Training episodes {step - window + 1}-{step}")
        fig.axes[0].set_ylim(0.0, 1.0)
        fig.canvas.draw()
        frames.append(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())
        plt.close(fig)
    imageio.mimsave(path, frames, duration=1000 / fps, loop=0)
    return path


def task_diagram(config=None):
    """The two-step task drawn with matplotlib: states, actions, transition and reward probabilities."""
    import matplotlib.pyplot as plt

    from twostep.configs import preset

    config = config or preset("biorxiv-final")
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.set_axis_off()
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 6.2)
    nodes = {"S1": (5, 5.2), "S2": (2.2, 2.4), "S3": (7.8, 2.4)}
    for name, (x, y) in nodes.items():
        ax.add_patch(plt.Circle((x, y), 0.55, color="lightgrey", zorder=2))
        ax.text(x, y, name, ha="center", va="center", fontsize=13, zorder=3)
    common, rare = config.common_prob, 1 - config.common_prob
    arrows = [("a1", "S2", common, "tab:blue", -0.8), ("a1", "S3", rare, "tab:red", -0.8),
              ("a2", "S3", common, "tab:blue", 0.8), ("a2", "S2", rare, "tab:red", 0.8)]
    for action, target, prob, colour, dx in arrows:
        start = (nodes["S1"][0] + dx, nodes["S1"][1] - 0.6)
        end = nodes[target]
        ax.annotate("", xy=(end[0], end[1] + 0.6), xytext=start,
                    arrowprops=dict(arrowstyle="->", color=colour, lw=2 if prob > 0.5 else 1))
        along, outward = (0.45, 0.7) if prob > 0.5 else (0.8, -0.6)  # common labels outside, rare inside
        side = -1 if target == "S2" else 1
        ax.text(start[0] + along * (end[0] - start[0]) + side * outward, start[1] + along * (end[1] + 0.6 - start[1]),
                f"{action}: {prob:g}", color=colour, ha="center", va="center", fontsize=10)
    for name in ("S2", "S3"):
        x, y = nodes[name]
        ax.text(x, y - 1.3, f"reward 1 with p = {config.good_reward_prob:g} if good,\n{config.bad_reward_prob:g} if not",
                ha="center", va="top", fontsize=9)
    swap = "every trial" if config.swap_every == "trial" else "the start of each episode"
    ax.text(5, 0.1, f"the good state swaps with p = {config.swap_prob:g} at {swap}; "
            f"{config.trials_per_episode} trials per episode", ha="center", fontsize=9)
    fig.tight_layout()
    return fig


def stay_by_trial_figure(probs):
    """Mean stay probability of each cell against the position of the pair in the episode. probs [seed, pair, 4]."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    styles = [(COMMON_COLOUR, "-"), (RARE_COLOUR, "-"), (COMMON_COLOUR, "--"), (RARE_COLOUR, "--")]
    pairs = np.arange(1, probs.shape[-2] + 1)
    for k, (colour, line) in enumerate(styles):
        ax.plot(pairs, np.nanmean(probs[..., k], axis=0), line, color=colour, marker="o", label=STAY_CELLS[k])
    ax.set_xlabel("trial n (stay = trial n repeats trial n-1's choice)")
    ax.set_ylabel("stay probability")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def checkpoint_stay_figure(scans, episodes, task_name, cell=2):
    """One panel per run: each seed's stay probability in `cell` (a `STAY_CELLS` index) at each
    checkpoint, the mean over seeds, and the paper's and the reference's values.
    scans: {run name: probs [checkpoint, seed, cell]}."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(scans), figsize=(4.5 * len(scans), 3.8), sharey=True, squeeze=False)
    for ax, (name, probs) in zip(axes[0], scans.items()):
        ax.plot(episodes, probs[:, :, cell], color="0.6", lw=1, marker=".")
        ax.plot(episodes, np.nanmean(probs[:, :, cell], axis=1), color="k", lw=2.5, label="mean over seeds")
        ax.axhline(published.PAPER[task_name][1][cell], color="tab:green", ls="--", label=published.PAPER[task_name][0])
        if task_name in published.REFERENCE_TF1:
            ax.axhline(published.REFERENCE_TF1[task_name][cell], color="tab:purple", ls=":", label="reference TF1 reproduction")
        ax.set_title(f"{name}\nspread between checkpoints {run_analysis.checkpoint_spread(probs)[cell]:.3f}", fontsize=10)
        ax.set_xticks(episodes, [f"{e / 1000:g}k" for e in episodes])
        ax.set_xlabel("checkpoint (episodes trained)")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel(f"stay probability, {STAY_CELLS[cell]}")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def lagged_regression_figure(tables):
    """One panel per agent ({name: `analysis.lagged_regression` table}): each outcome type's
    coefficient against lag, mean over subjects, with the mean 95% CI as a band."""
    import matplotlib.pyplot as plt

    styles = dict(zip(analysis.OUTCOME_TYPES, [(COMMON_COLOUR, "-"), (COMMON_COLOUR, "--"), (RARE_COLOUR, "-"), (RARE_COLOUR, "--")]))
    fig, axes = plt.subplots(1, len(tables), figsize=(3.6 * len(tables), 3.6), sharey=True, squeeze=False)
    for ax, (name, table) in zip(axes[0], tables.items()):
        means = table.groupby(level=["outcome", "lag"]).mean()
        for outcome, (colour, line) in styles.items():
            rows = means.loc[outcome]
            ax.plot(rows.index, rows["coef"], line, color=colour, marker="o", label=outcome)
            ax.fill_between(rows.index, rows["ci low"], rows["ci high"], color=colour, alpha=0.12)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_title(name)
        ax.set_xlabel("trials back")
        ax.set_xticks(sorted(set(table.index.get_level_values("lag"))))
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("log-odds of repeating the choice")
    axes[0, -1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def recovery_figure(true, fits, parameters=agents.PARAMETERS):
    """Parameter recovery, one panel per parameter: each simulated subject's fitted value (black; w
    with its profile interval) and true value (grey), against the subject's true w.
    true: list of `agents.Hybrid`; fits: `analysis.fit_subjects` table with hybrid rows."""
    import matplotlib.pyplot as plt

    fitted = fits.xs("hybrid", level="model")
    true_w = np.array([t.model_based_weight for t in true])
    fig, axes = plt.subplots(1, len(parameters), figsize=(3.2 * len(parameters), 3.2))
    for ax, name in zip(axes, parameters):
        values = fitted[name].to_numpy()
        ax.plot(true_w, [getattr(t, name) for t in true], "s-", color="0.7", label="true")
        if f"{name} low" in fitted:
            errors = np.abs(np.vstack([fitted[f"{name} low"], fitted[f"{name} high"]]) - values)
            ax.errorbar(true_w, values, yerr=errors, fmt="o", color="k", capsize=3, label="fitted, 95% profile interval")
        else:
            ax.plot(true_w, values, "o", color="k", label="fitted")
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("true w")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def rpe_figure(by_type):
    """Mean prediction error at each trial's outcome by the previous trial's type (groups) and the
    current trial's type (bars), one panel per agent ({name: [subject, previous, current]})."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(by_type), figsize=(3.8 * len(by_type), 3.6), squeeze=False)
    colours = [COMMON_COLOUR, "lightsteelblue", RARE_COLOUR, "mistyrose"]
    for ax, (name, means) in zip(axes[0], by_type.items()):
        mean = np.nanmean(means, axis=0)
        for current in range(4):
            ax.bar(np.arange(4) + 0.2 * (current - 1.5), mean[:, current], width=0.2, color=colours[current], edgecolor="k", lw=0.4,
                   label=f"now {analysis.OUTCOME_TYPES[current]}")
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xticks(range(4), [t.replace(", ", "\n") for t in analysis.OUTCOME_TYPES], fontsize=8)
        ax.set_xlabel("previous trial")
        ax.set_title(name)
    axes[0, 0].set_ylabel("mean TD error at the outcome")
    axes[0, -1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def sweep_heatmaps(summary, table, rows="timestep_scale", columns="learning_rate",
                   values=("left chance", "final_reward", "stay unrewarded, common", "distance to the paper")):
    """Heatmaps of `analysis.sweep_summary` columns over a two-field grid: one panel per value,
    `rows` x `columns` (fields of the sweep `table`, whose configurations the summary indexes)."""
    import matplotlib.pyplot as plt

    fields = table.groupby("configuration")[[rows, columns]].first()
    joined = summary.join(fields)
    fig, axes = plt.subplots(1, len(values), figsize=(4.2 * len(values), 3.6), squeeze=False)
    for ax, value in zip(axes[0], values):
        grid = joined.pivot_table(index=rows, columns=columns, values=value)
        image = ax.imshow(grid.to_numpy(), cmap="viridis", aspect="auto")
        ax.set_xticks(range(grid.shape[1]), [f"{c:g}" for c in grid.columns])
        ax.set_yticks(range(grid.shape[0]), [f"{r:g}" for r in grid.index])
        for (i, j), v in np.ndenumerate(grid.to_numpy()):
            ax.text(j, i, f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}", ha="center", va="center", color="w", fontsize=9)
        ax.set_xlabel(columns.replace("_", " "))
        ax.set_ylabel(rows.replace("_", " "))
        ax.set_title(value.replace("_", " "))
        fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig


def write_study_results(table_path, out):
    """From a sweep table, write `summary.csv` (rounded to 4 digits), `heatmaps.png` and
    `stay_heatmaps.png` (one panel per stay cell) into `out`, as shipped in results/sweeps."""
    import pandas as pd

    table = pd.read_csv(table_path)
    summary = run_analysis.study_summary(table)
    grid, grid_summary = run_analysis.study_grid(table, summary)
    sweep_heatmaps(grid_summary, grid).savefig(os.path.join(out, "heatmaps.png"), dpi=110)
    sweep_heatmaps(grid_summary, grid, values=tuple(f"stay {c}" for c in STAY_CELLS)).savefig(os.path.join(out, "stay_heatmaps.png"), dpi=110)
    summary.round(4).to_csv(os.path.join(out, "summary.csv"))


def draw_run_figures(state, run, out=None, episodes=300):
    """Evaluate a group of seeds (`episodes` test episodes each) and write the stay-probability figure,
    the reward curve of the TensorBoard runs in `run` and, for a preset the papers report, the
    side-by-side figure with the paper into `out` (default: `run`); print the mean cells."""
    import a2c_lstm
    from twostep.configs import preset_name

    out = out or run
    records = a2c_lstm.evaluate(state, episodes)
    probs, _ = stay_probabilities(records["action"], records["common"], records["reward"])
    task_name = preset_name(state.task)
    written = ["stay_probability.png", "reward_curve.png"]
    stay_figure(probs).savefig(os.path.join(out, "stay_probability.png"), dpi=120)
    reward_curve_figure(run).savefig(os.path.join(out, "reward_curve.png"), dpi=120)
    if task_name in published.PAPER:
        side_by_side_figure(probs, task_name).savefig(os.path.join(out, "side_by_side.png"), dpi=120)
        written.append("side_by_side.png")
    print(f"{task_name or 'a task of its own (no preset)'}, {len(state.seeds)} seeds at episode {state.episode}, {episodes} test episodes each")
    means = ["no pairs" if np.isnan(m) else f"{m:.3f}" for m in cell_means(probs)]
    print("mean stay probability: " + ", ".join(f"{c} {m}" for c, m in zip(STAY_CELLS, means)))
    print(f"figures written to {out}: {', '.join(written)}")


# ---------------------------------------------------------------- people next to agents (humans.ipynb)

CELL_COLOURS = (COMMON_COLOUR, RARE_COLOUR, COMMON_COLOUR, RARE_COLOUR)  # STAY_CELLS order


def _spread(ax, x, values, colour, width=0.32, violin_from=12):
    """One group of per-subject values at position x: a violin (or, for fewer than `violin_from`
    finite values, a dot each) and the mean with its 95% confidence interval (1.96 SEM) in black."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if not len(values):
        return
    if len(values) >= violin_from and np.ptp(values) > 0:
        parts = ax.violinplot(values, [x], widths=width, showextrema=False)
        for body in parts["bodies"]:
            body.set_facecolor(colour)
            body.set_alpha(0.35)
    else:
        jitter = np.linspace(-width / 4, width / 4, len(values)) if len(values) > 1 else np.zeros(1)
        ax.scatter(x + jitter, values, color=colour, s=14, alpha=0.8, zorder=3, edgecolor="k", lw=0.3)
    sem = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0
    ax.errorbar(x, values.mean(), yerr=1.96 * sem, fmt="o", color="k", ms=4, capsize=3, zorder=4)


def stay_spread_figure(groups, ylim=(0.0, 1.0)):
    """Stay probabilities per subject, one panel per group ({name: probs [subject, 4]}, cells in
    `STAY_CELLS` order): a violin per cell (dots when a group has few subjects), blue common, red
    rare, and the mean over subjects with its 95% CI in black. Cells without pairs (NaN) are left out."""
    import matplotlib.pyplot as plt

    x = np.array([0.0, 0.4, 1.2, 1.6])
    fig, axes = plt.subplots(1, len(groups), figsize=(2.9 * len(groups), 3.6), sharey=True, squeeze=False)
    for ax, (name, probs) in zip(axes[0], groups.items()):
        probs = np.atleast_2d(probs)
        for k in range(4):
            _spread(ax, x[k], probs[:, k], CELL_COLOURS[k])
        ax.set_xticks([0.2, 1.4], ["rewarded", "unrewarded"])
        ax.set_xlabel("last trial")
        ax.set_title(name, fontsize=9)
        ax.set_ylim(*ylim)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].set_ylabel("stay probability")
    axes[0, -1].legend(handles=[_patch(COMMON_COLOUR, "common"), _patch(RARE_COLOUR, "rare")], fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def regression_figure(fits, terms=analysis.REGRESSION_TERMS[1:]):
    """Daw et al.'s stay regression side by side, one panel per term: for each group ({name: list
    of `analysis.stay_regression` results, one per subject}) every subject's coefficient with its
    95% CI; a group of one subject is one pooled fit. Groups on the x axis."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(terms), figsize=(max(3.2, 0.9 * len(fits)) * len(terms), 3.6), squeeze=False)
    for ax, term in zip(axes[0], terms):
        for g, results in enumerate(fits.values()):
            coef = np.array([r[term]["coef"] for r in results])
            ci = np.array([r[term]["ci"] for r in results]).reshape(-1, 2)
            offsets = np.linspace(-0.25, 0.25, len(coef)) if len(coef) > 1 else np.zeros(1)
            ax.errorbar(g + offsets, coef, yerr=np.abs(ci.T - coef), fmt="o", ms=3.5, color=f"C{g}", capsize=2, lw=1)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xticks(range(len(fits)), list(fits), rotation=35, ha="right", fontsize=8)
        ax.set_title(term + (" (model-based index)" if term == "reward x transition" else ""), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].set_ylabel("coefficient (log-odds of staying)")
    fig.tight_layout()
    return fig


def parameter_figure(groups, names, labels=None, bounds=None):
    """Fitted parameters, one panel per parameter (`names`, the columns of every group's array):
    {group: params [subject, len(names)]}, a violin per group (dots when it has few subjects) and
    the mean with its 95% CI. `labels` renames the panels; `bounds` {name: (low, high)} sets their
    y limits."""
    import matplotlib.pyplot as plt

    labels, bounds = labels or {}, bounds or {}
    fig, axes = plt.subplots(1, len(names), figsize=(max(2.4, 0.8 * len(groups)) * len(names), 3.6), squeeze=False)
    for i, (ax, name) in enumerate(zip(axes[0], names)):
        for g, params in enumerate(groups.values()):
            _spread(ax, g, np.asarray(params)[:, i], f"C{g}", width=0.7)
        ax.set_xticks(range(len(groups)), list(groups), rotation=35, ha="right", fontsize=8)
        ax.set_title(labels.get(name, name), fontsize=10)
        if name in bounds:
            low, high = bounds[name]
            margin = 0.04 * (high - low)
            ax.set_ylim(low - margin, high + margin)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def estimates_figure(table, parameter, group=None):
    """A parameter's per-person estimates (`hierarchical.person_estimates`): the MAP fit (fixed
    priors) and the empirical-Bayes fit against the hierarchical posterior mean, with its 95%
    interval, one panel each; `group` {label: value} draws group means across (the hierarchical
    posterior's mu, the mean of the MAP fits, ...)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.8), sharey=True)
    for ax, (column, label) in zip(axes, (("map", "MAP (fixed priors)"), ("eb", "empirical Bayes"))):
        ax.errorbar(table[column], table["mean"], yerr=[table["mean"] - table["q2.5"], table["q97.5"] - table["mean"]],
                    fmt="o", ms=3, lw=0.6, alpha=0.6, color="C0")
        low = np.nanmin(table[["q2.5", column]].to_numpy())
        high = np.nanmax(table[["q97.5", column]].to_numpy())
        ax.plot([low, high], [low, high], color="0.5", ls="--", lw=1)
        for k, (name, value) in enumerate((group or {}).items()):
            ax.axhline(value, color=f"C{k + 1}", lw=1, label=f"{name} ({value:.3f})")
        ax.set_xlabel(f"{parameter}, {label}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"{parameter}, hierarchical posterior (mean, 95%)")
    if group:
        axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def reward_spread_figure(groups, lines=None, ylabel="reward per trial"):
    """Reward per subject, one violin (or dots) per group ({name: values [subject]}) with the mean
    and its 95% CI; `lines` {label: value} draws reference levels (chance, the oracle) across."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(4.5, 1.0 * len(groups)) + (2.2 if lines else 0), 3.8))
    for g, values in enumerate(groups.values()):
        _spread(ax, g, values, f"C{g}", width=0.7)
    for k, (label, value) in enumerate((lines or {}).items()):
        ax.axhline(value, color="0.3", ls=("--", ":", "-.")[k % 3], lw=1, label=f"{label} ({value:.3f})")
    ax.set_xticks(range(len(groups)), list(groups), rotation=35, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    if lines:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def reward_against_w_figure(people_w, people_reward, sweep_w, sweep_reward, points=None, ylabel="reward per trial above chance"):
    """Does model-based control pay off? People's fitted w against their reward (dots, least-squares
    line, Pearson r in the legend), simulated learners' reward across w: sweep_reward
    [len(sweep_w), subject], drawn as the mean over subjects with its 95% CI band, and `points`
    {label: (w [n], reward [n])} drawn as larger markers (e.g. the meta-RL agent's seeds)."""
    import matplotlib.pyplot as plt

    people_w, people_reward = np.asarray(people_w, float), np.asarray(people_reward, float)
    sweep_reward = np.asarray(sweep_reward, float)
    fig, ax = plt.subplots(figsize=(6, 4))
    r = np.corrcoef(people_w, people_reward)[0, 1]
    ax.scatter(people_w, people_reward, s=12, color="0.45", alpha=0.7, label=f"people (r = {r:.2f})")
    slope, intercept = np.polyfit(people_w, people_reward, 1)
    ax.plot([0, 1], intercept + slope * np.array([0, 1]), color="0.2", lw=1.5)
    mean = sweep_reward.mean(axis=1)
    half = 1.96 * sweep_reward.std(axis=1, ddof=1) / np.sqrt(sweep_reward.shape[1])
    ax.plot(sweep_w, mean, "o-", color="tab:orange", label="simulated hybrids, mean over subjects")
    ax.fill_between(sweep_w, mean - half, mean + half, color="tab:orange", alpha=0.25)
    for k, (label, (w, reward)) in enumerate((points or {}).items()):
        ax.scatter(w, reward, s=45, marker="DsP^"[k % 4], color=f"C{k + 2}", edgecolor="k", zorder=4, label=label)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("model-based weight w")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def payoff_curves_figure(payoff, summary):
    """Kool et al.'s "does model-based control pay off" in every paradigm side by side
    (`kool_tasks.write_results`' tables): reward per trial above random against w for the authors'
    hybrid at the people's typical parameters (mean and 95% band of the gain over w = 0, paired),
    the Bayesian learner and the oracle across, and the people (and the agent, where the summary has
    it) at their mean fitted w, above random on the walks the people saw."""
    import matplotlib.pyplot as plt

    paradigms = list(dict.fromkeys(payoff["paradigm"]))
    fig, axes = plt.subplots(1, len(paradigms), figsize=(3.2 * len(paradigms), 3.4))
    for ax, paradigm in zip(np.atleast_1d(axes), paradigms):
        curve = payoff[payoff["paradigm"] == paradigm]
        level = curve.set_index("player")["reward_per_trial"]
        hybrid = curve[curve["player"] == "hybrid"]
        above = hybrid["reward_per_trial"].iloc[0] - level["random"] + hybrid["gain"]
        ax.plot(hybrid["w"], above, "o-", ms=3, color="tab:orange", label="hybrid, typical parameters")
        ax.fill_between(hybrid["w"], above - 1.96 * hybrid["gain_se"], above + 1.96 * hybrid["gain_se"], color="tab:orange", alpha=0.3)
        for k, name in enumerate(("bayes", "oracle")):
            ax.axhline(level[name] - level["random"], color=f"C{k + 2}", ls="--", lw=1, label=name)
        players = summary[summary["paradigm"] == paradigm].set_index("player")
        for player, marker, color, label in (("people", "D", "0.3", "people (their walks)"), ("agent", "^", "tab:blue", "meta-RL agent (people's walks)")):
            if player in players.index:
                ax.scatter(players.loc[player, "w"], players.loc[player, "reward_per_trial"] - players.loc["random", "reward_per_trial"],
                           marker=marker, s=40, color=color, zorder=4, label=label)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_title(paradigm)
        ax.set_xlabel("model-based weight w")
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("reward per trial above random")
    np.atleast_1d(axes)[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def model_wins_figure(wins):
    """How many subjects each model fits best: wins, a pandas table with one row per model and
    one column per criterion (e.g. BIC, Laplace log evidence), drawn as grouped horizontal bars."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 0.32 * len(wins) * max(1, len(wins.columns)) / 1.6 + 1.2))
    y = np.arange(len(wins))
    height = 0.8 / len(wins.columns)
    for k, column in enumerate(wins.columns):
        ax.barh(y + (k - (len(wins.columns) - 1) / 2) * height, wins[column], height=height, label=column, color=f"C{k}")
    ax.set_yticks(y, list(wins.index), fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("subjects best fitted")
    ax.legend(fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def study_curves_figure(curves, arms, x="episode", every=2000, lines=None, trials_per_episode=201):
    """Training curves of a study's arms (the curves table of `run_analysis.write_daw_study`): for each
    configuration of `arms` ({configuration: label}) the mean over its seeds of the reward per trial in
    blocks of `every` episodes, against episodes or against seconds of training (`x`); `lines`
    {label: value} draws reference levels (the Bayesian learner, the target) across."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9.5, 4.2))
    for k, (name, label) in enumerate(arms.items()):
        rows = curves[curves["configuration"] == name].assign(block=lambda t: (t["episode"] - 1) // every)
        blocks = rows.groupby("block").agg(episode=("episode", "max"), seconds=("training seconds", "mean"), reward=("reward", "mean"))
        ax.plot(blocks["episode" if x == "episode" else "seconds"], blocks["reward"] / trials_per_episode, marker=".", label=label,
                color=plt.cm.tab20(k % 20))
    for k, (label, value) in enumerate((lines or {}).items()):
        ax.axhline(value, color="0.3", ls=("--", ":", "-.")[k % 3], lw=1, label=f"{label} ({value:.3f})")
    ax.set_xlabel("episodes of this stage, per seed" if x == "episode" else "seconds of training, per arm (one core each)")
    ax.set_ylabel("reward per trial in training")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def coefficient_figure(table, terms, title="", xlabel="coefficient (95% CI)"):
    """Coefficients with 95% intervals (estimate +- 1.96 se), one row per term: table has columns
    term, estimate, se (e.g. `symptoms.mixed_stay_regression`'s); `terms` {term: label} in order."""
    import matplotlib.pyplot as plt

    rows = table.set_index("term").loc[list(terms)]
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(terms) + 1.2))
    y = np.arange(len(terms))
    ax.errorbar(rows["estimate"], y, xerr=1.96 * rows["se"], fmt="o", color="k", capsize=3)
    ax.axvline(0, color="0.6", lw=1)
    ax.set_yticks(y, list(terms.values()))
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig


FAMILY_COLOURS = {"published": "k", "hierarchical": "tab:green", "extended": "tab:purple", "rnn": "tab:blue", "agent": "tab:red", "baseline": "0.55"}


def leaderboard_figure(board, protocol, datasets):
    """One panel per dataset: each model's held-out NLL per choice (mean over people, 95% interval
    1.96 SE) under `protocol`, best at the top, coloured by family (`prediction.leaderboard`)."""
    import matplotlib.pyplot as plt

    rows = [board[(board["dataset"] == d) & (board["protocol"] == protocol)].sort_values("nll") for d in datasets]
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.2 * len(datasets), 0.24 * max(map(len, rows)) + 1.4), squeeze=False)
    for ax, dataset, table in zip(axes[0], datasets, rows):
        y = np.arange(len(table))
        for family, colour in FAMILY_COLOURS.items():
            mine = (table["family"] == family).to_numpy()
            ax.errorbar(table["nll"][mine], y[mine], xerr=1.96 * table["nll_se"][mine], fmt="o", ms=4, color=colour, label=family)
        ax.set_yticks(y, table["model"], fontsize=7)
        ax.invert_yaxis()
        ax.set_title(f"{dataset} ({protocol})", fontsize=9)
        ax.set_xlabel("held-out NLL per choice")
    axes[0, 0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def paired_difference_figure(differences, reference_by_dataset, top=12):
    """One panel per dataset: the `top` models' mean per-person NLL difference from the best
    published model (`prediction.paired_differences`) with its 95% interval; left of 0 is better."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(differences), figsize=(4.2 * len(differences), 0.3 * top + 1.4), squeeze=False)
    for ax, (dataset, table) in zip(axes[0], differences.items()):
        table = table.head(top)
        y = np.arange(len(table))
        colours = [FAMILY_COLOURS[f] for f in table["family"]]
        ax.errorbar(table["mean_difference"], y, xerr=[table["mean_difference"] - table["ci_low"], table["ci_high"] - table["mean_difference"]],
                    fmt="none", ecolor="0.6")
        ax.scatter(table["mean_difference"], y, c=colours, s=18, zorder=3)
        ax.axvline(0, color="0.6", lw=1)
        ax.set_yticks(y, table["model"], fontsize=7)
        ax.invert_yaxis()
        ax.set_title(f"{dataset}: minus {reference_by_dataset[dataset]}", fontsize=8)
        ax.set_xlabel("NLL difference per choice (95% CI)")
    fig.tight_layout()
    return fig


def size_figure(board, sizes, datasets):
    """The everybody networks' held-out NLL against their number of units, per dataset and
    protocol, with the best published model's NLL as a dashed line."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(datasets), figsize=(3.6 * len(datasets), 3.2), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        for protocol, style in (("held-out-trials", "o-"), ("held-out-people", "s--")):
            rows = board[(board["dataset"] == dataset) & (board["protocol"] == protocol)].set_index("model")
            names = [f"gru-{d}" for d in sizes if f"gru-{d}" in rows.index]
            if names:
                ax.errorbar([int(n.split("-")[1]) for n in names], rows.loc[names, "nll"], yerr=1.96 * rows.loc[names, "nll_se"],
                            fmt=style, color="tab:blue", label=f"networks, {protocol}")
            published_rows = rows[rows["family"] == "published"]
            if len(published_rows):
                ax.axhline(published_rows["nll"].min(), ls="--" if protocol == "held-out-people" else "-", color="k", lw=1,
                           label=f"best published, {protocol}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("units")
        ax.set_title(dataset, fontsize=9)
    axes[0, 0].set_ylabel("held-out NLL per choice")
    axes[0, 0].legend(fontsize=6)
    fig.tight_layout()
    return fig


def logit_dynamics_figure(panels):
    """Ji-An et al.'s phase portraits: for each model (a panel), the change of the first-stage
    logit from one trial to the next against its value, coloured by the trial between (common or
    rare transition x rewarded or not), for trials where action 1 (filled) or action 0 (open) was
    chosen. `panels` {title: (logit [n], change [n], trial_type [n] 0-3, action [n])}."""
    import matplotlib.pyplot as plt

    colours, labels = ("tab:blue", "tab:cyan", "tab:red", "tab:orange"), ("common, reward", "common, none", "rare, reward", "rare, none")
    fig, axes = plt.subplots(1, len(panels), figsize=(3.8 * len(panels), 3.6), squeeze=False, sharey=True)
    for ax, (title, (logit, change, kind, action)) in zip(axes[0], panels.items()):
        for k in range(4):
            for a, face in ((1, colours[k]), (0, "none")):
                mine = (kind == k) & (action == a)
                ax.scatter(logit[mine], change[mine], s=4, facecolors=face, edgecolors=colours[k], lw=0.5, alpha=0.5,
                           label=labels[k] if a == 1 else None)
        ax.axhline(0, color="0.6", lw=1)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("logit of action 1 at trial t")
    axes[0, 0].set_ylabel("logit change to trial t + 1")
    axes[0, 0].legend(fontsize=6, markerscale=3)
    fig.tight_layout()
    return fig


def scaling_figure(table, title, lines=None):
    """Held-out NLL per choice (95% interval) against the number of people a network learned from
    (`prediction.people_scaling`), with reference lines {label: nll}."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ax.errorbar(table["n_people"], table["nll"], yerr=1.96 * table["nll_se"], fmt="o-", color="tab:blue", label="network")
    for (label, value), style in zip((lines or {}).items(), ("-", "--", ":")):
        ax.axhline(value, color="k", ls=style, lw=1, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("people trained on")
    ax.set_ylabel("held-out NLL per choice")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
