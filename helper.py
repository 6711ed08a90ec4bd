"""Figures and notebook glue for the two-step task, over `a2c_lstm.evaluate` records.

    python helper.py results/biorxiv/final [--episodes 300]      (the same as `two-step figures ...`)

evaluates every `model_<seed>/model-<latest>` checkpoint under the folder and writes the
stay-probability figure, the side-by-side figure with the paper, and the reward curve there.
"""

if __name__ == "__main__":  # the command line parses its flags before TensorFlow loads
    import sys

    import cli

    cli.main(["figures", *sys.argv[1:]], prog="helper.py")
    raise SystemExit

import glob
import os

import numpy as np

import agents
import analysis
from two_step_env import STAY_CELLS, stay_probabilities

# mean stay probabilities in STAY_CELLS order (docs/reference.md: the papers' figures, the reference's results)
PAPER = {
    "biorxiv-final": ("Wang et al. 2018 (Sim. 4)", (0.99, 0.63, 0.62, 0.99)),
    "biorxiv-first-try": ("Wang et al. 2018 (Sim. 4)", (0.99, 0.63, 0.62, 0.99)),
    "arxiv": ("Wang et al. 2016 (Fig. 5c)", (1.0, 0.0, 0.0, 0.96)),
}
REFERENCE_TF1 = {"biorxiv-final": (0.94, 0.71, 0.59, 0.95), "arxiv": (0.98, 0.52, 0.56, 0.95)}
# the Bayes-optimal observer's (`agents.simulate` of 8 greedy `agents.IdealObserver` x 300 episodes, seed 0; README)
IDEAL_OBSERVER = {"biorxiv-final": (1.000, 0.662, 0.658, 1.000)}
COMMON_COLOUR, RARE_COLOUR = "tab:blue", "tab:red"


def stay_probabilities_by_trial(action, common, reward):
    """Stay probabilities of each consecutive pair (trial n-1 -> n) separately, pooled over episodes.

    Arrays are [..., episode, trial]; returns (probabilities, counts), each [..., trial - 1, 4].
    """
    pairs = [stay_probabilities(*(np.asarray(a)[..., n - 1 : n + 1] for a in (action, common, reward))) for n in range(1, np.shape(action)[-1])]
    return np.stack([p for p, _ in pairs], axis=-2), np.stack([c for _, c in pairs], axis=-2)


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
    from quiet_tensorflow import tf

    events = EventAccumulator(run_dir, size_guidance={"tensors": 0})
    events.Reload()
    points = sorted((e.step, float(tf.make_ndarray(e.tensor_proto))) for e in events.Tensors(tag))
    steps, values = zip(*points) if points else ((), ())
    return np.array(steps), np.array(values)


def seed_runs(out):
    """The TensorBoard run folders `train_<seed>` under `out`, by seed."""
    return sorted(glob.glob(os.path.join(out, "train_*")), key=lambda p: int(p.rsplit("_", 1)[1]))


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
    for run in seed_runs(out):
        steps, values = read_scalars(run, tag)
        ax.plot(steps, smooth(values, weight), label=f"seed {run.rsplit('_', 1)[1]}", lw=1)
    ax.set_xlabel("episode")
    ax.set_ylabel(f"{tag} (smoothed {weight})")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def stay_gif(out, path, fps=4, max_frames=100):
    """A GIF of the stay-probability bars (dots: seeds) over training, one frame per logged point
    (every k-th point when there are more than `max_frames`)."""
    import imageio.v2 as imageio
    import matplotlib.pyplot as plt

    runs = seed_runs(out)
    curves = [[read_scalars(run, f"Stay/{cell}") for cell in STAY_CELLS] for run in runs]
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

    from two_step_env import PRESETS

    config = config or PRESETS["biorxiv-final"]
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


# ---------------------------------------------------------------- hand-written agents for the explainer


def model_free_choice(last_action, last_state, last_reward, rng):
    """Repeat a rewarded first-stage action, switch after no reward, ignoring the transition."""
    return last_action if last_reward else 1 - last_action


def model_based_choice(last_action, last_state, last_reward, rng):
    """Aim for the state just rewarded (or away from the one just unrewarded) via its common action."""
    from two_step_env import S2

    target_is_s2 = (last_state == S2) == bool(last_reward)
    return 0 if target_is_s2 else 1


def simulate_policy(choice, config, episodes, seed=0, noise=0.1):
    """Run a hand-written choice rule (random with probability `noise`) on the Gymnasium task.

    Returns records like `a2c_lstm.evaluate` for one seed: arrays [1, episode, trial] of
    "action", "state", "common", "reward".
    """
    from two_step_env import TwoStepTask

    task, rng = TwoStepTask(config), np.random.default_rng(seed)
    task.reset(seed=seed)
    rows = []
    for _ in range(episodes):
        action, state, reward, episode = int(rng.integers(2)), None, 0.0, []
        for trial in range(config.trials_per_episode):
            if trial and rng.random() >= noise:
                action = choice(action, state, reward, rng)
            elif trial:
                action = int(rng.integers(2))
            _, reward, _, _, info = task.trial(action)
            state = info["state"]
            episode.append((action, state, info["common"], reward))
        task.reset()
        rows.append(episode)
    table = np.array(rows, dtype=float)  # [episode, trial, field]
    return {k: table[None, :, :, i] for i, k in enumerate(("action", "state", "common", "reward"))}


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


def checkpoint_stay_probabilities(out, episodes, test_episodes=300):
    """Stay probabilities [checkpoint, seed, cell] of every seed's checkpoints `model-<e>` under
    `out` for e in `episodes`, each tested for `test_episodes` episodes with frozen weights."""
    import a2c_lstm

    seeds = a2c_lstm.seeds_with_checkpoints(out)
    probs = []
    for episode in episodes:
        paths = [a2c_lstm.checkpoint_path(out, seed, episode) for seed in seeds]
        records = a2c_lstm.evaluate(a2c_lstm.stack_states([a2c_lstm.load_model(p) for p in paths]), test_episodes)
        probs.append(stay_probabilities(records["action"], records["common"], records["reward"])[0])
    return np.array(probs)


def checkpoint_spread(probs):
    """[cell]: how far one seed's stay probability moves between checkpoints, as the standard
    deviation over checkpoints pooled over seeds. probs [checkpoint, seed, cell]."""
    return np.sqrt(np.nanmean(np.nanvar(probs, axis=0, ddof=1), axis=0))


def checkpoint_stay_figure(scans, episodes, task_name, cell=2):
    """One panel per run: each seed's stay probability in `cell` (a `STAY_CELLS` index) at each
    checkpoint, the mean over seeds, and the paper's and the reference's values.
    scans: {run name: probs [checkpoint, seed, cell]}."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(scans), figsize=(4.5 * len(scans), 3.8), sharey=True, squeeze=False)
    for ax, (name, probs) in zip(axes[0], scans.items()):
        ax.plot(episodes, probs[:, :, cell], color="0.6", lw=1, marker=".")
        ax.plot(episodes, np.nanmean(probs[:, :, cell], axis=1), color="k", lw=2.5, label="mean over seeds")
        ax.axhline(PAPER[task_name][1][cell], color="tab:green", ls="--", label=PAPER[task_name][0])
        if task_name in REFERENCE_TF1:
            ax.axhline(REFERENCE_TF1[task_name][cell], color="tab:purple", ls=":", label="reference TF1 reproduction")
        ax.set_title(f"{name}\nspread between checkpoints {checkpoint_spread(probs)[cell]:.3f}", fontsize=10)
        ax.set_xticks(episodes, [f"{e / 1000:g}k" for e in episodes])
        ax.set_xlabel("checkpoint (episodes trained)")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel(f"stay probability, {STAY_CELLS[cell]}")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- the analysis toolkit on a trained run

REFERENCE_AGENTS = {  # the classical agents (`agents.Hybrid`'s defaults) and the ideal observer
    "model-free": agents.Hybrid(model_based_weight=0.0),
    "model-based": agents.Hybrid(model_based_weight=1.0),
    "hybrid": agents.Hybrid(model_based_weight=0.5),
    # with a softmax at about the temperature fitted to the meta-RL agent: the greedy one never
    # errs after rewarded-common or unrewarded-rare trials, and regressions cannot fit certainty
    "ideal observer": agents.IdealObserver(inverse_temperature=12.0),
}
LEARNERS = ("model-free", "model-based", "ideal observer")  # whose prediction errors the agent's are compared with


def reference_records(task, subjects, episodes, seed=0):
    """{name: records [subject, episode, trial]} of every `REFERENCE_AGENTS` agent, on the same task draws."""
    return {name: agents.simulate([config] * subjects, task, episodes, seed) for name, config in REFERENCE_AGENTS.items()}


def agent_analysis(state, episodes=300, restarts=3, seed=0):
    """What the toolkit says about a trained group of seeds, from `episodes` test episodes each.

    Returns a dict: "records" (with the LSTM states), "fits" (hybrid, model-free, model-based and
    ideal-observer fits per seed, profile interval of w), "bic" (each model's BIC above the best),
    "lagged" (lagged regression), "rpe" (the agent's prediction errors against each fitted
    learner's), "rpe_by_type" ({agent or learner: mean TD error by previous and current trial
    type}), "transition_surprise" (`analysis.transition_surprise` of each, by seed), "decoding" (R^2 of the ideal observer's belief from the LSTM state, trained,
    untrained and shuffled) and "ideal" (agreement with the ideal observer's choices, and reward as
    a fraction of the Bayes-optimal expected reward), the last two pandas tables by seed.
    """
    import pandas as pd

    import a2c_lstm

    task, gamma, seeds = state.task, state.agent.gamma, list(state.seeds)
    records = a2c_lstm.evaluate(state, episodes, internals=True)
    fits = analysis.fit_subjects(records, task, restarts=restarts, seed=seed)
    learner_values = {name: analysis.fitted_values(fits, records, task, name) for name in LEARNERS}
    deltas = {"meta-RL agent": analysis.prediction_errors(records, gamma)}
    deltas.update({name: analysis.prediction_errors({"value": v, "outcome_value": v, "reward": records["reward"]}, gamma)
                   for name, v in learner_values.items()})  # a learner's value at the choice is its value at the outcome
    untrained = a2c_lstm.evaluate(a2c_lstm.init_state(task, state.agent, seeds), episodes, internals=True)
    trained_scores, untrained_scores = analysis.belief_decoding(records, task, seed), analysis.belief_decoding(untrained, task, seed)
    decoding = pd.DataFrame(
        {"trained": trained_scores[:, 0], "untrained network": untrained_scores[:, 0], "shuffled trials": trained_scores[:, 1]},
        index=pd.Index(seeds, name="seed"),
    )
    reward = records["reward"].sum(-1).mean(-1)
    ideal_table = pd.DataFrame(
        {
            "agreement with the ideal observer": analysis.agreement_with_ideal_observer(records, task),
            "reward per episode": reward,
            "fraction of the Bayes-optimal reward": reward / agents.optimal_episode_reward(task),
        },
        index=pd.Index(seeds, name="seed"),
    )
    return {
        "records": records,
        "fits": fits,
        "bic": analysis.compare_models(fits),
        "lagged": analysis.lagged_regression(records),
        "rpe": analysis.rpe_comparison(records, learner_values, gamma),
        "rpe_by_type": {name: analysis.by_trial_type(d, records) for name, d in deltas.items()},
        "transition_surprise": pd.DataFrame({name: analysis.transition_surprise(d, records) for name, d in deltas.items()}, index=pd.Index(seeds, name="seed")),
        "decoding": decoding,
        "ideal": ideal_table,
    }


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


def study_summary(table, task_name="biorxiv-final"):
    """`analysis.sweep_summary` of a sweep table with each configuration's distance to the paper's
    stay probabilities and to the Bayes-optimal observer's."""
    return analysis.sweep_summary(table, {"the paper": PAPER[task_name][1], "the ideal observer": IDEAL_OBSERVER[task_name]})


def study_grid(table, summary):
    """The rows of the sweep table and of its summary at the default entropy weight: the grid the
    heatmaps show (other entropy weights are single configurations beside it)."""
    from configs import AgentConfig

    grid = table[table["entropy_weight"] == AgentConfig().entropy_weight]
    return grid, summary.loc[sorted(grid["configuration"].unique())]


def write_study_results(table_path, out):
    """From a sweep table, write `summary.csv` (rounded to 4 digits), `heatmaps.png` and
    `stay_heatmaps.png` (one panel per stay cell) into `out`, as shipped in results/sweeps."""
    import pandas as pd

    table = pd.read_csv(table_path)
    summary = study_summary(table)
    grid, grid_summary = study_grid(table, summary)
    sweep_heatmaps(grid_summary, grid).savefig(os.path.join(out, "heatmaps.png"), dpi=110)
    sweep_heatmaps(grid_summary, grid, values=tuple(f"stay {c}" for c in STAY_CELLS)).savefig(os.path.join(out, "stay_heatmaps.png"), dpi=110)
    summary.round(4).to_csv(os.path.join(out, "summary.csv"))


def draw_run_figures(state, out, episodes=300):
    """Evaluate a group of seeds (`episodes` test episodes each) and write the stay-probability figure,
    the side-by-side figure with the paper and the reward curve into `out`; print the mean cells."""
    import a2c_lstm

    records = a2c_lstm.evaluate(state, episodes)
    probs, _ = stay_probabilities(records["action"], records["common"], records["reward"])
    task_name = next(name for name, task in a2c_lstm.env.PRESETS.items() if task == state.task)
    stay_figure(probs).savefig(os.path.join(out, "stay_probability.png"), dpi=120)
    side_by_side_figure(probs, task_name).savefig(os.path.join(out, "side_by_side.png"), dpi=120)
    reward_curve_figure(out).savefig(os.path.join(out, "reward_curve.png"), dpi=120)
    print(f"{task_name}, {len(state.seeds)} seeds at episode {state.episode}, {episodes} test episodes each")
    print("mean stay probability: " + ", ".join(f"{c} {p:.3f}" for c, p in zip(STAY_CELLS, np.nanmean(probs, 0))))
    print(f"figures written to {out}")
