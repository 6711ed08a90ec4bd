"""Tiny GRUs predicting choices (twostep.tiny_rnn): a plain per-trial transcription of the network,
the written-out reverse pass against the tape's, masks, independence of networks trained side by
side, missed trials, learning a simulated strategy, and bad input."""

import numpy as np
import pytest
from scipy.special import expit, log_expit

from twostep import tiny_rnn
from twostep.configs import S2, S3
from twostep.quiet_tensorflow import tf

SHORT = tiny_rnn.RNNConfig(units=3, max_steps=100, steps_per_check=25, patience=1000)


def simulate(rng, n, trials, stay_win=0.9, stay_lose=0.3, missed=0.0):
    """Records [n, trials] of a player who repeats its previous first-stage choice with probability
    `stay_win` after a reward and `stay_lose` after none (the first choice at random); second-stage
    choices and rewards are coin flips, transitions common with probability 0.7, and a trial is
    missed with probability `missed`."""
    reward = rng.integers(0, 2, (n, trials)).astype(float)
    action = np.zeros((n, trials), int)
    action[:, 0] = rng.integers(0, 2, n)
    for t in range(1, trials):
        stay = rng.random(n) < np.where(reward[:, t - 1] == 1, stay_win, stay_lose)
        action[:, t] = np.where(stay, action[:, t - 1], 1 - action[:, t - 1])
    state = np.where(rng.random((n, trials)) < 0.7, action, 1 - action) + S2
    is_missed = rng.random((n, trials)) < missed
    return {"action": np.where(is_missed, -1, action), "state": np.where(is_missed, -1, state),
            "choice2": np.where(is_missed, -1, rng.integers(0, 2, (n, trials))),
            "reward": np.where(is_missed, np.nan, reward), "missed": is_missed}


def whole_sequences(selected, shape):
    """A mask [F, B, T] holding every trial of the sequences where `selected` [F, B] is True."""
    return np.broadcast_to(np.asarray(selected)[..., None], shape).copy()


def plain_log_probs(weights, records, f, n):
    """log p [T, 2] of sequence n's choices under network f, trial by trial in numpy."""
    kernel, recurrent, bias, readout, readout_bias = (w[f] for w in weights)
    units = recurrent.shape[0]
    h, x = np.zeros(units), np.zeros(tiny_rnn.N_INPUTS)
    out = np.zeros((records["missed"].shape[1], 2))
    for t, missed in enumerate(records["missed"][n]):
        if missed:
            continue
        action, state, choice2, reward = (records[k][n, t] for k in ("action", "state", "choice2", "reward"))
        a = x @ kernel + bias
        z = expit(a[:units] + h @ recurrent[:, :units])
        r = expit(a[units : 2 * units] + h @ recurrent[:, units : 2 * units])
        candidate = np.tanh(a[2 * units :] + (r * h) @ recurrent[:, 2 * units :])
        h = z * h + (1 - z) * candidate
        logits = h @ readout + readout_bias
        logit2 = logits[1] if state == S2 else logits[2]
        out[t] = log_expit(logits[0] * (2 * action - 1)), log_expit(logit2 * (2 * choice2 - 1))
        x = np.concatenate([np.eye(2)[action], np.eye(2)[state - S2], np.eye(2)[choice2], [reward]])
    return out


def test_log_probs_match_a_plain_transcription():
    rng = np.random.default_rng(0)
    records = simulate(rng, 4, 30, missed=0.2)
    records["missed"][1, :3] = True  # a sequence that starts with missed trials
    for key, value in (("action", -1), ("state", -1), ("choice2", -1), ("reward", np.nan)):
        records[key][1, :3] = value
    weights = tiny_rnn.init_weights(tiny_rnn.RNNConfig(units=3, init_scale=3.0), 2)
    members = np.array([[0, 1, 2, 3], [3, 2, 1, 0]])
    log_p = tiny_rnn.log_probs(weights, tiny_rnn.sequence_inputs(records), members)
    assert log_p.shape == (2, 4, 30, 2)
    for f in range(2):
        for b, n in enumerate(members[f]):
            np.testing.assert_allclose(log_p[f, b], plain_log_probs(weights, records, f, n), rtol=1e-5, atol=1e-6)


def test_reverse_pass_matches_the_tape(monkeypatch):
    rng = np.random.default_rng(1)
    data = tiny_rnn.sequence_inputs(simulate(rng, 6, 25, missed=0.2))
    members = np.array([[0, 1, 2], [3, 4, 5]])
    split = rng.random(members.shape + (25,))
    masks = tiny_rnn.check_masks(members, data, train=split < 0.7, validation=split >= 0.7)
    batch = tiny_rnn.as_tensors({**tiny_rnn.gather_batch(data, members), **masks})
    weights = tiny_rnn.as_tensors(tiny_rnn.init_weights(tiny_rnn.RNNConfig(units=3, init_scale=2.0), 2))

    def gradient():
        with tf.GradientTape() as tape:
            tape.watch(weights)
            loss = tf.reduce_sum(tiny_rnn.training_losses(weights, batch, 0.0))
        return [g.numpy() for g in tape.gradient(loss, weights)]

    written_out = gradient()
    def plain(inputs, answered, kernel, bias, recurrent):  # the tape differentiates the scan itself
        return tiny_rnn.gru_scan(tiny_rnn.input_parts(inputs, kernel, bias), recurrent, answered)

    monkeypatch.setattr(tiny_rnn, "recurrence", plain)
    for ours, tapes in zip(written_out, gradient()):
        np.testing.assert_allclose(ours, tapes, rtol=1e-4, atol=1e-6)


def test_choices_outside_the_masks_do_not_change_the_weights():
    rng = np.random.default_rng(2)
    n_trials = 40
    data = tiny_rnn.sequence_inputs(simulate(rng, 17, n_trials, missed=0.1))
    members = np.arange(16).reshape(2, 8)  # sequence 16 belongs to no network
    split = rng.random(members.shape + (n_trials,))
    train, validation = split < 0.5, (split >= 0.5) & (split < 0.75)
    outside = np.ones(data["answered"].shape, bool)  # trials no network learns from or stops on
    outside[members] = ~(train | validation)
    edited = dict(data)  # the targets edited, the inputs as they were
    edited["action"] = np.where(outside, 1 - data["action"], data["action"])
    edited["choice2"] = np.where(outside, 1 - data["choice2"], data["choice2"])
    edited["state"] = np.where(outside, S2 + S3 - data["state"], data["state"])
    assert (edited["action"] != data["action"]).sum() > 150
    weights, info = tiny_rnn.fit(SHORT, data, members, train, validation)
    weights_edited, info_edited = tiny_rnn.fit(SHORT, edited, members, train, validation)
    assert (info["best_step"] > 0).all()  # both networks moved from their initial weights
    for w, w_edited in zip(weights, weights_edited):
        np.testing.assert_array_equal(w, w_edited)
    np.testing.assert_array_equal(info["validation_nll"], info_edited["validation_nll"])


def stopping_step(config, best_step):
    """Where training stops: the first check `patience` steps after the best one, or `max_steps`."""
    checks = -(-(best_step + config.patience) // config.steps_per_check)
    return min(config.max_steps, checks * config.steps_per_check)


def test_networks_side_by_side_train_as_they_would_alone():
    """Bit for bit: full-batch training of so little data is chaotic (a rounding difference of 1e-7
    grows to 0.3 in the weights within 200 steps here), so only exact equality shows over hundreds
    of steps that no network's data, gradient or stopping reaches another."""
    rng = np.random.default_rng(4)
    n_trials = 60
    data = tiny_rnn.sequence_inputs(simulate(rng, 20, n_trials, missed=0.05))
    members = np.arange(20).reshape(2, 10)
    split = rng.random(members.shape + (n_trials,))
    train, validation = split < 0.7, split >= 0.7
    config = tiny_rnn.RNNConfig(units=2, max_steps=600, patience=100, learning_rate=0.02)
    initial = tiny_rnn.init_weights(config, 2)
    weights, info = tiny_rnn.fit(config, data, members, train, validation)  # initial by default
    assert info["steps"] == stopping_step(config, info["best_step"].max())  # the group runs until its last network stops
    for f in range(2):
        alone, info_alone = tiny_rnn.fit(config, data, members[f : f + 1], train[f : f + 1], validation[f : f + 1],
                                         initial=tiny_rnn.Weights(*(w[f : f + 1] for w in initial)))
        assert info_alone["best_step"][0] == info["best_step"][f]
        assert info_alone["steps"] == stopping_step(config, info["best_step"][f])  # alone, each stops on its own
        assert info_alone["validation_nll"][0] == info["validation_nll"][f]
        for w, w_alone in zip(weights, alone):
            np.testing.assert_array_equal(w[f], w_alone[0])


def test_missed_trials_are_skipped():
    rng = np.random.default_rng(4)
    records = simulate(rng, 3, 20, missed=0.1)
    weights = tiny_rnn.init_weights(tiny_rnn.RNNConfig(units=4, init_scale=3.0), 1)
    members = np.arange(3)[None]
    log_p = tiny_rnn.log_probs(weights, tiny_rnn.sequence_inputs(records), members)
    where = [0, 7, 20]  # a missed trial inserted first, in the middle and last
    with_missed = {key: np.zeros((3, 21), value.dtype) for key, value in records.items()}
    for n, k in enumerate(where):
        for key, value in records.items():
            blank = {"missed": True, "reward": np.nan}.get(key, -1)
            with_missed[key][n] = np.insert(value[n], k, blank)
    log_p_missed = tiny_rnn.log_probs(weights, tiny_rnn.sequence_inputs(with_missed), members)
    for n, k in enumerate(where):
        np.testing.assert_array_equal(log_p_missed[0, n, k], 0.0)
        np.testing.assert_allclose(np.delete(log_p_missed[0, n], k, axis=0), log_p[0, n], rtol=1e-6, atol=1e-7)


def test_it_learns_a_win_stay_lose_shift_player():
    """2-unit networks trained on 30 simulated people and stopped on 10 others: the best of 4
    initialisations (by validation NLL, as Ji-An et al. pick among seeds) predicts the first-stage
    choices of 10 more people about as well as the generator itself."""
    rng = np.random.default_rng(5)
    n, n_trials, stay_win, stay_lose, n_starts = 50, 150, 0.9, 0.3, 4
    data = tiny_rnn.sequence_inputs(simulate(rng, n, n_trials, stay_win, stay_lose))
    members = np.tile(np.arange(n), (n_starts, 1))
    shape = (n_starts, n, n_trials)
    train, validation, test = (whole_sequences(s, shape) for s in (members < 30, (members >= 30) & (members < 40), members >= 40))
    weights, info = tiny_rnn.fit(tiny_rnn.RNNConfig(units=2, seed=0), data, members, train, validation)
    best = np.argmin(info["validation_nll"])
    test[..., 0] = False  # the first choice is a coin flip the generator does not predict either
    nll = -tiny_rnn.log_probs(weights, data, members)[best, ..., 0][test[best]].mean()
    # The generator's -log p of a choice is -log q with q = stay_win or 1 - stay_win after a reward
    # (probability 1/2), stay_lose or 1 - stay_lose after none: its mean is the true entropy per
    # choice, and the mean over the m held-out choices has standard error sd / sqrt(m). The
    # network should be within 4 standard errors of it (it cannot beat it but by chance, and
    # misses it by its error of fit).
    q = np.array([stay_win, 1 - stay_win, stay_lose, 1 - stay_lose])
    entropy = np.sum(q * -np.log(q)) / 2  # 0.468
    sd = np.sqrt(np.sum(q * np.log(q) ** 2) / 2 - entropy**2)  # 0.56
    tolerance = 4 * sd / np.sqrt(test[best].sum())  # 1,490 choices: 0.058
    assert nll < np.log(2) - 0.15
    assert abs(nll - entropy) < tolerance, (nll, entropy, tolerance)


@pytest.mark.parametrize("field, value, message", [
    ("units", 0, r"RNNConfig.units=0: expected an integer > 0"),
    ("units", 2.0, r"RNNConfig.units=2.0: expected an integer > 0"),
    ("learning_rate", -0.1, r"RNNConfig.learning_rate=-0.1: expected a finite number > 0"),
    ("max_steps", 110, r"RNNConfig.max_steps=110: expected a multiple of steps_per_check=25"),
    ("patience", True, r"RNNConfig.patience=True: expected an integer > 0"),
    ("l1_recurrent", -1.0, r"RNNConfig.l1_recurrent=-1.0: expected a finite number >= 0"),
    ("seed", -1, r"RNNConfig.seed=-1: expected an integer >= 0"),
])
def test_bad_config(field, value, message):
    with pytest.raises(ValueError, match=message):
        tiny_rnn.RNNConfig(**{field: value})


def test_bad_records():
    records = simulate(np.random.default_rng(6), 2, 10)
    with pytest.raises(ValueError, match=r"records lack \['choice2'\]"):
        tiny_rnn.sequence_inputs({k: v for k, v in records.items() if k != "choice2"})
    with pytest.raises(ValueError, match=r"records\['missed'\] has shape \(20,\): expected \[sequences, trials\]"):
        tiny_rnn.sequence_inputs({k: v.ravel() for k, v in records.items()})
    with pytest.raises(ValueError, match=r"records\['reward'\] has shape \(2, 9\): expected \(2, 10\)"):
        tiny_rnn.sequence_inputs({**records, "reward": records["reward"][:, 1:]})
    bad = {**records, "action": records["action"].copy()}
    bad["action"][1, 4] = 2
    with pytest.raises(ValueError, match=r"records\['action'\]\[1, 4\]=2 on a trial not missed: expected one of \(0, 1\)"):
        tiny_rnn.sequence_inputs(bad)


def test_bad_fit_arguments():
    data = tiny_rnn.sequence_inputs(simulate(np.random.default_rng(7), 4, 10))
    members = np.array([[0, 1], [2, 3]])
    train, validation = np.zeros((2, 2, 10), bool), np.zeros((2, 2, 10), bool)
    train[:, :, :6], validation[:, :, 6:] = True, True

    def fit(members=members, train=train, validation=validation, **options):
        return tiny_rnn.fit(SHORT, data, members, train, validation, **options)

    with pytest.raises(ValueError, match=r"members has shape \(4,\) and dtype int64: expected integers \[networks, sequences\]"):
        fit(members=members.ravel())
    with pytest.raises(ValueError, match=r"members holds 0..4: expected indices into the 4 sequences"):
        fit(members=members + [[0], [1]])
    with pytest.raises(ValueError, match=r"train has shape \(2, 10\) and dtype bool: expected bool \[2, 2, 10\]"):
        fit(train=train[0])
    with pytest.raises(ValueError, match=r"validation has shape \(2, 2, 10\) and dtype float64"):
        fit(validation=validation.astype(float))
    no_training = train.copy()
    no_training[1] = False
    with pytest.raises(ValueError, match=r"train: networks \[1\] have no answered trial in it"):
        fit(train=no_training)
    with pytest.raises(ValueError, match=r"validation: networks \[0, 1\] have no answered trial in it"):
        fit(validation=np.zeros_like(validation))
    with pytest.raises(ValueError, match=r"initial.kernel has shape \(2, 7, 6\): expected \(2, 7, 9\) \(2 networks of 3 units\)"):
        fit(initial=tiny_rnn.init_weights(tiny_rnn.RNNConfig(units=2), 2))
    with pytest.raises(ValueError, match=r"members has 2 rows: expected one per network, 1"):
        tiny_rnn.log_probs(tiny_rnn.init_weights(SHORT, 1), data, members)
