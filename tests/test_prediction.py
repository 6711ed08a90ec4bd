import os

import numpy as np
import pandas as pd
import pytest

import two_step_env as env
from twostep import cli, daw_models, prediction
from twostep.configs import PRESETS, S2, S3

DAW_TASK = PRESETS["daw-2011"]
CONFIG = prediction.PredictionConfig(n_folds=5, restarts=4)
TRUTH = np.array([0.5, 0.6, 0.6, 5.0, 4.0, 0.3, 0.5])  # daw2011: alpha1, alpha2, lambda, beta1, beta2, p, w


def simulated(people, trials, seed=0, missed=0.05):
    """Daw 2011 learners at TRUTH on fresh walks, some trials missed."""
    rng = np.random.default_rng(seed)
    probs = env.drift_walk(DAW_TASK, rng.random((people, 1, 4)), rng.standard_normal((people, 1, trials - 1, 4)))
    records = daw_models.simulate(daw_models.DAW2011, np.tile(TRUTH, (people, 1)), probs, rng)
    gone = rng.random(records["action"].shape) < missed
    records["action"][gone], records["state"][gone], records["choice2"][gone] = -1, -1, -1
    records["reward"][gone] = np.nan
    records["missed"] = gone
    return records


def test_trial_folds_deal_each_persons_answered_trials_in_turn():
    missed = np.zeros((2, 1, 12), bool)
    missed[0, 0, [2, 3]] = True
    folds = prediction.trial_folds(missed, 3)
    np.testing.assert_array_equal(folds[0, 0], [0, 1, -1, -1, 2, 0, 1, 2, 0, 1, 2, 0])
    np.testing.assert_array_equal(folds[1, 0], np.arange(12) % 3)


@pytest.mark.parametrize("protocol", prediction.PROTOCOLS)
def test_fold_masks_are_disjoint_and_every_answered_choice_is_tested_once(protocol):
    records = simulated(12, 40)
    answered = ~records["missed"]
    tested = np.zeros(answered.shape, int)
    for fold in range(CONFIG.n_folds):
        train, validation, test = prediction.fold_masks(records, protocol, fold, CONFIG)
        assert not (train & validation).any() and not (train & test).any() and not (validation & test).any()
        np.testing.assert_array_equal(train | validation | test, answered)
        tested += test
        if protocol == "held-out-people":  # a person is wholly in one of the three
            for mask in (train, validation, test):
                assert (mask.any(axis=(1, 2)) == (mask == answered).all(axis=(1, 2)) & answered.any(axis=(1, 2))).all()
    np.testing.assert_array_equal(tested, answered)
    with pytest.raises(ValueError, match="protocol 'held-out-days'"):
        prediction.fold_masks(records, "held-out-days", 0, CONFIG)


def test_the_likelihood_counts_only_the_fitted_choices_and_equals_the_per_stage_log_probs():
    records = simulated(4, 60)
    theta = np.tile(TRUTH, (4, 1)) * np.array([1, 0.5, 1, 1.2, 0.8, 1, 0.6])
    per_trial = prediction.published_log_probs(daw_models.DAW2011, records, theta)
    assert (per_trial[records["missed"]] == 0).all() and (per_trial < 0).sum() == 2 * (~records["missed"]).sum()
    whole = daw_models.log_likelihood(daw_models.DAW2011, records, theta[:, None])[:, 0]
    np.testing.assert_allclose(whole, per_trial.sum(axis=(1, 2, 3)), rtol=1e-12)
    train, _, _ = prediction.fold_masks(records, "held-out-trials", 1, CONFIG)
    part = daw_models.log_likelihood(daw_models.DAW2011, dict(records, fitted=train), theta[:, None])[:, 0]
    np.testing.assert_allclose(part, (per_trial * train[..., None]).sum(axis=(1, 2, 3)), rtol=1e-12)


def test_a_published_model_fitted_on_training_choices_predicts_held_out_ones_nearly_as_well_as_the_truth():
    """30 simulated people x 200 trials, one fold. Fitting 7 parameters to ~115 training trials
    (230 choices) costs, by the usual K / 2N, about 0.015 nats per held-out choice over the true
    parameters; 0.05 allows three times that."""
    records, people = simulated(30, 200), np.arange(30)
    train, validation, test = prediction.fold_masks(records, "held-out-trials", 0, CONFIG)

    def held_out_nll(log_probs):
        scores = prediction.person_scores(prediction.fold_scores(log_probs, test, people, 0))
        return scores["nll"].mean()

    fitted = held_out_nll(prediction.predict_published("daw2011", records, train, validation, "held-out-trials", CONFIG))
    truth = held_out_nll(prediction.published_log_probs(daw_models.DAW2011, records, np.tile(TRUTH, (30, 1))))
    repeat = held_out_nll(prediction.predict_repeat("repeat-last", records, train, validation, "held-out-trials", CONFIG))
    assert truth - 0.01 < fitted < truth + 0.05 < repeat


def test_parameter_vectors_side_by_side_replay_as_each_alone_and_their_predictives_telescope(monkeypatch):
    records = simulated(3, 50)
    theta = np.stack([np.tile(TRUTH, (3, 1)), np.tile(TRUTH * [1, 0.5, 1, 1.2, 0.8, 1, 0.6], (3, 1))], axis=1)  # [P, 2, n]
    together = prediction.published_log_probs(daw_models.DAW2011, records, theta)
    for k in range(2):
        np.testing.assert_allclose(together[:, k], prediction.published_log_probs(daw_models.DAW2011, records, theta[:, k]), rtol=1e-12)
    # the choices' predictives given the earlier ones multiply to the mean likelihood of the whole record
    sequential = prediction.sequential_predictive(together)
    mean_likelihood = np.logaddexp(*together.sum(axis=(2, 3, 4)).T) - np.log(2)
    np.testing.assert_allclose(sequential.sum(axis=(1, 2, 3)), mean_likelihood, rtol=1e-12)
    assert (sequential[records["missed"]] == 0).all()
    # the posterior predictive: the log of the mean probability, whatever the chunks
    expected = np.logaddexp(together[:, 0], together[:, 1]) - np.log(2)
    np.testing.assert_allclose(prediction.posterior_predictive(daw_models.DAW2011, records, theta), expected, rtol=1e-12)
    monkeypatch.setattr(prediction, "MAX_REPLAYED", 1)
    np.testing.assert_allclose(prediction.posterior_predictive(daw_models.DAW2011, records, theta), expected, rtol=1e-12)


def test_the_hierarchical_contender_adapts_to_new_people_where_one_vector_for_everybody_cannot():
    """40 people drawn from a population (hierarchical.simulated_population) whose weights and
    rates differ from person to person; fold 0's 8 people held out. A new person's prior from the
    others' population posterior, updated by their own earlier choices, must predict them better
    than the pooled fit: the paired difference is below zero by more than 2 standard errors."""
    from twostep import hierarchical

    mu_pr, sigma = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 0.3, 0.0]), np.array([0.8, 0.8, 0.5, 0.5, 0.5, 0.3, 1.2])
    records, _ = hierarchical.simulated_population(daw_models.DAW2011, mu_pr, sigma, 40, 150, seed=3)
    records["missed"] = np.zeros(records["action"].shape, bool)
    train, validation, test = prediction.fold_masks(records, "held-out-people", 0, CONFIG)

    def held_out_nll(log_probs):
        return prediction.person_scores(prediction.fold_scores(log_probs, test, np.arange(40), 0))["nll"].to_numpy()

    adapted = held_out_nll(prediction.predict_hierarchical("daw2011-hierarchical", records, train, validation, "held-out-people", CONFIG))
    pooled = held_out_nll(prediction.predict_published("daw2011", records, train, validation, "held-out-people", CONFIG))
    difference = adapted - pooled
    assert len(difference) == 8 and difference.mean() + 2 * difference.std(ddof=1) / np.sqrt(8) < 0


def test_ridge_logistic_recovers_coefficients_and_honours_weights_and_offsets():
    """4,000 choices per row: each coefficient's standard error is below 0.04; 0.15 is four of them."""
    rng = np.random.default_rng(1)
    beta = np.array([[0.5, -1.0, 2.0], [-0.3, 0.0, 1.0]])
    x = np.concatenate([np.ones((2, 4000, 1)), rng.standard_normal((2, 4000, 2))], axis=-1)
    offset = rng.standard_normal((2, 4000))
    y = rng.random((2, 4000)) < 1 / (1 + np.exp(-(offset + np.einsum("rnk,rk->rn", x, beta))))
    weights = np.ones((2, 4000))
    weights[:, ::2] = 0  # half the choices do not count: the estimate must not move if they change
    estimate = prediction.ridge_logistic(x, y, weights, 1e-6, np.ones(3, bool), offset=offset)
    np.testing.assert_allclose(estimate, beta, atol=0.15)
    y[:, ::2] = ~y[:, ::2]
    np.testing.assert_allclose(prediction.ridge_logistic(x, y, weights, 1e-6, np.ones(3, bool), offset=offset), estimate, atol=1e-10)


def three_trials():
    """One person: trial 0 action 1 common rewarded at S3? No: action 1 goes commonly to S3."""
    return {
        "action": np.array([[[1, 0, -1, 0]]]),
        "state": np.array([[[S3, S3, -1, S2]]]),
        "common": np.array([[[True, False, False, True]]]),
        "choice2": np.array([[[0, 1, -1, 1]]]),
        "reward": np.array([[[1.0, 0.0, np.nan, 1.0]]]),
        "missed": np.array([[[False, False, True, False]]]),
    }


def test_the_lagged_regressors_and_previous_choices_code_the_last_answered_trials():
    records = three_trials()
    stage1, stage2 = prediction.lagged_features(records, 2)
    assert stage1.shape == (1, 1, 4, 9) and stage2.shape == (1, 1, 4, 5)
    np.testing.assert_array_equal(stage1[0, 0, :, 0], 1)
    np.testing.assert_array_equal(stage1[0, 0, 0, 1:], 0)
    np.testing.assert_array_equal(stage1[0, 0, 1, 1:], [1, 0, 0, 0, 0, 0, 0, 0])  # lag 1: common rewarded, action 1
    np.testing.assert_array_equal(stage1[0, 0, 3, 1:], [0, 0, 0, -1, 1, 0, 0, 0])  # lag 1 (the missed one skipped): rare omitted, action 0
    np.testing.assert_array_equal(stage1[0, 0, 2], stage1[0, 0, 3])
    np.testing.assert_array_equal(stage2[0, 0, 1, 1:], [-1, 0, 0, 0])  # S3 was visited once: choice 0, rewarded
    np.testing.assert_array_equal(stage2[0, 0, 3, 1:], 0)  # S2 never visited before
    previous, previous_here = prediction.previous_choices(records)
    np.testing.assert_array_equal(previous[0, 0], [-1, 1, 0, 0])
    np.testing.assert_array_equal(previous_here[0, 0], [-1, 0, -1, -1])


def test_repeat_last_fits_smoothed_repeat_frequencies():
    records = three_trials()
    fitted = ~records["missed"]
    logit1, logit2 = prediction.repeat_logits(records, fitted, pooled=False)
    # first stage: trials 1 and 3 have a previous choice; one repeat (trial 3: 0 after 0) -> (1 + 1) / (2 + 2)
    np.testing.assert_allclose(logit1[0, 0], [0, 0, 0, 0], atol=1e-12)
    # second stage: trial 1 alone (S3 seen before, choice 0 then 1): no repeat -> 1 / 3, previous choice 0
    np.testing.assert_allclose(logit2[0, 0, 1], -np.log(0.5))


def test_person_scores_and_the_leaderboard_average_people_not_choices():
    folds = pd.DataFrame({"subject": ["a", "a", "b"], "fold": [0, 1, 0], "n_stage1": [2, 2, 10], "n_stage2": [2, 2, 10],
                          "logp_stage1": [-1.0, -1.0, -5.0], "logp_stage2": [-2.0, -2.0, -10.0]})
    people = prediction.person_scores(folds)
    np.testing.assert_allclose(people["nll_stage1"], [0.5, 0.5])
    np.testing.assert_allclose(people["nll"], [6 / 8, 15 / 20])
    people = people.assign(dataset="d", protocol="held-out-trials", model="m", family="baseline")
    board = prediction.leaderboard(people)
    assert list(board.columns) == list(prediction.BOARD_COLUMNS) and board["n_people"].item() == 2
    np.testing.assert_allclose(board["nll"], 0.75)
    np.testing.assert_allclose(board["likelihood"], np.exp(-0.75))


def test_names_and_settings_are_checked_with_what_is_accepted():
    assert prediction.contender_names("baseline,daw2011") == ("repeat-last", "lagged-regression", "daw2011")
    assert set(prediction.contender_names("all")) == set(prediction.CONTENDERS)
    with pytest.raises(ValueError, match="unknown model 'gru-3'.*gru-4"):
        prediction.contender_names("gru-3")
    with pytest.raises(ValueError, match="n_folds=1: expected an integer >= 2"):
        prediction.PredictionConfig(n_folds=1)
    records = simulated(2, 10)
    records["side1"] = np.full(records["action"].shape, -1)
    assert "screen sides" in prediction.unusable("kool2016-hybrid-st-respst", records)
    assert "screen sides" in prediction.unusable("kool2016-hybrid-st-respst+readout", records)
    assert prediction.unusable("kool2016-hybrid-st", records) is None


def test_choice_logits_invert_the_log_probs_of_the_recorded_choices():
    records = simulated(3, 30)
    logits = np.random.default_rng(2).normal(0, 3, records["action"].shape + (2,))
    recovered = prediction.choice_logits(prediction.stage_log_probs(logits[..., 0], logits[..., 1], records), records)
    answered = ~records["missed"]
    np.testing.assert_allclose(recovered[answered], logits[answered], atol=1e-6)
    assert (recovered[~answered] == 0).all()


def test_the_agent_is_scored_as_the_mixture_of_its_seeds_policies():
    """Per stage, log of the mean over seeds of each seed's probability of the recorded choice,
    computed here from the probabilities; by Jensen at least the seeds' mean log-probability."""
    records = simulated(3, 30)
    seed_logits = np.random.default_rng(5).normal(0, 3, (4,) + records["action"].shape + (2,))
    mixed = prediction.mixture_log_probs(seed_logits, records)
    answered = ~records["missed"]
    for stage, key in enumerate(("action", "choice2")):
        p_option_1 = 1 / (1 + np.exp(-seed_logits[..., stage]))
        p_chosen = np.where(records[key] == 1, p_option_1, 1 - p_option_1)[:, answered]  # [seed, answered trials]
        np.testing.assert_allclose(mixed[..., stage][answered], np.log(p_chosen.mean(axis=0)), rtol=1e-10)
        assert (mixed[..., stage][answered] >= np.log(p_chosen).mean(axis=0) - 1e-12).all()
        assert (mixed[..., stage][answered] > np.log(p_chosen).mean(axis=0) + 1e-6).mean() > 0.9  # the seeds disagree
    assert (mixed[~answered] == 0).all()
    alone = prediction.mixture_log_probs(seed_logits[2:3], records)
    np.testing.assert_allclose(alone, prediction.stage_log_probs(seed_logits[2, ..., 0], seed_logits[2, ..., 1], records), atol=1e-12)


def test_response_stickiness_that_repeats_the_choice_is_left_out_of_the_readout_and_named():
    """Where the screen side of every choice is the choice itself (Gillan et al.'s data), the response
    column equals the previous-choice column: the readout leaves it out, which changes nothing
    but the penalty's split, and the runner names the models concerned."""
    records = simulated(5, 60)
    records["side1"] = np.where(records["missed"], -1, records["action"])
    assert prediction.response_duplicates_choice(records)
    assert "collinear" in prediction.collinear_response("kool2016-hybrid-st-respst", records)
    assert "leaves the response column out" in prediction.collinear_response("agent-fitted", records)
    assert prediction.collinear_response("daw2011", records) is None
    logits = np.random.default_rng(6).normal(0, 2, records["action"].shape + (2,))
    train, _, test = prediction.fold_masks(records, "held-out-trials", 0, CONFIG)
    read = prediction.person_readout(logits, records, train, pooled=False)
    assert np.isfinite(read).all() and (read[test] < 0).all()
    records["side1"] = np.random.default_rng(7).integers(0, 2, records["action"].shape)
    assert not prediction.response_duplicates_choice(records)
    assert prediction.collinear_response("kool2016-hybrid-st-respst", records) is None


def test_same_side_marks_where_action_1_is_shown_on_the_side_last_chosen():
    records = dict(three_trials(), side1=np.array([[[0, 0, -1, 1]]]))
    # trial 0 chose side 0; at trial 1 action 0 is on side 0, so action 1 is on side 1 (-1); trial 2 is missed;
    # trial 3 chose action 0 on side 1, so action 1 is on side 0, the side chosen at trial 1 (+1)
    np.testing.assert_array_equal(prediction.same_side(records)[0, 0], [0, -1, 0, 1])


def test_the_readouts_fit_training_choices_at_least_as_well_as_the_policy_they_read():
    """Their coefficients at zero are the policy itself, and the penalty is only on the coefficients."""
    records = simulated(6, 80)
    records["side1"] = np.random.default_rng(3).integers(0, 2, records["action"].shape)
    policy = prediction.published_log_probs(daw_models.DAW2011, records, np.tile(TRUTH * [1, 1, 1, 2, 2, 1, 1], (6, 1)))
    logits = prediction.choice_logits(policy, records)
    train, _, test = prediction.fold_masks(records, "held-out-trials", 0, CONFIG)
    for read in (prediction.person_readout(logits, records, train, pooled=False), prediction.lagged_readout(logits, records, train)):
        assert ((read * train[..., None]).sum(axis=(1, 2)) >= (policy * train[..., None]).sum(axis=(1, 2)) - 1e-9).all()
        assert np.isfinite(read).all() and (read[test] < 0).all()


def test_logit_dynamics_pairs_each_answered_trial_with_the_next():
    records = three_trials()
    logits = np.zeros((1, 1, 4, 2))
    logits[0, 0, :, 0] = [0.5, 1.0, 9.0, -1.0]
    logit, change, kind, action = prediction.logit_dynamics(logits, records)
    np.testing.assert_array_equal(logit, [0.5, 1.0])
    np.testing.assert_array_equal(change, [0.5, -2.0])  # trial 1 is followed by trial 3 (trial 2 was missed)
    np.testing.assert_array_equal(kind, [0, 3])
    np.testing.assert_array_equal(action, [1, 0])


def test_paired_differences_are_person_by_person():
    people = pd.DataFrame({"dataset": "d", "protocol": "held-out-trials", "subject": np.repeat(["a", "b", "c", "d"], 2),
                           "model": ["ref", "new"] * 4, "family": ["published", "rnn"] * 4,
                           "nll": [0.6, 0.55, 0.5, 0.45, 0.7, 0.66, 0.4, 0.41]})
    table = prediction.paired_differences(people, "d", "held-out-trials", "ref")
    row = table.iloc[0]
    assert row["model"] == "new" and row["n_people"] == 4 and row["better_fraction"] == 0.75
    np.testing.assert_allclose(row["mean_difference"], np.mean([-0.05, -0.05, -0.04, 0.01]))
    assert row["ci_low"] < row["mean_difference"] < row["ci_high"]


def test_the_networks_and_the_agent_predict_every_fold(monkeypatch):
    """Short training (50 steps, one start): every contender of the two families gives finite
    log-probabilities, negative at answered trials, for every fold."""
    from twostep import tiny_rnn

    monkeypatch.setattr(prediction, "NETWORK_STARTS", 1)
    config = tiny_rnn.RNNConfig
    monkeypatch.setattr(tiny_rnn, "RNNConfig", lambda **fields: config(**fields, max_steps=50, steps_per_check=25))
    records = simulated(6, 60)
    records["side1"] = np.random.default_rng(4).integers(0, 2, records["action"].shape)
    answered = ~records["missed"]
    for protocol in prediction.PROTOCOLS:
        masks = [prediction.fold_masks(records, protocol, fold, CONFIG)[:2] for fold in range(2)]
        for name in ("gru-2", "gru-16-fitted", "gru-2-person", "agent", "agent-seed-3", "agent-fitted"):
            if protocol not in prediction.CONTENDERS[name].protocols:
                continue
            folds = prediction.CONTENDERS[name].predict(name, records, masks, protocol, CONFIG)
            assert len(folds) == 2
            for log_probs in folds:
                assert log_probs.shape == records["action"].shape + (2,) and np.isfinite(log_probs).all()
                assert (log_probs[answered] < 0).all() and (log_probs[~answered] == 0).all()
    assert {f"agent-seed-{seed}" for seed in prediction.AGENT_SEEDS} < set(prediction.contender_names("agent"))
    np.testing.assert_allclose(prediction.agent_seed_logits(records, seeds=(3,))[0][answered],
                               prediction.agent_seed_logits(records)[3][answered], atol=1e-5)
    with pytest.raises(FileNotFoundError, match="no checkpoints model_99/"):
        prediction.agent_seed_logits(records, seeds=(99,))
    scaling = prediction.people_scaling(records, 2, counts=[1, 2], config=CONFIG)
    assert scaling["n_people"].tolist() == [1, 2] and np.isfinite(scaling["nll"]).all()
    with pytest.raises(ValueError, match=r"counts \[1, 40\]: at most"):
        prediction.people_scaling(records, 2, counts=[1, 40], config=CONFIG)


@pytest.mark.slow
def test_the_predict_command_writes_the_leaderboard_and_a_rerun_resumes(data_root, tmp_path, capsys, ray_instance):
    out = str(tmp_path)
    argv = ["predict", "--data", "potter2017", "--models", "baseline,daw2011-mf,kool2016-mf-respst,kool2016-hybrid-st-respst+readout", "--out", out,
            "--root", str(data_root), "--folds", "2", "--restarts", "1", "--cpus", "2"]
    cli.main(argv)
    printed = capsys.readouterr().out
    assert "kool2016-mf-respst: not scored on potter2017: response stickiness needs the screen sides" in printed
    assert "kool2016-hybrid-st-respst+readout: not scored on potter2017" in printed
    board = pd.read_csv(os.path.join(out, "prediction.csv"))
    people = pd.read_csv(os.path.join(out, "prediction_people.csv"))
    assert list(board.columns) == list(prediction.BOARD_COLUMNS) and list(people.columns) == list(prediction.PEOPLE_COLUMNS)
    assert set(zip(board["protocol"], board["model"])) == {(p, m) for p in prediction.PROTOCOLS for m in ("repeat-last", "lagged-regression")} | {
        ("held-out-trials", "daw2011-mf")}
    assert (board["n_people"] == 74).all()
    trials = people[(people["protocol"] == "held-out-trials") & (people["model"] == "daw2011-mf")]
    from twostep import datasets

    potter = datasets.load("potter2017", data_root)
    np.testing.assert_array_equal(trials.set_index("subject").loc[potter.subject, "n_stage1"], (~potter.records["missed"]).sum(axis=(1, 2)))
    assert (board["nll"] < np.log(2)).all() and np.allclose(board["likelihood"], np.exp(-board["nll"]))
    files = sorted(os.listdir(os.path.join(out, "potter2017_prediction")))
    assert len(files) == 2 * 2 * 2 + 2
    cli.main(argv)
    assert "10 of 10 tasks already written" in capsys.readouterr().out
    pd.testing.assert_frame_equal(pd.read_csv(os.path.join(out, "prediction.csv")), board)
