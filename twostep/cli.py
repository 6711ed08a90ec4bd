"""The command line: train, evaluate, draw a run's figures, sweep a grid on Ray.

    two-step train --task biorxiv-final --seeds 0-7 --episodes 40000 --timestep-scale 0.005 --out runs/mine
    two-step evaluate --model runs/mine/model_3/model-40000 --episodes 300
    two-step figures runs/mine
    two-step sweep --task biorxiv-final --set learning_rate=3.5e-4,7e-4 --seeds 0-15 --episodes 20000 --out runs/sweep

(`python a2c_lstm.py ...` and `python helper.py <run>` run the same commands.) Flags are parsed
and checked before TensorFlow loads, so `--help` and a bad flag answer at once, with one line.
"""

import argparse
import os
import sys

from twostep import configs
from twostep.configs import PRESETS, AgentConfig
from twostep.sweep import DEFAULT_GROUP_SIZE

HEADLINE_TIMESTEP_SCALE = 0.005  # the shipped biorxiv-final run: the step counter enters as t / 200


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag on one line and exits with status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


class _DefaultsShown(argparse.HelpFormatter):
    """Help that shows each flag's default, where it has one."""

    def _get_help_string(self, action):
        if action.default in (None, False, argparse.SUPPRESS):
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


def _number(accept, expected):
    """An argparse type: a float that `accept` takes, else an error saying what was `expected`."""

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not accept(value):
            raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected {expected}")
        return value

    return parse


positive_float = _number(lambda value: value > 0, "a number > 0")
non_negative_float = _number(lambda value: value >= 0, "a number >= 0")


def writable_file(path):
    """A file path whose folder exists and can be written to (checked before any work is done)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write {path!r}: its folder {folder!r} does not exist or is not writable")
    return path


def build_parser(prog="two-step"):
    defaults = _DefaultsShown
    parser = _Parser(prog=prog, description="Meta-RL (single-worker A2C with an LSTM) on the two-step task.")
    commands = parser.add_subparsers(dest="command", required=True)
    train_cmd = commands.add_parser("train", formatter_class=defaults, help="train seeds side by side, resuming from checkpoints in --out")
    train_cmd.add_argument("--task", required=True, choices=sorted(PRESETS), help="task variant (docs/reference.md)")
    train_cmd.add_argument("--seeds", type=parse_seeds, default="0", help="seeds, a range 0-7 or a list 0,3,5")
    train_cmd.add_argument("--episodes", type=positive_int, required=True, help="total episodes per seed")
    train_cmd.add_argument("--out", required=True, help="folder for checkpoints model_<seed>/ and TensorBoard train_<seed>/")
    train_cmd.add_argument("--save-every", type=positive_int, default=1000, help="checkpoint period in episodes")
    train_cmd.add_argument("--log-every", type=positive_int, default=500, help="stay-probability logging period")
    train_cmd.add_argument("--hidden", type=positive_int, default=AgentConfig.hidden, help="LSTM units")
    train_cmd.add_argument("--learning-rate", type=positive_float, default=AgentConfig.learning_rate, help="RMSProp learning rate")
    train_cmd.add_argument("--entropy-weight", type=positive_float, default=AgentConfig.entropy_weight, help="entropy bonus weight")
    train_cmd.add_argument(
        "--timestep-scale", type=non_negative_float, default=AgentConfig.timestep_scale,
        help=f"the step counter input is t times this; the default is the reference's raw t, "
        f"the shipped biorxiv-final headline uses {HEADLINE_TIMESTEP_SCALE} (t / 200); 0 feeds no counter",
    )
    train_cmd.add_argument(
        "--overwrite", action="store_true", help="delete the checkpoints and TensorBoard runs in --out and start afresh"
    )
    eval_cmd = commands.add_parser("evaluate", formatter_class=defaults, help="test trained checkpoints with frozen weights")
    eval_cmd.add_argument("--model", nargs="+", required=True, help="checkpoint folders, e.g. .../model_0/model-20000")
    eval_cmd.add_argument("--episodes", type=positive_int, default=300, help="test episodes per seed")
    eval_cmd.add_argument("--records", type=writable_file, help="save the per-trial records to this .npz file")
    figures_cmd = commands.add_parser(
        "figures", formatter_class=defaults, help="evaluate the newest checkpoint of every seed of a run and draw its figures"
    )
    figures_cmd.add_argument("out", help="a training folder, e.g. results/biorxiv/final")
    figures_cmd.add_argument("--episodes", type=positive_int, default=300, help="test episodes per seed")
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
    sweep_cmd.add_argument("--save-every", type=positive_int, default=1000, help="checkpoint period in episodes")
    sweep_cmd.add_argument("--log-every", type=positive_int, default=500, help="stay-probability logging period")
    sweep_cmd.add_argument("--test-episodes", type=positive_int, default=300, help="frozen test episodes per seed")
    return parser


def train(parser, args):
    import a2c_lstm

    agent = AgentConfig(
        hidden=args.hidden, learning_rate=args.learning_rate, entropy_weight=args.entropy_weight, timestep_scale=args.timestep_scale
    )
    try:
        a2c_lstm.check_writable(args.out)
        state = a2c_lstm.latest_state(configs.preset(args.task), agent, args.seeds, args.out, args.overwrite)
    except (ValueError, OSError) as error:
        parser.error(str(error))
    try:
        a2c_lstm.train_to(state, args.episodes, args.out, save_every=args.save_every, log_every=args.log_every)
    except a2c_lstm.TrainingInterrupted as stop:
        print(f"\ninterrupted: {stop}", file=sys.stderr)
        sys.exit(128 + stop.signum)
    except OSError as error:
        sys.exit(f"{parser.prog}: error: {error}")


def evaluate(parser, args):
    import numpy as np

    import a2c_lstm
    from two_step_env import STAY_CELLS, stay_probabilities
    from twostep import checkpoints

    try:
        state = checkpoints.stack_states([checkpoints.load_model(p) for p in args.model])
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    records = a2c_lstm.evaluate(state, args.episodes)
    if args.records:
        np.savez_compressed(args.records, **records)
    probs, _ = stay_probabilities(records["action"], records["common"], records["reward"])
    rewards = records["reward"].sum(-1).mean(-1)
    print("seed  reward/episode  " + "  ".join(STAY_CELLS))
    for seed, reward, p in zip(list(state.seeds) + ["mean"], list(rewards) + [rewards.mean()], list(probs) + [np.nanmean(probs, 0)]):
        print(f"{seed:>4}  {reward:14.2f}  " + "  ".join(f"{x:{len(c)}.3f}" for x, c in zip(p, STAY_CELLS)))


def figures(parser, args):
    if not os.path.isdir(args.out):
        parser.error(f"no run folder {args.out!r}")
    import helper
    from twostep import checkpoints

    try:
        paths = checkpoints.latest_checkpoints(args.out)
        state = checkpoints.stack_states([checkpoints.load_model(p) for p in paths])
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    helper.draw_run_figures(state, args.out, args.episodes)


def sweep(parser, args):
    from twostep import sweep as sweeps

    try:
        if not args.settings:
            raise ValueError("the grid is empty: give at least one --set field=value1,value2")
        configurations = sweeps.grid(args.task, [sweeps.parse_setting(s) for s in args.settings])
        os.makedirs(args.out, exist_ok=True)
        sweeps.connect(args.address, args.cpus)
    except (ValueError, ConnectionError, OSError) as error:
        parser.error(str(error))
    print(f"{len(configurations)} configurations x {len(args.seeds)} seeds, groups of {args.group_size}, into {args.out}")
    _, failures = sweeps.run_sweep(configurations, args.seeds, args.episodes, args.out, args.group_size, args.cpus_per_task,
                                   args.retries, args.save_every, args.log_every, args.test_episodes)
    print(f"table: {os.path.join(args.out, 'sweep.csv')}")
    if failures:
        sys.exit(f"{parser.prog}: error: {len(failures)} groups failed: " + "; ".join(f"{n} seeds {list(g)}" for n, g, _ in failures))


def main(argv=None, prog="two-step"):
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    {"train": train, "evaluate": evaluate, "figures": figures, "sweep": sweep}[args.command](parser, args)


if __name__ == "__main__":
    main()
