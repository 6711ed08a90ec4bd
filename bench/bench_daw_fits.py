"""Fit the 197 people of Kool, Cushman & Gershman 2016 with their 12 models (twostep.daw_models),
next to the authors' own fits (results.mat); then, on a few people, the same optimiser with a
straightforward per-person, per-trial Python likelihood, for the speed-up of the batched one.

Models run from the smallest up, each also started from the fits of the models nested in it (`daw_models.fit_nested`).
Per model: seconds, how many people our logpost beats, equals (within 1e-6) or misses the
authors' by, summed BIC and summed Laplace log evidence (ours with the finite-difference Hessian,
theirs by mfit_bms from their saved Hessian), and for the hybrids mean and median w.

    python bench/bench_daw_fits.py [--data DIR] [--restarts 16] [--subset 4] [--models 0-11]
"""

import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from twostep import box_newton, datasets, daw_models  # noqa: E402

TOLERANCE = 1e-6  # |ours - theirs| below this counts as equal


def log_sum_exp(a, b):
    top = max(a, b)
    return top + math.log(math.exp(a - top) + math.exp(b - top))


def plain_log_posterior(spec, x, person):
    """MB_MF_daw_rllik.m for one person and one parameter vector, trial by trial in plain Python,
    plus the log prior: one inverse temperature, transitions believed from counts, choice and
    response stickiness, missed trials skipped."""
    v = dict(spec.fixed) | dict(zip(spec.names, x))
    beta, alpha, lam, w, stick, respst = v["beta"], v["alpha"], v["lambda"], v["w"], v.get("p", 0.0), v.get("rho", 0.0)
    q1, q2 = [0.0, 0.0], [[0.0, 0.0], [0.0, 0.0]]
    last_choice = last_side = None
    common_minus_rare, total = 0, 0.0
    for a, s, c, r, missed, side in person:
        if missed:
            continue
        s -= 1
        p_s2 = 0.7 if common_minus_rare > 0 else 0.3 if common_minus_rare < 0 else 0.5  # P(S2 | action 0)
        best = [max(q2[0]), max(q2[1])]
        mb = [p_s2 * best[0] + (1 - p_s2) * best[1], (1 - p_s2) * best[0] + p_s2 * best[1]]
        side_of = [side if a == i else 1 - side for i in (0, 1)]  # where each action is on the screen now
        q = [w * mb[i] + (1 - w) * q1[i] + stick * (last_choice == i) + respst * (last_side == side_of[i]) for i in (0, 1)]
        total += beta * q[a] - log_sum_exp(beta * q[0], beta * q[1])
        total += beta * q2[s][c] - log_sum_exp(beta * q2[s][0], beta * q2[s][1])
        delta1, delta2 = q2[s][c] - q1[a], r - q2[s][c]
        q1[a] += alpha * (delta1 + lam * delta2)
        q2[s][c] += alpha * delta2
        common_minus_rare += 1 if (a == 0) == (s == 0) else -1
        last_choice, last_side = a, side
    return total + float(daw_models.log_prior(spec, np.asarray(x)))


def people_lists(records):
    """Per person, the trials of its one session as tuples (action, state, choice2, reward, missed, side1)."""
    columns = [records[k][:, 0].tolist() for k in ("action", "state", "choice2", "reward", "missed", "side1")]
    return [list(zip(*(c[i] for c in columns))) for i in range(len(columns[0]))]


def batched_objective(spec, records, restarts):
    inputs = daw_models.replay_inputs(spec, records)

    def objective(rows, points):
        people = rows // restarts
        return -(
            daw_models.replay_log_likelihood(spec, {k: v[people] for k, v in inputs.items()}, points)
            + daw_models.log_prior(spec, points)
        )

    return objective


def plain_objective(spec, records, restarts):
    people = people_lists(records)

    def objective(rows, points):
        return np.array(
            [
                [-plain_log_posterior(spec, x, people[row // restarts]) for x in row_points]
                for row, row_points in zip(rows, points)
            ]
        )

    return objective


def speedup(spec, records, restarts, subset, seed=0):
    """Seconds per person of `box_newton.minimize_box` from the same starts: the batched objective on every
    person at once, the plain one on the first `subset` people; and the largest difference
    between their minima on that subset."""
    starts = daw_models.restart_points(spec, daw_models.person_keys(daw_models.replay_inputs(spec, records)), restarts, seed)
    first = {k: v[:subset] for k, v in records.items()}
    seconds, minima = [], []
    for make, data, x0 in ((batched_objective, records, starts), (plain_objective, first, starts[:subset])):
        start = time.perf_counter()
        minima.append(box_newton.minimize_box(make(spec, data, restarts), x0, spec.lower, spec.upper)[1])
        seconds.append((time.perf_counter() - start) / len(x0))
    return seconds, float(np.abs(minima[0][:subset].min(axis=1) - minima[1].min(axis=1)).max())


def model_range(text):
    low, _, high = text.partition("-")
    return list(range(int(low), int(high or low) + 1))


def summary(m, spec, ours, theirs, seconds):
    """One table row: our fit of model m against the authors'."""
    gain = ours["logpost"] - theirs["logpost"]
    counts = ((gain > TOLERANCE).sum(), (abs(gain) <= TOLERANCE).sum(), (gain < -TOLERANCE).sum())
    their_evidence = daw_models.laplace_log_evidence(theirs["logpost"], theirs["H"], theirs["bic"])
    line = (
        f"{m:2d} {spec.name:25s} {len(spec.free):2d} {seconds:8.1f} {counts[0]:6d} {counts[1]:6d} {counts[2]:6d}"
        f" {gain.max():9.2e} {-min(gain.min(), 0):9.2e} {ours['bic'].sum():10.1f} {theirs['bic'].sum():10.1f}"
        f" {ours['log_evidence'].sum():10.1f} {their_evidence.sum():10.1f}"
    )
    if "w" in spec.names:
        w, w_theirs = ours["params"][:, spec.names.index("w")], theirs["x"][:, spec.names.index("w")]
        line += f"  {w.mean():.3f}/{np.median(w):.3f} ({w_theirs.mean():.3f}/{np.median(w_theirs):.3f})"
    return line


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", default=None, help="datasets root (default: datasets.data_dir(); `two-step data fetch kool2016`)"
    )
    parser.add_argument("--restarts", type=int, default=16)
    parser.add_argument("--subset", type=int, default=4, help="people for the plain-Python comparison")
    parser.add_argument("--models", type=model_range, default=list(range(12)), help="results.mat indices, e.g. 9 or 0-11")
    args = parser.parse_args()
    kool = datasets.load("kool2016", args.data)
    authors = datasets.load_kool2016_fits(args.data)
    print(f"Kool et al. 2016: {len(kool.subject)} people x 125 trials, {args.restarts} restarts per person;", end=" ")
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(
        f"{'model':28s} {'K':>2s} {'seconds':>8s} {'better':>6s} {'equal':>6s} {'worse':>6s} {'max gain':>9s} {'max loss':>9s}"
        f" {'BIC ours':>10s} {'BIC theirs':>10s} {'lme ours':>10s} {'lme theirs':>10s}  w mean/median (theirs)"
    )
    total, start = 0.0, time.perf_counter()
    specs = [daw_models.KOOL2016[m] for m in args.models]
    for spec, fit in daw_models.fit_nested(specs, kool.records, restarts=args.restarts):
        seconds = time.perf_counter() - start
        total += seconds
        m = daw_models.KOOL2016.index(spec)
        print(summary(m, spec, fit, authors[m], seconds), flush=True)
        start = time.perf_counter()
    print(f"all {len(args.models)} models: {total:.1f} s")

    spec = daw_models.KOOL2016[9]
    (batched, plain), difference = speedup(spec, kool.records, args.restarts, args.subset)
    print(
        f"{spec.name}, {args.restarts} restarts, the same optimiser: batched on all {len(kool.subject)} people"
        f" {batched:.3f} s per person, per-person per-trial Python on {args.subset} people {plain:.2f} s per person:"
        f" {plain / batched:.0f}x (largest difference in their minima {difference:.1e})"
    )


if __name__ == "__main__":
    main()
