"""Training cost per seed-episode of this tree against an earlier commit's, side by side in one run.

The earlier commit's files are unpacked into a temporary folder (`git archive`); each round runs one
child process per tree, in alternating order, each of which compiles the trainer (`a2c_lstm.train`,
compute only, no `out`), then times `--episodes` episodes of `--seeds` seeds side by side. Prints
every round's milliseconds per seed-episode and the ratio this tree / the commit, with the median
and a bootstrap 95% interval over rounds. The agent is the shipped daw-2011 run's (t / 200, learning
rate 1.4e-3, entropy 0.01); `--set field=value` changes this tree's agent only (a new field the
commit does not have, such as episodes_per_update).

    python bench/bench_against_commit.py [--commit f4fd526] [--task daw-2011] [--seeds 8] [--episodes 304] [--rounds 6]

(`--episodes` must be a multiple of this tree's episodes_per_update; 304 suits 1, 2, 4, 8 and 16.)
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AGENT = {"timestep_scale": 0.005, "learning_rate": 1.4e-3, "entropy_weight": 0.01}  # results/daw-2011's agent
CHILD = """
import sys, time
sys.path.insert(0, sys.argv[1])
import a2c_lstm
from twostep import configs
assert a2c_lstm.__file__.startswith(sys.argv[1]) and configs.__file__.startswith(sys.argv[1]), (a2c_lstm.__file__, configs.__file__)
task, agent = configs.preset(sys.argv[2]), configs.AgentConfig(**eval(sys.argv[3]))
seeds, episodes = int(sys.argv[4]), int(sys.argv[5])
warm_up = agent.episodes_per_update if hasattr(agent, "episodes_per_update") else 1
state = a2c_lstm.train(a2c_lstm.init_state(task, agent, range(seeds)), warm_up, progress=False)  # compiles
start = time.perf_counter()
a2c_lstm.train(state, episodes, progress=False)
print(1000 * (time.perf_counter() - start) / (seeds * episodes))
"""


def time_tree(tree, task, agent, seeds, episodes):
    """Milliseconds per seed-episode of `tree`'s trainer, in a child process of its own."""
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=tree)
    child = subprocess.run([sys.executable, "-c", CHILD, tree, task, repr(agent), str(seeds), str(episodes)],
                           capture_output=True, text=True, env=environment, cwd=tree)
    if child.returncode:
        raise RuntimeError(f"the child timing {tree} failed:\n{child.stderr[-3000:]}")
    return float(child.stdout.split()[-1])


def bootstrap_median(ratios, draws=10000, seed=0):
    rng = np.random.default_rng(seed)
    medians = np.median(rng.choice(ratios, (draws, len(ratios))), axis=1)
    return np.median(ratios), np.percentile(medians, [2.5, 97.5])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", default="f4fd526", help="the earlier commit (f4fd526, 2026-12-02: the trainer before the recipe study for Daw et al.'s task)")
    parser.add_argument("--task", default="daw-2011")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--episodes", type=int, default=304)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="this tree's agent only, e.g. episodes_per_update=4")
    args = parser.parse_args()
    from twostep.configs import parse_value

    ours = dict(AGENT, **{name: parse_value(name, value) for name, value in (s.split("=", 1) for s in args.set)})
    with tempfile.TemporaryDirectory() as earlier:
        archive = subprocess.run(["git", "archive", args.commit], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", earlier], input=archive, check=True)
        trees = {"this tree": (ROOT, ours), args.commit: (earlier, AGENT)}
        print(f"{args.task}, {args.seeds} seeds side by side, {args.episodes} episodes per child; this tree's agent: {ours}")
        times = {name: [] for name in trees}
        for round_ in range(args.rounds):
            order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
            for name in order:
                tree, agent = trees[name]
                times[name].append(time_tree(tree, args.task, agent, args.seeds, args.episodes))
            ratio = times["this tree"][-1] / times[args.commit][-1]
            print(f"round {round_ + 1}: this tree {times['this tree'][-1]:.3f}, {args.commit} {times[args.commit][-1]:.3f} ms per seed-episode: ratio {ratio:.3f}", flush=True)
    ratios = np.array(times["this tree"]) / np.array(times[args.commit])
    median, (low, high) = bootstrap_median(ratios)
    print(f"this tree / {args.commit} per seed-episode: median {median:.3f} [bootstrap 95% {low:.3f}, {high:.3f}] over {args.rounds} rounds "
          f"(rounds {min(ratios):.3f}-{max(ratios):.3f})")


if __name__ == "__main__":
    main()
