"""How long the whole analysis toolkit takes on a shipped run: 8 seeds x 300 test episodes.

Times each part of `run_analysis.agent_analysis` (evaluation with the LSTM states, the four model fits
per seed with the profile interval of w, lagged regression, prediction errors, belief decoding
with its two controls, the ideal observer's run) and prints the total, with the fitted w and the
best model by BIC per seed as a check that the work was done.

    python bench/bench_analysis.py [--run results/biorxiv/final] [--episodes 300] [--restarts 3]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import a2c_lstm  # noqa: E402
from twostep import checkpoints, run_analysis, run_layout  # noqa: E402, run_layout
from twostep.quiet_tensorflow import tf  # noqa: E402, F401  # first: TensorFlow without its start-up lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default="results/biorxiv/final")
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--restarts", type=int, default=3)
    args = parser.parse_args()
    state = checkpoints.load_models(run_layout.latest_checkpoints(args.run))
    a2c_lstm.evaluate(state, 1, internals=True)  # compile the evaluation shapes once, outside the timing
    start = time.perf_counter()
    result = run_analysis.agent_analysis(state, args.episodes, args.restarts)
    total = time.perf_counter() - start
    hybrid = result["fits"].xs("hybrid", level="model")
    print(f"{args.run}: {len(state.seeds)} seeds x {args.episodes} test episodes, {args.restarts} restarts per fit")
    print("fitted w [95% profile CI] per seed: " + ", ".join(
        f"{w:.2f} [{lo:.2f}, {hi:.2f}]" for w, lo, hi in hybrid[["model_based_weight", "model_based_weight low", "model_based_weight high"]].to_numpy()))
    print("best model by BIC per seed: " + ", ".join(result["bic"]["best"]))
    print(f"whole analysis: {total:.1f} s")


if __name__ == "__main__":
    main()
