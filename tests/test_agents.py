"""Reference agents: the ideal observer's belief against brute force, its optimality, the task
they play, and the records they return."""

import dataclasses
import itertools

import numpy as np
import pytest
from scipy.special import expit

import a2c_lstm
import two_step_env as env
from twostep import agents, configs
from twostep.configs import S2, S3

WANG_PRESETS = sorted(name for name, task in configs.PRESETS.items() if task.rewards == configs.SWAP_GOOD_STATE)

FINAL = configs.preset("biorxiv-final")


def brute_force_beliefs(task, state, reward):
    """P(S2 good) before each trial given the outcomes of the trials before it, by summing over
    every sequence of good states (prior 1/2, the task's swap process)."""
    n = len(state)
    weights, s2_good = [], []
    for sequence in itertools.product((S2, S3), repeat=n):
        weight = 0.5
        for t in range(1, n):
            swap = task.swap_prob if (task.swap_every == configs.SWAP_EVERY_TRIAL) else 0.0
            weight *= swap if sequence[t] != sequence[t - 1] else 1 - swap
        weights.append(weight)
        s2_good.append(np.array(sequence) == S2)
    weights, s2_good = np.array(weights), np.array(s2_good)
    beliefs = []
    for t in range(n):
        likelihood = np.ones(len(weights))
        for m in range(t):
            good_here = np.array([seq == (state[m] == S2) for seq in s2_good[:, m]])
            p = np.where(good_here, task.good_reward_prob, task.bad_reward_prob)
            likelihood *= p if reward[m] else 1 - p
        beliefs.append((weights * likelihood * s2_good[:, t]).sum() / (weights * likelihood).sum())
    return np.array(beliefs)


@pytest.mark.parametrize("swap_every, swap_prob", [(configs.SWAP_EVERY_TRIAL, 0.025), (configs.SWAP_EVERY_TRIAL, 0.3), (configs.SWAP_EVERY_EPISODE, 0.5)])
def test_ideal_observer_belief_equals_brute_force_enumeration(swap_every, swap_prob):
    task = dataclasses.replace(FINAL, swap_every=swap_every, swap_prob=swap_prob, trials_per_episode=7, good_reward_prob=0.8, bad_reward_prob=0.3)
    rng = np.random.default_rng(0)
    for _ in range(5):
        state = rng.choice([S2, S3], size=7)
        reward = rng.integers(2, size=7).astype(float)
        action = rng.integers(2, size=7)
        params = {"inverse_temperature": np.array([np.inf]), "perseveration": np.array([0.0])}
        beliefs = agents.play(agents.IDEAL_OBSERVER, params, task, (1,), lambda n, _: (action[n : n + 1], state[n : n + 1], reward[n : n + 1]))["belief"][0]
        np.testing.assert_allclose(beliefs, brute_force_beliefs(task, state, reward), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", WANG_PRESETS)
def test_greedy_policy_is_bellman_optimal(name):
    agree, gap = agents.greedy_is_optimal(configs.preset(name), grid_size=501)
    assert agree
    assert gap < 1e-9


def test_bellman_value_equals_the_simulated_ideal_observers_reward():
    # V_0(1/2), the optimal expected reward of an episode, against 8 x 300 simulated episodes:
    # the simulated mean lies within 4 standard errors of it
    grid, q = agents.belief_value_iteration(FINAL, grid_size=2001)
    optimal = np.interp(0.5, grid, q[0].max(-1))
    per_episode = agents.simulate([agents.IdealObserver()] * 8, FINAL, 300, seed=5)["reward"].sum(-1).ravel()
    assert abs(per_episode.mean() - optimal) < 4 * per_episode.std() / np.sqrt(per_episode.size)
    assert optimal < 100 * agents.known_state_reward(FINAL)  # inferring the good state costs reward


def test_ideal_observer_earns_more_than_every_classical_agent():
    rewards = {}
    for w in (0.0, 0.5, 1.0):
        rewards[w] = agents.simulate([agents.Hybrid(model_based_weight=w)] * 4, FINAL, 200, seed=2)["reward"].sum(-1).ravel()
    ideal = agents.simulate([agents.IdealObserver()] * 4, FINAL, 200, seed=2)["reward"].sum(-1).ravel()
    for w, r in rewards.items():
        standard_error = np.sqrt(ideal.var() / ideal.size + r.var() / r.size)
        assert ideal.mean() - r.mean() > 4 * standard_error, w


def test_records_have_the_layout_and_dtypes_of_evaluate():
    records = agents.simulate([agents.Hybrid(), agents.Hybrid(model_based_weight=1.0)], FINAL, 3, seed=0)
    for key, dtype in a2c_lstm.TRIAL_RECORDS.items():
        assert records[key].shape == (2, 3, 100), key
        assert records[key].dtype == dtype.as_numpy_dtype, key
    chosen = np.where(records["action"] == 0, S2, S3)
    np.testing.assert_array_equal(records["common"], records["state"] == chosen)
    assert set(np.unique(records["reward"])) <= {0.0, 1.0}
    assert "belief" in agents.simulate(agents.IdealObserver(), FINAL, 2)


def test_every_agent_plays_the_same_task_draws():
    model_free = agents.simulate(agents.Hybrid(model_based_weight=0.0), FINAL, 20, seed=4)
    ideal = agents.simulate(agents.IdealObserver(), FINAL, 20, seed=4)
    np.testing.assert_array_equal(model_free["good_state"], ideal["good_state"])


@pytest.mark.parametrize("name", WANG_PRESETS)
def test_good_state_swaps_as_the_task_says(name):
    task = configs.preset(name)
    good = agents.simulate(agents.IdealObserver(), task, 2000, seed=1)["good_state"][0]
    flat = good.ravel()
    swaps = flat[1:] != flat[:-1]
    if task.swap_every == configs.SWAP_EVERY_EPISODE:
        assert not np.any(good[:, 1:] != good[:, :-1])  # fixed within an episode
        swaps = good[1:, 0] != good[:-1, -1]
    n = swaps.size
    assert abs(swaps.mean() - task.swap_prob) < 4 * np.sqrt(task.swap_prob * (1 - task.swap_prob) / n)


def test_hybrid_weight_moves_stay_probabilities_from_reward_to_interaction():
    records = agents.simulate([agents.Hybrid(model_based_weight=w) for w in (0.0, 1.0)], FINAL, 200, seed=0)
    probs, counts = env.stay_probabilities(records["action"], records["common"], records["reward"])
    model_free, model_based = probs
    # model-free: rewarded-rare repeats more than unrewarded-rare; model-based: the reverse
    assert model_free[1] > model_free[3] and model_based[1] < model_based[3]
    standard_error = np.sqrt(0.25 / counts.min())
    assert model_based[3] - model_based[1] > model_free[3] - model_free[1] + 4 * standard_error


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: agents.Hybrid(learning_rate=1.5), "Hybrid.learning_rate=1.5: expected a number in [0, 1]"),
        (lambda: agents.Hybrid(inverse_temperature=0.0), "Hybrid.inverse_temperature=0.0: expected a number > 0"),
        (lambda: agents.Hybrid(perseveration=float("nan")), "Hybrid.perseveration=nan: expected a finite number"),
        (lambda: agents.IdealObserver(inverse_temperature=-1), "IdealObserver.inverse_temperature=-1: expected a number > 0"),
        (lambda: agents.simulate([], FINAL, 1), "expected at least one agent config"),
        (lambda: agents.simulate(agents.Hybrid(), FINAL, 0), "episodes=0: expected an integer > 0"),
        (lambda: agents.simulate([agents.Hybrid(), agents.IdealObserver()], FINAL, 1), "every subject must be the same kind"),
    ],
)
def test_bad_input_is_named(make, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make()


def test_simulate_rejects_what_is_not_an_agent():
    with pytest.raises(TypeError, match="expected a Hybrid or an IdealObserver"):
        agents.simulate("model-free", FINAL, 1)


# ---------------------------------------------------------------- ties: equal evidence, equal beliefs

ARXIV = configs.preset("arxiv")
# outcomes as (state, reward); in a task with good = 1 - bad, the likelihood ratio of a reward at a
# state equals that of no reward at the other state
FOR_S2 = ((S2, 1.0), (S3, 0.0))  # evidence that S2 is good
FOR_S3 = ((S3, 1.0), (S2, 0.0))  # evidence that S3 is good: after action 0, rewarded-rare and unrewarded-common


def replay(task, outcomes, inverse_temperature=np.inf):
    """The ideal observer replaying histories `outcomes` [history, trial, (state, reward)]: its
    beliefs and P(action 1) at each choice, [history, trial]."""
    outcomes = np.asarray(outcomes, float)
    params = {"inverse_temperature": np.array([inverse_temperature]), "perseveration": np.array([0.0])}
    action = np.zeros(outcomes.shape[:2], int)

    def respond(n, _):
        return action[:, n], outcomes[:, n, 0].astype(int), outcomes[:, n, 1]

    out = agents.play(agents.IDEAL_OBSERVER, params, task, outcomes.shape[:1], respond)
    return out["belief"], out["p1"]


@pytest.mark.parametrize("good, bad", [(0.9, 0.1), (0.8, 0.2), (0.7, 0.3), (0.95, 0.05), (0.99, 0.01), (0.6, 0.4)])
def test_outcomes_with_the_same_likelihood_ratio_give_bit_equal_posteriors(good, bad):
    # arxiv's rewarded-rare and unrewarded-common outcomes both have likelihood ratio good / bad = 9:
    # from any prior the posteriors must be the same number, not 0.5000000000000001 and 0.5
    task = dataclasses.replace(ARXIV, good_reward_prob=good, bad_reward_prob=bad, trials_per_episode=3)
    priors = np.concatenate([[0.5, 0.9, 0.1, 0.75, 1 / 3, 0.0, 1.0], np.linspace(0.0, 1.0, 1001)])
    for (s_a, r_a), (s_b, r_b) in (FOR_S2, FOR_S3):
        a = agents.belief_after_outcome(task, priors, np.full(priors.shape, s_a), r_a)
        b = agents.belief_after_outcome(task, priors, np.full(priors.shape, s_b), r_b)
        np.testing.assert_array_equal(a, b)
    evidence = agents.outcome_evidence(task, [S2, S3], [1.0, 1.0])  # log likelihood ratio, S2 good : S3 good
    np.testing.assert_array_equal(agents.outcome_evidence(task, [S3, S2], [0.0, 0.0]), evidence)
    np.testing.assert_array_equal(agents.outcome_evidence(task, [S3, S2], [1.0, 1.0]), -evidence)
    # and the ideal observer, replaying both, reaches bit-equal beliefs and the same decisions
    for history in ([FOR_S2[0], FOR_S3[0]], [FOR_S2[0], FOR_S3[1]], [FOR_S2[1], FOR_S3[0]], [FOR_S2[1], FOR_S3[1]]):
        belief, p1 = replay(task, [history + [FOR_S2[0]]])
        assert belief[0, 2] == 0.5 and p1[0, 2] == 0.5  # the evidence cancels: an exact tie, a coin flip


def test_the_ideal_observers_belief_depends_only_on_the_evidence_not_its_order_or_wording():
    # in a task where the good state is fixed within the episode, the posterior depends only on how
    # many outcomes of each likelihood ratio were seen: any reordering, and any swap of an outcome for
    # another with the same likelihood ratio, must give bit-equal beliefs and equal decisions
    rng = np.random.default_rng(0)
    for task in (ARXIV, dataclasses.replace(ARXIV, good_reward_prob=0.8, bad_reward_prob=0.3, trials_per_episode=30)):
        n = task.trials_per_episode
        outcomes = np.array([(s, r) for s in (S2, S3) for r in (0.0, 1.0)])[rng.integers(4, size=(500, n))]
        shuffled = np.array([o[np.r_[rng.permutation(n - 1), n - 1]] for o in outcomes])  # same outcomes before the last choice
        belief, p1 = replay(task, outcomes)
        belief_shuffled, p1_shuffled = replay(task, shuffled)
        np.testing.assert_array_equal(belief[:, -1], belief_shuffled[:, -1])
        np.testing.assert_array_equal(p1[:, -1], p1_shuffled[:, -1])
        if task.good_reward_prob == 1 - task.bad_reward_prob:  # a reward at S2 says what no reward at S3 says
            reworded = outcomes.copy()
            reworded[..., 0] = np.where(rng.random((500, n)) < 0.5, S2 + S3 - outcomes[..., 0], outcomes[..., 0])
            reworded[..., 1] = np.where(reworded[..., 0] == outcomes[..., 0], outcomes[..., 1], 1.0 - outcomes[..., 1])
            np.testing.assert_array_equal(replay(task, reworded)[0], belief)
            # equal counts of evidence for S2 and for S3: exactly 1/2, and the greedy observer flips a coin
            for_s2 = np.cumsum((outcomes[..., 0] == S2) == (outcomes[..., 1] > 0), axis=1)  # up to and with trial n
            balanced = 2 * np.pad(for_s2[:, :-1], ((0, 0), (1, 0))) == np.arange(n)  # before trial n
            assert balanced.sum() > 100
            assert np.all(belief[balanced] == 0.5) and np.all(p1[balanced] == 0.5)
            assert np.all(belief[~balanced] != 0.5) and np.all(p1[~balanced] != 0.5)


def test_a_possible_swap_keeps_an_even_belief_even_and_treats_both_states_alike():
    task = configs.preset("biorxiv-final")
    log_odds = np.concatenate([[0.0, np.inf, -np.inf], np.linspace(-40, 40, 801)])
    after = agents.log_odds_before_trial(task, log_odds, 5)
    assert after[0] == 0.0
    np.testing.assert_array_equal(agents.log_odds_before_trial(task, -log_odds, 5), -after)
    belief = expit(log_odds)
    np.testing.assert_allclose(expit(after), agents.belief_before_trial(task, belief, 5), rtol=1e-12, atol=1e-15)
    # where no swap can happen (arxiv after its first trial) the log-odds carry over unchanged
    np.testing.assert_array_equal(agents.log_odds_before_trial(ARXIV, log_odds, 1), log_odds)


def test_greedy_ideal_observer_stays_alike_after_rewarded_rare_and_unrewarded_common_in_arxiv():
    # both outcomes carry the same evidence (likelihood ratio 9 against the state just reached), so
    # the greedy observer must stay equally often after each; 8 x 3,000 episodes, pooled
    records = agents.simulate([agents.IdealObserver()] * 8, ARXIV, 3000, seed=0)
    probs, counts = env.stay_probabilities(records["action"], records["common"], records["reward"])  # [subject, cell]
    pooled, counts = (probs * counts).sum(0) / counts.sum(0), counts.sum(0)
    rewarded_rare, unrewarded_common = pooled[1], pooled[2]
    p = (rewarded_rare * counts[1] + unrewarded_common * counts[2]) / (counts[1] + counts[2])
    standard_error = np.sqrt(p * (1 - p) * (1 / counts[1] + 1 / counts[2]))
    assert abs(rewarded_rare - unrewarded_common) < 4 * standard_error, (pooled, standard_error)
    np.testing.assert_array_equal(pooled[[0, 3]], [1.0, 1.0])  # rewarded-common, unrewarded-rare: always stay
    # its ties (belief exactly 1/2) are coin flips drawn from the task's uniforms: P(action 1) = 1/2
    tie = records["belief"] == 0.5
    assert tie[..., 1:].sum() > 1000
    np.testing.assert_array_equal(records["prob"][tie], 0.5)
    share = records["action"][tie].mean()
    assert abs(share - 0.5) < 4 * np.sqrt(0.25 / tie.sum())


def test_the_drifting_task_is_refused_with_where_to_go():
    with pytest.raises(ValueError, match=r"rewards='drift', high_stake=1.0: these agents play Wang et al.'s task.*twostep.daw_agents"):
        agents.simulate(agents.IdealObserver(), configs.preset("daw-2011"), 2)
