"""What a sweep costs, measured side by side in one run on this machine (biorxiv-final).

(1) Compute-only cost per seed-episode of the compiled trainer against the number of seeds side
    by side (the group size), and the first call's compile time: the sweep's default group size.
(2) A full `train` run (TensorBoard scalars every 10 episodes, Stay/* every 500, checkpoints every
    1,000 and at the end) against the compute-only trainer, at 8 and 32 seeds: the logging overhead
    (best of three alternating runs of each).
(3) The same work (16 seeds, one configuration) as a sweep on an embedded Ray with 2 CPUs in
    groups of 8 (two Ray tasks side by side), and as one `train` call of 16 seeds.

    python bench/bench_sweep.py [--episodes 1000]
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import a2c_lstm as a2c  # noqa: E402
from twostep import configs, sweep  # noqa: E402
from twostep.quiet_tensorflow import tf  # noqa: E402, F401  # first: TensorFlow without its start-up lines

TASK = configs.preset("biorxiv-final")
AGENT = configs.AgentConfig(timestep_scale=0.005)


def timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def compute_cost(seeds, episodes):
    """(ms per seed-episode after compilation, seconds of the first, compiling episode)."""
    state = a2c.init_state(TASK, AGENT, range(seeds))
    compile_time = timed(lambda: a2c.train(state, 1, progress=False))
    state = a2c.train(state, 1, progress=False)
    return 1e3 * timed(lambda: a2c.train(state, episodes, progress=False)) / (seeds * episodes), compile_time


def logging_ratio(seeds, episodes, repeats=3):
    """(full train run / compute-only) wall time, both after compilation: the best of `repeats`
    alternating runs of each, so that a busy moment of the machine does not land on one side."""
    state = a2c.train(a2c.init_state(TASK, AGENT, range(seeds)), 1, progress=False)
    compute, full = [], []
    for _ in range(repeats):
        compute.append(timed(lambda: a2c.train(state, episodes, progress=False)))
        with tempfile.TemporaryDirectory() as out:
            full.append(timed(lambda: a2c.train(state, episodes, out=out, progress=False, run=configs.RunConfig(save_every=1000, log_every=500))))
    return min(full) / min(compute)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--parts", default="123", help="which of (1), (2), (3) to run, e.g. 2")
    args = parser.parse_args()

    if "1" in args.parts:
        print("(1) compute-only cost against the group size")
        print("seeds  ms per seed-episode  first (compiling) episode, s")
        for seeds in (1, 8, 16, 32, 64, 128):
            cost, compile_time = compute_cost(seeds, max(100, args.episodes * 8 // seeds))
            print(f"{seeds:5d}  {cost:19.3f}  {compile_time:29.1f}")
    if "2" in args.parts:
        print("\n(2) full train run (TensorBoard + checkpoints) / compute-only trainer")
        for seeds in (8, 32):
            print(f"{seeds:3d} seeds: {logging_ratio(seeds, args.episodes):.3f}")
    if "3" not in args.parts:
        return
    print("\n(3) 16 seeds x", args.episodes, "episodes: a sweep on 2 local Ray CPUs (groups of 8) against one train call")
    with tempfile.TemporaryDirectory() as out:
        single = timed(lambda: a2c.train(a2c.init_state(TASK, AGENT, range(16)), args.episodes, out=os.path.join(out, "train"), progress=False))
        ray_start = timed(lambda: sweep.connect(cpus=2))
        configurations = [(sweep.configuration_name({"timestep_scale": 0.005}), {"timestep_scale": 0.005}, TASK, AGENT)]
        swept = timed(lambda: sweep.run_sweep(configurations, tuple(range(16)), args.episodes, os.path.join(out, "sweep"),
                                              run=configs.RunConfig(test_episodes=10), group_size=8, progress=False))
    work = 16 * args.episodes
    print(f"one train call: {work / single:.0f} seed-episodes/s ({single:.1f} s)")
    print(f"sweep:          {work / swept:.0f} seed-episodes/s ({swept:.1f} s, with its 10 test episodes per seed;"
          f" Ray start-up {ray_start:.1f} s not counted)")
    print(f"sweep / one train call throughput: {single / swept:.2f}")


if __name__ == "__main__":
    main()
