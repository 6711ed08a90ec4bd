"""The agent as a model of people: `a2c_lstm.replay_logits` reads a person's own trials as the agent's inputs."""

import dataclasses
import os

import numpy as np
import pytest
import tensorflow as tf

import a2c_lstm as a2c
import two_step_env as env
from twostep import checkpoints, configs
from twostep.configs import S1

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = [os.path.join(ROOT, "results/daw-2011", f"model_{seed}", "model-40000") for seed in (0, 1)]
TINY_DRIFT = configs.TaskConfig(trials_per_episode=7, steps_per_trial=2, rewards="drift", common_prob=0.7)
EPISODES = 3


@pytest.fixture(scope="module")
def shipped():
    return checkpoints.load_models(SHIPPED)


def as_people(records):
    """Evaluation records [seed, episode, trial] as people [seed * episode, trial], none missed."""
    people = {name: records[name].reshape(-1, records[name].shape[-1]) for name in ("action", "state", "choice2", "reward")}
    return dict(people, missed=np.zeros(people["action"].shape, bool))


def own_episodes(logits, n_seeds):
    """[seed, seed * episode, trial, 2] -> [seed, episode, trial, 2]: each seed's replay of its own episodes."""
    return np.stack([logits[s, s * EPISODES : (s + 1) * EPISODES] for s in range(n_seeds)])


def probability_of(choice, logit_of_one):
    return 1.0 / (1.0 + np.exp(-np.where(choice == 1, logit_of_one, -logit_of_one)))


def second_stage_logits(state, records):
    """The logit of option 1 over 0 at each trial's second step, from the LSTM state `evaluate(internals=True)`
    recorded after the first step and the second step's input: the state reached, no reward, the action taken."""
    params = a2c._as_tensors(state.params)
    n_seeds, _, n_trials = records["action"].shape

    def at_trial(name, n):  # [seed, episode, trial, ...] -> [seed * episode, ...], seed-major as per_seed_matvec takes rows
        values = records[name][:, :, n]
        return tf.constant(values.reshape(-1, *values.shape[2:]))

    logits = []
    for n in range(n_trials):
        x = a2c.agent_input(at_trial("state", n), tf.zeros([n_seeds * EPISODES]), tf.one_hot(at_trial("action", n), 2), 2 * n + 1, state.agent.timestep_scale)
        if state.agent.option_input:
            x = tf.concat([x, tf.zeros([x.shape[0], len(env.OPTIONS)])], axis=-1)
        h, _ = a2c.lstm_step(params, x, at_trial("hidden", n), at_trial("cell", n))
        logits.append(a2c.heads(params, h)[0].numpy())
    logits = np.stack(logits, axis=1).reshape(n_seeds, EPISODES, n_trials, 2)
    return logits[..., 1] - logits[..., 0]


def tiny(agent):
    """Two seeds of the drifting task with random weights whose policy depends visibly on the inputs."""
    return a2c.init_state(TINY_DRIFT, dataclasses.replace(agent, policy_init_std=3.0), [0, 1])


@pytest.mark.parametrize("agent", ["shipped", configs.AgentConfig(option_input=True), configs.AgentConfig(reference_first_action=True)],
                         ids=["shipped daw-2011", "option input", "reference first action"])
def test_replaying_the_agents_own_episodes_gives_the_probabilities_it_played_with(shipped, agent):
    state = shipped if agent == "shipped" else tiny(agent)
    records = a2c.evaluate(state, EPISODES, internals=True)
    logits = own_episodes(a2c.replay_logits(state, as_people(records)), len(state.seeds))
    first = probability_of(records["action"], logits[..., 0])
    np.testing.assert_allclose(first, records["prob"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(logits[..., 1], second_stage_logits(state, records), rtol=0, atol=1e-4)
    if agent == "shipped":  # a trained agent chooses at the second stage the option its logits favour
        assert probability_of(records["choice2"], logits[..., 1]).mean() > 0.6


def test_a_missed_trial_is_skipped(shipped):
    records = as_people(a2c.evaluate(shipped, 1))
    person = {name: values[0] for name, values in records.items()}  # seed 0's episode, 201 trials
    missed = {"action": -1, "state": -1, "choice2": -1, "reward": np.nan, "missed": True}
    k = 50

    def with_missed(trials, at):  # a missed trial inserted before trial `at` of `trials`
        return {name: np.insert(values, at, missed[name]) for name, values in trials.items()}

    def marked(trials, at):
        return {name: np.where(np.arange(len(values)) == at, missed[name], values) for name, values in trials.items()}

    people = {name: np.stack([person[name], marked(person, k)[name]]) for name in person}
    logits = a2c.replay_logits(shipped, people)
    assert np.isnan(logits[:, 1, k]).all() and not np.isnan(logits[:, 1, np.arange(201) != k]).any()
    np.testing.assert_array_equal(logits[:, 1, :k], logits[:, 0, :k])
    assert not np.allclose(logits[:, 1, k + 1 :], logits[:, 0, k + 1 :])  # trial k's choices and reward no longer enter
    # without the step counter, whose input counts the missed trial, skipping it leaves every other trial as it was
    timeless = dataclasses.replace(shipped, agent=dataclasses.replace(shipped.agent, timestep_scale=0.0))
    people = {name: np.stack([with_missed(person, 201)[name], with_missed(person, k)[name]]) for name in person}
    logits = a2c.replay_logits(timeless, people)  # 202 trials, one more than the task's episodes
    assert np.isnan(logits[:, 0, 201]).all() and np.isnan(logits[:, 1, k]).all()
    np.testing.assert_allclose(np.delete(logits[:, 1], k, axis=1), logits[:, 0, :201], rtol=0, atol=1e-6)


def valid_records():
    return {"action": np.array([[0, 1, -1]]), "state": np.array([[1, 2, -1]]), "choice2": np.array([[1, 0, -1]]),
            "reward": np.array([[1.0, 0.0, np.nan]]), "missed": np.array([[False, False, True]])}


@pytest.mark.parametrize("change, message", [
    (lambda r: r.pop("choice2"), r"records lack 'choice2'"),
    (lambda r: r.update(reward=r["reward"][:, :2]), r"records have shapes .*expected one shape \[person, trial\]"),
    (lambda r: r.update({k: v[0] for k, v in r.items()}), r"records have shapes .*expected one shape \[person, trial\]"),
    (lambda r: r["action"].__setitem__((0, 1), 2), r"records\['action'\] is 2 at \[person, trial\] = \[0, 1\]: expected one of \(0, 1\)"),
    (lambda r: r["state"].__setitem__((0, 0), S1), r"records\['state'\] is 0 at \[person, trial\] = \[0, 0\]"),
    (lambda r: r["missed"].__setitem__((0, 2), False), r"records\['action'\] is -1 at \[person, trial\] = \[0, 2\].*mark a missed trial"),
    (lambda r: r["reward"].__setitem__((0, 0), np.nan), r"records\['reward'\] is nan at \[person, trial\] = \[0, 0\]"),
], ids=["a field absent", "shapes differ", "one axis", "action 2", "state S1", "unmarked missed trial", "NaN reward"])
def test_bad_records_are_a_value_error_naming_what_and_where(change, message):
    records = valid_records()
    change(records)
    with pytest.raises(ValueError, match=message):
        a2c.replay_logits(tiny(configs.AgentConfig()), records)


@pytest.mark.parametrize("task", [configs.preset("biorxiv-final"), configs.preset("arxiv")], ids=["one step per trial", "two steps, no choice"])
def test_a_task_without_a_second_stage_choice_is_a_value_error(task):
    with pytest.raises(ValueError, match=rf"needs an agent of the drifting task \(rewards='drift'.*this one is of {configs.preset_name(task)}"):
        a2c.replay_logits(a2c.init_state(task, configs.AgentConfig(), [0]), valid_records())


def test_an_agent_reading_stakes_is_a_value_error():
    with pytest.raises(ValueError, match=r"this agent of kool2017-daw-stakes also reads the cues \['stake'\]"):
        a2c.replay_logits(a2c.init_state(configs.preset("kool2017-daw-stakes"), configs.AgentConfig(), [0]), valid_records())
