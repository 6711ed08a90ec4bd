"""Training cost per seed-episode on Daw et al. 2011's task next to biorxiv-final's, and on Kool et
al.'s tasks next to Daw et al.'s, side by side.

Every compiled trainer (8 seeds side by side, daw-2011's shipped agent settings; biorxiv-final's
its own) is warmed up (compiled) first, then all are timed in alternation for `--rounds` rounds;
prints each round's milliseconds per seed-episode and per trial, the median ratio daw-2011 /
biorxiv-final, and each of Kool et al.'s tasks / daw-2011 per trial (trials of two LSTM steps each).

    python bench/bench_daw_train.py [--episodes 100] [--rounds 3]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from twostep.quiet_tensorflow import tf  # noqa: E402, F401  # first: TensorFlow without its start-up lines

import numpy as np  # noqa: E402

import a2c_lstm as a2c  # noqa: E402
from twostep import configs  # noqa: E402

DAW_AGENT = configs.AgentConfig(timestep_scale=0.005, learning_rate=1.4e-3, entropy_weight=0.01)
RUNS = {  # the agents of the shipped runs (docs/daw-2011.md, results/README.md)
    "biorxiv-final": configs.AgentConfig(timestep_scale=0.005),
    "daw-2011": DAW_AGENT,
    **{name: DAW_AGENT for name in ("kool2016-novel", "kool2017-novel-stakes", "kool2017-daw-stakes")},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    states = {name: a2c.train(a2c.init_state(configs.preset(name), agent, range(8)), 1, progress=False) for name, agent in RUNS.items()}
    per_episode = {name: [] for name in RUNS}
    for round_ in range(args.rounds):
        for name in RUNS:
            start = time.perf_counter()
            states[name] = a2c.train(states[name], args.episodes, progress=False)
            per_episode[name].append(1000 * (time.perf_counter() - start) / (8 * args.episodes))
        print(f"round {round_ + 1}: " + ", ".join(
            f"{name} {per_episode[name][-1]:.2f} ms per seed-episode ({per_episode[name][-1] / configs.preset(name).trials_per_episode * 1000:.1f} us per trial)"
            for name in RUNS))
    ratios = np.array(per_episode["daw-2011"]) / np.array(per_episode["biorxiv-final"])
    print(f"daw-2011 / biorxiv-final per seed-episode: median {np.median(ratios):.2f} (rounds: {', '.join(f'{r:.2f}' for r in ratios)})")
    print(f"per trial: {np.median(ratios) * 100 / 201:.2f} (201 trials of 2 LSTM steps against 100 of 1)")
    per_trial = {name: np.array(times) / configs.preset(name).trials_per_episode for name, times in per_episode.items()}
    for name in list(RUNS)[2:]:
        ratios = per_trial[name] / per_trial["daw-2011"]
        print(f"{name} / daw-2011 per trial: median {np.median(ratios):.2f} (rounds: {', '.join(f'{r:.2f}' for r in ratios)})")


if __name__ == "__main__":
    main()
