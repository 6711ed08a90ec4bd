"""The command line as a newcomer meets it: instant help, one-line errors, no TensorFlow noise,
clear messages for bad paths (progress: tests/test_progress.py)."""

import dataclasses
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import a2c_lstm as a2c
from twostep import checkpoints, cli, configs, run_layout

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TENSORFLOW_LINE = re.compile(r"^[IWEF]0000 |cuda|oneDNN|absl::InitializeLog|tensorflow", re.IGNORECASE | re.MULTILINE)
SHIPPED = os.path.join(ROOT, "results", "biorxiv", "final")


def run(*argv):
    """A command as a user types it, in a clean environment (no log level set)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=ROOT, env=environment, timeout=300)


HELP = [["a2c_lstm.py", "--help"], ["a2c_lstm.py", "train", "--help"], ["a2c_lstm.py", "evaluate", "--help"],
        ["a2c_lstm.py", "figures", "--help"], ["helper.py", "--help"], ["-m", "twostep.cli", "--help"]]
BAD_FLAGS = [["a2c_lstm.py", "train", "--task", "nope", "--episodes", "5", "--out", "x"], ["a2c_lstm.py", "evaluate"],
             ["helper.py"], ["a2c_lstm.py", "train", "--task", "arxiv", "--episodes", "0", "--out", "x"]]


@pytest.mark.parametrize("argv", HELP)
def test_help_is_quiet(argv):
    result = run(*argv)
    assert result.returncode == 0 and result.stderr == "" and "usage:" in result.stdout


@pytest.mark.parametrize("argv", BAD_FLAGS)
def test_a_bad_flag_is_one_line_and_nothing_else(argv):
    result = run(*argv)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "error:" in result.stderr
    assert not TENSORFLOW_LINE.search(result.stderr.replace("error:", ""))


def test_help_shows_the_defaults_and_the_headline_choice(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 1000)" in text and "(default: 0.0007)" in text
    assert "the shipped biorxiv-final headline uses 0.005 (t / 200); 0 feeds no counter (default: 1.0)" in text


@pytest.mark.slow
def test_evaluating_prints_no_tensorflow_line():
    result = run("a2c_lstm.py", "evaluate", "--model", os.path.join(SHIPPED, "model_0", "model-40000"), "--episodes", "2")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and "mean" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("make_folder", [False, True])
def test_figures_of_a_folder_without_checkpoints_is_one_line(tmp_path, make_folder):
    folder = tmp_path / "empty"
    if make_folder:
        folder.mkdir()
    result = run("helper.py", str(folder))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [  # `helper.py RUN` is `figures RUN`: its errors are the figures command's
        f"helper.py figures: error: no run folder {str(folder)!r}" if not make_folder
        else f"helper.py figures: error: no checkpoints model_<seed>/model-<episode> under {str(folder)!r}"
    ]


def test_records_path_that_cannot_be_written_stops_before_evaluating(tmp_path, capsys):
    (tmp_path / "a-file").write_text("")
    records = str(tmp_path / "a-file" / "runs" / "r.npz")  # under a file: no one can create that folder
    with pytest.raises(SystemExit) as stop:
        cli.main(["evaluate", "--model", "anything", "--records", records])
    assert stop.value.code == 2
    assert f"cannot write {records!r}" in capsys.readouterr().err


def test_records_folder_is_created_and_a_missing_model_is_named_before_tensorflow(tmp_path, capsys):
    records = str(tmp_path / "runs" / "seed3.npz")
    with pytest.raises(SystemExit) as stop:
        cli.main(["evaluate", "--model", str(tmp_path / "nope"), "--records", records])
    assert stop.value.code == 2 and os.path.isdir(tmp_path / "runs")
    assert capsys.readouterr().err.strip().splitlines() == [f"two-step evaluate: error: no checkpoint or run folder at {str(tmp_path / 'nope')!r}"]


def test_a_seed_folder_names_its_checkpoints():
    with pytest.raises(FileNotFoundError) as error:
        checkpoints.load_model(os.path.join(SHIPPED, "model_3"))
    message = str(error.value)
    assert "is a seed's folder, not a checkpoint" in message
    assert os.path.join(SHIPPED, "model_3", "model-20000") in message and os.path.join(SHIPPED, "model_3", "model-40000") in message


@pytest.mark.parametrize("path", ["", "   "])
def test_an_empty_path_is_named(path):
    with pytest.raises(FileNotFoundError, match="the path is empty"):
        checkpoints.load_model(path)


def test_every_shipped_config_records_every_field():
    import dataclasses
    import glob
    import json

    from twostep.configs import AgentConfig, TaskConfig

    for path in glob.glob(os.path.join(ROOT, "results", "**", "config.json"), recursive=True):
        config = json.load(open(path))
        assert set(config["agent"]) == {f.name for f in dataclasses.fields(AgentConfig)}, path
        assert set(config["task"]) == {f.name for f in dataclasses.fields(TaskConfig)}, path
        assert config["preset"] == configs.preset_name(TaskConfig(**config["task"])), path
    assert np.isfinite(AgentConfig().timestep_scale)


# ---- what a new user meets


def test_a_run_of_a_task_of_its_own_trains_says_where_and_draws_its_figures_elsewhere(tmp_path, capsys):
    run, figures = str(tmp_path / "run"), str(tmp_path / "figures")
    cli.main(["train", "--task", "biorxiv-final", "--common-prob", "0.7", "--trials-per-episode", "4", "--episodes", "20",
              "--save-every", "10", "--log-every", "10", "--out", run])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("seeds [0] at episode 20: checkpoints ") and os.path.join(run, "train_<seed>") in last
    cli.main(["figures", run, "--out", figures, "--episodes", "3"])
    out = capsys.readouterr().out
    assert "a task of its own (no preset)" in out and "side_by_side" not in out
    assert sorted(os.listdir(figures)) == ["reward_curve.png", "stay_probability.png"]


def test_evaluate_takes_a_run_folder(capsys):
    cli.main(["evaluate", "--model", SHIPPED, "--episodes", "2"])
    rows = capsys.readouterr().out.strip().splitlines()
    assert [row.split()[0] for row in rows[1:]] == [str(s) for s in range(8)] + ["mean"]


def test_evaluate_gives_the_drifting_task_reward_per_trial_too(capsys):
    cli.main(["evaluate", "--model", os.path.join(ROOT, "results", "daw-2011", "model_0", "model-40000"), "--episodes", "2"])
    header, row, _ = capsys.readouterr().out.strip().splitlines()
    assert "reward/episode  reward/trial" in header and "(2 episodes of 201 trials per seed)" in header
    per_episode, per_trial = float(row.split()[1]), float(row.split()[2])
    assert abs(per_episode / 201 - per_trial) < 1e-4 and 0.45 < per_trial < 0.65


@pytest.mark.parametrize("other, message", [
    (os.path.join(SHIPPED, "model_0", "model-40000"), "a checkpoint is given twice: "),
    (os.path.join(ROOT, "results", "biorxiv", "final-raw-timestep", "model_1", "model-40000"),
     "another agent: timestep_scale=1.0 (asked 0.005)"),
])
def test_checkpoints_that_cannot_be_evaluated_together_are_named(other, message, capsys):
    first = os.path.join(SHIPPED, "model_0", "model-40000")
    with pytest.raises(SystemExit):
        cli.main(["evaluate", "--model", first, other])
    error = capsys.readouterr().err
    assert message in error and first in error and len(error.strip().splitlines()) == 1


def test_a_checkpoint_without_its_config_file_says_so(tmp_path):
    import shutil

    path = str(tmp_path / "model_0" / "model-40000")
    shutil.copytree(os.path.join(SHIPPED, "model_0", "model-40000"), path)
    os.remove(os.path.join(path, "config.json"))
    with pytest.raises(checkpoints.CorruptCheckpointError, match=f"checkpoint {re.escape(path)} lacks its config.json"):
        checkpoints.load_model(path)


def test_resuming_when_every_checkpoint_is_corrupt_says_so_before_restarting(tmp_path):
    task, agent, out = configs.TaskConfig(trials_per_episode=4), configs.AgentConfig(), str(tmp_path)
    a2c.train(a2c.init_state(task, agent, [0]), 10, out=out, run=configs.RunConfig(save_every=10), progress=False)
    with open(os.path.join(out, "model_0", "model-10", "open_windows.npz"), "ab") as f:
        f.write(b"altered")
    said = []
    state = a2c.latest_state(task, agent, [0], out, log=said.append)
    assert state.episode == 0
    assert said[-1] == f"WARNING: none of the checkpoints under {out} is intact (episodes 10): seeds [0] start again from episode 0"


def test_ctrl_c_before_training_is_one_line(monkeypatch, capsys, tmp_path):
    def interrupted(out):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.run_layout, "check_writable", interrupted)
    with pytest.raises(SystemExit) as stop:
        cli.main(["train", "--task", "arxiv", "--episodes", "5", "--out", str(tmp_path)])
    assert stop.value.code == 130 and capsys.readouterr().err.strip() == "two-step: interrupted"


def test_every_config_field_is_a_train_flag_with_its_help(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for config in (configs.TaskConfig, configs.AgentConfig, configs.RunConfig):
        for field in dataclasses.fields(config):
            assert f"--{field.name.replace('_', '-')}" in text and " ".join(field.metadata["help"].split()) in text, field.name


def test_init_from_starts_a_new_run_from_another_runs_weights(tmp_path, capsys):
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    common = ["--task", "biorxiv-final", "--trials-per-episode", "4", "--seeds", "0-1", "--save-every", "10", "--log-every", "10"]
    cli.main(["train", *common, "--episodes", "10", "--common-prob", "0.6", "--out", first])
    cli.main(["train", *common, "--episodes", "10", "--out", second, "--init-from", first])
    assert "starting from the weights of" in capsys.readouterr().out
    source = checkpoints.load_models(run_layout.latest_checkpoints(first))
    warm = checkpoints.warm_start(a2c.init_state(configs.preset("biorxiv-final"), configs.AgentConfig(), [0, 1]), source)
    expected = a2c.train(dataclasses.replace(warm, task=configs.TaskConfig(trials_per_episode=4)), 10, progress=False)
    trained = checkpoints.load_models(run_layout.latest_checkpoints(second))
    for ours, theirs in zip(trained.params, expected.params):
        np.testing.assert_array_equal(ours, theirs)
    with pytest.raises(SystemExit):
        cli.main(["train", *common[:-4], "--seeds", "5", "--episodes", "10", "--out", str(tmp_path / "third"), "--init-from", first])
    assert "--init-from holds seeds [0, 1], not [5]" in capsys.readouterr().err


# ---- help at once, one error prefix per command, misspelt flags, defaults, nothing half-written


HEAVY = ("numpy", "scipy", "tensorflow", "ray", "pandas")


def test_parsing_and_help_import_nothing_heavy():
    """`two-step --help` answers in a fraction of a second: neither building the parser nor any command's
    help loads numpy, scipy, TensorFlow, Ray, pandas, or the modules that need them."""
    code = f"""
import contextlib, io, sys
from twostep import cli
parser = cli.build_parser()
for argv in ([], ["train"], ["evaluate"], ["figures"], ["sweep"], ["fit"], ["predict"], ["data"], ["data", "fetch"], ["data", "check"],
             ["data", "export"]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        cli.main([*argv, "--help"])
print(sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r} or m in ("twostep.datasets", "twostep.sweep", "twostep.prediction")))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("argv, prefix, status", [
    (["train", "--task", "arxiv", "--episodes", "5", "--common-prob", "2", "--out", "OUT"], "two-step train: error: TaskConfig.common_prob", 2),
    (["train", "--task", "nope", "--episodes", "5", "--out", "OUT"], "two-step train: error: argument --task: invalid choice", 2),
    (["fit", "--data", "kool2016", "--models", "kool2061", "--out", "OUT"], "two-step fit: error: unknown model 'kool2061'", 2),
    (["fit", "--data", "kool2016", "--models", "kool2016", "--out", "OUT", "--root", "TMP/none"], "two-step fit: error: ", 2),
    (["fit", "--data", "nope", "--models", "kool2016", "--out", "OUT"],
     "two-step fit: error: argument --data: 'nope' is neither a dataset (kool2016, decker2016, potter2017, gillan2016, kool2016-novel, kool2017-novel-stakes, kool2017-daw-stakes) nor an existing file", 2),
    (["data", "check", "TMP/none.csv"], "two-step data check: error: argument NAME|FILE: ", 2),
    (["data", "export", "kool2016", "--out", "OUT/k.csv", "--root", "TMP/none"], "two-step data export: error: ", 2),
    (["predict", "--data", "kool2016", "--models", "nope", "--out", "OUT"], "two-step predict: error: ", 2),
    (["predict", "--data", "kool2016", "--out", "OUT", "--root", "TMP/none"], "two-step predict: error: ", 2),
    (["predict", "--data", "kool2016", "--out", "OUT", "--folds", "x"], "two-step predict: error: argument --folds: invalid value", 2),
    (["data", "fetch", "kool2016", "--to", "TMP/data", "--from", "TMP/none"], "two-step data fetch: error: ", 1),
    (["data", "fetch", "kool2061"], "two-step data fetch: error: argument dataset: invalid choice", 2),
    (["evaluate", "--model", "TMP/none"], "two-step evaluate: error: no checkpoint or run folder", 2),
    (["nope"], "two-step: error: argument command: invalid choice", 2),
])
def test_every_error_of_a_command_is_one_line_prefixed_with_the_command(tmp_path, capsys, argv, prefix, status):
    """argparse's own errors (`two-step train: error: ...`) and the commands' (after parsing) read alike."""
    argv = [a.replace("OUT", str(tmp_path / "out")).replace("TMP", str(tmp_path)) for a in argv]
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == status and len(err.strip().splitlines()) == 1 and err.startswith(prefix), err
    if argv[0] != "predict":  # and nothing is left behind (predict: its --out is made before the data are read)
        assert not (tmp_path / "out").exists() and not (tmp_path / "data").exists()


@pytest.mark.parametrize("argv, unknown, hint", [
    (["train", "--task", "biorxiv-final", "--seeds", "0", "--episodez", "10", "--out", "x"], "--episodez 10", " (did you mean --episodes?)"),
    (["train", "--task", "arxiv", "--episodes", "10", "--out", "x", "--lerning-rate=1e-3"], "--lerning-rate=1e-3", " (did you mean --learning-rate?)"),
    (["fit", "--data", "kool2016", "--modles", "kool2016", "--out", "x", "--restrats", "2"], "--modles kool2016 --restrats 2",
     " (did you mean --models for --modles, --restarts for --restrats?)"),
    (["data", "fetch", "kool2016", "--form", "mirror"], "--form mirror", " (did you mean --from?)"),
    (["figures", "run", "extra"], "extra", ""),
])
def test_a_misspelt_flag_is_named_rather_than_a_required_one_missing(capsys, argv, unknown, hint):
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    err = capsys.readouterr().err
    command = " ".join(argv[:2] if argv[0] == "data" else argv[:1])
    assert stop.value.code == 2
    assert err == f"two-step {command}: error: unrecognized arguments: {unknown}{hint}\n"


def subcommands(parser):
    """{'train': its parser, ..., 'data fetch': its parser} of every command."""
    found = {}
    for action in parser._actions:
        if isinstance(action, cli.argparse._SubParsersAction):
            for name, command in action.choices.items():
                inner = subcommands(command)
                found.update({f"{name} {k}": v for k, v in inner.items()} if inner else {name: command})
    return found


def test_every_flag_with_a_default_shows_it_in_the_help():
    commands = subcommands(cli.build_parser())
    assert set(commands) == {"train", "evaluate", "figures", "sweep", "fit", "predict", "regress", "data fetch", "data check", "data export"}
    for name, command in commands.items():
        for action in command._actions:
            if action.default is None or action.default is False or action.default == cli.argparse.SUPPRESS:
                continue
            formatter = command._get_formatter()
            formatter.add_argument(action)
            shown = " ".join(formatter.format_help().split())
            assert f"(default: {action.default})" in shown, f"two-step {name} {action.option_strings}: {shown}"


def test_predict_help_names_every_family_and_the_seeds_default(capsys):
    from twostep import configs

    with pytest.raises(SystemExit):
        cli.main(["predict", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"families ({', '.join(('all', *configs.FAMILIES))})" in text and "extended" in configs.FAMILIES
    assert "initial weights (default: 0)" in text


def test_the_help_names_come_from_the_modules_that_use_them():
    from twostep import configs, datasets, prediction, sweep

    assert datasets.DATASETS is configs.DATASETS and sweep.DEFAULT_GROUP_SIZE is configs.DEFAULT_GROUP_SIZE
    assert prediction.FAMILIES is configs.FAMILIES
    assert set(prediction.MODEL_GROUPS) == {"all", *configs.FAMILIES}


def failing_fit(monkeypatch, error):
    """`two-step fit` whose fitting writes a chunk into <out>/kool2016_fits/ and then raises `error`."""
    from twostep import datasets, population_fits, sweep

    def run_fits(dataset, models, out, *args, **kwargs):
        os.makedirs(os.path.join(out, f"{dataset}_fits"), exist_ok=True)
        with open(os.path.join(out, f"{dataset}_fits", "kool2016-mf_0000-0049_abc.csv"), "w") as chunk:
            chunk.write("subject\n1\n")
        raise error

    monkeypatch.setattr(datasets, "load", lambda dataset, root=None: None)
    monkeypatch.setattr(sweep, "connect", lambda address, cpus: None)
    monkeypatch.setattr(population_fits, "run_fits", run_fits)


def test_a_failed_fit_leaves_no_empty_folder_it_made_and_keeps_its_finished_chunks(tmp_path, monkeypatch):
    out = tmp_path / "new" / "humans"
    monkeypatch.setattr(cli, "_fit", lambda parser, args: os.makedirs(os.path.join(args.out, "kool2016_fits")) or 1 / 0)
    with pytest.raises(ZeroDivisionError):
        cli.main(["fit", "--data", "kool2016", "--models", "kool2016-mf", "--out", str(out)])
    assert list(tmp_path.iterdir()) == []  # neither the chunk folder, nor out, nor the folder above it, all made by the fit
    monkeypatch.undo()
    failing_fit(monkeypatch, RuntimeError("a Ray task failed"))
    existing = tmp_path / "results"
    existing.mkdir()
    (existing / "kept.csv").write_text("x\n")
    with pytest.raises(RuntimeError, match="a Ray task failed"):
        cli.main(["fit", "--data", "kool2016", "--models", "kool2016-mf", "--out", str(existing)])
    assert sorted(p.name for p in existing.iterdir()) == ["kept.csv", "kool2016_fits"]  # what was there stays
    assert os.listdir(existing / "kool2016_fits") == ["kool2016-mf_0000-0049_abc.csv"]  # a finished chunk: a rerun resumes


def test_a_predict_without_its_data_leaves_no_folder(tmp_path, capsys):
    out = tmp_path / "new" / "humans"
    with pytest.raises(SystemExit) as stop:
        cli.main(["predict", "--data", "kool2016", "--out", str(out), "--root", str(tmp_path / "no-data")])
    assert stop.value.code == 2 and capsys.readouterr().err.startswith("two-step predict: error: ")
    assert list(tmp_path.iterdir()) == []


def test_a_fit_stopped_by_ctrl_c_keeps_its_finished_chunks_to_resume(tmp_path, monkeypatch, capsys):
    failing_fit(monkeypatch, KeyboardInterrupt())
    with pytest.raises(SystemExit) as stop:
        cli.main(["fit", "--data", "kool2016", "--models", "kool2016-mf", "--out", str(tmp_path / "out")])
    assert stop.value.code == 130 and capsys.readouterr().err.strip() == "two-step: interrupted"
    assert os.listdir(tmp_path / "out" / "kool2016_fits") == ["kool2016-mf_0000-0049_abc.csv"]
