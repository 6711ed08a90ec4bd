"""Analyses of trained runs: evaluate a run's checkpoints, then run the toolkit of `analysis` on
their records, or summarise a sweep's table.

`analysis` itself works on plain per-trial arrays only (no TensorFlow, no checkpoints), so a
person's data, a reference agent's and the meta-RL agent's go through the same functions; the
pipelines that first load and evaluate checkpoints live here.
"""

import numpy as np

from two_step_env import stay_probabilities
from twostep import agents, analysis, published, run_layout


def checkpoint_stay_probabilities(out, episodes, test_episodes=300):
    """Stay probabilities [checkpoint, seed, cell] of every seed's checkpoints `model-<e>` under
    `out` for e in `episodes`, each tested for `test_episodes` episodes with frozen weights."""
    import a2c_lstm
    from twostep import checkpoints

    seeds = run_layout.seeds_with_checkpoints(out)
    probs = []
    for episode in episodes:
        paths = [run_layout.checkpoint_path(out, seed, episode) for seed in seeds]
        records = a2c_lstm.evaluate(checkpoints.stack_states([checkpoints.load_model(p) for p in paths]), test_episodes)
        probs.append(stay_probabilities(records["action"], records["common"], records["reward"])[0])
    return np.array(probs)


def checkpoint_spread(probs):
    """[cell]: how far one seed's stay probability moves between checkpoints, as the standard
    deviation over checkpoints pooled over seeds. probs [checkpoint, seed, cell]."""
    return np.sqrt(np.nanmean(np.nanvar(probs, axis=0, ddof=1), axis=0))


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


def study_summary(table, task_name="biorxiv-final"):
    """`analysis.sweep_summary` of a sweep table with each configuration's distance to the paper's
    stay probabilities and to the Bayes-optimal observer's."""
    return analysis.sweep_summary(table, {"the paper": published.PAPER[task_name][1], "the ideal observer": published.IDEAL_OBSERVER_STAY[task_name]})


def study_grid(table, summary):
    """The rows of the sweep table and of its summary at the default entropy weight: the grid the
    heatmaps show (other entropy weights are single configurations beside it)."""
    from twostep.configs import AgentConfig

    grid = table[table["entropy_weight"] == AgentConfig().entropy_weight]
    return grid, summary.loc[sorted(grid["configuration"].unique())]
