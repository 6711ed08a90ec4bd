"""Kool et al.'s four paradigms for the reference agents, and whether model-based control pays
off in each (Kool, Cushman & Gershman 2016, PLoS Comput Biol 12:e1005090; Kool, Gershman &
Cushman 2017, Psychol Sci 28:1321).

- "daw": Daw et al. 2011's task as Kool et al. 2016 ran it (125 trials; 70/30 transitions; four
  reward probabilities drifting in [0.25, 0.75], SD 0.025; a win is 1 point).
- "novel": Kool et al. 2016's own (125 trials): two first-stage states drawn at random, in each
  one option leading to each second-stage state, always; a second-stage state pays whole points
  drifting in [-4, 5] (Gaussian steps of SD 2, rounded, reflected at the bounds).
- "daw-stakes", "novel-stakes": Kool et al. 2017's (200 trials; points in [0, 9] in the novel
  one): before the first choice a stake of 1 or 5 (probability 0.5 each) multiplies the trial's
  points; learners value raw points.

A trial's reward here is what a person was paid: points (or wins) x stake. The players:
`random` (each option 0.5), `oracle` (knows the trial's probabilities or points and takes the
best first-stage option through the known transitions), `bayes` (`daw_agents.BayesianLearner`
on Daw's paradigm; on the novel one the exact posterior over each state's points on the integer
grid, `novel_bayes_rewards`, greedy on the next trial's expected points), and `hybrid`: the
authors' model of the paradigm (`Paradigm.model`, `daw_models`) at given parameters with its
mixing weight w swept from 0 to 1, stickiness 0, played on fresh walks (`payoff_curve`): reward
per trial against w is Kool et al.'s "does model-based control pay off" curve.
"""

import dataclasses

import numpy as np
from scipy.stats import norm

import two_step_env as env
from twostep import daw_agents, daw_models
from twostep.configs import POINTS, PRESETS, TaskConfig

W_GRID = np.round(np.linspace(0.0, 1.0, 11), 2)  # the mixing weights of the payoff curve
SHIPPED_RUNS = {  # the meta-RL agent's shipped runs on each paradigm (results/README.md), from the repository's root
    "daw": "results/daw-2011", "novel": "results/kool/novel", "daw-stakes": "results/kool/daw-stakes", "novel-stakes": "results/kool/novel-stakes",
}


@dataclasses.dataclass(frozen=True)
class Paradigm:
    """One of Kool et al.'s paradigms as its dataset ran it: the task (`TaskConfig`: trials, the
    high stake, the novel paradigm's points or Daw's probabilities), the dataset, the authors'
    hybrid of it (`daw_models.SPECS`) and their full model, whose w they report (with both
    stickiness terms)."""

    name: str
    dataset: str
    model: str
    full_model: str
    task: TaskConfig

    @property
    def novel(self):
        return self.task.rewards == POINTS


PARADIGMS = {
    "daw": Paradigm("daw", "kool2016", "kool2016-hybrid", "kool2016-hybrid-st-respst",
                    dataclasses.replace(PRESETS["daw-2011"], trials_per_episode=125)),
    "novel": Paradigm("novel", "kool2016-novel", "kool2016-novel-hybrid", "kool2016-novel-hybrid-st-respst", PRESETS["kool2016-novel"]),
    "daw-stakes": Paradigm("daw-stakes", "kool2017-daw-stakes", "kool2017-daw-stakes", "kool2017-daw-stakes", PRESETS["kool2017-daw-stakes"]),
    "novel-stakes": Paradigm("novel-stakes", "kool2017-novel-stakes", "kool2017-novel-stakes", "kool2017-novel-stakes",
                             PRESETS["kool2017-novel-stakes"]),
}


def points_walk(paradigm: Paradigm, rng: np.random.Generator, shape):
    """Fresh walks of the novel paradigm's points [*shape, trials, 2] (`two_step_env.points_walk`)."""
    task = paradigm.task
    return env.points_walk(task, rng.random((*shape, 2)), rng.standard_normal((*shape, task.trials_per_episode - 1, 2)))


def cues(paradigm: Paradigm, rng: np.random.Generator, shape):
    """Each trial's first-stage state (novel paradigm: 0/1 at random; else 0) and stake [*shape, trials]."""
    full = (*shape, paradigm.task.trials_per_episode)
    state1 = rng.integers(0, 2, full) if paradigm.novel else np.zeros(full, int)
    return {"state1": state1, "stake": env.draw_stakes(paradigm.task, rng.random(full))}


def point_kernel(paradigm: Paradigm):
    """P(points at t+1 = j | points at t = i) [i, j] on the whole grid low..high: a rounded Gaussian step, reflected."""
    low, high, sd = paradigm.task.points_low, paradigm.task.points_high, paradigm.task.points_sd
    grid = np.arange(low, high + 1)
    steps = np.arange(-(high - low) * 3, (high - low) * 3 + 1)
    step_probs = norm.cdf(steps + 0.5, scale=sd) - norm.cdf(steps - 0.5, scale=sd)  # P(round(N(0, sd)) = step)
    kernel = np.zeros((len(grid), len(grid)))
    for i, x in enumerate(grid):
        np.add.at(kernel[i], (env.reflect(x + steps, low, high) - low).astype(int), step_probs)
    return kernel / kernel.sum(axis=1, keepdims=True)


def novel_bayes_rewards(paradigm: Paradigm, points, rng: np.random.Generator):
    """The exact Bayesian learner of the novel paradigm on walks points [..., trials, 2]: a
    uniform prior over each state's points, which a visit reveals exactly and the walk's kernel
    diffuses after every trial; it takes the option to the state with the higher expected points
    (ties 50/50). Returns the points it wins [..., trials] (before any stake)."""
    low = paradigm.task.points_low
    kernel = point_kernel(paradigm)
    grid = np.arange(low, paradigm.task.points_high + 1)
    belief = np.full((*points.shape[:-2], 2, len(grid)), 1.0 / len(grid))
    won = np.empty(points.shape[:-1])
    for t in range(points.shape[-2]):
        expected = belief @ grid
        pick = np.where(np.isclose(expected[..., 1], expected[..., 0]), rng.integers(0, 2, expected.shape[:-1]),
                        (expected[..., 1] > expected[..., 0]).astype(int))
        won[..., t] = np.take_along_axis(points[..., t, :], pick[..., None], -1)[..., 0]
        seen = np.eye(len(grid))[(won[..., t] - low).astype(int)]
        belief = np.where((np.arange(2) == pick[..., None])[..., None], seen[..., None, :], belief) @ kernel
    return won


def reference_rewards(paradigm: Paradigm, people, seed, walks=None, stake=None):
    """Reward per trial [people] (points or wins x stake) of `random`, `oracle` and `bayes`, all on
    the same walks and stakes: `people` fresh ones, or the given walks [people, trials, 2 or 4]
    (the points or reward probabilities a person saw) and stakes [people, trials]."""
    rng = np.random.default_rng(seed)
    if stake is None:
        stake = cues(paradigm, rng, (people,))["stake"]
    if paradigm.novel:
        points = points_walk(paradigm, rng, (people,)) if walks is None else walks
        won = {"random": points.mean(-1), "oracle": points.max(-1), "bayes": novel_bayes_rewards(paradigm, points, rng)}
    else:
        task = paradigm.task
        walks = daw_agents.fresh_walks(task, people, 1, seed) if walks is None else walks[:, None]
        draws = daw_agents.task_draws(task, people, 1, seed)
        agents = {"random": daw_agents.RandomPlay(), "oracle": daw_agents.Oracle(), "bayes": daw_agents.BayesianLearner()}
        won = {name: daw_agents.simulate(agent, task, walks, draws)["reward"][:, 0] for name, agent in agents.items()}
    return {name: (reward * stake).mean(-1) for name, reward in won.items()}


def hybrid_theta(spec: daw_models.ModelSpec, typical, w):
    """`spec`'s parameter vector at `typical` values (a dict by name; stickiness 0 where absent)
    with the mixing weight w (w_lo = w_hi = w with stakes)."""
    values = {"p": 0.0, "rho": 0.0, **typical, "w": w, "w_lo": w, "w_hi": w}
    return np.array([values[name] for name in spec.names])


def hybrid_rewards(paradigm: Paradigm, typical, w, people, seed):
    """Reward per trial [people] (points or wins x stake) of the authors' model at `typical` and w,
    on `people` fresh walks, stakes and first-stage states."""
    rng = np.random.default_rng(seed)
    given = cues(paradigm, rng, (people, 1))
    probs = points_walk(paradigm, rng, (people, 1)) if paradigm.novel else daw_agents.fresh_walks(paradigm.task, people, 1, seed)
    spec = daw_models.SPECS[paradigm.model]
    theta = np.broadcast_to(hybrid_theta(spec, typical, w), (people, len(spec.free)))
    played = daw_models.simulate(spec, theta, probs, rng, common_prob=spec.common_prob, cues=given)
    return (played["reward"] * played["stake"])[:, 0].mean(-1)


def payoff_curve(paradigm: Paradigm, typical, people=2000, seed=0, ws=W_GRID):
    """Rows `paradigm, player, w, reward_per_trial, se, gain, gain_se` over `people` simulated
    people: the hybrid at each w of `ws`, all on the same walks and draws (common random numbers),
    its gain over w = 0 paired person by person; then random, bayes and oracle (w and gain empty)."""
    import pandas as pd

    rewards = {w: hybrid_rewards(paradigm, typical, w, people, seed) for w in ws}
    rows = [(paradigm.name, "hybrid", w, reward.mean(), standard_error(reward), (reward - rewards[ws[0]]).mean(),
             standard_error(reward - rewards[ws[0]])) for w, reward in rewards.items()]
    rows += [(paradigm.name, name, np.nan, reward.mean(), standard_error(reward), np.nan, np.nan)
             for name, reward in reference_rewards(paradigm, people, seed).items()]
    return pd.DataFrame(rows, columns=["paradigm", "player", "w", "reward_per_trial", "se", "gain", "gain_se"])


def standard_error(values):
    return values.std(ddof=1) / np.sqrt(len(values))


def typical_parameters(fits, paradigm: Paradigm):
    """The people's median of each of the authors' model's parameters but w (and stickiness, left
    at 0), from a `two-step fit` table of the paradigm's dataset."""
    spec = daw_models.SPECS[paradigm.model]
    rows = fits[fits["model"] == spec.name]
    if rows.empty:
        raise ValueError(f"the fits hold no {spec.name} rows: run two-step fit --data {paradigm.dataset} --models {spec.name}")
    return {name: float(rows[name].median()) for name in spec.names if name not in ("w", "w_lo", "w_hi", "p", "rho")}


def people_weights(paradigm: Paradigm, data, fits):
    """Our fits of the full model (`Paradigm.full_model`) to the people the authors kept (`data`), by
    subject, from a `two-step fit` table; with stakes, also what each won per trial at each stake
    (`won_by_stake`)."""
    table = fits[fits["model"] == paradigm.full_model].set_index("subject").loc[[str(s) for s in data.subject]]
    if paradigm.task.has_stakes:
        table["won_lo"], table["won_hi"] = won_by_stake(data.records)
    return table


def people_rows(paradigm: Paradigm, data, fits, authors_fits, seed=0):
    """Rows `paradigm, player, n, reward_per_trial, w, w_lo, w_hi` of the people the authors kept
    (`data`, `datasets.load`): `people` (their pay per trial, points x stake with nothing on a
    missed trial; the mean w of our fits of the full model, `fits`, a `two-step fit` table),
    `people-authors` (the same pay; the authors' fits, `datasets.load_kool_fits`), and `random`,
    `bayes` and `oracle` on the walks and stakes the people saw. With stakes, w is the mean of w_lo
    and w_hi (the stakes are equally likely)."""
    import pandas as pd

    r = data.records
    stake = r.get("stake", np.ones(r["action"].shape))
    paid = np.where(r["missed"], 0.0, np.nan_to_num(r["reward"]) * stake)[:, 0]
    walks = r["points"][:, 0] if paradigm.novel else r["probs"][:, 0]
    ours = people_weights(paradigm, data, fits)
    (authors,) = [fit for fit in authors_fits if fit["model"] in (0, 1) and fit["st"] and fit["respst"]]
    names = daw_models.SPECS[paradigm.full_model].names
    weights = {"people": ours, "people-authors": pd.DataFrame(authors["x"], columns=names)}
    rows = []
    for player, table in weights.items():
        rows.append((paradigm.name, player, len(data.subject), paid.mean(), *mean_weights(table)))
    for player, reward in reference_rewards(paradigm, len(data.subject), seed, walks, stake[:, 0]).items():
        rows.append((paradigm.name, player, len(data.subject), reward.mean(), np.nan, np.nan, np.nan))
    return pd.DataFrame(rows, columns=["paradigm", "player", "n", "reward_per_trial", "w", "w_lo", "w_hi"])


def agent_records(paradigm: Paradigm, state, data=None, episodes=300):
    """The trained agent's records [seed, episode, trial] (`a2c_lstm.evaluate`) on the paradigm's
    task: `episodes` fresh walks, or with `data` (`datasets.load`) the walks, first-stage states and
    stakes each person saw, one episode per person (every seed plays every person's)."""
    import a2c_lstm

    if data is None:
        return a2c_lstm.evaluate(state, episodes, task=paradigm.task)
    r = data.records
    given = {"points": r["points"][:, 0]} if paradigm.novel else {"reward_probs": r["probs"][:, 0]}
    given.update({"state1": r["state1"][:, 0]} if paradigm.novel else {})
    given.update({"stakes": r["stake"][:, 0]} if paradigm.task.has_stakes else {})
    return a2c_lstm.evaluate(state, task=paradigm.task, **given)


def agent_fits(paradigm: Paradigm, records, restarts=8, seed=0):
    """MAP fits of the authors' full model (`Paradigm.full_model`) to each seed's choices, its
    episodes as one person's sessions (records [seed, episode, trial]). The agent sees no
    screen: every trial gets a random side (so the response stickiness has nothing to fit), and
    the novel paradigm's one second-stage option is option 0. Returns `daw_models.fit`'s result."""
    spec = daw_models.SPECS[paradigm.full_model]
    shape = np.shape(records["action"])
    fitted = {name: records[name] for name in ("action", "state", "reward")}
    fitted.update(choice2=records["choice2"] if "choice2" in records else np.zeros(shape, int),
                  side1=np.random.default_rng(seed).integers(0, 2, shape), missed=np.zeros(shape, bool),
                  **{name: records[name] for name in ("state1", "stake") if name in records})
    return daw_models.fit(spec, fitted, restarts=restarts, seed=seed)


def agent_table(paradigm: Paradigm, state, data, episodes=300, restarts=8, seed=0, walks=("fresh", "people")):
    """Per seed and walks (of `walks`; "fresh": `episodes` fresh ones; "people": the people's, `data`): rows
    `paradigm, walks, seed, episodes, reward_per_trial` (pay per trial: points or wins x stake),
    `random, bayes, oracle` (theirs on the same walks and stakes), `margin` ((agent - random) /
    (bayes - random)), with stakes `won_lo, won_hi` (`won_by_stake`), and the full model's parameters
    fitted to the seed's choices (`agent_fits`)."""
    import pandas as pd

    spec = daw_models.SPECS[paradigm.full_model]
    tables = []
    for kind in walks:
        records = agent_records(paradigm, state, data if kind == "people" else None, episodes)
        stake = records.get("stake", np.ones(np.shape(records["action"])))
        n_seeds, n_episodes, n_trials = stake.shape
        played = records["points"] if paradigm.novel else records["probs"]
        references = reference_rewards(paradigm, n_seeds * n_episodes, seed, played.reshape(n_seeds * n_episodes, n_trials, -1),
                                       stake.reshape(n_seeds * n_episodes, n_trials))
        table = pd.DataFrame({"paradigm": paradigm.name, "walks": kind, "seed": list(state.seeds), "episodes": n_episodes,
                              "reward_per_trial": (records["reward"] * stake).mean(axis=(1, 2)),
                              **{name: reward.reshape(n_seeds, n_episodes).mean(1) for name, reward in references.items()}})
        table["margin"] = (table["reward_per_trial"] - table["random"]) / (table["bayes"] - table["random"])
        if paradigm.task.has_stakes:
            table["won_lo"], table["won_hi"] = won_by_stake(records)
        params = agent_fits(paradigm, records, restarts, seed)["params"]
        for i, name in enumerate(spec.names):
            table[name] = params[:, i]
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def agent_row(table: "pd.DataFrame"):
    """The summary's `agent` row (`people_rows`' columns) from `agent_table`'s rows of one paradigm on the
    people's walks: the mean over seeds; with stakes, w the mean of w_lo and w_hi."""
    return (table["paradigm"].iloc[0], "agent", len(table), table["reward_per_trial"].astype(float).mean(), *mean_weights(table))


def mean_weights(table):
    """(w, w_lo, w_hi): the mean fitted weights of a table of fits; with stakes (w_lo and w_hi) w is their
    mean (the stakes are equally likely), without them w_lo and w_hi are NaN."""
    if "w_lo" not in table or table["w_lo"].isna().all():
        return table["w"].mean(), np.nan, np.nan
    w_lo, w_hi = table["w_lo"].mean(), table["w_hi"].mean()
    return (w_lo + w_hi) / 2, w_lo, w_hi


WEIGHT_QUESTIONS = (  # (question, measure: a column or (high, low) columns, paradigm a, paradigm b or None, test): `weight_tests`
    ("w: novel - daw", "w", "novel", "daw", "welch"),
    ("w_hi - w_lo: novel-stakes", ("w_hi", "w_lo"), "novel-stakes", None, "paired"),
    ("w_hi - w_lo: daw-stakes", ("w_hi", "w_lo"), "daw-stakes", None, "paired"),
    ("w_hi - w_lo: novel-stakes - daw-stakes", ("w_hi", "w_lo"), "novel-stakes", "daw-stakes", "welch"),
    ("won_hi - won_lo: novel-stakes", ("won_hi", "won_lo"), "novel-stakes", None, "paired"),
    ("won_hi - won_lo: daw-stakes", ("won_hi", "won_lo"), "daw-stakes", None, "paired"),
)


def won_by_stake(records):
    """(won_lo, won_hi) [subject]: the mean points (or wins) per trial, before the stake, on each subject's
    low- and high-stake trials not missed (records [subject, episode, trial] with "reward", "stake")."""
    answered = ~np.asarray(records.get("missed", np.zeros(np.shape(records["reward"]), bool)), bool)
    high = np.asarray(records["stake"]) > 1.0
    reward = np.nan_to_num(np.asarray(records["reward"], np.float64))
    return tuple((reward * (answered & at)).sum(axis=(1, 2)) / (answered & at).sum(axis=(1, 2)) for at in (~high, high))


def weight_tests(weights):
    """Is w higher where model-based control pays off, and does it rise with the stake? `weights`:
    {player: {paradigm: a table per person or seed of fitted w (or w_lo and w_hi) and, with stakes,
    won_lo and won_hi (`won_by_stake`)}}. Rows `player, question, n_a, n_b, mean_a, mean_b,
    difference, t, p, test` for `WEIGHT_QUESTIONS`: Welch's t between paradigms (different people, or
    differently trained seeds), a paired t within one (high - low of the same person or seed); two-sided."""
    import pandas as pd
    from scipy import stats

    def measure(table, columns):
        return table[columns].to_numpy() if isinstance(columns, str) else (table[columns[0]] - table[columns[1]]).to_numpy()

    rows = []
    for player, tables in weights.items():
        for question, columns, a, b, test in WEIGHT_QUESTIONS:
            if a not in tables or (b is not None and b not in tables):
                continue
            x = measure(tables[a], columns)
            if test == "paired":
                result, y, n_b = stats.ttest_1samp(x, 0.0), np.zeros(1), len(x)
            else:
                y = measure(tables[b], columns)
                result, n_b = stats.ttest_ind(x, y, equal_var=False), len(y)
            rows.append((player, question, len(x), n_b, x.mean(), y.mean(), x.mean() - y.mean(), result.statistic, result.pvalue, test))
    return pd.DataFrame(rows, columns=["player", "question", "n_a", "n_b", "mean_a", "mean_b", "difference", "t", "p", "test"])


def agent_result(paradigm: Paradigm, run, data, episodes=300, restarts=8, seed=0, say=print):
    """`agent_table` of the newest checkpoints of every seed of `run` on the paradigm's fresh walks and
    its people's (`data`, `datasets.load`); says how much of the Bayesian learner's margin it earns."""
    from twostep import checkpoints, run_layout

    state = checkpoints.load_models(run_layout.latest_checkpoints(run))
    table = agent_table(paradigm, state, data, episodes, restarts, seed)
    fresh = table[table["walks"] == "fresh"]
    say(f"{paradigm.name}: {run} at episode {state.episode}, {fresh['margin'].mean():.0%} of the Bayesian learner's margin over random on "
        f"fresh walks (seeds {fresh['margin'].min():.0%} to {fresh['margin'].max():.0%})")
    return table


def cost_study(arms, root=None, restarts=8, seed=0, say=print):
    """The study of costs of control (docs/arbitration.md) on the novel paradigm with stakes: for each
    arm, {label: (its checkpoints' paths, entropy weight or None)}, `agent_table` on the people's
    walks, with columns `arm` and `entropy_weight`."""
    import pandas as pd

    from twostep import checkpoints, datasets

    paradigm = PARADIGMS["novel-stakes"]
    data = datasets.load(paradigm.dataset, root)
    tables = []
    for label, (paths, entropy_weight) in arms.items():
        state = checkpoints.load_models(paths)
        table = agent_table(paradigm, state, data, restarts=restarts, seed=seed, walks=("people",))
        table.insert(0, "arm", label)
        table.insert(1, "entropy_weight", entropy_weight)
        say(f"{label}: episode {state.episode}, w_lo {table['w_lo'].mean():.3f}, w_hi {table['w_hi'].mean():.3f}, "
            f"pay per trial {table['reward_per_trial'].mean():.3f}")
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def cost_arms(sweep_folder, main_run, seeds=range(4), settings="learning_rate=0.0014,timestep_scale=0.005"):
    """The study's arms ({label: (checkpoint paths, entropy weight or None)}, docs/arbitration.md): the
    sweep's configurations under `sweep_folder` (entropy weights 0.003, 0.03, 0.1; 12 units) and the
    main run's `seeds` at 40,000 episodes (entropy weight 0.01) and at 10,000."""
    import os

    from twostep import run_layout

    def swept(overrides):
        return run_layout.latest_checkpoints(os.path.join(sweep_folder, f"{overrides},{settings}"))

    def main_at(episode):
        return [run_layout.checkpoint_path(main_run, seed, episode) for seed in seeds]

    arms = {f"entropy {weight}": (main_at(40000) if weight == 0.01 else swept(f"entropy_weight={weight}"), weight)
            for weight in (0.003, 0.01, 0.03, 0.1)}
    return dict(arms, **{"12 units": (swept("entropy_weight=0.01,hidden=12"), None), "10,000 episodes": (main_at(10000), None)})


def write_cost_study(out, sweep_folder, main_run, root=None, restarts=8, seed=0, say=print):
    """`<out>/costs.csv`: `cost_study` of `cost_arms`; returns it with its `cost_tests`."""
    import os

    table = cost_study(cost_arms(sweep_folder, main_run), root, restarts, seed, say)
    table.to_csv(os.path.join(out, "costs.csv"), index=False)
    return table, cost_tests(table)


def cost_tests(table):
    """Per arm of `cost_study`'s table: seeds, mean pay per trial and share of the Bayesian learner's margin,
    mean w_lo and w_hi, and a paired t of w_hi - w_lo (two-sided); then, over the seeds of the arms with an
    entropy weight, the least-squares slope of w_hi - w_lo on log10(entropy weight) with its t and p."""
    import pandas as pd
    from scipy import stats

    rows = []
    for arm, seeds in table.groupby("arm", sort=False):
        difference = seeds["w_hi"] - seeds["w_lo"]
        test = stats.ttest_1samp(difference, 0.0)
        rows.append({"arm": arm, "n": len(seeds), "reward_per_trial": seeds["reward_per_trial"].mean(), "margin": seeds["margin"].mean(),
                     "w_lo": seeds["w_lo"].mean(), "w_hi": seeds["w_hi"].mean(), "difference": difference.mean(),
                     "t": test.statistic, "p": test.pvalue})
    weighted = table.dropna(subset=["entropy_weight"])
    trend = stats.linregress(np.log10(weighted["entropy_weight"].astype(float)), weighted["w_hi"] - weighted["w_lo"])
    rows.append({"arm": "slope on log10(entropy weight)", "n": len(weighted), "difference": trend.slope,
                 "t": trend.slope / trend.stderr, "p": trend.pvalue})
    return pd.DataFrame(rows)


def write_results(out, fits_folder, root=None, people=2000, seed=0, say=print, agent_runs=None, episodes=300, restarts=8):
    """`<out>/summary.csv` (`people_rows` of every paradigm, and `agent_row` of those with a run in
    `agent_runs`) and `<out>/payoff.csv` (`payoff_curve` at the people's typical parameters,
    `typical_parameters`), from the fits in `fits_folder` (`<dataset>_fits.csv`, written by two-step
    fit) and the datasets in `root`; with `agent_runs` ({paradigm name: run folder}), also
    `<out>/agent.csv` (`agent_result` of each) and `<out>/weights.csv` (`weight_tests` of people and agent).
    Returns the tables."""
    import os

    import pandas as pd

    from twostep import datasets

    agent_runs = agent_runs or {}
    summary, payoff, agents, weights = [], [], [], {"people": {}, **({"agent": {}} if agent_runs else {})}
    for paradigm in PARADIGMS.values():
        data = datasets.load(paradigm.dataset, root)
        fits = pd.read_csv(os.path.join(fits_folder, f"{paradigm.dataset}_fits.csv"), dtype={"subject": str})
        summary.append(people_rows(paradigm, data, fits, datasets.load_kool_fits(paradigm.dataset, root), seed))
        weights["people"][paradigm.name] = people_weights(paradigm, data, fits)
        typical = typical_parameters(fits, paradigm)
        payoff.append(payoff_curve(paradigm, typical, people, seed))
        say(f"{paradigm.name}: {len(data.subject)} people; the hybrid at " + ", ".join(f"{k} {v:.3g}" for k, v in typical.items()))
        if paradigm.name in agent_runs:
            agents.append(agent_result(paradigm, agent_runs[paradigm.name], data, episodes, restarts, seed, say))
            weights["agent"][paradigm.name] = on_people = agents[-1][agents[-1]["walks"] == "people"]
            summary.append(pd.DataFrame([agent_row(on_people)], columns=summary[-1].columns))
    tables = {"summary": pd.concat(summary, ignore_index=True), "payoff": pd.concat(payoff, ignore_index=True)}
    if agent_runs:
        tables.update(agent=pd.concat(agents, ignore_index=True), weights=weight_tests(weights))
    os.makedirs(out, exist_ok=True)
    for name, table in tables.items():
        table.to_csv(os.path.join(out, f"{name}.csv"), index=False)
    return tables
