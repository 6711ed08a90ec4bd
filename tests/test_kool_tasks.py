"""Kool et al.'s paradigms for the reference agents (twostep.kool_tasks): the points' walk and its
kernel, the simulated play of the authors' models, the reference agents and the payoff curve."""

import numpy as np
import pandas as pd
import pytest

from twostep import configs, daw_models, kool_tasks
from twostep.configs import S2

NOVEL = kool_tasks.PARADIGMS["novel"]


def test_the_points_walk_stays_whole_within_its_bounds_and_steps_as_its_kernel():
    """500 walks x 125 trials: every value a whole number in [-4, 5]; the frequency of each
    transition i -> j within 4 binomial standard errors of `point_kernel`'s probability."""
    points = kool_tasks.points_walk(NOVEL, np.random.default_rng(0), (500,))
    assert points.shape == (500, 125, 2) and (points == np.round(points)).all() and points.min() >= -4 and points.max() <= 5
    kernel = kool_tasks.point_kernel(NOVEL)
    np.testing.assert_allclose(kernel.sum(axis=1), 1.0)
    before, after = (points[:, :-1] + 4).astype(int).ravel(), (points[:, 1:] + 4).astype(int).ravel()
    counts = np.zeros_like(kernel)
    np.add.at(counts, (before, after), 1)
    visits = counts.sum(axis=1, keepdims=True)
    error = np.sqrt(kernel * (1 - kernel) / visits)
    assert (np.abs(counts / visits - kernel) <= 4 * error + 1e-12).all()


def test_simulated_play_is_what_the_likelihood_replays():
    """The authors' models of both novel paradigms, simulated with cues (first-stage states,
    stakes): the log-likelihood of the simulated choices is the sum of the log-probabilities the
    simulation chose them with, and every option reaches its own state, paying its points."""
    rng = np.random.default_rng(1)
    for paradigm in (NOVEL, kool_tasks.PARADIGMS["novel-stakes"]):
        spec = daw_models.SPECS[paradigm.full_model]
        theta = kool_tasks.hybrid_theta(spec, {"beta": 1.5, "alpha": 0.5, "lambda": 0.6, "p": 0.3, "rho": -0.2}, 0.7)
        given = kool_tasks.cues(paradigm, rng, (6, 1))
        points = kool_tasks.points_walk(paradigm, rng, (6, 1))
        played = daw_models.simulate(spec, np.tile(theta, (6, 1)), points, rng, common_prob=1.0, cues=given)
        assert (played["state"] == played["action"] + S2).all() and set(np.unique(played["stake"])) <= {1.0, paradigm.task.high_stake}
        np.testing.assert_array_equal(played["reward"], np.take_along_axis(points, played["action"][..., None], -1)[..., 0])
        replayed = daw_models.log_likelihood(spec, played, np.tile(theta, (6, 1))[:, None])[:, 0]
        np.testing.assert_allclose(replayed, np.log(played["prob"]).sum(axis=(1, 2)), rtol=1e-12)


@pytest.mark.parametrize("name", list(kool_tasks.PARADIGMS))
def test_the_reference_agents_are_ordered_random_bayes_oracle(name):
    """On 400 fresh walks: random < Bayesian learner < oracle, each gap beyond 4 standard errors."""
    rewards = kool_tasks.reference_rewards(kool_tasks.PARADIGMS[name], 400, seed=2)
    for low, high in (("random", "bayes"), ("bayes", "oracle")):
        gap = rewards[high] - rewards[low]
        assert gap.mean() > 4 * gap.std(ddof=1) / np.sqrt(len(gap)), (name, low, high)


def test_the_novel_bayesian_learner_follows_a_state_it_has_seen():
    """Points that never move (a kernel of SD ~0): after seeing both states once it takes the better one."""
    task = configs.TaskConfig(common_prob=1.0, rewards=configs.POINTS, trials_per_episode=20, steps_per_trial=2, points_low=0,
                              points_high=9, points_sd=1e-3)
    still = kool_tasks.Paradigm("still", "none", "kool2016-novel-hybrid", "kool2016-novel-hybrid", task)
    points = np.broadcast_to(np.array([2.0, 7.0]), (3, 20, 2))
    won = kool_tasks.novel_bayes_rewards(still, points, np.random.default_rng(3))
    assert (won[:, 2:] == 7.0).all()


def test_model_based_control_pays_more_in_the_novel_paradigm_than_in_daws():
    """Kool et al. 2016's finding at one learner's parameters (1,000 people, the same walks for
    every w): w = 1 earns more than w = 0 in the novel paradigm, by more than 4 paired standard
    errors; and as a share of the oracle's margin over random, the gain there exceeds the gain in
    Daw's paradigm by more than 4 standard errors of the difference."""
    typical = {"beta": 3.0, "alpha": 0.5, "lambda": 0.6}
    share, error = {}, {}
    for name in ("daw", "novel"):
        curve = kool_tasks.payoff_curve(kool_tasks.PARADIGMS[name], typical, people=1000, seed=4, ws=np.array([0.0, 1.0]))
        assert list(curve["player"]) == ["hybrid", "hybrid", "random", "oracle", "bayes"]
        reference = curve.set_index("player")["reward_per_trial"]
        margin = reference["oracle"] - reference["random"]
        share[name], error[name] = curve.loc[1, "gain"] / margin, curve.loc[1, "gain_se"] / margin
        if name == "novel":
            assert curve.loc[1, "gain"] > 4 * curve.loc[1, "gain_se"]
    assert share["novel"] - share["daw"] > 4 * np.hypot(error["novel"], error["daw"]), (share, error)


def test_typical_parameters_are_the_peoples_medians_and_name_a_missing_model():
    fits = pd.DataFrame({"model": ["kool2016-novel-hybrid"] * 3, "beta": [1.0, 2.0, 9.0], "alpha": [0.1, 0.2, 0.3],
                         "lambda": [0.5, 0.6, 0.7], "w": [0.0, 0.5, 1.0]})
    assert kool_tasks.typical_parameters(fits, NOVEL) == {"beta": 2.0, "alpha": 0.2, "lambda": 0.6}
    with pytest.raises(ValueError, match=r"no kool2017-novel-stakes rows: run two-step fit --data kool2017-novel-stakes"):
        kool_tasks.typical_parameters(fits, kool_tasks.PARADIGMS["novel-stakes"])


@pytest.mark.parametrize("name", ["novel-stakes", "daw-stakes"])
def test_the_agents_fit_recovers_a_simulated_learners_weights(name):
    """Three simulated learners of the authors' stakes model (w_lo 0.2, w_hi 0.8 and the reverse, and
    0.5 both), 30 episodes each, played as an agent's records (no screen sides, the novel
    paradigm's second stage without a choice): the fit's w_lo and w_hi lie within 4 Laplace
    posterior standard deviations of the truth."""
    paradigm = kool_tasks.PARADIGMS[name]
    spec = daw_models.SPECS[paradigm.full_model]
    rng = np.random.default_rng(2)
    typical = {"beta": 1.0 if paradigm.novel else 5.0, "alpha": 0.5, "lambda": 0.5, "p": 0.2, "rho": 0.0}
    truths = [(0.2, 0.8), (0.8, 0.2), (0.5, 0.5)]
    theta = np.array([kool_tasks.hybrid_theta(spec, typical, 0.0)] * len(truths))
    theta[:, spec.names.index("w_lo")], theta[:, spec.names.index("w_hi")] = np.array(truths).T
    given = kool_tasks.cues(paradigm, rng, (3, 30))
    walks = kool_tasks.points_walk(paradigm, rng, (3, 30)) if paradigm.novel else \
        np.stack([kool_tasks.daw_agents.fresh_walks(paradigm.task, 1, 30, k)[0] for k in range(3)])
    played = daw_models.simulate(spec, theta, walks, rng, common_prob=spec.common_prob, cues=given)
    records = {k: played[k] for k in ("action", "state", "reward", "stake", *(("state1",) if paradigm.novel else ("choice2",)))}
    fit = kool_tasks.agent_fits(paradigm, records, restarts=4)
    sd = np.sqrt(np.diagonal(np.linalg.inv(fit["hessian"]), axis1=1, axis2=2))
    for k, name_ in enumerate(("w_lo", "w_hi")):
        i = spec.names.index(name_)
        assert (sd[:, i] < 0.1).all() and (np.abs(fit["params"][:, i] - np.array(truths)[:, k]) <= 4 * sd[:, i]).all(), (
            name_, fit["params"][:, i], sd[:, i])


def test_weight_tests_compare_paradigms_between_and_stakes_within():
    """Welch's t between paradigms, a paired t of w_hi - w_lo within one; questions whose paradigms a
    player lacks are left out."""
    rng = np.random.default_rng(3)
    w_lo = rng.uniform(0.2, 0.6, 30)
    tables = {"daw": pd.DataFrame({"w": rng.uniform(0.2, 0.5, 40)}), "novel": pd.DataFrame({"w": rng.uniform(0.4, 0.7, 30)}),
              "novel-stakes": pd.DataFrame({"w_lo": w_lo, "w_hi": w_lo + 0.1 + 0.05 * rng.standard_normal(30), "won_lo": 3.0, "won_hi": 4.0 + 0.1 * rng.standard_normal(30)})}
    rows = kool_tasks.weight_tests({"people": tables}).set_index("question")
    assert list(rows.index) == ["w: novel - daw", "w_hi - w_lo: novel-stakes", "won_hi - won_lo: novel-stakes"]
    assert rows.loc["won_hi - won_lo: novel-stakes", "difference"] == pytest.approx(tables["novel-stakes"]["won_hi"].mean() - 3.0)
    between, within = rows.loc["w: novel - daw"], rows.loc["w_hi - w_lo: novel-stakes"]
    assert (between["n_a"], between["n_b"], between["test"]) == (30, 40, "welch")
    assert between["difference"] == pytest.approx(tables["novel"]["w"].mean() - tables["daw"]["w"].mean())
    difference = tables["novel-stakes"]["w_hi"] - tables["novel-stakes"]["w_lo"]
    assert within["t"] == pytest.approx(difference.mean() / (difference.std(ddof=1) / np.sqrt(30))) and within["test"] == "paired"
    assert within["p"] < 1e-6 and between["t"] > 0


def test_won_by_stake_averages_each_stakes_answered_trials_before_the_stake():
    records = {"reward": np.array([[[1.0, 3.0, 5.0, np.nan, 2.0]]]), "stake": np.array([[[1.0, 5.0, 5.0, 5.0, 1.0]]]),
               "missed": np.array([[[False, False, False, True, True]]])}
    won_lo, won_hi = kool_tasks.won_by_stake(records)
    assert (won_lo.tolist(), won_hi.tolist()) == ([1.0], [4.0])


def test_cost_tests_pair_each_arms_stakes_and_regress_the_difference_on_the_entropy_weight():
    rng = np.random.default_rng(4)
    rows = []
    for arm, weight in (("entropy 0.01", 0.01), ("entropy 0.1", 0.1), ("12 units", None)):
        w_lo = rng.uniform(0.3, 0.6, 4)
        shift = 0.0 if weight is None else 0.1 * (np.log10(weight) + 3)  # 0.1 per decade above 0.001
        rows += [{"arm": arm, "entropy_weight": weight, "reward_per_trial": 15.0, "margin": 0.9, "w_lo": lo, "w_hi": lo + shift + 0.01 * k}
                 for k, lo in enumerate(w_lo)]
    tests = kool_tasks.cost_tests(pd.DataFrame(rows)).set_index("arm")
    assert list(tests.index) == ["entropy 0.01", "entropy 0.1", "12 units", "slope on log10(entropy weight)"]
    assert tests.loc["entropy 0.1", "difference"] == pytest.approx(0.2 + 0.015) and tests.loc["entropy 0.1", "n"] == 4
    assert tests.loc["slope on log10(entropy weight)", "difference"] == pytest.approx(0.1) and tests.loc["slope on log10(entropy weight)", "n"] == 8
