"""Hierarchical Bayesian fits (twostep.hierarchical) on this machine: how long NUTS takes and
whether it converged, and whether variational inference agrees with it.

    python bench/bench_hierarchical.py nuts [--data kool2016] [--model daw2011] [--people N] [--target-accept 0.8] [--draws 1000] [--save-draws FILE]
    python bench/bench_hierarchical.py svi [--data gillan2016] [--model daw2011] [--people N] [--rank 10]
    python bench/bench_hierarchical.py agreement [--data gillan2016] [--model daw2011] [--people 200] [--rank 10] [--nuts-draws FILE]
    python bench/bench_hierarchical.py gradient [--data gillan2016] [--model daw2011] [--copies 1]
    python bench/bench_hierarchical.py calibration [--model ts_par4] [--populations 20] [--people 100] [--trials 200]

nuts: SamplerConfig's defaults (4 chains of 1,000 warm-up and 1,000 draws, side by side where
JAX has a CPU device for each): seconds, the largest R-hat and smallest bulk and tail ESS over
every quantity (group and person), divergences, the five largest R-hats, and each chain's mean of
every group quantity. svi: VariationalConfig's defaults: seconds and
the group means. agreement: NUTS and SVI on the first `--people` people, each group mean's
SVI - NUTS difference in NUTS posterior SDs (|d| <= 1 is agreement); with --nuts-draws, the
NUTS draws are read from a draws.nc that `two-step fit --hierarchical` wrote for the same people. gradient: milliseconds per
gradient of the log-likelihood of every person at once (the cost of one NUTS leapfrog step),
the mean of 20 after compiling, in float64 and in the fits' float32, with each trial's
intermediate values stored or recomputed (hierarchical.FIT_DTYPE, RECOMPUTE_ABOVE). calibration: `--populations` simulated populations from the known
group values CALIBRATION_GROUP (hierarchical.calibration_rows, one Ray task each, 2 chains of 300
warm-up and 300 draws): how often the 90% interval of each group mean covers the truth, and how
the people's posterior means correlate with their true values; the rows go to
results/humans/hierarchical_calibration.csv.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from twostep import datasets, daw_models, hierarchical  # noqa: E402
from twostep.configs import SamplerConfig, VariationalConfig  # noqa: E402


def loaded(args):
    chosen = datasets.load(args.data).select(slice(0, args.people))
    if args.copies == 1:
        return chosen.subject, chosen.records
    subjects = [f"{s}-{k}" for k in range(args.copies) for s in chosen.subject]
    return subjects, {name: np.concatenate([values] * args.copies) for name, values in chosen.records.items()}


def nuts(spec, subjects, records, config=SamplerConfig(), save_draws=None):
    start = time.perf_counter()
    idata = hierarchical.sample(spec, records, config, say=print)
    seconds = time.perf_counter() - start
    if save_draws:
        hierarchical.save_draws(idata, save_draws)
        print(f"draws written to {save_draws}")
    table = hierarchical.summary_rows(idata, spec, subjects, "bench")
    steps = idata.sample_stats["num_steps"].values.mean(axis=1)
    print(f"NUTS {config}: {seconds:.0f} s; leapfrog steps per draw, each chain: {', '.join(f'{n:.1f}' for n in steps)}")
    print("\n".join(hierarchical.warnings_of(table, hierarchical.divergences_of(idata), spec.name)))
    worst = table.sort_values("rhat", ascending=False).head(5)
    print("largest R-hats:", "; ".join(f"{r.parameter}{' of ' + str(r.subject) if r.subject else ''} {r.rhat:.4f} (ESS {r.ess_bulk:.0f})"
                                       for r in worst.itertuples()))
    group = table[table["level"] == "group"]
    print(f"group quantities: largest R-hat {group['rhat'].max():.4f}, smallest ESS {group[['ess_bulk', 'ess_tail']].min().min():.0f}; "
          "each chain's mean:")
    for i, name in enumerate(spec.names):
        for quantity, values in ((f"mu_{name}", idata.posterior["mu"].values[..., i]), (f"sigma_{name}", idata.posterior["sigma"].values[..., i])):
            print(f"  {quantity:14s}" + "".join(f"{m:9.3f}" for m in values.mean(axis=1)))
    return idata, table


def saved_nuts(path, spec, subjects):
    idata = hierarchical.arviz_module().from_netcdf(path)
    people = idata.posterior["theta"].shape[2]
    if people != len(subjects):
        raise SystemExit(f"--nuts-draws {path}: draws of {people} people, but --people chose {len(subjects)}")
    print(f"NUTS: draws read from {path}")
    return hierarchical.summary_rows(idata, spec, subjects, "bench")


def svi(spec, subjects, records, config=VariationalConfig()):
    start = time.perf_counter()
    idata, losses = hierarchical.approximate(spec, records, config)
    seconds = time.perf_counter() - start
    print(f"SVI {config}: {seconds:.0f} s; loss (negative ELBO) over the last 500 steps "
          f"{losses[-500:].mean():.1f} +- {losses[-500:].std():.1f}, at 1,000 steps {losses[999]:.1f}")
    return idata, hierarchical.summary_rows(idata, spec, subjects, "bench")


def gradient(spec, records, repeats=20):
    """Milliseconds per gradient in float64 and in FIT_DTYPE, each with every trial's intermediate values
    stored and recomputed, measured side by side; the ratios to float64 stored."""
    jax, jnp, _ = hierarchical.jax_modules()
    theta = hierarchical.linked(spec, np.zeros((len(records["action"]), 1, len(spec.free))))
    default_threshold, times = hierarchical.RECOMPUTE_ABOVE, {}
    for dtype in (np.float64, hierarchical.FIT_DTYPE):
        for recompute in (False, True):
            hierarchical.RECOMPUTE_ABOVE = 0 if recompute else np.inf
            scanned = hierarchical.jax_inputs(spec, records, dtype)
            grad = jax.jit(jax.grad(lambda t, scanned=scanned: hierarchical.trial_log_probs(spec, scanned, t).sum()))
            grad(jnp.asarray(theta, dtype)).block_until_ready()
            start = time.perf_counter()
            for _ in range(repeats):
                grad(jnp.asarray(theta, dtype)).block_until_ready()
            times[np.dtype(dtype).name, recompute] = (time.perf_counter() - start) / repeats * 1000
    hierarchical.RECOMPUTE_ABOVE = default_threshold
    base = times["float64", False]
    for (dtype, recompute), ms in times.items():
        print(f"one gradient, {dtype}, intermediate values {'recomputed' if recompute else 'stored'}: {ms:.1f} ms ({base / ms:.2f}x)")
    size = np.prod(records["action"].shape)
    print(f"{size:,} person-episode-trials: the fits {'recompute' if size > default_threshold else 'store'} "
          f"(RECOMPUTE_ABOVE = {default_threshold:,}) in {np.dtype(hierarchical.FIT_DTYPE).name}")


CALIBRATION_GROUP = {  # model: (mu_pr, sigma) on the real line, hBayesDM's links: ts_par4's a 0.31, beta 2.7, pi 0.8, w 0.62
    "ts_par4": ([-0.5, 1.0, -1.0, 0.3], [0.3, 0.2, 0.3, 0.5]),
}


def calibration(spec, populations, people, trials):
    import pandas as pd
    import ray

    from twostep import sweep

    sweep.connect()
    mu_pr, sigma = CALIBRATION_GROUP[spec.name]
    settings = SamplerConfig(chains=2, warmup=300, draws=300)
    remote = ray.remote(num_cpus=1)(hierarchical.calibration_rows)
    start = time.perf_counter()
    rows = pd.concat(ray.get([remote.remote(spec, mu_pr, sigma, k, people, trials, settings) for k in range(populations)]))
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "results", "humans", "hierarchical_calibration.csv")
    rows.to_csv(path, index=False)
    print(f"{populations} populations of {people} people x {trials} trials, {spec.name}, {settings}: {time.perf_counter() - start:.0f} s")
    summary = rows.groupby("parameter", sort=False).agg(truth=("truth", "first"), coverage=("covered", "mean"),
                                                        person_r=("person_r", "mean"), person_r_min=("person_r", "min"))
    print(summary.to_string(float_format=lambda x: f"{x:.3f}"))
    print(f"90% intervals cover the truth in {rows['covered'].mean():.1%} of {len(rows)} (population, parameter) pairs; "
          f"largest group R-hat {rows['rhat_group'].max():.3f}; divergences {rows['divergences'].sum()}; rows: {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("nuts", "svi", "agreement", "gradient", "calibration"))
    parser.add_argument("--populations", type=int, default=20, help="calibration: simulated populations")
    parser.add_argument("--trials", type=int, default=200, help="calibration: trials per simulated person")
    parser.add_argument("--data", default=None, help="dataset (default: kool2016 for nuts, gillan2016 otherwise)")
    parser.add_argument("--model", choices=sorted(daw_models.SPECS), help="default: ts_par4 for calibration, else daw2011")
    parser.add_argument("--target-accept", type=float, default=SamplerConfig().target_accept,
                        help="nuts, agreement: NUTS's target acceptance probability (hBayesDM's adapt_delta is 0.95)")
    parser.add_argument("--draws", type=int, default=SamplerConfig().draws, help="nuts, agreement: NUTS's draws kept per chain")
    parser.add_argument("--rank", type=int, default=VariationalConfig().rank, help="svi, agreement: the guide's rank beyond its diagonal")
    parser.add_argument("--nuts-draws", help="agreement: NUTS's draws.nc from `two-step fit --hierarchical` or `nuts --save-draws` "
                        "on the same people")
    parser.add_argument("--save-draws", help="nuts, agreement: write NUTS's draws to this netCDF file")
    parser.add_argument("--people", type=int, help="the first N people only (default: all; 200 for agreement; 100 per simulated population)")
    parser.add_argument("--copies", type=int, default=1, help="the people repeated this many times over (a larger population)")
    args = parser.parse_args()
    spec = daw_models.SPECS[args.model or ("ts_par4" if args.what == "calibration" else "daw2011")]
    if args.what == "calibration":
        if spec.name not in CALIBRATION_GROUP:
            parser.error(f"--model {spec.name}: calibration knows the group values of {', '.join(CALIBRATION_GROUP)} only")
        return calibration(spec, args.populations, args.people or 100, args.trials)
    args.data = args.data or ("kool2016" if args.what == "nuts" else "gillan2016")
    args.people = args.people or (200 if args.what == "agreement" else None)
    subjects, records = loaded(args)
    print(f"{args.data}: {len(subjects)} people x {records['action'].shape[-1]} trials, {spec.name}")
    config = SamplerConfig(target_accept=args.target_accept, draws=args.draws)
    if args.what == "nuts":
        nuts(spec, subjects, records, config, args.save_draws)
    elif args.what == "gradient":
        gradient(spec, records)
    elif args.what == "svi":
        _, table = svi(spec, subjects, records, VariationalConfig(rank=args.rank))
        print(table[table["level"] == "group"][["parameter", "mean", "sd"]].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    else:
        by_nuts = saved_nuts(args.nuts_draws, spec, subjects) if args.nuts_draws else nuts(spec, subjects, records, config, args.save_draws)[1]
        _, by_svi = svi(spec, subjects, records, VariationalConfig(rank=args.rank))
        group = by_nuts[by_nuts["level"] == "group"].merge(by_svi[by_svi["level"] == "group"], on="parameter", suffixes=("_nuts", "_svi"))
        group["difference_in_sds"] = (group["mean_svi"] - group["mean_nuts"]) / group["sd_nuts"]
        print(group[["parameter", "mean_nuts", "sd_nuts", "mean_svi", "sd_svi", "difference_in_sds"]].to_string(
            index=False, float_format=lambda x: f"{x:.3f}"))
        print(f"largest |difference| {group['difference_in_sds'].abs().max():.2f} NUTS posterior SDs")


if __name__ == "__main__":
    main()
