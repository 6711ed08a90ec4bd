"""Write tests/evaluation_reference.json: what the shipped checkpoints of Wang et al.'s tasks give
under `a2c_lstm.evaluate(<8 seeds>, 20, internals=True)`, in a form any x86-64 machine reproduces.

    python tests/make_evaluation_reference.py

The reference is the code before Daw et al.'s drifting task joined the rollout (commit 858fb25):
its records' SHA-256 (every record, raw bytes) is below, and this script refuses to write unless
the code at hand gives those bits on this machine. It then keeps what a change of CPU kernels
leaves alone: a digest of the discrete records (choices, states, transitions, rewards, which state
is good) and each seed's sums of the float records, which such a change moves in the last digits only.
"""

import hashlib
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

DISCRETE = ("action", "state", "common", "reward", "good_state")
FULL_DIGEST_AT_858FB25 = {
    "results/biorxiv/final model-40000": "c251ddee7cd596fd8f8a059e27b2be3bfcc7674225856912dfb872790896fe7a",
    "results/arxiv model-40000": "a3a234d11da3ed3b3957eee771cc6ec9494dcbb86b1953cebd995113b7ebf43e",
    "results/biorxiv/first-try model-60000": "db2fbbfac0caa340906da9b3d433476b1131474eb41dcd59f304e5f59bd80f72",
}


def evaluate(run, checkpoint):
    import a2c_lstm
    from twostep import checkpoints

    state = checkpoints.load_models([os.path.join(ROOT, run, f"model_{seed}", checkpoint) for seed in range(8)])
    return a2c_lstm.evaluate(state, 20, internals=True)


def digest(records, names):
    hashed = hashlib.sha256()
    for name in names:
        hashed.update(name.encode())
        hashed.update(np.ascontiguousarray(records[name]).tobytes())
    return hashed.hexdigest()


def summary(records):
    """The discrete records' digest and, per float record, each seed's sum over episodes and trials
    (and units) and the sum of its absolute values."""
    floats = sorted(set(records) - set(DISCRETE))
    per_seed = {name: np.asarray(records[name], np.float64).reshape(len(records[name]), -1) for name in floats}
    return {
        "discrete_sha256": digest(records, DISCRETE),
        "sums": {name: x.sum(axis=1).tolist() for name, x in per_seed.items()},
        "absolute_sums": {name: np.abs(x).sum(axis=1).tolist() for name, x in per_seed.items()},
    }


if __name__ == "__main__":
    reference = {}
    for key, full in FULL_DIGEST_AT_858FB25.items():
        records = evaluate(*key.split())
        if digest(records, sorted(records)) != full:
            sys.exit(f"{key}: this machine does not give commit 858fb25's bits; no reference written")
        reference[key] = summary(records)
    with open(os.path.join(ROOT, "tests", "evaluation_reference.json"), "w") as file:
        json.dump(reference, file, indent=1)
