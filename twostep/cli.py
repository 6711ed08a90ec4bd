"""The command line: train, evaluate, draw a run's figures, sweep a grid on Ray, fetch, check and export data, fit and predict people.

    two-step train --task biorxiv-final --seeds 0-7 --episodes 40000 --timestep-scale 0.005 --out runs/mine
    two-step evaluate --model runs/mine --episodes 300
    two-step figures runs/mine
    two-step sweep --task biorxiv-final --set learning_rate=3.5e-4,7e-4 --seeds 0-15 --episodes 20000 --out runs/sweep
    two-step data fetch kool2016
    two-step data check my_study.csv
    two-step data export potter2017 --format table --out potter2017.csv
    two-step fit --data kool2016 --models kool2016 --out results/humans
    two-step predict --data kool2016 --out results/humans

(`python a2c_lstm.py ...` and `python helper.py <run>` run the same commands.) The flags of
`train` are the fields of `TaskConfig`, `AgentConfig` and `RunConfig` (configs.py), with their
help text, so a new field is a new flag. Flags and paths are checked before TensorFlow loads, so
`--help`, a bad flag or a bad path answer at once, with one line; so does Ctrl-C.

Parsing imports nothing heavy (configs.py and run_layout.py only: no numpy, no TensorFlow, no Ray),
so `--help` answers in a fraction of a second; each command imports what it needs once its
arguments are parsed. Every error of a command is one line, `two-step <command>: error: ...`
(`two-step data fetch: error: ...`), whether argparse finds it (exit status 2) or the command does
after parsing (status 2 for a bad flag value or path, 1 for a failure of the work itself).
"""

import argparse
import contextlib
import dataclasses
import os
import sys

from twostep import configs, run_layout
from twostep.configs import (ARBITRATION_DATASETS, DATASETS, DEFAULT_GROUP_SIZE, FAMILIES, PRESETS, AgentConfig, RunConfig, SamplerConfig, TaskConfig,
                             VariationalConfig)


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line `<prog>: error: ...`, and which names a misspelt flag as unrecognized
    rather than a required one as missing (argparse checks the required flags first)."""

    def error(self, message):
        self.fail(message, 2)

    def fail(self, message, status=1):
        """Exit with `status` after the one line `<prog>: error: <message>` (a subcommand's prog: `two-step fit`)."""
        self.exit(status, f"{self.prog}: error: {message}\n")

    def parse_known_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        required = [action for action in self._actions if action.required]
        try:  # first without the required flags, to find what is not a flag of this command at all
            for action in required:
                action.required = False
            _, unknown = super().parse_known_args(args, argparse.Namespace(**vars(namespace)) if namespace else None)
        finally:
            for action in required:
                action.required = True
        if unknown:
            self.error(f"unrecognized arguments: {' '.join(unknown)}{self._suggestion(unknown)}")
        return super().parse_known_args(args, namespace)

    def _suggestion(self, unknown):
        """' (did you mean --episodes?)' for a flag close to one of this command's, else ''."""
        import difflib

        close = {}
        for text in unknown:
            flag = text.split("=", 1)[0]
            if flag.startswith("--"):
                close.update({flag: match for match in difflib.get_close_matches(flag, self._option_string_actions, n=1)})
        if not close:
            return ""
        if len(close) == 1:
            return f" (did you mean {next(iter(close.values()))}?)"
        return " (did you mean " + ", ".join(f"{match} for {flag}" for flag, match in close.items()) + "?)"


class _DefaultsShown(argparse.HelpFormatter):
    """Help that shows each flag's default, where it has one (0 is a default; False, of a switch, is not)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS:
            return action.help
        return f"{action.help} (default: %(default)s)"


def parse_seeds(text):
    """'0-7' -> (0, ..., 7); '0,3,5' -> (0, 3, 5)."""
    try:
        seeds = []
        for part in text.split(","):
            low, _, high = part.partition("-")
            seeds.extend(range(int(low), int(high or low) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seeds {text!r}: expected a range like 0-7 or a list like 0,3,5")
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"invalid seeds {text!r}: expected distinct integers >= 0, like 0-7")
    return tuple(seeds)


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected an integer > 0")
    return value


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected a number > 0")
    return value


def field_value(name):
    """An argparse type for a config field: `configs.parse_value`'s parsing and message."""

    def parse(text):
        try:
            return configs.parse_value(name, text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parse.__name__ = name  # argparse names the type in its messages
    return parse


def add_config_flags(command, config, task_overrides=False):
    """A flag per field of a config dataclass, with the field's help; `task_overrides`: TaskConfig
    fields change the --task preset, so their default is the preset's own."""
    group = command.add_argument_group(f"{config.__name__} (twostep/configs.py)")
    for field in dataclasses.fields(config):
        default = None if task_overrides else field.default
        help = field.metadata["help"] + (" (default: the --task preset's)" if task_overrides else "")
        group.add_argument(f"--{field.name.replace('_', '-')}", type=field_value(field.name), default=default,
                           metavar=field.type.__name__.upper(), help=help)


def config_values(args, config):
    """{field: value} of the config flags given (for TaskConfig flags: those given at all)."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(config)}
    return {k: v for k, v in values.items() if v is not None}


def dataset_or_table(text, names=DATASETS):
    """A built-in dataset's name (of `names`), or the path of an existing file (a per-trial table, docs/your-data.md),
    made absolute so that Ray's workers find it."""
    if text in names:
        return text
    if os.path.isfile(text):
        return os.path.abspath(text)
    raise argparse.ArgumentTypeError(f"{text!r} is neither a dataset ({', '.join(names)}) nor an existing file "
                                     "(a per-trial table: docs/your-data.md)")


def any_dataset_or_table(text):
    """`dataset_or_table` of Daw et al.'s task or Kool et al.'s own (`two-step fit` takes both)."""
    return dataset_or_table(text, (*DATASETS, *ARBITRATION_DATASETS))


def writable_file(path):
    """A file path whose folder can be created and written to (created here, before any work is done)."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        run_layout.check_writable(folder)
    except OSError:
        raise argparse.ArgumentTypeError(f"cannot write {path!r}: its folder {folder!r} cannot be created or written to") from None
    return path


TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt")  # `evaluate --records`: a per-trial table (trial_table.py), else .npz
DATA_HELP = (f"a dataset ({', '.join(DATASETS)}; fetched with two-step data fetch) or a per-trial table file "
             "(docs/your-data.md), named in the outputs by its stem")
ROOT_HELP = "data folder (default: $TWO_STEP_DATA, else ~/.cache/two-step/data)"


def build_parser(prog="two-step"):
    defaults = _DefaultsShown
    parser = _Parser(prog=prog, description="Meta-RL (single-worker A2C with an LSTM) on the two-step task.")
    commands = parser.add_subparsers(dest="command", required=True)

    train_cmd = commands.add_parser("train", formatter_class=defaults, help="train seeds side by side, resuming from checkpoints in --out")
    train_cmd.add_argument("--task", required=True, choices=sorted(PRESETS), help="task variant (docs/reference.md)")
    train_cmd.add_argument("--seeds", type=parse_seeds, default="0", help="seeds, a range 0-7 or a list 0,3,5")
    train_cmd.add_argument("--episodes", type=positive_int, required=True, help="total episodes per seed")
    train_cmd.add_argument("--out", required=True, help="folder for checkpoints model_<seed>/ and TensorBoard train_<seed>/")
    train_cmd.add_argument("--overwrite", action="store_true", help="delete the checkpoints and TensorBoard runs in --out and start afresh")
    train_cmd.add_argument("--init-from", metavar="RUN",
                           help="start a new run from the newest weights of each seed of another run (a curriculum); ignored when resuming")
    add_config_flags(train_cmd, AgentConfig)
    add_config_flags(train_cmd, RunConfig)
    add_config_flags(train_cmd, TaskConfig, task_overrides=True)

    eval_cmd = commands.add_parser("evaluate", formatter_class=defaults, help="test trained checkpoints with frozen weights")
    eval_cmd.add_argument("--model", nargs="+", required=True,
                          help="checkpoint folders (.../model_0/model-20000) or run folders (the newest checkpoint of each seed)")
    eval_cmd.add_argument("--episodes", type=positive_int, default=RunConfig.test_episodes, help="test episodes per seed")
    eval_cmd.add_argument("--records", type=writable_file, help="save the per-trial records to this file (its folder is created): "
                          ".npz, or a per-trial table .csv/.tsv/.txt (docs/your-data.md; the drifting task only), one person per seed and episode")

    figures_cmd = commands.add_parser(
        "figures", formatter_class=defaults, help="evaluate the newest checkpoint of every seed of a run and draw its figures"
    )
    figures_cmd.add_argument("run", help="a training folder, e.g. results/biorxiv/final")
    figures_cmd.add_argument("--episodes", type=positive_int, default=RunConfig.test_episodes, help="test episodes per seed")
    figures_cmd.add_argument("--out", help="folder for the figures (default: the run folder)")

    sweep_cmd = commands.add_parser("sweep", formatter_class=defaults, help="a grid of configurations x seeds, trained on Ray (sweep.py)")
    sweep_cmd.add_argument("--task", required=True, choices=sorted(PRESETS), help="task variant the settings change")
    sweep_cmd.add_argument("--set", action="append", default=[], metavar="FIELD=V1,V2", dest="settings",
                           help="values of an AgentConfig or TaskConfig field; repeat for a grid")
    sweep_cmd.add_argument("--seeds", type=parse_seeds, default="0-7", help="seeds of every configuration")
    sweep_cmd.add_argument("--episodes", type=positive_int, required=True, help="total episodes per seed")
    sweep_cmd.add_argument("--out", required=True, help="folder: <out>/<configuration>/model_<seed>/..., <out>/sweep.csv")
    sweep_cmd.add_argument("--group-size", type=positive_int, default=DEFAULT_GROUP_SIZE, help="seeds side by side in one Ray task")
    sweep_cmd.add_argument("--cpus-per-task", type=positive_float, default=1.0, help="CPUs Ray reserves for each group")
    sweep_cmd.add_argument("--cpus", type=positive_int, help="CPUs of the embedded Ray instance (default: all of this machine's)")
    sweep_cmd.add_argument("--address", help="a Ray cluster to join, e.g. auto or 10.0.0.1:6379 (default: $RAY_ADDRESS, else embedded)")
    sweep_cmd.add_argument("--retries", type=int, default=3, help="times Ray retries a group whose worker died")
    sweep_cmd.add_argument("--init-from", metavar="RUN",
                           help="a run folder: every configuration's seeds start from their newest checkpoints there (a curriculum)")
    add_config_flags(sweep_cmd, RunConfig)

    fit_cmd = commands.add_parser("fit", formatter_class=defaults, help="fit every person of a dataset with the published models (smallest first, each also started from the fits of the models nested in it), on Ray")
    fit_cmd.add_argument("--data", required=True, type=any_dataset_or_table, metavar="NAME|FILE",
                         help=DATA_HELP + f"; or one of Kool et al.'s own tasks ({', '.join(ARBITRATION_DATASETS)})")
    fit_cmd.add_argument("--models", required=True, help="comma-separated model names or groups, e.g. kool2016 or daw2011,nussenbaum2020")
    fit_cmd.add_argument("--out", required=True, help="folder: <out>/<data>_fits.csv and the chunks in <out>/<data>_fits/")
    fit_cmd.add_argument("--root", help=ROOT_HELP)
    fit_cmd.add_argument("--restarts", type=positive_int, default=16, help="random starting points per person and model")
    fit_cmd.add_argument("--chunk-size", type=positive_int, default=50, help="people per Ray task")
    fit_cmd.add_argument("--cpus", type=positive_int, help="CPUs of the embedded Ray instance (default: all of this machine's)")
    fit_cmd.add_argument("--address", help="a Ray cluster to join (default: $RAY_ADDRESS, else embedded)")
    fit_cmd.add_argument("--empirical-bayes", action="store_true", help="priors estimated from the sample by EM (empirical_bayes), "
                         "written to <out>/<data>_fits_eb.csv and <out>/<data>_eb/<model>_prior.csv; each model on its own, "
                         "--models naming models, not groups (daw2011 is the seven-parameter model alone)")
    fit_cmd.add_argument("--iterations", type=positive_int, default=20, help="EM iterations at most (--empirical-bayes)")
    fit_cmd.add_argument("--authors-trials", action="store_true", help="fit the trials the authors' likelihood counts (Kool et al.'s "
                         "tasks: in kool2017-daw-stakes, 529 second stages that timed out), to compare with their results.mat; "
                         "written as <out>/<data>-authors-trials_fits.csv")
    fit_cmd.add_argument("--overwrite", action="store_true", help="replace <out>/<data>_fits.csv even with worse fits or other people's (else refused)")
    bayes = fit_cmd.add_argument_group("hierarchical Bayesian fits (twostep/hierarchical.py, docs/hierarchical.md)")
    bayes.add_argument("--hierarchical", action="store_true", help="hBayesDM's hierarchy over each model, one Ray task per model: "
                       "<out>/<data>_hierarchical.csv, <data>_loo.csv, <data>_ppc.csv, every draw in <out>/<data>_hierarchical/")
    bayes.add_argument("--chains", type=positive_int, default=SamplerConfig.chains, help="NUTS chains")
    bayes.add_argument("--warmup", type=positive_int, default=SamplerConfig.warmup, help="NUTS warm-up iterations per chain")
    bayes.add_argument("--draws", type=positive_int, default=SamplerConfig.draws, help="draws kept per chain (NUTS) or in all (--variational)")
    bayes.add_argument("--target-accept", type=positive_float, default=SamplerConfig.target_accept,
                       help="NUTS's target acceptance probability, below 1 (raise it when there are divergences)")
    bayes.add_argument("--variational", action="store_true", help="variational inference (NumPyro's SVI) instead of NUTS, "
                       "for datasets where NUTS takes hours (Gillan et al.'s 1,961 people)")
    bayes.add_argument("--steps", type=positive_int, default=VariationalConfig.steps, help="SVI's Adam steps (--variational)")
    bayes.add_argument("--seed", type=int, default=0, help="the sampler's or the optimiser's seed")

    predict_cmd = commands.add_parser("predict", formatter_class=defaults, help="held-out prediction of people's choices by the published "
                                      "models, tiny recurrent networks, the meta-RL agent and baselines (prediction.py), on Ray")
    predict_cmd.add_argument("--data", required=True, type=dataset_or_table, metavar="NAME|FILE", help=DATA_HELP)
    predict_cmd.add_argument("--models", default="all", help=f"comma-separated contenders or families ({', '.join(('all', *FAMILIES))})")
    predict_cmd.add_argument("--out", required=True, help="folder: <out>/prediction.csv, <out>/prediction_people.csv and the tasks' files "
                             "in <out>/<data>_prediction/")
    predict_cmd.add_argument("--root", help=ROOT_HELP)
    predict_cmd.add_argument("--folds", type=positive_int, default=5, help="folds of trials (held-out trials) and of people (held-out people), >= 2")
    predict_cmd.add_argument("--restarts", type=positive_int, default=8, help="random starting points per person of a published model's fit")
    predict_cmd.add_argument("--eb-iterations", type=positive_int, default=3, help="EM iterations of the priors estimated from the sample (-eb models)")
    predict_cmd.add_argument("--seed", type=int, default=0, help="people's folds, restarts and networks' initial weights")
    predict_cmd.add_argument("--cpus", type=positive_int, help="CPUs of the embedded Ray instance (default: all of this machine's)")
    predict_cmd.add_argument("--address", help="a Ray cluster to join (default: $RAY_ADDRESS, else embedded)")

    regress_cmd = commands.add_parser("regress", formatter_class=defaults, help="Daw et al.'s stay regression per person and as "
                                      "a mixed-effects model, covariates crossed with reward x transition (symptoms.py)")
    regress_cmd.add_argument("--data", required=True, type=dataset_or_table, metavar="NAME|FILE", help=DATA_HELP)
    regress_cmd.add_argument("--covariates", default="", help="comma-separated per-person covariates: age or the data's score "
                             "columns, e.g. age (z-scored over the people fitted)")
    regress_cmd.add_argument("--out", required=True, help="folder: <out>/<data>_regress.csv (mixed) and <out>/<data>_regress_people.csv")
    regress_cmd.add_argument("--root", help=ROOT_HELP)

    data_cmd = commands.add_parser("data", formatter_class=defaults, help="the public human two-step datasets (twostep/datasets.py) "
                                   "and per-trial tables of anyone's (twostep/trial_table.py): fetch, check, export")
    data_commands = data_cmd.add_subparsers(dest="data_command", required=True)
    fetch_cmd = data_commands.add_parser("fetch", formatter_class=defaults, help="download a dataset at its pinned commit, SHA-256 checked")
    fetch_cmd.add_argument("dataset", nargs="+", choices=[*DATASETS, *ARBITRATION_DATASETS, "all"],
                           help="which datasets (Daw et al.'s task: " + ", ".join(DATASETS) + "; Kool et al.'s own tasks: "
                           + ", ".join(ARBITRATION_DATASETS) + ")")
    fetch_cmd.add_argument("--to", help=ROOT_HELP)
    fetch_cmd.add_argument("--from", dest="mirror", help="copy from a local mirror of the source repositories instead of downloading")
    check_cmd = data_commands.add_parser("check", formatter_class=defaults, help="people, trials, missed trials, transition rate and "
                                         "stay probabilities of a dataset or table, and warnings about what looks wrong")
    check_cmd.add_argument("data", type=dataset_or_table, metavar="NAME|FILE", help=DATA_HELP)
    check_cmd.add_argument("--root", help=ROOT_HELP)
    export_cmd = data_commands.add_parser("export", formatter_class=defaults, help="write a dataset or table as a per-trial table "
                                          "(docs/your-data.md) or in hBayesDM's two-step format")
    export_cmd.add_argument("data", type=dataset_or_table, metavar="NAME|FILE", help=DATA_HELP)
    export_cmd.add_argument("--format", choices=("table", "hbayesdm"), default="table",
                            help="table: the project's per-trial table (commas; tabs for .tsv, .tab, .txt); hbayesdm: "
                            "subjID, level1_choice, level2_choice, reward, tab-separated, NA where missed")
    export_cmd.add_argument("--out", required=True, help="the file to write (its folder is created)")
    export_cmd.add_argument("--root", help=ROOT_HELP)

    for command, handler in ((train_cmd, train), (eval_cmd, evaluate), (figures_cmd, figures), (sweep_cmd, sweep), (fit_cmd, fit),
                             (predict_cmd, predict), (regress_cmd, regress), (fetch_cmd, data), (check_cmd, data_check), (export_cmd, data_export)):
        command.set_defaults(handler=handler, command_parser=command)  # its errors: `two-step <command>: error: ...`
    return parser


def train(parser, args):
    try:
        task, agent, run = configs.configs_from(
            configs.preset(args.task), {**config_values(args, TaskConfig), **config_values(args, AgentConfig), **config_values(args, RunConfig)}
        )
        init_from = run_layout.latest_checkpoints(args.init_from) if args.init_from else None
        run_layout.check_writable(args.out)  # last: it creates the folder
    except (ValueError, OSError) as error:
        parser.error(str(error))
    import a2c_lstm
    from twostep import checkpoints

    def warn(message):
        print(message, file=sys.stderr)

    try:
        state = a2c_lstm.latest_state(task, agent, args.seeds, args.out, args.overwrite, log=warn)
        if init_from and state.episode == 0:
            state = checkpoints.warm_start(state, checkpoints.load_models(init_from))
            print(f"starting from the weights of {', '.join(init_from)}")
    except (ValueError, OSError) as error:
        parser.error(str(error))
    try:
        state = a2c_lstm.train_to(state, args.episodes, args.out, run=run)
    except checkpoints.TrainingInterrupted as stop:
        print(f"\ninterrupted: {stop}", file=sys.stderr)
        sys.exit(128 + stop.signum)
    except OSError as error:
        parser.fail(str(error))
    seeds = list(state.seeds)
    print(f"seeds {seeds} at episode {state.episode}: checkpoints {run_layout.checkpoint_path(args.out, '<seed>', state.episode)}, "
          f"TensorBoard {os.path.join(args.out, 'train_<seed>')} (tensorboard --logdir {args.out})")


def evaluate(parser, args):
    try:
        paths = run_layout.checkpoints_to_evaluate(args.model)
    except FileNotFoundError as error:
        parser.error(str(error))
    import numpy as np

    import a2c_lstm
    from two_step_env import STAY_CELLS, stay_probabilities
    from twostep import checkpoints

    try:
        state = checkpoints.load_models(paths)
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    as_table = bool(args.records) and args.records.lower().endswith(TABLE_SUFFIXES)
    if as_table and not state.task.second_stage_choice:
        parser.error(f"--records {args.records}: a per-trial table needs the second-stage choice, which only the drifting "
                     "task (Daw et al. 2011) has; give an .npz file")
    records = a2c_lstm.evaluate(state, args.episodes)
    if as_table:
        from twostep import trial_table

        trial_table.write_table(trial_table.agent_data(records, state.seeds), args.records)
    elif args.records:
        np.savez_compressed(args.records, **records)
    probs, _ = stay_probabilities(records["action"], records["common"], records["reward"])
    rewards = records["reward"].sum(-1).mean(-1)
    trials = records["reward"].shape[-1]
    print("seed  reward/episode  reward/trial  " + "  ".join(STAY_CELLS) + f"   ({args.episodes} episodes of {trials} trials per seed)")
    for seed, reward, p in zip(list(state.seeds) + ["mean"], list(rewards) + [rewards.mean()], list(probs) + [np.nanmean(probs, 0)]):
        print(f"{seed:>4}  {reward:14.2f}  {reward / trials:12.4f}  " + "  ".join(f"{x:{len(c)}.3f}" for x, c in zip(p, STAY_CELLS)))
    if args.records:
        print(f"records written to {args.records}")


def figures(parser, args):
    out = args.out or args.run
    try:
        if not os.path.isdir(args.run):
            raise FileNotFoundError(f"no run folder {args.run!r}")
        paths = run_layout.latest_checkpoints(args.run)
        run_layout.check_writable(out)
    except (FileNotFoundError, OSError) as error:
        parser.error(f"{error}" + ("; give --out DIR for the figures" if isinstance(error, PermissionError) or "not writable" in str(error) else ""))
    import helper
    from twostep import checkpoints

    try:
        state = checkpoints.load_models(paths)
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    helper.draw_run_figures(state, args.run, out, args.episodes)


def sweep(parser, args):
    from twostep import sweep as sweeps

    try:
        if not args.settings:
            raise ValueError("the grid is empty: give at least one --set field=value1,value2")
        configurations = sweeps.grid(args.task, [sweeps.parse_setting(s) for s in args.settings])
        run = RunConfig(**config_values(args, RunConfig))
        if args.init_from:
            sweeps.init_from_paths(args.init_from, args.seeds)  # a missing seed is named before Ray starts
        run_layout.check_writable(args.out)
        sweeps.connect(args.address, args.cpus)
    except (ValueError, ConnectionError, OSError) as error:
        parser.error(str(error))
    print(f"{len(configurations)} configurations x {len(args.seeds)} seeds, groups of {args.group_size}, into {args.out}")
    _, failures = sweeps.run_sweep(configurations, args.seeds, args.episodes, args.out, run, args.group_size, args.cpus_per_task, args.retries,
                                 init_from=args.init_from)
    print(f"table: {os.path.join(args.out, 'sweep.csv')}")
    if failures:
        parser.fail(f"{len(failures)} groups failed: " + "; ".join(f"{n} seeds {list(g)}" for n, g, _ in failures))


@contextlib.contextmanager
def no_empty_folders_on_failure(*folders):
    """If the block fails (an exception, an exit with an error, Ctrl-C), those of `folders` that it
    made, and the folders it made above them, are removed if they hold nothing: a failed command
    leaves no empty folder of its own, while finished work (a fit's chunk files, each written
    whole) stays, for a rerun to resume from."""
    new = set()
    for path in map(os.path.abspath, folders):
        while not os.path.lexists(path):
            new.add(path)
            path = os.path.dirname(path)
    try:
        yield
    except BaseException:
        for path in sorted(new, key=len, reverse=True):  # the deepest first
            with contextlib.suppress(OSError):
                os.rmdir(path)  # only if empty
        raise


def fit(parser, args):
    """`two-step fit`; a fit that fails leaves no empty folder it made (`no_empty_folders_on_failure`)."""
    from twostep import datasets

    with no_empty_folders_on_failure(*(os.path.join(args.out, datasets.dataset_name(args.data) + end) for end in ("_fits", "_eb", "_hierarchical"))):
        _fit(parser, args)


def _fit(parser, args):
    from twostep import datasets, population_fits
    from twostep import sweep as sweeps

    try:
        models = (population_fits.spec_names if args.empirical_bayes else population_fits.model_names)(args.models)
        if args.hierarchical and not args.target_accept < 1:
            raise ValueError(f"--target-accept {args.target_accept}: expected a probability below 1, e.g. 0.9")
        if args.hierarchical and args.empirical_bayes:
            raise ValueError("--hierarchical and --empirical-bayes: choose one (a posterior under the hierarchy, or MAP fits under estimated priors)")
        if args.variational and not args.hierarchical:
            raise ValueError("--variational fits a hierarchical model: add --hierarchical")
        run_layout.check_writable(args.out)
        datasets.load(args.data, args.root)  # a missing or broken file is named before Ray starts
        sweeps.connect(args.address, args.cpus)
    except (ValueError, ConnectionError, OSError) as error:
        parser.error(str(error))
    if args.hierarchical:
        return hierarchical_fit(parser, args, models)
    if args.empirical_bayes:
        for model in models:
            table, prior = population_fits.run_empirical_bayes(args.data, model, args.out, args.root, args.restarts, args.chunk_size,
                                                               iterations=args.iterations)
            print(f"{model}: {prior['iteration'].nunique()} EM iterations; the prior's last mean / SD of z per parameter: " + ", ".join(
                f"{row.parameter} {row.mean:.2f}/{row.sd:.2f}" for row in prior[prior["iteration"] == prior["iteration"].max()].itertuples()))
        print(f"fits under the estimated priors: {os.path.join(args.out, datasets.dataset_name(args.data) + '_fits_eb.csv')}")
        return
    try:
        table = population_fits.run_fits(args.data, models, args.out, args.root, args.restarts, args.chunk_size, overwrite=args.overwrite,
                                         authors_trials=args.authors_trials)
    except population_fits.WorseTable as error:
        parser.fail(str(error))
    print(f"{len(table)} fits ({table['subject'].nunique()} people x {len(models)} models): "
          f"{os.path.join(args.out, datasets.dataset_name(args.data) + '-authors-trials' * args.authors_trials + '_fits.csv')}")
    capped = table[table["status"] == "iteration cap"]
    if len(capped):
        print(f"warning: {len(capped)} fits stopped at the iteration cap (status column): " + ", ".join(
            f"{model} {', '.join(map(str, rows['subject'][:5]))}" for model, rows in capped.groupby("model")))


def hierarchical_fit(parser, args, models):
    """`two-step fit --hierarchical`: every model's posterior, its diagnostics and the tables."""
    from twostep import datasets, hierarchical

    if args.variational:
        settings = VariationalConfig(steps=args.steps, draws=args.draws, seed=args.seed)
    else:
        settings = SamplerConfig(chains=args.chains, warmup=args.warmup, draws=args.draws, seed=args.seed,
                                 target_accept=args.target_accept)
    tables = hierarchical.run_models(args.data, models, args.out, args.root, settings)
    name = datasets.dataset_name(args.data)
    group = tables["hierarchical"][tables["hierarchical"]["level"] == "group"]
    print(group.drop(columns=["dataset", "level", "subject"]).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    if "loo" in tables:
        print(tables["loo"].drop(columns="dataset").to_string(index=False, float_format=lambda x: f"{x:.1f}"))
    print("tables: " + ", ".join(os.path.join(args.out, f"{name}_{t}.csv") for t in tables)
          + f"; every draw: {os.path.join(args.out, name + '_hierarchical')}/<model>_<key>/draws.nc")


def predict(parser, args):
    """`two-step predict`; one that fails leaves no empty folder it made (`no_empty_folders_on_failure`)."""
    from twostep import datasets

    with no_empty_folders_on_failure(os.path.join(args.out, datasets.dataset_name(args.data) + "_prediction")):
        _predict(parser, args)


def _predict(parser, args):
    from twostep import datasets, prediction
    from twostep import sweep as sweeps

    try:
        models = prediction.contender_names(args.models)
        config = prediction.PredictionConfig(args.folds, args.restarts, args.seed, args.eb_iterations)
        run_layout.check_writable(args.out)
        datasets.load(args.data, args.root)  # a missing or broken file is named before Ray starts
        sweeps.connect(args.address, args.cpus)
    except (ValueError, ConnectionError, OSError) as error:
        parser.error(str(error))
    try:
        board, _ = prediction.run_predictions(args.data, models, args.out, args.root, config)
    except RuntimeError as error:
        parser.fail(str(error))
    shown = board[board["dataset"] == datasets.dataset_name(args.data)]
    print(shown.drop(columns="dataset").to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    print(f"leaderboard: {os.path.join(args.out, 'prediction.csv')}; per person: {os.path.join(args.out, 'prediction_people.csv')}")


def regress(parser, args):
    from twostep import datasets, symptoms

    covariates = [name.strip() for name in args.covariates.split(",") if name.strip()]
    loaded = loaded_data(parser, args)
    try:
        run_layout.check_writable(args.out)
        per_person, mixed, left_out = symptoms.regress(loaded, covariates)
    except (ValueError, OSError) as error:
        parser.error(str(error))
    except Exception as error:  # GPBoost's own failures (e.g. a covariate that separates the data)
        parser.fail(f"the mixed-effects fit failed: {type(error).__name__}: {error}")
    name = datasets.dataset_name(args.data)
    paths = [os.path.join(args.out, f"{name}_regress{end}.csv") for end in ("", "_people")]
    os.makedirs(args.out, exist_ok=True)
    for table, path in zip((mixed, per_person), paths):
        run_layout.write_atomically(path, lambda partial, table=table: table.to_csv(partial, index=False))
    people = per_person["subject"].nunique()
    print(f"{name}: {people} people" + (f" ({left_out} left out: a covariate missing)" if left_out else "")
          + f"; stay ~ reward x transition{' x (' + ' + '.join(covariates) + ')' if covariates else ''}, random effects per person")
    print(mixed.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    interaction = per_person[per_person["term"] == "reward x transition"]["coef"]
    print(f"per person, reward x transition: mean {interaction.mean():.3f}, median {interaction.median():.3f} "
          f"({(~per_person.groupby('subject')['converged'].all()).sum()} fits unsettled: separation or no convergence)")
    print(f"tables: {paths[0]}, {paths[1]}")


def data(parser, args):
    from twostep import datasets

    try:
        for dataset in dict.fromkeys(args.dataset):
            datasets.fetch(dataset, to=args.to, mirror=args.mirror)
    except (datasets.DatasetError, OSError) as error:
        parser.fail(str(error))


def loaded_data(parser, args):
    """`datasets.load` of the command's dataset or table, or its one-line error."""
    from twostep import datasets

    try:
        return datasets.load(args.data, args.root)
    except (datasets.DatasetError, OSError) as error:
        parser.error(str(error))


def data_check(parser, args):
    from twostep import trial_table

    print("\n".join(trial_table.check_lines(loaded_data(parser, args))))


def data_export(parser, args):
    from twostep import trial_table

    loaded = loaded_data(parser, args)  # before --out's folder is made: a bad dataset leaves nothing behind
    folder = os.path.dirname(os.path.abspath(args.out))
    with no_empty_folders_on_failure(folder):
        try:
            run_layout.check_writable(folder)
            rows = trial_table.write_table(loaded, args.out, args.format)
        except (ValueError, OSError) as error:
            parser.fail(str(error))
    print(f"{len(loaded.subject)} people, {rows} rows ({args.format}): {args.out}")


def main(argv=None, prog="two-step"):
    args = build_parser(prog).parse_args(argv)
    try:
        args.handler(args.command_parser, args)  # the command's own parser: its errors read `two-step <command>: error: ...`
    except KeyboardInterrupt:  # Ctrl-C before training's own handler is in place (loading TensorFlow, compiling)
        print(f"\n{prog}: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
