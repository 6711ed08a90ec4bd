"""Analyses of trained runs: evaluate a run's checkpoints, then run the toolkit of `analysis` on
their records, or summarise a sweep's table.

`analysis` itself works on plain per-trial arrays only (no TensorFlow, no checkpoints), so a
person's data, a reference agent's and the meta-RL agent's go through the same functions; the
pipelines that first load and evaluate checkpoints live here.
"""

import numpy as np

import two_step_env as env
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


# ---------------------------------------------------------------- Daw et al. 2011's drifting task

# one typical parameter set of Daw et al.'s hybrid (alpha1, alpha2, lambda, beta1, beta2, p), w swept
TYPICAL_HYBRID = {"alpha1": 0.5, "alpha2": 0.5, "lambda": 0.6, "beta1": 5.0, "beta2": 4.0, "p": 0.1}


def daw_agents_records(config, subjects, episodes, seed=0):
    """{name: records [subject, episode, trial]} of the reference agents of the drifting task on the
    same fresh walks: random play, the hybrid at w = 0, 0.5 and 1 (`TYPICAL_HYBRID`), the myopic
    Bayesian learner and the oracle; returns (walks, records)."""
    from twostep import daw_agents, daw_models

    walks = daw_agents.fresh_walks(config, subjects, episodes, seed)
    draws = daw_agents.task_draws(config, subjects, episodes, seed)
    records = {"random play": daw_agents.simulate(daw_agents.RandomPlay(), config, walks, draws)}
    spec = daw_models.DAW2011
    for w in (0.0, 0.5, 1.0):
        theta = np.array([[{**TYPICAL_HYBRID, "w": w}[name] for name in spec.names]] * subjects)
        records[f"hybrid w = {w:g}"] = daw_models.simulate(spec, theta, walks, np.random.default_rng([seed, 2]), config.common_prob)
    records["Bayesian learner (myopic)"] = daw_agents.simulate(daw_agents.BayesianLearner(), config, walks, draws)
    records["oracle"] = daw_agents.simulate(daw_agents.Oracle(), config, walks, draws)
    return walks, records


def behaviour_table(records_by_name):
    """A pandas table, one row per agent ({name: records}): reward per trial (mean over subjects and
    the range of the subjects' means), the four stay probabilities pooled per subject and averaged,
    and the model-based index (the reward x transition coefficient of `analysis.stay_regression`,
    mean over subjects)."""
    import pandas as pd

    from two_step_env import STAY_CELLS

    rows = {}
    for name, r in records_by_name.items():
        per_subject = r["reward"].mean(axis=(1, 2))
        probs, _ = stay_probabilities(r["action"], r["common"], r["reward"])
        fits = analysis.stay_regression(r["action"], r["common"], r["reward"])
        rows[name] = {
            "reward per trial": per_subject.mean(),
            "lowest subject": per_subject.min(),
            "highest subject": per_subject.max(),
            **{f"stay {cell}": p for cell, p in zip(STAY_CELLS, np.nanmean(probs, axis=0))},
            "model-based index": np.mean([fit["reward x transition"]["coef"] for fit in fits]),
            "regressions converged": np.mean([fit["reward x transition"]["converged"] for fit in fits]),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def daw_comparison(state, episodes=300, seed=0):
    """The trained agent's seeds and the reference agents on the same fresh walks of the drifting
    task (`daw_agents_records`, one subject per seed): `behaviour_table` with a row per seed."""
    import a2c_lstm

    walks, records = daw_agents_records(state.task, len(state.seeds), episodes, seed)
    agent = a2c_lstm.evaluate(state, task=state.task, reward_probs=walks)
    rows = {"meta-RL agent (mean over seeds)": agent}
    rows.update({f"meta-RL agent, seed {s}": {k: v[k_:k_ + 1] for k, v in agent.items()} for k_, s in enumerate(state.seeds)})
    return behaviour_table({**records, **rows})


def write_daw_comparison(run, episodes=300, seed=0):
    """`daw_comparison` of the newest checkpoints of every seed under `run`, written to
    `<run>/comparison.csv` (rounded to 4 digits); returns the table."""
    import os

    from twostep import checkpoints, run_layout

    state = checkpoints.load_models(run_layout.latest_checkpoints(run))
    table = daw_comparison(state, episodes, seed)
    path = os.path.join(run, "comparison.csv")
    table.round(4).to_csv(path)
    unsettled = table.index[table["regressions converged"] < 1]
    print(f"wrote {path}: {len(table)} players x {episodes} episodes on the same walks" + (
        f"; the stay regression did not converge (the players stay whenever rewarded: the index is where it stopped) for "
        f"{', '.join(unsettled)}" if len(unsettled) else ""))
    return table


def daw_agent_scores(run, episodes=300, data_root=None):
    """The scores the project sets as the target for an agent trained on the drifting task (docs/daw-2011.md), for the newest checkpoints of every
    seed under `run`: reward per trial on fresh 201-trial walks (`episodes` frozen episodes per seed,
    `a2c_lstm.evaluate`), per seed and mean; and on the 197 walks Kool et al.'s people saw (125 trials,
    every seed on every walk), per seed and mean. Returns a pandas table, one row per seed and a mean."""
    import dataclasses

    import pandas as pd

    import a2c_lstm
    from twostep import checkpoints, datasets

    state = checkpoints.load_models(run_layout.latest_checkpoints(run))
    fresh = a2c_lstm.evaluate(state, episodes)["reward"].mean(axis=(1, 2))
    kool_walks = datasets.load("kool2016", data_root).records["probs"][:, 0]  # [person, 125, 4]
    kool_task = dataclasses.replace(state.task, trials_per_episode=kool_walks.shape[1])
    kool = a2c_lstm.evaluate(state, task=kool_task, reward_probs=kool_walks)["reward"].mean(axis=(1, 2))
    table = pd.DataFrame({"episode": state.episode, "fresh walks": fresh, "Kool's walks": kool}, index=pd.Index(state.seeds, name="seed"))
    return pd.concat([table, table.mean().to_frame("mean").T])


BELIEF_SCORES = {  # the columns of `daw_belief_scores`: R^2 (over the four, their mean), agreements, rewards per trial
    "probabilities from the LSTM": "the four true reward probabilities decoded from the LSTM state [h, c]",
    "probabilities from the Bayesian means": "the same from the Bayesian learner's posterior means: its ceiling",
    "Bayesian means from the LSTM": "the posterior means decoded from the LSTM state",
    "Bayesian means from the LSTM, shuffled trials": "the same, each state paired with another trial's means: about 0",
    "side gap from the LSTM": "the true gap between the sides' best options (S2's best - S3's best) from the LSTM state",
    "side gap from the Bayesian means": "the same from the posterior means and their gap: its ceiling",
    "Bayesian side gap from the LSTM": "the posterior means' gap from the LSTM state",
    "Bayesian side gap from h alone": "the same from the LSTM output h alone, what the policy reads",
    "agreement with the Bayesian choice": "first-stage choices equal to the greedy one on the posterior means (if strict)",
    "agreement with the Bayesian choice, the agent's likelier action": "the same for the action its policy gave over 1/2",
    "agreement with the Bayesian choice, greedy on the LSTM's decoded means": "the same for the greedy choice on them",
    "reward: agent": "the expected reward of the agent's own choices (the probability of the option taken)",
    "reward: greedy on the LSTM's decoded means": "the expected reward of greedy choices on the means decoded from the LSTM",
    "reward: greedy on the Bayesian means": "the same on the posterior means",
    "reward: greedy on the true probabilities": "the same on the true probabilities: the oracle on these trials",
    "reward: the agent's first stage, greedy second on the LSTM's decoded means": "its first-stage choices, then greedy ones",
    "reward: the agent's first stage, greedy second on the Bayesian means": "the same, greedy on the posterior means",
    "reward: Bayesian learner": "the expected reward of the greedy Bayesian learner's own choices on the same walks",
}


def daw_belief_scores(records, task, seed=0, grid_size=201):
    """What the LSTM state of an agent of the drifting task knows of the four reward probabilities,
    against the Bayesian learner run on the same history, and what greedy choices on either would
    earn: a pandas table, one row per seed of records [seed, episode, trial] from
    `a2c_lstm.evaluate(..., internals=True)`, columns `BELIEF_SCORES`.

    The Bayesian learner's posterior means at each choice (`daw_agents.posterior_means`) follow the
    options the agent took and the rewards it got, so it is the ideal observer of what the agent saw.
    Every R^2 is `analysis.decode`'s, cross-validated with whole episodes in a fold (the posterior
    means as features come with their side gap, the one non-linear quantity the choice needs). The
    rewards are expected rewards on the agent's trials (`daw_agents.greedy_reward`): one trial
    played greedily on each estimate, not a rollout that would change what is seen next; with
    the agent's own first-stage choice and a greedy second stage, they tell the stages apart. The
    decoded means are the cross-validated predictions (`analysis.decoded`): as the posterior mean
    is the expectation of the probability given the history, and the LSTM state a function of it,
    its linear read-out estimates the same read-out of the probabilities, with less noise. `seed`
    shuffles the control and draws the Bayesian learner's transitions on the agent's walks."""
    import pandas as pd

    from twostep import daw_agents

    option = env.option_index(np.asarray(records["state"]), np.asarray(records["choice2"]))
    bayes = daw_agents.posterior_means(task, option, records["reward"], grid_size)
    (n_seeds, n_episodes, n_trials), n_hidden = option.shape, np.shape(records["hidden"])[-1]
    groups, rng = np.repeat(np.arange(n_episodes), n_trials), np.random.default_rng(seed)

    def gap(values):
        return values[..., :2].max(-1) - values[..., 2:].max(-1)

    def preference(values):  # the first-stage value of action 1 - that of action 0
        return np.diff(daw_agents.first_stage_values(task, values), axis=-1)[..., 0]

    walks = np.asarray(records["probs"], float)
    draws = daw_agents.task_draws(task, n_seeds, n_episodes, seed)
    alone = daw_agents.simulate(daw_agents.BayesianLearner(grid_size), task, walks, draws)
    alone_reward = daw_agents.pick(walks, env.option_index(alone["state"], alone["choice2"])).mean(axis=(1, 2))
    rows = []
    for k in range(n_seeds):
        lstm = np.concatenate([records["hidden"][k], records["cell"][k]], axis=-1).reshape(n_episodes * n_trials, -1)
        probs, means = np.asarray(records["probs"][k], float).reshape(-1, 4), bayes[k].reshape(-1, 4)
        bayes_features = np.column_stack([means, gap(means)])
        decoded_means = analysis.decoded(lstm, means, groups)
        bayes_preference, decoded_preference = preference(means), preference(decoded_means)
        strict = np.abs(bayes_preference) > daw_agents.TIE_TOLERANCE
        all_actions = np.ravel(records["action"][k])
        action, prob = all_actions[strict], np.ravel(records["prob"][k])[strict]
        likelier = np.where(prob >= 0.5, action, 1 - action)
        scores = [
            analysis.decode(lstm, probs, groups).mean(),
            analysis.decode(bayes_features, probs, groups).mean(),
            analysis.decode(lstm, means, groups).mean(),
            analysis.decode(lstm, means[rng.permutation(len(means))], groups).mean(),
            analysis.decode(lstm, gap(probs), groups),
            analysis.decode(bayes_features, gap(probs), groups),
            analysis.decode(lstm, gap(means), groups),
            analysis.decode(lstm[:, :n_hidden], gap(means), groups),
            np.mean((action == 1) == (bayes_preference[strict] > 0)),
            np.mean((likelier == 1) == (bayes_preference[strict] > 0)),
            np.mean((decoded_preference[strict] > 0) == (bayes_preference[strict] > 0)),
            daw_agents.pick(probs, option[k].ravel()).mean(),
            daw_agents.greedy_reward(task, decoded_means, probs).mean(),
            daw_agents.greedy_reward(task, means, probs).mean(),
            daw_agents.greedy_reward(task, probs, probs).mean(),
            daw_agents.greedy_reward(task, decoded_means, probs, all_actions).mean(),
            daw_agents.greedy_reward(task, means, probs, all_actions).mean(),
            alone_reward[k],
        ]
        rows.append(dict(zip(BELIEF_SCORES, scores)))
    return pd.DataFrame(rows)


def daw_belief_decoding(run, episodes=300, seed=0):
    """`daw_belief_scores` of the newest checkpoints of every seed under `run`, on `episodes` frozen
    episodes per seed on fresh walks: one row per seed and their mean."""
    import pandas as pd

    import a2c_lstm
    from twostep import checkpoints

    state = checkpoints.load_models(run_layout.latest_checkpoints(run))
    table = daw_belief_scores(a2c_lstm.evaluate(state, episodes, internals=True), state.task, seed)
    table.index = pd.Index(state.seeds, name="seed")
    return pd.concat([table, table.mean().to_frame("mean").T]).rename_axis("seed")


def write_daw_study(sweep_outs, to, data_root=None, every=100):
    """The recipe study of the drifting task, from sweep folders (a chain of stages is one folder per
    stage) into `to`: `arms.csv`, the sweeps' tables (one row per configuration and seed,
    `sweep.collect`, with the folder as `sweep`) with each seed's `daw_agent_scores` at its newest
    checkpoint (reward per trial on fresh walks and on Kool's people's walks), and `curves.csv`, the
    training curves per `every` episodes with their training time (`sweep.learning_curves`).
    Returns (arms, curves)."""
    import os

    import pandas as pd

    from twostep import sweep

    arms, curves = [], []
    for out in sweep_outs:
        table = sweep.collect(out).assign(sweep=os.path.basename(os.path.normpath(out)))
        for name in table["configuration"].unique():
            scores = daw_agent_scores(os.path.join(out, name), data_root=data_root)
            rows = table["configuration"] == name
            for column in ("fresh walks", "Kool's walks"):
                table.loc[rows, column] = scores.loc[table.loc[rows, "seed"], column].to_numpy()
        arms.append(table)
        curves.append(sweep.learning_curves(out, every).assign(sweep=table["sweep"].iloc[0]))
    arms, curves = pd.concat(arms, ignore_index=True), pd.concat(curves, ignore_index=True)
    os.makedirs(to, exist_ok=True)
    arms.to_csv(os.path.join(to, "arms.csv"), index=False)
    curves.round(4).to_csv(os.path.join(to, "curves.csv"), index=False)
    return arms, curves


def walk_players(state, walk, plays, hybrid_params=None, seed=0):
    """{name: records [subject, 1, trial]} of the players of one walk of reward probabilities
    (walk [trial, 4], as every person of Gillan et al. saw the same one): every seed of the meta-RL
    agent `plays` times ("meta-RL agent", subjects seed-major), the myopic Bayesian learner `plays`
    times and, given `hybrid_params` [person, 7] (Daw et al. 2011's seven parameters, e.g. people's
    fits), the hybrid at each person's parameters with their own w and with w = 0 and w = 1."""
    import dataclasses

    import a2c_lstm
    from twostep import daw_agents, daw_models

    walk = np.asarray(walk, float)
    task = dataclasses.replace(state.task, trials_per_episode=len(walk))
    agent = a2c_lstm.evaluate(state, plays, task=task, reward_probs=np.broadcast_to(walk, (plays, *walk.shape)))
    players = {"meta-RL agent": {k: np.asarray(v).reshape(-1, 1, *np.shape(v)[2:]) for k, v in agent.items()}}
    walks = np.broadcast_to(walk, (plays, 1, *walk.shape))
    players["Bayesian learner (myopic)"] = daw_agents.simulate(daw_agents.BayesianLearner(), task, walks,
                                                               daw_agents.task_draws(task, plays, 1, seed))
    if hybrid_params is not None:
        spec, params = daw_models.DAW2011, np.asarray(hybrid_params, float)
        people_walks = np.broadcast_to(walk, (len(params), 1, *walk.shape))
        w = spec.names.index("w")
        for name, value in (("hybrid, people's parameters", None), ("hybrid, people's parameters, w = 0", 0.0),
                            ("hybrid, people's parameters, w = 1", 1.0)):
            theta = params if value is None else np.where(np.arange(params.shape[1]) == w, value, params)
            players[name] = daw_models.simulate(spec, theta, people_walks, np.random.default_rng([seed, 3]), task.common_prob)
    return players
