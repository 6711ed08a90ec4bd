"""Daw et al. 2011's model family (twostep.daw_models): the authors' own numbers at their saved
parameters, plain per-trial transcriptions of the likelihoods, parameter recovery and bad input.

The tests that need the data take conftest's `data_root` (copied from TWO_STEP_DATA_MIRROR; skipped
without it, unless TWO_STEP_REQUIRE_DATA=1).
"""

import itertools
import math

import numpy as np
import pytest
import scipy.io
from scipy.special import betaln, expit

import two_step_env as env
from twostep import configs, datasets, daw_models
from twostep.configs import S2

SET_OPTS_NAMES = {  # set_opts.m's parameter names -> the spec's
    "inverse temperature": "beta",
    "learning rate": "alpha",
    "eligibility trace decay": "lambda",
    "mixing weight": "w",
    "mixing weight low": "w_lo",
    "mixing weight high": "w_hi",
    "choice stickiness": "p",
    "response stickiness": "rho",
}
KOOL_MODELS = {"hybrid": "hybrid", "model-based": "mb", "model-free": "mf"}
RECORD_KEYS = ("action", "state", "common", "reward", "choice2", "probs", "missed", "side1", "side2", "rt1", "rt2", "prob")
DAW_TASK = configs.preset("daw-2011")


def walks(rng, subjects, episodes, trials):
    """Reward probabilities [subject, episode, trial, 4]: fresh reflected Gaussian walks."""
    return env.drift_walk(DAW_TASK, rng.random((subjects, episodes, 4)), rng.standard_normal((subjects, episodes, trials - 1, 4)))


# ---------------------------------------------------------------- Kool et al. 2016


@pytest.mark.parametrize("dataset, specs, trials", [
    ("kool2016", daw_models.KOOL2016, 125),
    ("kool2016-novel", daw_models.KOOL2016_NOVEL, 125),
    ("kool2017-novel-stakes", daw_models.KOOL2017[:1], 200),
    ("kool2017-daw-stakes", daw_models.KOOL2017[1:], 200),
])
def test_kool_loglik_and_logpost_at_the_authors_parameters(data_root, dataset, specs, trials):
    """Every model of Kool et al.'s results.mat, on the trials the authors' likelihood counts
    (authors["likelihood_missed"] where the loader has it: Kool et al. 2017's Daw-paradigm file fits
    529 trials whose second stage timed out)."""
    data = datasets.load(dataset, data_root)
    fits = datasets.load_kool_fits(dataset, data_root)
    records = dict(data.records, missed=data.authors.get("likelihood_missed", data.records["missed"]))
    assert len(fits) == len(specs)
    for spec, fit in zip(specs, fits):
        kind = "stakes" if fit["model"] == 0 else KOOL_MODELS[fit["model_name"]]
        assert spec.name.endswith(kind + "-st" * fit["st"] * (kind != "stakes") + "-respst" * fit["respst"] * (kind != "stakes"))
        assert spec.names == tuple(SET_OPTS_NAMES[name] for name in fit["params"])
        np.testing.assert_array_equal(spec.lower, fit["lower"])
        np.testing.assert_array_equal(spec.upper, fit["upper"])
        np.testing.assert_array_equal(fit["subject"], data.subject)
        loglik = daw_models.log_likelihood(spec, records, fit["x"][:, None])[:, 0]
        logpost = loglik + daw_models.log_prior(spec, fit["x"])
        np.testing.assert_allclose(loglik, fit["loglik"], rtol=0, atol=1e-6, err_msg=spec.name)
        np.testing.assert_allclose(logpost, fit["logpost"], rtol=0, atol=1e-6, err_msg=spec.name)
        # mfit's BIC counts every trial of the session, missed ones too; ours the trials fitted
        np.testing.assert_allclose(daw_models.bic(loglik, len(spec.free), trials), fit["bic"], rtol=0, atol=1e-5, err_msg=spec.name)


def plain_novel(params, state1, action, state, points, stake, left1, missed, seen_first=True, q_init=0.0):
    """One person's log-likelihood in the novel paradigm with stakes, trial by trial in plain
    Python from Kool et al.'s description: per first-stage state, model-free values of its two
    options; option k leads to planet k (known at once, or from a state's first visit on);
    P(option) ~ exp(beta (w Q_MB + (1 - w) Q_MF + p [same state and option as last time] +
    rho [on the side pressed last time])), w = w_hi at stake 5; SARSA(lambda) on the points."""
    beta, alpha, lam, w_lo, w_hi, p, rho = params
    q_mf, q_planet, visited = [[q_init] * 2, [q_init] * 2], [q_init] * 2, [seen_first, seen_first]
    last, last_side, total = None, None, 0.0
    for t in range(len(action)):
        if missed[t]:
            continue
        s1, a, planet = int(state1[t]), int(action[t]), int(state[t]) - S2
        w = w_hi if stake[t] > 1 else w_lo
        q_mb = [q_planet[0], q_planet[1]] if visited[s1] else [sum(q_planet) / 2] * 2
        side = [0 if left1[t] == k else 1 for k in (0, 1)]  # each option's screen side (0 left): left1 is on the left
        net = [w * q_mb[k] + (1 - w) * q_mf[s1][k] + p * (last == (s1, k)) + rho * (side[k] == last_side) for k in (0, 1)]
        total += beta * net[a] - math.log(math.exp(beta * net[0]) + math.exp(beta * net[1]))
        visited[s1] = True
        last, last_side = (s1, a), side[a]
        delta1 = q_planet[planet] - q_mf[s1][a]
        q_mf[s1][a] += alpha * delta1
        delta2 = points[t] - q_planet[planet]
        q_planet[planet] += alpha * delta2
        q_mf[s1][a] += lam * alpha * delta2
    return total


@pytest.mark.parametrize("seen_first, q_init", [(False, 0.0), (True, 4.5)])
def test_the_novel_paradigm_is_its_plain_transcription(seen_first, q_init):
    """The batched equations against `plain_novel` on random sessions: the 2016 model (transitions
    learnt at a state's first visit, values from 0, one w) and the 2017 one (known, from 4.5, w by stake)."""
    rng = np.random.default_rng(4)
    n, people = 60, 3
    state1, action = rng.integers(0, 2, (people, 1, n)), rng.integers(0, 2, (people, 1, n))
    left1, missed = rng.integers(0, 2, (people, 1, n)), rng.random((people, 1, n)) < 0.1
    stake = np.where(rng.random((people, 1, n)) < 0.5, 1.0, 5.0) if seen_first else np.ones((people, 1, n))
    records = {"state1": state1, "action": action, "state": action + S2, "choice2": np.zeros_like(action), "stake": stake,
               "reward": rng.integers(-4, 6, (people, 1, n)).astype(float), "missed": missed,
               "side1": np.where(action == left1, 0, 1)}
    if seen_first:
        spec = daw_models.SPECS["kool2017-novel-stakes"]
        theta = np.column_stack([rng.uniform(0.5, 3, people), rng.random((people, 4)), rng.normal(0, 1, (people, 2))])
    else:
        spec = daw_models.SPECS["kool2016-novel-hybrid-st-respst"]
        theta = np.column_stack([rng.uniform(0.5, 3, people), rng.random((people, 3)), rng.normal(0, 1, (people, 2))])
    assert spec.q_init == q_init
    ours = daw_models.log_likelihood(spec, records, theta[:, None])[:, 0]
    for i in range(people):
        params = theta[i] if seen_first else np.r_[theta[i, :4], theta[i, 3], theta[i, 4:]]
        plain = plain_novel(params, *(records[k][i, 0] for k in ("state1", "action", "state", "reward", "stake")), left1[i, 0],
                            missed[i, 0], seen_first, q_init)
        assert ours[i] == pytest.approx(plain, abs=1e-9)


# ---------------------------------------------------------------- Daw et al. 2011's seven parameters


def plain_daw2011(params, action, state, choice2, reward, missed):
    """One episode's log-likelihood, trial by trial in plain Python, as Daw et al. 2011 write the
    model: Q_net = w Q_MB + (1 - w) Q_TD; P(a) ~ exp(beta1 (Q_net(a) + p rep(a))); missed trials skipped."""
    alpha1, alpha2, lam, beta1, beta2, p, w = params
    q_td, q2 = [0.0, 0.0], [[0.0, 0.0], [0.0, 0.0]]
    previous, total = None, 0.0
    for t in range(len(action)):
        if missed[t]:
            continue
        a, s, c, r = int(action[t]), int(state[t]) - 1, int(choice2[t]), float(reward[t])
        best = [max(q2[0]), max(q2[1])]
        q_mb = [0.7 * best[0] + 0.3 * best[1], 0.3 * best[0] + 0.7 * best[1]]
        net = [w * q_mb[i] + (1 - w) * q_td[i] + p * (previous == i) for i in (0, 1)]
        total += beta1 * net[a] - math.log(math.exp(beta1 * net[0]) + math.exp(beta1 * net[1]))
        total += beta2 * q2[s][c] - math.log(math.exp(beta2 * q2[s][0]) + math.exp(beta2 * q2[s][1]))
        delta1 = q2[s][c] - q_td[a]
        delta2 = r - q2[s][c]
        q_td[a] += alpha1 * delta1
        q2[s][c] += alpha2 * delta2
        q_td[a] += alpha1 * lam * delta2
        previous = a
    return total


def with_missed_trials(records, rng, fraction=0.1):
    """Records with some trials missed at the first stage and some at the second only."""
    records = {k: v.copy() for k, v in records.items()}
    first = rng.random(records["action"].shape) < fraction
    second = ~first & (rng.random(first.shape) < fraction)
    records["action"][first], records["state"][first] = -1, -1
    records["choice2"][first | second] = -1
    records["reward"][first | second] = np.nan
    records["missed"] = first | second
    return records


def test_daw2011_likelihood_equals_a_plain_per_trial_computation():
    rng = np.random.default_rng(0)
    spec = daw_models.DAW2011
    truth = np.array(
        [[0.4, 0.6, 0.5, 4.0, 3.0, 0.3, 0.5], [0.8, 0.2, 0.9, 7.0, 2.0, -0.4, 0.1], [0.1, 0.9, 0.2, 2.0, 6.0, 1.0, 0.9]]
    )
    records = with_missed_trials(daw_models.simulate(spec, truth, walks(rng, 3, 2, 40), rng), rng)
    theta = rng.uniform(spec.lower, spec.upper, (3, 4, len(spec.free)))
    theta[..., 3:6] /= 4  # betas in [0, 5], p in [-5, 5]
    batched = daw_models.log_likelihood(spec, records, theta)
    columns = [records[key] for key in ("action", "state", "choice2", "reward", "missed")]
    plain = np.zeros((3, 4))
    for i, k, e in itertools.product(range(3), range(4), range(2)):
        plain[i, k] += plain_daw2011(theta[i, k], *(column[i, e] for column in columns))
    np.testing.assert_allclose(batched, plain, rtol=0, atol=1e-10)


@pytest.mark.parametrize("spec", [daw_models.DAW2011, daw_models.KOOL2016[9]], ids=lambda spec: spec.name)
def test_replaying_a_simulation_gives_back_its_choice_probabilities(spec):
    """The same equations choose and replay: screen sides, stickiness and believed transitions included."""
    rng = np.random.default_rng(1)
    probs = walks(rng, 2, 3, 30)
    values = {
        "alpha": 0.5,
        "alpha1": 0.5,
        "alpha2": 0.4,
        "lambda": 0.6,
        "beta": 5.0,
        "beta1": 5.0,
        "beta2": 3.0,
        "p": 0.2,
        "rho": 0.8,
        "w": 0.5,
    }
    theta = np.tile([values[name] for name in spec.names], (2, 1))
    records = daw_models.simulate(spec, theta, probs, rng)
    assert records["action"].shape == (2, 3, 30)
    assert set(RECORD_KEYS) <= set(records)
    np.testing.assert_array_equal(records["common"], (records["action"] == 0) == (records["state"] == S2))
    np.testing.assert_array_equal(records["probs"], probs)
    inputs = daw_models.replay_inputs(spec, records)
    first_stage = []

    def respond(t, logit1, logit2):
        first_stage.append(logit1[:, 0])
        return tuple(inputs[key][:, None, :, t] for key in ("action", "state", "choice2", "reward", "used"))

    daw_models.play(spec, theta[:, None], inputs["layout"], respond)
    logit1 = np.stack(first_stage, axis=-1)
    np.testing.assert_allclose(expit(np.where(records["action"] == 1, logit1, -logit1)), records["prob"], rtol=1e-12)


def test_daw2011_recovers_w():
    """Three simulated people (w = 0, 0.5, 1), each 20 sessions of 201 trials on fresh walks: w is
    weakly identified by this task (its standard error is about 0.1 at 800 trials)."""
    rng = np.random.default_rng(0)
    w = np.array([0.0, 0.5, 1.0])
    truth = np.column_stack([np.tile([0.5, 0.5, 0.6, 5.0, 5.0, 0.3], (3, 1)), w])
    records = daw_models.simulate(daw_models.DAW2011, truth, walks(rng, 3, 20, DAW_TASK.trials_per_episode), rng)
    fit = daw_models.fit(daw_models.DAW2011, records, restarts=2, seed=0)
    np.testing.assert_allclose(fit["params"][:, -1], w, rtol=0, atol=0.1)


def test_nested_names_the_models_a_larger_one_holds():
    specs = daw_models.SPECS
    assert daw_models.nested(specs["daw2011-mf"], specs["daw2011"]) and daw_models.nested(specs["daw2011-mb"], specs["daw2011"])
    assert daw_models.nested(specs["kool2016-mb"], specs["kool2016-hybrid-st"])  # w held at 1, no stickiness
    assert not daw_models.nested(specs["kool2016-mb"], specs["kool2016-mf"])  # w held at 1 against w held at 0
    assert not daw_models.nested(specs["kool2016-hybrid-st"], specs["kool2016-hybrid"])  # p is free in the source
    assert not daw_models.nested(specs["daw2011"], specs["daw2011"])
    assert not daw_models.nested(specs["kool2016-hybrid"], specs["daw2011"])  # transitions by counts against fixed
    assert not any(daw_models.nested(spec, specs["nussenbaum2020"]) for spec in specs.values())
    assert daw_models.nested(specs["kool2016-novel-mb"], specs["kool2016-novel-hybrid-st"])
    assert not daw_models.nested(specs["kool2016-mb"], specs["kool2016-novel-hybrid-st"])  # another paradigm
    assert not daw_models.nested(specs["kool2016-novel-hybrid-st-respst"], specs["kool2017-novel-stakes"])  # w against w_lo, w_hi


def test_fit_nested_starts_a_model_from_the_fits_it_holds():
    """Daw 2011's priors are flat, so MAP is maximum likelihood: a nested fit, embedded, has the same
    likelihood in the larger model, which therefore ends at least as high from that start."""
    rng = np.random.default_rng(2)
    specs = [daw_models.SPECS[name] for name in ("daw2011", "daw2011-mf", "daw2011-mb")]
    truth = np.array([[0.3, 0.7, 0.5, 3.0, 4.0, 0.5, 0.2], [0.6, 0.5, 0.8, 6.0, 2.0, -0.2, 0.8], [0.5, 0.5, 0.5, 1.0, 1.0, 0.0, 0.5]])
    records = daw_models.simulate(daw_models.DAW2011, truth, walks(rng, 3, 2, 60), rng)
    fits = dict((spec.name, fit) for spec, fit in daw_models.fit_nested(specs, records, restarts=1, seed=3))
    assert list(fits) == ["daw2011-mb", "daw2011-mf", "daw2011"]  # 4, 6 and 7 free parameters
    assert fits["daw2011"]["objective"].shape == (3, 1 + 2)  # one random start and the two nested fits
    for name in ("daw2011-mb", "daw2011-mf"):
        embedded = daw_models.embed(daw_models.SPECS[name], fits[name]["params"], daw_models.DAW2011)
        np.testing.assert_allclose(
            daw_models.log_likelihood(daw_models.DAW2011, records, embedded[:, None])[:, 0], fits[name]["loglik"], rtol=0, atol=1e-9
        )
        assert (fits["daw2011"]["loglik"] >= fits[name]["loglik"] - 1e-9).all()
    again = list(daw_models.fit_nested(specs, records, restarts=1, seed=3, fitted={"daw2011-mf": fits["daw2011-mf"]["params"]}))
    assert [spec.name for spec, _ in again] == ["daw2011-mb", "daw2011"]
    np.testing.assert_array_equal(again[1][1]["params"], fits["daw2011"]["params"])


# ---------------------------------------------------------------- Nussenbaum et al. 2020 (Decker et al. 2016)


def plain_mbmf(x, choice1, choice2, money, state):
    """mbmf_driver.m's preprocessing and mbmf_lik.m (the minimised -log posterior), transcribed per
    trial: MATLAB codes (choice 1/2, state 2/3, 0 missed), fit from trial 10, trial 9's choice (8's
    if 9 was missed) as the previous choice, trials with any 0 removed."""
    alpha, beta_mb, beta_mf, beta, lam, stickiness = x
    keep = [t for t in range(9, len(choice1)) if choice1[t] != 0 and choice2[t] != 0 and state[t] != 0]
    choice10 = choice1[8] if choice1[8] != 0 else choice1[7]
    qd = [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
    lik, previous = 0.0, int(choice10)
    for t in keep:
        c1, c2, s = int(choice1[t]) - 1, int(choice2[t]) - 1, int(state[t]) - 1
        prior = [float(previous - 1 == i) for i in (0, 1)]
        best = [max(qd[1]), max(qd[2])]
        qmb = [best[0] * 0.7 + best[1] * 0.3, best[0] * 0.3 + best[1] * 0.7]
        logits = [beta_mf * qd[0][i] + beta_mb * qmb[i] + stickiness * prior[i] for i in (0, 1)]
        lik += math.log(math.exp(logits[c1]) / (math.exp(logits[0]) + math.exp(logits[1])))
        lik += math.log(math.exp(beta * qd[s][c2]) / (math.exp(beta * qd[s][0]) + math.exp(beta * qd[s][1])))
        td1 = qd[s][c2] - qd[0][c1]
        td2 = money[t] - qd[s][c2]
        qd[0][c1] += alpha * td1 + lam * alpha * td2
        qd[s][c2] += alpha * td2
        previous = c1 + 1

    def log_beta(v, a, b):
        return (a - 1) * math.log(v) + (b - 1) * math.log(1 - v) - betaln(a, b)

    def log_gamma3(v):
        return 2 * math.log(v) - v - math.log(2)

    lik += log_beta(alpha, 1.1, 1.1) + log_gamma3(beta) + log_gamma3(beta_mb) + log_gamma3(beta_mf) + log_beta(lam, 1.1, 1.1)
    lik += -0.5 * (stickiness / 10) ** 2 - math.log(10 * math.sqrt(2 * math.pi))
    return -lik


@pytest.mark.parametrize(
    "name, blank_trial_9",
    [("_SC00972_735543526_onsets", False), ("_SC00972_735543526_onsets", True), ("_1587_735260448_onsets", False)],
)
def test_nussenbaum2020_equals_mbmf_lik(data_root, name, blank_trial_9):
    """_SC00972: trial 9's second choice missed (its first choice still counts as the previous
    one); blanking trial 9's first choice makes trial 8's count; _1587: 21 missed trials, 10 at
    the second stage only."""
    decker = datasets.load("decker2016", data_root)
    records = {k: v[decker.subject == name] for k, v in decker.records.items()}
    raw = scipy.io.loadmat(data_root / "decker2016" / f"{name}.mat", squeeze_me=True)
    choice1, choice2, money, state = (np.asarray(raw[k], float).copy() for k in ("choice1", "choice2", "money", "state"))
    if blank_trial_9:
        choice1[8], choice2[8], state[8] = 0, 0, 0
        for key, value in (("action", -1), ("state", -1), ("choice2", -1), ("missed", True)):
            records[key][..., 8] = value
    spec = daw_models.NUSSENBAUM2020
    theta = np.random.default_rng(2).uniform([0.05, 0.1, 0.1, 0.1, 0.05, -3], [0.95, 8, 8, 8, 0.95, 3], (1, 5, 6))
    ours = -(daw_models.log_likelihood(spec, records, theta) + daw_models.log_prior(spec, theta))[0]
    np.testing.assert_allclose(ours, [plain_mbmf(x, choice1, choice2, money, state) for x in theta[0]], rtol=0, atol=1e-10)


# ---------------------------------------------------------------- bad input


def test_a_nan_reward_on_a_trial_not_marked_missed_is_an_error():
    rng = np.random.default_rng(3)
    records = daw_models.simulate(
        daw_models.DAW2011, np.tile([0.5, 0.5, 0.5, 5.0, 5.0, 0.2, 0.5], (2, 1)), walks(rng, 2, 1, 20), rng
    )
    theta = np.full((2, 1, 7), 0.5)
    records["reward"][1, 0, 7] = np.nan
    message = r"records\['reward'\] is nan at \[subject, episode, trial\] = \[1, 0, 7\], a trial not marked missed"
    with pytest.raises(ValueError, match=message):
        daw_models.log_likelihood(daw_models.DAW2011, records, theta)
    records["reward"][1, 0, 7] = 1.0
    records["action"][0, 0, 3] = -1
    with pytest.raises(ValueError, match=r"records\['action'\] is -1 at \[subject, episode, trial\] = \[0, 0, 3\]"):
        daw_models.log_likelihood(daw_models.DAW2011, records, theta)


# ---------------------------------------------------------------- model evidence

TWO_FREE = daw_models.ModelSpec(  # two free parameters, uniform priors: alpha on [0, 1], beta on [0, 20]
    "two-free", (daw_models.Parameter("alpha", 0.0, 1.0), daw_models.Parameter("beta", 0.0, 20.0)), (("lambda", 0.5), ("w", 0.5))
)


def evidence_both_ways(loglik):
    """(`person_log_evidence` at the MAP, the method, and log of the integral of exp(loglik) x prior
    by quadrature) for a log-likelihood of (alpha, beta) on TWO_FREE's box."""
    from scipy.integrate import dblquad

    from twostep import box_newton

    def minus_logpost(rows, points):
        return -(loglik(points[..., 0], points[..., 1]) + daw_models.log_prior(TWO_FREE, points))

    x, f, _, _ = box_newton.minimize_box(minus_logpost, np.array([[[0.5, 10.0], [0.1, 2.0], [0.9, 18.0]]]), TWO_FREE.lower, TWO_FREE.upper)
    best = x[0, f[0].argmin()][None]
    _, gradient, hessian = box_newton.derivatives(minus_logpost, np.zeros(1, int), best, TWO_FREE.lower, TWO_FREE.upper)
    value, method = daw_models.person_log_evidence(TWO_FREE, best[0], -f[0].min(), gradient[0], hessian[0], n_trials=100)
    peak = -f[0].min()
    integral, _ = dblquad(lambda b, a: np.exp(loglik(a, b) - np.log(20) - peak), 0, 1, 0, 20, epsabs=1e-12, epsrel=1e-10)
    return value, method, peak + np.log(integral)


def test_evidence_of_an_interior_optimum_is_laplaces():
    """Binomial in alpha (30 of 50) and a Gaussian in beta: Laplace's error is O(1/n), n = 50 trials."""
    value, method, exact = evidence_both_ways(lambda a, b: 30 * np.log(a) + 20 * np.log1p(-a) - 0.5 * ((b - 6) / 1.5) ** 2)
    assert method == "laplace"
    assert abs(value - exact) < 1 / 50


def test_evidence_with_an_optimum_on_a_bound_integrates_one_side():
    """alpha's likelihood falls from alpha = 0 (the MAP on the bound): the full Laplace formula
    would count a whole Gaussian there, twice the mass or (at a saddle) any value."""
    value, method, exact = evidence_both_ways(lambda a, b: -25 * a - 3 * a**2 - 0.5 * ((b - 6) / 1.5) ** 2)
    assert method == "laplace-reduced"
    assert abs(value - exact) < 1 / 50


def test_evidence_of_a_flat_coordinate_is_its_prior_mass():
    """A likelihood that ignores beta (as the model-based models ignore lambda): beta integrates
    to its prior's mass, exactly."""
    value, method, exact = evidence_both_ways(lambda a, b: 30 * np.log(a) + 20 * np.log1p(-a) + 0 * b)
    assert method == "laplace-reduced"
    assert abs(value - exact) < 1 / 50


def test_evidence_at_a_saddle_falls_back_to_unit_information():
    x, hessian = np.array([0.5, 10.0]), np.array([[40.0, 30.0], [30.0, 10.0]])  # det < 0
    value, method = daw_models.person_log_evidence(TWO_FREE, x, -70.0, np.zeros(2), hessian, n_trials=100)
    assert method == "unit-information"
    np.testing.assert_allclose(value, -70.0 + np.log(2 * np.pi) - np.log(100))


def test_flat_priors_are_normalised_on_their_bounds():
    """Daw et al. 2011's seven uniform priors: 0 on [0, 1] (as mfit), -log 20 on [0, 20], -log 40 on [-20, 20]."""
    theta = np.array([0.5, 0.5, 0.5, 5.0, 5.0, 0.0, 0.5])
    np.testing.assert_allclose(daw_models.log_prior(daw_models.DAW2011, theta), -2 * np.log(20) - np.log(40))


def test_a_spec_must_name_one_set_of_temperatures_and_learning_rates():
    free = {name: daw_models.Parameter(name, 0.0, 1.0) for name in daw_models.NAMES}
    with pytest.raises(ValueError, match="exactly one set of temperatures"):  # w beside beta_mb, beta_mf: was ignored
        daw_models.ModelSpec("x", tuple(free[n] for n in ("alpha", "lambda", "beta_mb", "beta_mf", "beta2", "w")))
    with pytest.raises(ValueError, match="exactly one set of learning rates"):  # alpha with alpha1: was a KeyError later
        daw_models.ModelSpec("x", tuple(free[n] for n in ("alpha", "alpha1", "lambda", "beta", "w")))
    daw_models.ModelSpec("x", tuple(free[n] for n in ("alpha1", "alpha2", "lambda", "beta1", "beta2", "w", "p")))


def test_simulate_refuses_probabilities_that_are_not():
    probs = np.full((1, 1, 5, 4), 0.5)
    probs[0, 0, 3, 2] = np.nan  # Decker's four oldest files have no walk
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]; shape \(1, 1, 5, 4\), nan at \[0, 0, 3, 2\]"):
        daw_models.simulate(daw_models.DAW2011, np.tile([0.5, 0.5, 0.5, 5.0, 5.0, 0.2, 0.5], (1, 1)), probs, np.random.default_rng(0))


def test_bic_counts_the_trials_each_likelihood_used(data_root):
    """Decker's 1895_onsets.mat has 152 trials (padded to 200 in the records) and its last has no
    outcome; Nussenbaum et al.'s fits start at trial 10: N is what is left, not 200."""
    decker = datasets.load("decker2016", data_root)
    records = {k: v[decker.subject == "1895_onsets"] for k, v in decker.records.items()}
    assert records["action"].shape[-1] == 200
    result = daw_models.fit(daw_models.NUSSENBAUM2020, records, restarts=1)
    missed = records["missed"][0, 0]
    assert missed[151:].all() and result["trials"][0] == (~missed[9:]).sum() <= 152 - 9 - 1
    np.testing.assert_allclose(result["bic"], daw_models.bic(result["loglik"], 6, result["trials"]))
    np.testing.assert_allclose(result["bic"], 6 * np.log(result["trials"]) - 2 * result["loglik"])


def test_a_persons_fit_is_the_same_alone_and_among_others():
    """A person's random starts are keyed by the seed and their own trials, not by their place in
    the batch: fitted alone, in a group or in another order, every bit of the fit is the same."""
    rng = np.random.default_rng(4)
    truth = np.column_stack([rng.uniform(0.2, 0.8, 6), rng.uniform(1, 6, 6), rng.uniform(1, 6, 6), rng.uniform(-0.5, 0.5, 6)])
    spec = daw_models.SPECS["daw2011-mb"]  # alpha2, beta1, beta2, p
    records = daw_models.simulate(spec, truth, walks(rng, 6, 1, 80), rng)
    group = daw_models.fit(spec, records, restarts=2, seed=5)
    for people in ([3], [5, 3, 0], [3, 1]):
        part = daw_models.fit(spec, {k: v[people] for k, v in records.items()}, restarts=2, seed=5)
        for key in ("params", "logpost", "loglik", "objective", "log_evidence"):
            np.testing.assert_array_equal(part[key], group[key][people], err_msg=f"{key} of people {people}")
    other_seed = daw_models.fit(spec, records, restarts=2, seed=6)
    assert not np.array_equal(other_seed["objective"], group["objective"])  # the seed still moves the starts


def test_a_model_refuses_the_records_of_the_other_paradigm():
    rng = np.random.default_rng(7)
    daw_records = daw_models.simulate(daw_models.DAW2011, np.full((2, 7), 0.5), walks(rng, 2, 1, 20), rng)
    novel = daw_models.SPECS["kool2016-novel-hybrid"]
    with pytest.raises(ValueError, match=r"kool2016-novel-hybrid is a model of Kool et al.'s novel paradigm: it needs records\['state1'\]"):
        daw_models.log_likelihood(novel, daw_records, np.full((2, 1, 4), 0.5))
    novel_records = dict(daw_records, state1=np.ones_like(daw_records["action"]))
    with pytest.raises(ValueError, match=r"daw2011 is a model of Daw et al.'s task, and these records have a second first-stage state"):
        daw_models.log_likelihood(daw_models.DAW2011, novel_records, np.full((2, 1, 7), 0.5))
    with pytest.raises(ValueError, match=r"the novel paradigm's transitions are deterministic"):
        daw_models.ModelSpec("mine", novel.free, transitions="counts", common_prob=1.0, paradigm="novel")
