"""What the full command line costs over the compute-only trainer, measured through the real command.

Two kinds of process, each timed from its start to its exit:

  full     `two-step train --task biorxiv-final --seeds 0-7 --episodes N --timestep-scale 0.005
           --out <new folder>`: argument parsing, TensorFlow's import, compilation, TensorBoard
           every 10 episodes, stay probabilities every 500, checkpoints every 1,000 and at the end,
           the progress bar (to a file: stderr is not a terminal here);
  compute  the same seeds and episodes through the compiled trainer alone (`a2c_lstm.train` without
           `out`, as bench_train.py times it), in a process started the same way.

This machine's speed drifts over tens of seconds (a virtual machine sharing its host), so a pair run
one after the other can land on two speeds: such pairs' ratios ranged from 0.91 to 1.53 (docs/speed.md).
By default the two processes of a pair run at the same time, each held to one core of its own
(`os.sched_setaffinity`; which side gets which core alternates from pair to pair), so both meet the
same spells of the machine. That is the stricter test: the full run's checkpoint writer and
TensorBoard share its one core with its training instead of using the second core, as they do in a
run of its own. `--in-turn` runs the pairs one after the other on every core instead (the order
alternating from pair to pair), as a user's run would.

For each length N, every pair gives a ratio full / compute of wall times; printed are the median
ratio with a bootstrap 95% interval, the geometric mean with a 95% t-interval over the pairs, and
the seconds the full run adds; then the same ratios of CPU time (user + system, all threads). A
straight line through (N, seconds added) over every pair splits the added wall time into a fixed
part and a part per 1,000 episodes.

    python bench/bench_cli.py [--episodes 2000,5000,10000] [--repeats 10] [--seeds 0-7] [--in-turn]

`--help-times` measures instead each command's `--help`, from the process's start to its exit (min and
median of `--repeats`): parsing imports neither numpy nor TensorFlow, so each answers in about 0.1 s on
this machine (0.4 to 0.8 s before the command line deferred `twostep.datasets` and `twostep.sweep`).
A pyenv shim in front of `two-step` adds its own 0.2 to 0.3 s: the script measured is the one beside
the interpreter.

The processes run this checkout's code (PYTHONPATH is its root) with the interpreter running this
script; `two-step` is the console script installed next to that interpreter (without a pyenv or
virtualenv shim in front of it), else `python -m twostep.cli`.
"""

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASK, TIMESTEP_SCALE = "biorxiv-final", 0.005


def compute_only(seeds, episodes):
    """The child process of the `compute` side: the compiled trainer alone, no `out`."""
    sys.path.insert(0, ROOT)
    import a2c_lstm
    from twostep import configs
    from twostep.quiet_tensorflow import tf  # noqa: F401  # first: TensorFlow without its start-up lines

    state = a2c_lstm.init_state(configs.preset(TASK), configs.AgentConfig(timestep_scale=TIMESTEP_SCALE), seeds)
    a2c_lstm.train(state, episodes, progress=False)


def two_step_command():
    script = os.path.join(os.path.dirname(sys.executable), "two-step")
    return [script] if os.path.isfile(script) else [sys.executable, "-m", "twostep.cli"]


def run_timed(commands, work):
    """{name: (wall time from start to exit, CPU time user + system)} of processes started at once.

    `commands` maps a name to (command, cores): the cores the process may run on, or None for any.
    RuntimeError with a failed process's output."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    started, logs = {}, {}
    for name, (command, cores) in commands.items():
        logs[name] = os.path.join(work, f"{name}.log")
        with open(logs[name], "w") as output:
            pin = (lambda cores=cores: os.sched_setaffinity(0, cores)) if cores else None
            start = time.perf_counter()
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=ROOT, preexec_fn=pin)
            started[process.pid] = name, command, start
    times = {}
    while started:
        pid, status, usage = os.wait4(-1, 0)
        end = time.perf_counter()
        name, command, start = started.pop(pid)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            with open(logs[name]) as output:
                raise RuntimeError(f"{' '.join(command)} exited with {code}:\n{output.read()[-3000:]}")
        times[name] = end - start, usage.ru_utime + usage.ru_stime
    return times


def t_quantile(df, p=0.975):
    try:
        from scipy import stats

        return float(stats.t.ppf(p, df))
    except ImportError:  # two-sided 95% for small samples
        return {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26}.get(df, 1.96)


def summary(ratios, draws=10000):
    """(median, bootstrap 95% interval of the median, geometric mean, 95% t-interval of it)."""
    import numpy as np

    ratios = np.asarray(ratios)
    rng = np.random.default_rng(0)
    medians = np.median(rng.choice(ratios, size=(draws, len(ratios))), axis=1)
    logs = np.log(ratios)
    half = t_quantile(len(logs) - 1) * logs.std(ddof=1) / math.sqrt(len(logs)) if len(logs) > 1 else float("nan")
    return (float(np.median(ratios)), tuple(np.percentile(medians, [2.5, 97.5])), math.exp(logs.mean()),
            (math.exp(logs.mean() - half), math.exp(logs.mean() + half)))


HELP_COMMANDS = ([], ["train"], ["evaluate"], ["figures"], ["sweep"], ["fit"], ["predict"], ["data"], ["data", "fetch"])


def help_times(repeats):
    """Print the wall time of `two-step <command> --help` for every command: min and median over `repeats`."""
    command = two_step_command()
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f}; {' '.join(command)} <command> --help, {repeats} runs each")
    for argv in HELP_COMMANDS:
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run([*command, *argv, "--help"], check=True, capture_output=True, env=env, cwd=ROOT)
            seconds.append(time.perf_counter() - start)
        print(f"  {' '.join(['two-step', *argv, '--help']):28s} min {min(seconds):.3f} s  median {statistics.median(seconds):.3f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", default="2000,5000,10000", help="lengths to measure, comma-separated")
    parser.add_argument("--repeats", type=int, default=10, help="pairs (full, compute) per length")
    parser.add_argument("--seeds", default="0-7")
    parser.add_argument("--in-turn", action="store_true",
                        help="run each pair one after the other on every core, instead of at the same time on one core each")
    parser.add_argument("--help-times", action="store_true", help="time every command's --help instead")
    parser.add_argument("--compute-only", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.help_times:
        help_times(args.repeats)
        return
    low, _, high = args.seeds.partition("-")
    seeds = list(range(int(low), int(high or low) + 1))
    lengths = [int(n) for n in args.episodes.split(",")]
    if args.compute_only:
        compute_only(seeds, lengths[0])
        return

    command = two_step_command()
    cores = sorted(os.sched_getaffinity(0))[:2]
    if not args.in_turn and len(cores) < 2:
        parser.error("pairs at the same time need 2 cores; this process may use 1 (run with --in-turn)")
    how = "one after the other, every core" if args.in_turn else "at the same time, one core each"
    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f} at the start; {len(seeds)} seeds; pairs {how}; "
          f"full: {' '.join(command)} train --task {TASK} --seeds {args.seeds} --episodes N --timestep-scale {TIMESTEP_SCALE} --out <new>")
    print(f"{'episodes':>8}  {'full s (median)':>15}  {'compute s':>9}  {'median ratio [bootstrap 95%]':>29}  "
          f"{'geometric mean [t 95%]':>24}  {'added s [t 95%]':>18}")
    added = []  # (episodes, seconds added) of every pair
    work = tempfile.mkdtemp(prefix="bench_cli_")
    try:
        for episodes in lengths:
            full, compute, full_cpu, compute_cpu = [], [], [], []
            for repeat in range(args.repeats):
                out = os.path.join(work, f"run_{episodes}_{repeat}")
                sides = {
                    "full": [*command, "train", "--task", TASK, "--seeds", args.seeds, "--episodes", str(episodes),
                             "--timestep-scale", str(TIMESTEP_SCALE), "--out", out],
                    "compute": [sys.executable, os.path.abspath(__file__), "--compute-only", "--seeds", args.seeds,
                                "--episodes", str(episodes)],
                }
                order = ("full", "compute") if repeat % 2 == 0 else ("compute", "full")
                if args.in_turn:
                    times = {}
                    for side in order:
                        times.update(run_timed({side: (sides[side], None)}, work))
                else:  # at once, the first of `order` on the first core
                    times = run_timed({side: (sides[side], {core}) for core, side in zip(cores, order)}, work)
                for side, (seconds, cpu) in times.items():
                    (full if side == "full" else compute).append(seconds)
                    (full_cpu if side == "full" else compute_cpu).append(cpu)
                shutil.rmtree(out, ignore_errors=True)
            ratios = [f / c for f, c in zip(full, compute)]
            median, (boot_low, boot_high), geometric, (t_low, t_high) = summary(ratios)
            excess = [f - c for f, c in zip(full, compute)]
            added.extend((episodes, e) for e in excess)
            half = t_quantile(len(excess) - 1) * statistics.stdev(excess) / math.sqrt(len(excess)) if len(excess) > 1 else float("nan")
            print(f"{episodes:8d}  {statistics.median(full):15.1f}  {statistics.median(compute):9.1f}  "
                  f"{median:8.3f} [{boot_low:.3f}, {boot_high:.3f}]{'':>9}  {geometric:8.3f} [{t_low:.3f}, {t_high:.3f}]  "
                  f"{statistics.mean(excess):5.1f} [{statistics.mean(excess) - half:.1f}, {statistics.mean(excess) + half:.1f}]",
                  flush=True)
            cpu_ratios = [f / c for f, c in zip(full_cpu, compute_cpu)]
            cpu_median, (cpu_low, cpu_high), cpu_geometric, (cpu_t_low, cpu_t_high) = summary(cpu_ratios)
            print("          wall-time ratios of the pairs: " + ", ".join(f"{r:.3f}" for r in ratios), flush=True)
            print(f"          CPU time (user + system) full / compute: median {cpu_median:.3f} [{cpu_low:.3f}, {cpu_high:.3f}], "
                  f"geometric mean {cpu_geometric:.3f} [{cpu_t_low:.3f}, {cpu_t_high:.3f}]; pairs " + ", ".join(f"{r:.3f}" for r in cpu_ratios),
                  flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if len(lengths) > 1:
        import numpy as np

        n, seconds = np.array(added, dtype=float).T
        slope, intercept = np.polyfit(n, seconds, 1)
        print(f"added time, a line through every pair: {intercept:.2f} s fixed + {1000 * slope:.3f} s per 1,000 episodes")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
