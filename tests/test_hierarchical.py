"""Hierarchical Bayesian fits (twostep/hierarchical.py) and hBayesDM's models as specifications:
the JAX likelihood equals numpy's, ts_par4/6/7 follow their Stan model blocks, NUTS recovers
a simulated population's group means, and the run writes and resumes its tables."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from twostep import cli, daw_models, hierarchical, trial_table
from twostep.configs import S3


def stan_model_block(level1, level2, reward, a1, beta1, a2, beta2, pi, w, lam, generated_quantities=False):
    """One person's log-likelihood, transcribed line by line from hBayesDM's ts_par7.stan model
    block (1-based choices; a1 = a2, beta1 = beta2, lam = 1 give ts_par4, lam = 1 ts_par6). With
    `generated_quantities`, ts_par4.stan's generated-quantities block instead, which applies the
    first-stage update a second time after the second-stage choice."""
    v_mf, log_lik, trans_prob = [0.0] * 7, 0.0, 0.7  # 1-based: v_mf[1..6]
    for t in range(len(level1)):
        v_mb1 = trans_prob * max(v_mf[3], v_mf[4]) + (1 - trans_prob) * max(v_mf[5], v_mf[6])
        v_mb2 = (1 - trans_prob) * max(v_mf[3], v_mf[4]) + trans_prob * max(v_mf[5], v_mf[6])
        v_hybrid1, v_hybrid2 = w * v_mb1 + (1 - w) * v_mf[1], w * v_mb2 + (1 - w) * v_mf[2]
        logit = beta1 * (v_hybrid2 - v_hybrid1) + (pi * (2 * level1[t - 1] - 3) if t > 0 else 0.0)
        p1 = 1 / (1 + math.exp(-logit))
        log_lik += math.log(p1 if level1[t] == 2 else 1 - p1)
        v_mf[level1[t]] += a1 * (v_mf[2 + level2[t]] - v_mf[level1[t]])
        p2 = 1 / (1 + math.exp(-beta2 * ((v_mf[6] - v_mf[5]) if level2[t] > 2 else (v_mf[4] - v_mf[3]))))
        log_lik += math.log(p2 if level2[t] % 2 == 0 else 1 - p2)
        if generated_quantities:
            v_mf[level1[t]] += a1 * (v_mf[2 + level2[t]] - v_mf[level1[t]])
        v_mf[2 + level2[t]] += a2 * (reward[t] - v_mf[2 + level2[t]])
        v_mf[level1[t]] += lam * a1 * (reward[t] - v_mf[2 + level2[t]])
    return log_lik


def hbayesdm_choices(records):
    """records [P, 1, T] -> hBayesDM's level1_choice (1/2) and level2_choice (1-4: 1/2 in the
    state action 1 leads to commonly, 3/4 in the other) [P, T]."""
    level1 = records["action"][:, 0] + 1
    level2 = 2 * (records["state"][:, 0] == S3) + records["choice2"][:, 0] + 1
    return level1, level2


@pytest.mark.parametrize("model", ["ts_par4", "ts_par6", "ts_par7"])
def test_hbayesdm_models_follow_their_stan_model_blocks(model):
    spec = daw_models.SPECS[model]
    rng = np.random.default_rng(3)
    theta = rng.uniform(spec.lower, np.minimum(spec.upper, 6.0), (5, len(spec.free)))
    records = daw_models.simulate(spec, theta, rng.uniform(0.25, 0.75, (5, 1, 80, 4)), rng)
    level1, level2 = hbayesdm_choices(records)
    ours = daw_models.log_likelihood(spec, records, theta[:, None])[:, 0]
    for person, params in enumerate(theta):
        v = dict(zip(spec.names, params)) | dict(spec.fixed)
        a1, a2 = (v["alpha"], v["alpha"]) if "alpha" in v else (v["alpha1"], v["alpha2"])
        beta1, beta2 = (v["beta"], v["beta"]) if "beta" in v else (v["beta1"], v["beta2"])
        stan = stan_model_block(level1[person], level2[person], records["reward"][person, 0], a1, beta1, a2, beta2, v["p"], v["w"],
                                v["lambda"])
        assert ours[person] == pytest.approx(stan, abs=1e-10)
        if model == "ts_par4":  # its generated quantities (hence its LOOIC) follow another model
            gq = stan_model_block(level1[person], level2[person], records["reward"][person, 0], a1, beta1, a2, beta2, v["p"],
                                  v["w"], v["lambda"], generated_quantities=True)
            assert abs(gq - stan) > 1e-3


def test_links_are_hbayesdms():
    spec = daw_models.SPECS["ts_par7"]  # a1, beta1, a2, beta2, pi, w, lambda
    x = np.array([0.3, 0.3, -1.2, 0.5, 0.0, 2.0, -0.4])
    phi = 1 / (1 + np.exp(-(0.07056 * x**3 + 1.5976 * x)))
    expected = [phi[0], np.exp(x[1]), phi[2], np.exp(x[3]), 5 * phi[4], phi[5], phi[6]]
    np.testing.assert_allclose(hierarchical.linked(spec, x), expected, rtol=1e-15)
    np.testing.assert_allclose(hierarchical.linked(daw_models.DAW2011, np.zeros(7)), [0.5, 0.5, 0.5, 1.0, 1.0, 0.0, 0.5])


@pytest.mark.parametrize("model", ["daw2011", "kool2016-hybrid-st-respst", "nussenbaum2020", "ts_par7"])
def test_jax_likelihood_equals_numpys_on_simulated_data_with_missed_trials(model):
    spec = daw_models.SPECS[model]
    rng = np.random.default_rng(4)
    theta = rng.uniform(spec.lower, np.minimum(spec.upper, 8.0), (6, 3, len(spec.free)))
    records = daw_models.simulate(spec, theta[:, 0], rng.uniform(0.25, 0.75, (6, 2, 40, 4)), rng)
    records["missed"] = rng.random(records["action"].shape) < 0.05
    records["action"] = np.where(records["missed"], -1, records["action"])
    records["reward"] = np.where(records["missed"], np.nan, records["reward"])
    expected = daw_models.replay_log_probs(spec, daw_models.replay_inputs(spec, records), theta)
    got = np.asarray(hierarchical.trial_log_probs(spec, hierarchical.jax_inputs(spec, records), theta))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


def test_the_samplers_single_precision_likelihood_and_its_recomputed_gradient_follow_double_precision(monkeypatch):
    """NUTS and SVI compute the likelihood in FIT_DTYPE: each person's log-likelihood within FIT_DTYPE's
    relative rounding (its machine epsilon) times the trials summed, of float64's; the gradient recomputed
    trial by trial (above RECOMPUTE_ABOVE) equals the stored one to rounding."""
    jax, jnp, _ = hierarchical.jax_modules()
    spec = daw_models.SPECS["daw2011"]
    rng = np.random.default_rng(6)
    theta = rng.uniform(spec.lower, np.minimum(spec.upper, 8.0), (6, 2, len(spec.free)))
    records = daw_models.simulate(spec, theta[:, 0], rng.uniform(0.25, 0.75, (6, 1, 150, 4)), rng)
    double = np.asarray(hierarchical.trial_log_probs(spec, hierarchical.jax_inputs(spec, records), theta)).sum(axis=(2, 3))
    single = hierarchical.trial_log_probs(spec, hierarchical.jax_inputs(spec, records, hierarchical.FIT_DTYPE), theta)
    assert single.dtype == hierarchical.FIT_DTYPE
    np.testing.assert_allclose(np.asarray(single, np.float64).sum(axis=(2, 3)), double, rtol=150 * np.finfo(hierarchical.FIT_DTYPE).eps)

    def gradient():
        scanned = hierarchical.jax_inputs(spec, records)
        return np.asarray(jax.grad(lambda t: hierarchical.trial_log_probs(spec, scanned, t).sum())(jnp.asarray(theta)))

    stored = gradient()
    monkeypatch.setattr(hierarchical, "RECOMPUTE_ABOVE", 0)
    np.testing.assert_allclose(gradient(), stored, rtol=1e-12, atol=1e-12)


KOOL_TASK_MODELS = {"kool2016-novel": ("kool2016-novel-hybrid-st-respst", "kool2016-novel-mb"),
                    "kool2017-novel-stakes": ("kool2017-novel-stakes",), "kool2017-daw-stakes": ("kool2017-daw-stakes", "daw2011")}


@pytest.mark.parametrize("dataset", ["kool2016", "decker2016", "potter2017", "gillan2016", *KOOL_TASK_MODELS])
def test_jax_likelihood_equals_numpys_on_every_built_in_dataset(data_root, dataset):
    from twostep import datasets

    data = datasets.load(dataset, data_root)
    records = {k: np.asarray(v)[:40] for k, v in data.records.items()}
    rng = np.random.default_rng(5)
    sides = (records["side1"][~records["missed"]] >= 0).all()  # response stickiness needs them (Decker's and Potter's lack them)
    models = ("daw2011", "kool2016-hybrid-st-respst" if sides else "kool2016-hybrid-st", "nussenbaum2020", "ts_par7")
    for model in KOOL_TASK_MODELS.get(dataset, models):
        spec = daw_models.SPECS[model]
        theta = rng.uniform(spec.lower, np.minimum(spec.upper, 8.0), (40, 2, len(spec.free)))
        got = np.asarray(hierarchical.trial_log_probs(spec, hierarchical.jax_inputs(spec, records), theta)).sum(axis=(2, 3))
        np.testing.assert_allclose(got, daw_models.log_likelihood(spec, records, theta), rtol=0, atol=1e-9, err_msg=model)


def test_pointwise_log_likelihood_by_trial_sums_to_each_persons_likelihood():
    spec = daw_models.SPECS["ts_par4"]
    records, theta = hierarchical.simulated_population(spec, np.zeros(4), np.full(4, 0.3), people=5, trials=30, seed=1)
    draws = theta[None] + np.random.default_rng(0).normal(0, 0.01, (3, *theta.shape))
    by_trial = hierarchical.pointwise_log_likelihood(spec, records, draws, chunk=2)
    assert by_trial.shape == (3, 5, 30)
    np.testing.assert_allclose(by_trial.sum(axis=-1), np.swapaxes(daw_models.log_likelihood(spec, records, np.swapaxes(draws, 0, 1)),
                                                                   0, 1), rtol=1e-12)


def test_nuts_finds_a_simulated_populations_group_means():
    """30 people x 150 trials of ts_par4 from known group values: each group mean's posterior
    mean within 4 posterior SDs of the truth (a calibrated posterior misses by that much with
    probability 6e-5 per parameter), chains that agree (R-hat < 1.1 on 2 x 300 draws), and the
    people's posterior means of w correlated with their true w beyond two standard errors of no
    correlation (2 / sqrt(29) = 0.37)."""
    spec = daw_models.SPECS["ts_par4"]
    mu_pr, sigma = np.array([-0.5, 1.0, -1.0, 0.3]), np.array([0.3, 0.2, 0.3, 0.8])
    records, theta = hierarchical.simulated_population(spec, mu_pr, sigma, people=30, trials=150, seed=2)
    idata = hierarchical.sample(spec, records, hierarchical.SamplerConfig(chains=2, warmup=300, draws=300, seed=1))
    table = hierarchical.summary_rows(idata, spec, [str(i) for i in range(30)], "simulated")
    group = table[table["parameter"].str.startswith("mu_")].set_index("parameter")
    truth = hierarchical.linked(spec, mu_pr)
    for name, true in zip(spec.names, truth):
        assert abs(group.loc[f"mu_{name}", "mean"] - true) < 4 * group.loc[f"mu_{name}", "sd"], (name, true, group.loc[f"mu_{name}"])
    assert group["rhat"].max() < 1.1
    w = table[(table["level"] == "person") & (table["parameter"] == "w")]["mean"].to_numpy()
    assert np.corrcoef(w, theta[:, 3])[0, 1] > 2 / np.sqrt(len(w) - 1)


class Interrupted(Exception):
    """Stands for a run killed at a checkpoint."""


def test_nuts_stopped_after_a_block_of_draws_goes_on_to_the_uninterrupted_draws(tmp_path, monkeypatch):
    """A run stopped after warm-up and again after its first block of draws, then given its
    checkpoint, ends with exactly the draws, divergences and leapfrog steps of a run never stopped."""
    monkeypatch.setattr(hierarchical, "CHECKPOINT_DRAWS", 20)
    spec = daw_models.SPECS["ts_par4"]
    records, _ = hierarchical.simulated_population(spec, np.zeros(4), np.full(4, 0.3), people=6, trials=30, seed=4)
    config = hierarchical.SamplerConfig(chains=2, warmup=40, draws=50, seed=3)
    straight = hierarchical.sample(spec, records, config)
    checkpoint, said = str(tmp_path / "sampler.pkl"), []

    def stop_at(phrase):
        def say(line):
            said.append(line)
            if phrase in line:
                raise Interrupted(line)
        return say

    for phrase in ("warm-up done", "20 of 50 draws"):
        with pytest.raises(Interrupted):
            hierarchical.sample(spec, records, config, checkpoint=checkpoint, say=stop_at(phrase))
    resumed = hierarchical.sample(spec, records, config, checkpoint=checkpoint, say=said.append)
    assert said[1] == f"ts_par4: resumed from {checkpoint}: warm-up done, 0 of 50 draws per chain"
    assert said[3] == f"ts_par4: resumed from {checkpoint}: warm-up done, 20 of 50 draws per chain"
    assert [line.split(",")[0] for line in said[4:]] == ["ts_par4: 40 of 50 draws per chain", "ts_par4: 50 of 50 draws per chain"]
    for group in ("posterior", "sample_stats"):
        for name, values in straight[group].items():
            np.testing.assert_array_equal(resumed[group][name].values, values.values, err_msg=name)
    assert straight.posterior["mu"].shape == (2, 50, 4)
    with pytest.raises(ValueError, match="sampler.pkl: a checkpoint of .*not of this run"):
        hierarchical.sample(spec, records, dataclasses.replace(config, seed=4), checkpoint=checkpoint)


def test_a_models_nuts_task_reports_its_progress_where_the_run_reads_it(tmp_path, monkeypatch):
    """fit_model's sampler lines go to <model>_<key>/progress.txt (run_models says each new one),
    which is gone, with the checkpoint, once the draws are written."""
    spec = daw_models.SPECS["ts_par4"]
    records, _ = hierarchical.simulated_population(spec, np.zeros(4), np.full(4, 0.3), people=6, trials=30, seed=5)
    table = tmp_path / "study.csv"
    trial_table.write_table(trial_table.agent_data(records, np.arange(6)), table, "table")
    base, lines, write = tmp_path / "out" / "ts_par4_key", [], hierarchical.report_progress

    def report(folder, line):
        write(folder, line)
        lines.append((line, hierarchical.last_progress(folder)))

    monkeypatch.setattr(hierarchical, "report_progress", report)
    monkeypatch.setattr(hierarchical, "CHECKPOINT_DRAWS", 10)
    hierarchical.fit_model(str(table), None, "ts_par4", hierarchical.SamplerConfig(chains=2, warmup=30, draws=20), str(tmp_path / "out"), "key")
    assert [line.split(",")[0] for line, _ in lines] == ["ts_par4: warm-up done (2 chains x 30)", "ts_par4: 10 of 20 draws per chain",
                                                         "ts_par4: 20 of 20 draws per chain"]
    assert all(line == read for line, read in lines)
    assert sorted(p.name for p in base.iterdir()) == ["draws.nc", "loo.csv", "ppc.csv", "summary.csv"]
    assert hierarchical.last_progress(str(base)) is None


def test_a_hierarchical_fit_writes_its_tables_and_a_rerun_resumes(ray_instance, tmp_path):
    spec = daw_models.SPECS["ts_par4"]
    records, _ = hierarchical.simulated_population(spec, np.zeros(4), np.full(4, 0.3), people=12, trials=40, seed=3)
    import pandas as pd

    table = tmp_path / "study.csv"
    trial_table.write_table(trial_table.agent_data(records, np.arange(12)), table, "table")
    rows = pd.read_csv(table)
    rows.drop(columns=[c for c in rows.columns if c.startswith("prob_")]).to_csv(table, index=False)  # no predictive check then
    argv = ["fit", "--data", str(table), "--models", "ts_par4", "--hierarchical", "--variational", "--steps", "200", "--draws", "50",
            "--out", str(tmp_path / "out")]
    cli.main(argv)
    written = {name: (tmp_path / "out" / f"study_{name}.csv").read_text() for name in ("hierarchical", "loo")}
    assert "mu_w" in written["hierarchical"] and "person" in written["loo"] and "trial" in written["loo"]
    (folder,) = (tmp_path / "out" / "study_hierarchical").iterdir()
    assert sorted(p.name for p in folder.iterdir()) == ["draws.nc", "loo.csv", "summary.csv"]
    said = []
    hierarchical.run_models(str(table), ["ts_par4"], str(tmp_path / "out"), settings=hierarchical.VariationalConfig(steps=200, draws=50),
                            say=said.append, progress=False)
    assert said == [f"1 of 1 models already fitted under {tmp_path / 'out' / 'study_hierarchical'}: skipped"]
    assert {name: (tmp_path / "out" / f"study_{name}.csv").read_text() for name in written} == written
    (folder / "summary.csv").unlink()  # as if stopped after the draws were written: the rerun reads them
    said.clear()
    hierarchical.run_models(str(table), ["ts_par4"], str(tmp_path / "out"), settings=hierarchical.VariationalConfig(steps=200, draws=50),
                            say=said.append, progress=False)
    assert said[0] == f"ts_par4: draws of 12 people read from {folder / 'draws.nc'}, variational (200 steps, 50 draws): no R-hat"
    assert {name: (tmp_path / "out" / f"study_{name}.csv").read_text() for name in written} == written


def test_a_target_acceptance_of_one_or_more_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["fit", "--data", "kool2016", "--models", "ts_par4", "--hierarchical", "--target-accept", "1.2", "--out", str(tmp_path)])
    assert "two-step fit: error: --target-accept 1.2: expected a probability below 1" in capsys.readouterr().err


def ragged(records, shorter, length, without_probs):
    """Records whose people `shorter` played only `length` trials (the rest padding) and whose people
    `without_probs` have no reward probabilities, as a table of unequal sessions loads them."""
    from twostep.datasets import RECORD_FILL

    records = {name: values.copy() for name, values in records.items()}
    for name in records.keys() & RECORD_FILL.keys():
        records[name][shorter, :, length:] = RECORD_FILL[name]
    records["probs"][without_probs] = np.nan
    return records


@pytest.mark.parametrize("unequal", [False, True])
def test_the_predictive_check_plays_the_peoples_walks_with_their_posterior_draws(unequal):
    """Draws concentrated at the true parameters reproduce the stay probabilities of people
    simulated with them, within the binomial error of 40 people x 200 trials; with sessions of
    unequal length (half the people stopping at trial 120) and four people without reward
    probabilities, the check is of the 36 others, each for the trials they played."""
    spec = daw_models.SPECS["ts_par4"]
    records, theta = hierarchical.simulated_population(spec, np.array([0.0, 1.5, -0.5, 1.0]), np.zeros(4), people=40, trials=200, seed=6)
    checked = np.arange(40) >= 4 * unequal
    if unequal:
        records = ragged(records, np.arange(20, 40), 120, np.arange(4))
    np.testing.assert_array_equal(hierarchical.checkable_people(records), checked)
    arviz = hierarchical.arviz_module()
    idata = arviz.from_dict(posterior={"theta": np.broadcast_to(theta, (1, 20, *theta.shape))})
    check = hierarchical.predictive_stay(spec, records, idata, "simulated", draws=20)
    assert list(check["cell"]) == ["rewarded, common", "rewarded, rare", "unrewarded, common", "unrewarded, rare"]
    from two_step_env import stay_probabilities

    stays, pairs = stay_probabilities(*(records[k][checked] for k in ("action", "common", "reward", "missed")))
    np.testing.assert_allclose(check["people"], np.nanmean(stays, axis=0))
    standard_error = np.sqrt(0.25 / pairs.sum(axis=0)) * np.sqrt(1 + 1 / 20)  # the people's cell against the mean of 20 simulations
    assert (np.abs(check["people"] - check["predicted"]) < 4 * standard_error).all(), check
    assert (check["q2.5"] <= check["predicted"]).all() and (check["predicted"] <= check["q97.5"]).all()


def test_person_estimates_put_each_persons_three_estimates_in_one_row():
    summary = pd.DataFrame({"model": ["daw2011"] * 3, "level": ["group", "person", "person"], "subject": ["", "a", "b"],
                            "parameter": ["mu_w", "w", "w"], "mean": [0.5, 0.4, 0.6], "q2.5": [0.4, 0.1, 0.2], "q97.5": [0.6, 0.7, 0.9]})
    fits = pd.DataFrame({"model": ["daw2011", "daw2011", "daw2011-mf"], "subject": ["b", "a", "a"], "w": [1.0, 0.0, np.nan]})
    fits_eb = pd.DataFrame({"model": ["daw2011"], "subject": ["b"], "w": [0.7]})
    table = hierarchical.person_estimates(summary, fits, fits_eb, "daw2011", "w")
    assert list(table.columns) == ["subject", "map", "eb", "mean", "q2.5", "q97.5"]
    np.testing.assert_array_equal(table["subject"], ["a", "b"])
    np.testing.assert_array_equal(table["map"], [0.0, 1.0])
    np.testing.assert_array_equal(table["eb"], [np.nan, 0.7])
    np.testing.assert_array_equal(table["mean"], [0.4, 0.6])
