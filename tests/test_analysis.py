"""The analysis toolkit: likelihoods against a direct computation, parameter recovery, model
comparison, lagged regression (and Akam et al.'s pitfall), prediction errors and decoding."""

import numpy as np
import pytest

import a2c_lstm
import two_step_env as env
from twostep import agents, analysis, configs, run_analysis
from twostep.configs import S2, S3

FINAL = configs.preset("biorxiv-final")


def direct_hybrid_nll(p, action, state, reward, task):
    """Daw et al. 2011's hybrid, written out trial by trial with Python scalars."""
    alpha, lam, beta, w, pers = p
    total = 0.0
    for a_episode, s_episode, r_episode in zip(action, state, reward):
        q_mf, q2, previous = [0.5, 0.5], {S2: 0.5, S3: 0.5}, None
        for a, s, r in zip(a_episode, s_episode, r_episode):
            c = task.common_prob
            q_mb = [c * q2[S2] + (1 - c) * q2[S3], (1 - c) * q2[S2] + c * q2[S3]]
            q = [w * q_mb[k] + (1 - w) * q_mf[k] for k in (0, 1)]
            logits = [beta * q[k] + (pers if previous == k else 0.0) for k in (0, 1)]
            total -= logits[a] - np.logaddexp(*logits)
            delta_one, delta_two = q2[s] - q_mf[a], r - q2[s]
            q_mf[a] += alpha * (delta_one + lam * delta_two)
            q2[s] += alpha * delta_two
            previous = a
    return total


def direct_ideal_observer_nll(p, action, state, reward, task):
    beta, pers = p
    total = 0.0
    for a_episode, s_episode, r_episode in zip(action, state, reward):
        belief, previous = 0.5, None
        for a, s, r in zip(a_episode, s_episode, r_episode):
            belief = belief * (1 - task.swap_prob) + (1 - belief) * task.swap_prob
            at_s2 = belief * task.good_reward_prob + (1 - belief) * task.bad_reward_prob
            at_s3 = (1 - belief) * task.good_reward_prob + belief * task.bad_reward_prob
            c = task.common_prob
            q = [c * at_s2 + (1 - c) * at_s3, (1 - c) * at_s2 + c * at_s3]
            logits = [beta * q[k] + (pers if previous == k else 0.0) for k in (0, 1)]
            total -= logits[a] - np.logaddexp(*logits)
            good = task.good_reward_prob if s == S2 else task.bad_reward_prob
            bad = task.bad_reward_prob if s == S2 else task.good_reward_prob
            s2 = belief * (good if r else 1 - good)
            s3 = (1 - belief) * (bad if r else 1 - bad)
            belief, previous = s2 / (s2 + s3), a
    return total


def test_log_likelihood_equals_a_direct_per_trial_computation():
    records = agents.simulate(agents.Hybrid(), FINAL, 3, seed=0)
    data = analysis.subject_data(records, 0)
    rng = np.random.default_rng(1)
    hybrid = np.column_stack([rng.uniform(0, 1, 4), rng.uniform(0, 1, 4), rng.uniform(0.5, 20, 4), rng.uniform(0, 1, 4), rng.uniform(-2, 2, 4)])
    batched = analysis.negative_log_likelihood(analysis.MODELS["hybrid"], hybrid, FINAL, data)
    np.testing.assert_allclose(batched, [direct_hybrid_nll(p, *data, FINAL) for p in hybrid], rtol=1e-10)
    ideal = np.column_stack([rng.uniform(0.5, 20, 4), rng.uniform(-2, 2, 4)])
    batched = analysis.negative_log_likelihood(analysis.MODELS["ideal observer"], ideal, FINAL, data)
    np.testing.assert_allclose(batched, [direct_ideal_observer_nll(p, *data, FINAL) for p in ideal], rtol=1e-10)
    # the pure models are the hybrid with w (and, model-based, lambda) fixed
    model_free = analysis.negative_log_likelihood(analysis.MODELS["model-free"], hybrid[:, [0, 1, 2, 4]], FINAL, data)
    np.testing.assert_allclose(model_free, [direct_hybrid_nll((a, l, b, 0.0, p), *data, FINAL) for a, l, b, _, p in hybrid], rtol=1e-10)


RECOVERY_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
RECOVERY_TRUTH = [agents.Hybrid(learning_rate=0.5, eligibility=0.5, inverse_temperature=5.0, model_based_weight=w, perseveration=0.2) for w in RECOVERY_WEIGHTS]


@pytest.fixture(scope="module")
def recovery():
    """Five hybrid agents, 10,000 trials each (100 episodes of 100), and their hybrid fits."""
    records = agents.simulate(RECOVERY_TRUTH, FINAL, 100, seed=11)
    fits = [analysis.fit("hybrid", records, FINAL, subject, restarts=3) for subject in range(len(RECOVERY_TRUTH))]
    return records, fits


def test_parameter_recovery_of_the_hybrid_model(recovery):
    records, fits = recovery
    for subject, (truth, best) in enumerate(zip(RECOVERY_TRUTH, fits)):
        assert abs(best["model_based_weight"] - truth.model_based_weight) < 0.1
        errors = analysis.standard_errors(best, records, FINAL, subject)
        for name in ("learning_rate", "eligibility", "inverse_temperature", "perseveration"):
            # within 4 standard errors of the truth (observed information, 10,000 trials); the
            # eligibility has no effect when w = 1 (infinite standard error)
            assert abs(best[name] - getattr(truth, name)) < 4 * errors[name], (subject, name, best[name], errors[name])
        assert np.isfinite(errors["learning_rate"]) and errors["learning_rate"] < 0.05


@pytest.mark.slow
def test_profile_interval_of_w_agrees_with_the_standard_error(recovery):
    records, fits = recovery
    for subject, best in enumerate(fits):
        low, high = analysis.profile_interval(records, FINAL, best, subject)
        assert low <= best["model_based_weight"] <= high
        errors = analysis.standard_errors(best, records, FINAL, subject)
        if np.isfinite(errors["model_based_weight"]):  # interior: the likelihood is near quadratic
            assert abs((high - low) / (2 * 1.96 * errors["model_based_weight"]) - 1) < 0.3
        else:  # at a bound, the interval reaches it
            assert 0.0 in (low, high) or 1.0 in (low, high)


@pytest.mark.slow
def test_bic_picks_the_model_that_generated_the_choices():
    subjects = [agents.Hybrid(model_based_weight=0.0), agents.Hybrid(model_based_weight=1.0)]
    records = agents.simulate(subjects, FINAL, 100, seed=7)
    ideal = agents.simulate(agents.IdealObserver(inverse_temperature=10.0), FINAL, 100, seed=7)
    table = analysis.fit_subjects(records, FINAL, restarts=3, interval=None)
    assert list(analysis.compare_models(table)["best"]) == ["model-free", "model-based"]
    assert analysis.compare_models(analysis.fit_subjects(ideal, FINAL, restarts=2, interval=None))["best"].iloc[0] == "ideal observer"


def test_lagged_regression_shows_model_based_and_model_free_signatures():
    records = agents.simulate([agents.Hybrid(model_based_weight=1.0), agents.Hybrid(model_based_weight=0.0)], FINAL, 100, seed=3)
    table = analysis.lagged_regression(records, lags=5)
    model_based, model_free = table.xs(0, level="subject"), table.xs(1, level="subject")
    lag_one = model_based.xs(1, level="lag")
    assert lag_one.loc["common, rewarded", "ci low"] > 0 and lag_one.loc["rare, unrewarded", "ci low"] > 0
    assert lag_one.loc["rare, rewarded", "ci high"] < 0 and lag_one.loc["common, unrewarded", "ci high"] < 0
    lag_one = model_free.xs(1, level="lag")  # a reward reinforces the choice whatever the transition
    assert lag_one.loc["common, rewarded", "ci low"] > 0 and lag_one.loc["rare, rewarded", "ci low"] > 0
    assert set(table.index.get_level_values("lag")) == {1, 2, 3, 4, 5}
    assert "correct" in set(table.index.get_level_values("outcome"))


def test_akam_pitfall_one_trial_back_regression_credits_a_model_free_agent():
    # Akam, Costa & Dayan 2015: a model-free learner's stays show a reward x transition
    # interaction in the one-trial-back regression; the lagged regression does not call it model-based
    records = agents.simulate(agents.Hybrid(model_based_weight=0.0), FINAL, 100, seed=3)
    interaction = analysis.stay_regression(records["action"], records["common"], records["reward"])[0]["reward x transition"]
    assert interaction["ci"][0] > 0
    lag_one = analysis.lagged_regression(records).xs(0, level="subject").xs(1, level="lag")["coef"]
    assert lag_one["rare, rewarded"] > 0  # a model-based agent avoids the choice after a rewarded rare transition


def test_decode_recovers_a_linear_signal_and_nothing_from_a_shuffled_one():
    rng = np.random.default_rng(0)
    n, noise = 20000, 0.5
    features = rng.standard_normal((n, 6))
    target = features @ np.array([1.0, -0.5, 0.25, 0.0, 0.0, 0.0]) + noise * rng.standard_normal(n)
    expected = 1 - noise**2 / target.var()
    groups = np.arange(n) // 100
    assert abs(analysis.decode(features, target, groups) - expected) < 0.01
    assert abs(analysis.decode(features, rng.permutation(target), groups)) < 0.01


def test_prediction_errors_follow_the_td_formula():
    records = {"value": np.array([[[1.0, 2.0, 3.0]]]), "outcome_value": np.array([[[1.5, 2.5, 3.5]]]), "reward": np.array([[[1.0, 0.0, 1.0]]])}
    np.testing.assert_allclose(analysis.prediction_errors(records, 0.5), [[[1 + 0.5 * 2 - 1.5, 0.5 * 3 - 2.5, 1 - 3.5]]])


def test_rpe_regression_finds_the_learner_that_made_the_errors():
    rng = np.random.default_rng(0)
    source, other = rng.standard_normal((2, 1, 5000))
    table = analysis.rpe_regression(2 * source + 0.1 * rng.standard_normal((1, 5000)), {"source": source, "other": other + 0.3 * source})
    assert table.loc[(0, "source"), "unique R2"] > 0.5 > table.loc[(0, "other"), "unique R2"]
    assert table.loc[(0, "other"), "ci low"] < 0 < table.loc[(0, "other"), "ci high"]


def test_ideal_observer_agrees_with_itself_and_a_hybrid_does_not():
    greedy = agents.simulate([agents.IdealObserver()] * 2, FINAL, 20, seed=0)
    np.testing.assert_array_equal(analysis.agreement_with_ideal_observer(greedy, FINAL), [1.0, 1.0])
    np.testing.assert_allclose(analysis.ideal_observer_beliefs(greedy, FINAL), greedy["belief"], rtol=1e-6)
    hybrid = agents.simulate(agents.Hybrid(model_based_weight=0.0), FINAL, 20, seed=0)
    assert analysis.agreement_with_ideal_observer(hybrid, FINAL)[0] < 0.95


def test_by_trial_type_groups_by_previous_and_current_outcome():
    records = {"common": np.array([[[True, False, True]]]), "reward": np.array([[[1.0, 0.0, 0.0]]])}
    means = analysis.by_trial_type(np.array([[[9.0, 2.0, 3.0]]]), records)
    assert means[0, 0, 3] == 2.0  # after common-rewarded, now rare-unrewarded
    assert means[0, 3, 1] == 3.0  # after rare-unrewarded, now common-unrewarded
    assert np.isnan(means[0, 0, 0])


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda r: analysis.fit("hybrid", r, FINAL, restarts=0), ValueError, "restarts=0: expected an integer > 0"),
        (lambda r: analysis.fit("hybrid", {k: v[0] for k, v in r.items()}, FINAL), ValueError, "shaped \\[subject, episode, trial\\]"),
        (lambda r: analysis.profile_interval(r, FINAL, analysis.fit("ideal observer", r, FINAL, restarts=1)), ValueError, "not a free parameter of the ideal observer"),
        (lambda r: analysis.lagged_regression({k: v for k, v in r.items() if k != "good_state"}), ValueError, "needs records\\['good_state'\\]"),
    ],
)
def test_bad_input_is_named(call, error, message):
    records = agents.simulate(agents.Hybrid(), FINAL, 2, seed=0)
    with pytest.raises(error, match=message):
        call(records)


def test_agent_analysis_runs_on_a_group_of_seeds():
    state = a2c_lstm.init_state(FINAL, configs.AgentConfig(), [0, 1])
    result = run_analysis.agent_analysis(state, episodes=5, restarts=1)
    assert result["fits"].shape[0] == 2 * len(analysis.MODELS)
    assert list(result["decoding"].index) == [0, 1] and list(result["ideal"].index) == [0, 1]
    assert result["records"]["hidden"].shape == (2, 5, 100, 48)
    assert set(result["rpe_by_type"]) == {"meta-RL agent", *run_analysis.LEARNERS}


# ---- missed trials (people's data)


def test_missed_trials_are_left_out_and_unmarked_ones_are_named():
    rng = np.random.default_rng(0)
    action, common, reward = rng.integers(2, size=(3, 1, 2, 60)), rng.random((1, 2, 60)) < 0.7, rng.integers(2, size=(1, 2, 60)).astype(float)
    action = action[0]
    missed = np.zeros(action.shape, bool)
    missed[0, 0, 10] = True
    holed_action, holed_reward = action.copy(), reward.copy()
    holed_action[0, 0, 10], holed_reward[0, 0, 10] = -1, np.nan
    with pytest.raises(ValueError, match=r"action -1, reward nan at \[subject, episode, trial\] = \[0, 0, 10\] \(a missed trial\?\): mark missed"):
        env.stay_probabilities(holed_action, common, holed_reward)
    with pytest.raises(ValueError, match="a missed trial"):
        analysis.stay_regression(holed_action, common, holed_reward)
    probs, counts = env.stay_probabilities(holed_action, common, holed_reward, missed)
    full_probs, full_counts = env.stay_probabilities(action, common, reward)
    assert full_counts.sum() - counts.sum() == 2  # the pairs (9, 10) and (10, 11)
    second_episode = env.stay_probabilities(action[:, 1:], common[:, 1:], reward[:, 1:])[1]
    first_episode_by_hand = [env.stay_probabilities(a[:, :1], c[:, :1], r[:, :1])[1] for a, c, r in
                             ((action[..., :10], common[..., :10], reward[..., :10]), (action[..., 11:], common[..., 11:], reward[..., 11:]))]
    assert np.array_equal(counts, first_episode_by_hand[0] + first_episode_by_hand[1] + second_episode)
    records = {"action": holed_action, "common": common, "reward": holed_reward, "good_state": np.full(action.shape, S2),
               "state": np.full(action.shape, S2), "missed": missed}
    table = analysis.lagged_regression(records, lags=2)
    assert np.isfinite(table["coef"]).all()
    y, _, _ = analysis.lagged_design(holed_action[0], common[0], holed_reward[0], records["good_state"][0], 2, True, missed[0])
    assert len(y) == 2 * 58 - 3  # trials 10, 11, 12 of episode 0 have the missed trial in their window
    with pytest.raises(ValueError, match=r"a missed trial at \[subject, episode, trial\] = \[0, 0, 10\]: .* use twostep.daw_models.fit"):
        analysis.subject_data(records, 0)
    unmarked = {k: v for k, v in records.items() if k != "missed"}
    with pytest.raises(ValueError, match=r"at \[subject, episode, trial\] = \[0, 0, 10\] \(a missed trial\?\): mark missed trials True in records\['missed'\]"):
        analysis.lagged_regression(unmarked, lags=2)
    with pytest.raises(ValueError, match=r"a missed trial at \[subject, episode, trial\] = \[0, 0, 10\]: .*daw_models.fit\(daw_models.SPECS\[name\], records\)"):
        analysis.fit_subjects(unmarked, configs.preset("biorxiv-final"), models=("hybrid",))


def test_a_regression_on_separated_data_says_so_instead_of_warning():
    """A player who stays after every reward separates the data: no ConvergenceWarning per fit,
    `converged` False in the result (and `behaviour_table`'s "regressions converged" column)."""
    import warnings

    rng = np.random.default_rng(0)
    common, reward = rng.random((1, 4, 50)) < 0.7, (rng.random((1, 4, 50)) < 0.5).astype(float)
    action = np.zeros((1, 4, 50), int)
    for t in range(1, 50):  # stay after a reward, switch after none: separation
        action[..., t] = np.where(reward[..., t - 1] > 0, action[..., t - 1], 1 - action[..., t - 1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = analysis.stay_regression(action, common, reward)[0]
    assert not caught and fit["reward x transition"]["converged"] is False
    fine = analysis.stay_regression(rng.integers(2, size=(1, 4, 50)), common, reward)[0]
    assert fine["reward"]["converged"] is True
    table = run_analysis.behaviour_table({"separated": {"action": action, "common": common, "reward": reward}})
    assert table.loc["separated", "regressions converged"] == 0.0
