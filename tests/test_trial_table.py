"""Anyone's two-step data (twostep.trial_table): the per-trial table and hBayesDM's format read into the
project's records, bad input named on one line, the checks of `two-step data check`, and every built-in
dataset exported and read back unchanged (and fitted the same).

The tests of the built-in datasets take conftest's `data_root` (skipped without TWO_STEP_DATA_MIRROR).
"""

import os

import numpy as np
import pandas as pd
import pytest

from twostep import cli, datasets, trial_table
from twostep.configs import DATASETS, S2, S3
from twostep.datasets import RECORD_FILL, DatasetError

TABLE = """subject,trial,choice1,state2,choice2,reward,rt1,age,group
ann,1,0,0,1,1,0.5,31,a
ann,2,1,0,0,0,0.61,,a
ann,4,,1,,,0.7,31,
bob,1,1,1,0,0,0.4,25,b
ann,5,-1,-1,-1,,0.9,31,a
"""


def write(folder, name, text):
    path = folder / name
    path.write_text(text)
    return path


def one_line_naming(error, *words):
    message = str(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_a_table_reads_into_the_records_of_a_built_in_dataset(tmp_path):
    data = datasets.load(str(write(tmp_path, "mine.csv", TABLE)))
    records = data.records
    assert data.dataset == "mine" and list(data.subject) == ["ann", "bob"]
    assert set(records) == set(RECORD_FILL) and records["probs"].shape == (2, 1, 5, 4)
    assert {name: values.dtype.kind for name, values in records.items()} == {
        "action": "i", "state": "i", "common": "b", "reward": "f", "choice2": "i", "probs": "f", "missed": "b",
        "rt1": "f", "rt2": "f", "side1": "i", "side2": "i", "left1": "i", "left2": "i"}
    ann, bob = records["action"][0, 0], records["action"][1, 0]
    assert list(ann) == [0, 1, -1, -1, -1] and list(bob) == [1, -1, -1, -1, -1]
    assert list(records["state"][0, 0]) == [S2, S2, -1, S3, -1]  # trial 3 not in the table: nothing recorded
    assert list(records["common"][0, 0]) == [True, False, False, False, False]
    assert list(records["missed"][0, 0]) == [False, False, True, True, True]
    np.testing.assert_array_equal(records["reward"][0, 0], [1, 0, np.nan, np.nan, np.nan])
    np.testing.assert_array_equal(records["rt1"][0, 0], [0.5, 0.61, np.nan, 0.7, 0.9])
    assert records["missed"][1, 0, 1:].all() and np.isnan(records["probs"]).all() and (records["side1"] == -1).all()
    np.testing.assert_array_equal(data.age, [31, 25])
    np.testing.assert_array_equal(data.scores["age"], [31, 25])
    assert list(data.scores["group"]) == ["a", "b"] and data.included.all()


def test_rows_without_trial_numbers_are_the_trials_in_order_and_tabs_are_found(tmp_path):
    text = "subject\tchoice1\tstate2\tchoice2\treward\nx\t0\t1\t1\t1\ny\t1\t1\t0\t0\nx\t1\t1\t0\t0\n"
    for name in ("mine.tsv", "mine.txt", "mine.dat"):
        data = trial_table.read_table(write(tmp_path, name, text))
        assert list(data.subject) == ["x", "y"]
        assert list(data.records["action"][0, 0]) == [0, 1] and list(data.records["common"][0, 0]) == [False, True]
        assert list(data.records["missed"][1, 0]) == [False, True]


def test_an_hbayesdm_file_is_read_as_it_is(tmp_path):
    text = ("subjID\tlevel1_choice\tlevel2_choice\treward\n"
            "7\t1\t1\t1\n7\t1\t4\t0\n7\tNA\tNA\tNA\n7\t2\t3\t1\n8\t2\t2\t0\n")
    data = trial_table.read_table(write(tmp_path, "ts_data.txt", text))
    assert list(data.subject) == ["7", "8"]
    assert list(data.records["action"][0, 0]) == [0, 0, -1, 1]
    assert list(data.records["state"][0, 0]) == [S2, S3, -1, S3] and list(data.records["choice2"][0, 0]) == [0, 1, -1, 0]
    assert list(data.records["common"][0, 0]) == [True, False, False, True]
    assert list(data.records["state"][1, 0]) == [S2, -1, -1, -1] and not data.records["common"][1, 0, 0]
    np.testing.assert_array_equal(data.records["reward"][0, 0], [1, 0, np.nan, 1])


@pytest.mark.parametrize("text, words", [
    ("subject,choice1,state2,choice2,reward\nx,2,0,0,1\n", ["line 2", "'choice1'", "'2'", "0 or 1"]),
    ("subject,choice1,state2,choice2,reward\nx,0,0,0,1\nx,0,left,0,1\n", ["line 3", "'state2'", "'left'", "0 or 1"]),
    ("subject,choice1,state2,choice2,reward\nx,0,0,0,yes\n", ["line 2", "'reward'", "'yes'", "a number"]),
    ("subject,choice1,state2,choice2,reward\n,0,0,0,1\n", ["line 2", "'subject'", "the person's name"]),
    ("subject,trial,choice1,state2,choice2,reward\nx,2,0,0,0,1\nx,2,1,1,0,1\n", ["line 3", "'trial'", "'2'", "above the person's previous"]),
    ("subject,trial,choice1,state2,choice2,reward\nx,1.5,0,0,0,1\n", ["line 2", "'trial'", "'1.5'", "a trial number"]),
    ("subject,choice1,state2,choice2,reward,age\nx,0,0,0,1,30\ny,0,0,0,1,40\nx,1,0,0,1,31\n", ["line 4", "'age'", "'31'", "'30'", "constant"]),
    ("subject,choice1,state2,choice2,reward,prob_state1_choice0\nx,0,0,0,1,1.2\n", ["line 2", "'prob_state1_choice0'", "'1.2'", "[0, 1]"]),
    ("subject,choice1,state2,choice2,reward\nx,0,0,0\n", ["line 2", "4 comma-separated fields", "5"]),
    ("subject,choice,state,reward\nx,0,0,1\n", ["line 1", "'choice1'", "'level1_choice'", "docs/your-data.md"]),
    ("subject,Choice1,choice_1,state2,choice2,reward\nx,0,0,0,0,1\n", ["line 1", "'choice_1'", "twice"]),
    ("subjID,level1_choice,level2_choice,reward\nx,1,5,1\n", ["line 2", "'level2_choice'", "'5'", "1, 2, 3 or 4"]),
    ("", ["empty", "header"]),
    ("subject,choice1,state2,choice2,reward\n", ["no rows after the header"]),
    ("subject,choice1,state2,choice2,reward,Age\nx,0,0,0,1,old\n", ["line 2", "'Age'", "'old'", "an age in years"]),
])
def test_bad_input_is_one_line_naming_the_file_line_column_value_and_what_is_accepted(tmp_path, text, words):
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(DatasetError) as error:
        datasets.load(str(path))
    one_line_naming(error, str(path), *words)


def test_a_name_that_is_neither_a_dataset_nor_a_file_says_both(tmp_path):
    with pytest.raises(DatasetError) as error:
        datasets.load(str(tmp_path / "none.csv"))
    one_line_naming(error, "none.csv", *DATASETS, "per-trial table")
    assert datasets.dataset_name("kool2016") == "kool2016" and datasets.dataset_name("/a/b/my_study.csv") == "my_study"


def test_a_table_written_and_read_back_is_the_same(tmp_path):
    data = trial_table.read_table(write(tmp_path, "mine.csv", TABLE))
    for name in ("again.csv", "again.tsv"):
        trial_table.write_table(data, tmp_path / name)
        again = trial_table.read_table(tmp_path / name)
        for key, values in data.records.items():
            np.testing.assert_array_equal(again.records[key], values, err_msg=key)
        assert list(again.subject) == list(data.subject) and list(again.scores["group"]) == ["a", "b"]
    frame = pd.read_csv(tmp_path / "again.csv")
    assert list(frame.columns[:len(trial_table.TABLE_COLUMNS)]) == list(trial_table.TABLE_COLUMNS)
    assert list(frame["trial"]) == [1, 2, 3, 4, 5, 1]  # trial 3 written as a missed trial; bob's padding not written


def test_an_hbayesdm_file_written_has_its_columns_and_na_where_missed(tmp_path):
    data = trial_table.read_table(write(tmp_path, "mine.csv", TABLE))
    trial_table.write_table(data, tmp_path / "mine_ts.txt", "hbayesdm")
    lines = (tmp_path / "mine_ts.txt").read_text().splitlines()
    assert lines[0].split("\t") == list(trial_table.HBAYESDM_COLUMNS)
    assert lines[1].split("\t") == ["ann", "1", "2", "1.0"] and lines[3].split("\t") == ["ann", "NA", "NA", "NA"]
    again = trial_table.read_table(tmp_path / "mine_ts.txt")
    for key in ("action", "choice2", "missed"):
        np.testing.assert_array_equal(again.records[key], data.records[key], err_msg=key)


def test_far_from_the_transition_rate_is_four_binomial_standard_errors():
    # 100 trials: the standard error is sqrt(0.21 / 100) = 0.0458, four of them 0.183
    assert list(trial_table.far_from_expected([70, 52, 51, 88, 89, 0], [100, 100, 100, 100, 100, 0])) == [
        False, False, True, False, True, False]


def test_the_check_warns_of_each_thing_that_looks_wrong(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for person in ("fine", "flipped", "stuck", "points"):
        choice1 = np.zeros(100, int) if person == "stuck" else rng.integers(0, 2, 100)
        common = rng.random(100) < (0.3 if person == "flipped" else 0.7)
        state2 = np.where(common, choice1, 1 - choice1)
        reward = rng.integers(0, 2, 100) * (5 if person == "points" else 1)
        rows += [f"{person},{a},{s},{c},{r}" for a, s, c, r in zip(choice1, state2, rng.integers(0, 2, 100), reward)]
    path = write(tmp_path, "odd.csv", "subject,choice1,state2,choice2,reward\n" + "\n".join(rows) + "\n")
    lines = trial_table.check_lines(datasets.load(str(path)))
    assert lines[0] == "odd: 4 people, 400 trials (100 to 100 per person), 0 missed (0.0%)"
    assert lines[1] == "common transitions: 0.573 of 400 trials with a transition (expected 0.7; 4 binomial standard errors: 0.092)"
    assert lines[2].startswith("stay probabilities, mean over people: rewarded, common 0.")
    warnings = [line for line in lines if line.startswith("warning: ")]
    assert len(warnings) == 4, lines
    assert "rate 0.573 is more than 4 binomial standard errors from 0.7" in warnings[0]  # 0.127 > 0.092
    assert "1 people have a common-transition rate" in warnings[1] and warnings[1].endswith(": flipped")
    assert "same first-stage choice on every trial: stuck" in warnings[2]
    assert "of 1 people have a reward other than 0 or 1 (points)" in warnings[3] and "Bernoulli" in warnings[3]
    fine = write(tmp_path, "fine.csv", "subject,choice1,state2,choice2,reward\n" + "\n".join(rows[:100]) + "\n")
    assert not trial_table.check_warnings(datasets.load(str(fine)))


def test_data_check_and_export_on_the_command_line(tmp_path, capsys):
    path = write(tmp_path, "mine.csv", TABLE)
    cli.main(["data", "check", str(path)])
    printed = capsys.readouterr().out
    assert printed.startswith("mine: 2 people, 6 trials (1 to 5 per person), 3 missed")
    cli.main(["data", "export", str(path), "--format", "hbayesdm", "--out", str(tmp_path / "out" / "mine.txt")])
    assert "2 people, 6 rows (hbayesdm)" in capsys.readouterr().out
    assert (tmp_path / "out" / "mine.txt").read_text().startswith("subjID\tlevel1_choice")
    args = cli.build_parser().parse_args(["fit", "--data", str(path), "--models", "daw2011", "--out", str(tmp_path)])
    assert args.data == os.path.abspath(path)


# ---- The built-in datasets ----


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_built_in_dataset_exported_and_read_back_is_the_same(data_root, tmp_path, dataset):
    data = datasets.load(dataset, data_root)
    cli.main(["data", "export", dataset, "--root", str(data_root), "--out", str(tmp_path / f"{dataset}.csv")])
    again = datasets.load(str(tmp_path / f"{dataset}.csv"))
    assert again.records.keys() == data.records.keys()
    for key, values in data.records.items():
        assert again.records[key].dtype == values.dtype, key
        np.testing.assert_array_equal(again.records[key], values, err_msg=key)  # NaNs where they were
    np.testing.assert_array_equal(again.subject, data.subject)
    np.testing.assert_array_equal(again.age, data.age)
    for name, values in data.scores.items():
        np.testing.assert_array_equal(again.scores[name], values, err_msg=name)


def test_hbayesdm_export_keeps_the_choices_states_and_rewards(data_root, tmp_path):
    data = datasets.load("potter2017", data_root)
    trial_table.write_table(data, tmp_path / "potter.txt", "hbayesdm")
    again = datasets.load(str(tmp_path / "potter.txt"))
    for key in ("action", "choice2", "reward", "missed"):
        np.testing.assert_array_equal(again.records[key], data.records[key], err_msg=key)
    second = data.records["choice2"] >= 0  # the state is written with the second choice only (level2_choice)
    np.testing.assert_array_equal(again.records["state"][second], data.records["state"][second])


@pytest.mark.slow
@pytest.mark.parametrize("extra", [[], ["--empirical-bayes", "--iterations", "1"]], ids=["map", "empirical-bayes"])
def test_fits_of_an_exported_table_are_those_of_the_dataset(data_root, tmp_path, ray_instance, extra):
    table = tmp_path / "exported.csv"
    trial_table.write_table(datasets.load("potter2017", data_root), table)
    common = ["--models", "daw2011-mb", "--restarts", "1", "--cpus", "2", *extra]
    cli.main(["fit", "--data", "potter2017", "--root", str(data_root), "--out", str(tmp_path / "a"), *common])
    cli.main(["fit", "--data", str(table), "--out", str(tmp_path / "b"), *common])
    ending = "_fits_eb.csv" if extra else "_fits.csv"
    built_in = pd.read_csv(tmp_path / "a" / f"potter2017{ending}")
    exported = pd.read_csv(tmp_path / "b" / f"exported{ending}")
    assert len(built_in) == 74
    pd.testing.assert_frame_equal(exported, built_in, check_exact=True)


@pytest.mark.slow
def test_predictions_of_an_exported_table_are_those_of_the_dataset(data_root, tmp_path, ray_instance):
    table = tmp_path / "exported.csv"
    trial_table.write_table(datasets.load("potter2017", data_root), table)
    common = ["--models", "baseline", "--folds", "2", "--cpus", "2"]
    cli.main(["predict", "--data", "potter2017", "--root", str(data_root), "--out", str(tmp_path / "a"), *common])
    cli.main(["predict", "--data", str(table), "--out", str(tmp_path / "b"), *common])
    built_in, exported = (pd.read_csv(tmp_path / folder / "prediction_people.csv", dtype={"subject": str}) for folder in "ab")
    assert set(built_in["dataset"]) == {"potter2017"} and set(exported["dataset"]) == {"exported"}
    assert os.path.isdir(tmp_path / "b" / "exported_prediction") and len(exported) == 2 * 2 * 74
    pd.testing.assert_frame_equal(exported.drop(columns="dataset"), built_in.drop(columns="dataset"), check_exact=True)


def test_the_agents_records_become_one_person_per_seed_and_episode(tmp_path):
    rng = np.random.default_rng(1)
    shape = (2, 3, 10)  # seed, episode, trial: as a2c_lstm.evaluate returns them on the drifting task
    action = rng.integers(0, 2, shape).astype(np.int32)
    common = rng.random(shape) < 0.7
    records = {"action": action, "state": np.where(common, action, 1 - action).astype(np.int32) + S2, "common": common,
               "reward": rng.integers(0, 2, shape).astype(np.float32), "choice2": rng.integers(0, 2, shape).astype(np.int32),
               "probs": rng.uniform(0.25, 0.75, (*shape, 4)).astype(np.float32), "prob": rng.random(shape).astype(np.float32)}
    data = trial_table.agent_data(records, (4, 7))
    assert list(data.subject) == ["4-1", "4-2", "4-3", "7-1", "7-2", "7-3"] and list(data.scores["seed"]) == [4, 4, 4, 7, 7, 7]
    trial_table.write_table(data, tmp_path / "agent.csv")
    again = datasets.load(str(tmp_path / "agent.csv"))
    for key in ("action", "state", "common", "reward", "choice2", "probs"):
        np.testing.assert_array_equal(again.records[key][:, 0], np.asarray(records[key]).reshape(6, *np.shape(records[key])[2:]), err_msg=key)
    assert not again.records["missed"].any() and list(again.scores["episode"]) == [1, 2, 3, 1, 2, 3]
    with pytest.raises(ValueError, match="drifting task"):
        trial_table.agent_data({key: records[key] for key in ("action", "state", "common", "reward")}, (0, 1))
    with pytest.raises(ValueError, match="no column for the stakes of Kool et al.'s tasks"):
        trial_table.agent_data(dict(records, stake=np.ones(shape, np.float32)), (0, 1))


@pytest.mark.slow
def test_evaluate_writes_the_agents_records_as_a_table(tmp_path, capsys):
    path = tmp_path / "agent.csv"
    model = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "results", "daw-2011", "model_0", "model-40000")
    cli.main(["evaluate", "--model", model, "--episodes", "2", "--records", str(path)])
    data = datasets.load(str(path))
    assert list(data.subject) == ["0-1", "0-2"] and not data.records["missed"].any()
    assert set(np.unique(data.records["action"])) <= {0, 1} and np.isfinite(data.records["probs"]).all()
    wang = os.path.join(os.path.dirname(model), os.pardir, os.pardir, "biorxiv", "final", "model_3", "model-20000")
    with pytest.raises(SystemExit) as stop:
        cli.main(["evaluate", "--model", wang, "--episodes", "2", "--records", str(tmp_path / "wang.csv")])
    assert stop.value.code == 2 and "only the drifting task" in capsys.readouterr().err and not (tmp_path / "wang.csv").exists()
