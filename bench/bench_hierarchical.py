"""Hierarchical Bayesian fits (twostep.hierarchical) on this machine: how long NUTS takes and
whether it converged, and whether variational inference agrees with it.

    python bench/bench_hierarchical.py nuts [--data kool2016] [--model daw2011] [--people N]
    python bench/bench_hierarchical.py svi [--data gillan2016] [--model daw2011] [--people N]
    python bench/bench_hierarchical.py agreement [--data gillan2016] [--model daw2011] [--people 200]

nuts: SamplerConfig's defaults (4 chains of 1,000 warm-up and 1,000 draws, side by side where
JAX has a CPU device for each): seconds, the largest R-hat and smallest bulk and tail ESS over
every quantity (group and person), divergences. svi: VariationalConfig's defaults: seconds and
the group means. agreement: NUTS and SVI on the first `--people` people, each group mean's
SVI - NUTS difference in NUTS posterior SDs (|d| <= 1 is agreement).
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
    data = datasets.load(args.data)
    people = slice(0, args.people or len(data.subject))
    return data.subject[people], {k: np.asarray(v)[people] for k, v in data.records.items()}


def nuts(spec, subjects, records):
    start = time.perf_counter()
    idata, mcmc = hierarchical.sample(spec, records, SamplerConfig())
    seconds = time.perf_counter() - start
    table = hierarchical.summary_rows(idata, spec, subjects, "bench")
    divergences = int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum())
    print(f"NUTS {SamplerConfig()}: {seconds:.0f} s")
    print("\n".join(hierarchical.warnings_of(table, divergences, spec.name)))
    return idata, table


def svi(spec, subjects, records):
    start = time.perf_counter()
    idata, losses = hierarchical.approximate(spec, records, VariationalConfig())
    seconds = time.perf_counter() - start
    print(f"SVI {VariationalConfig()}: {seconds:.0f} s; loss (negative ELBO) over the last 500 steps "
          f"{losses[-500:].mean():.1f} +- {losses[-500:].std():.1f}, at 1,000 steps {losses[999]:.1f}")
    return idata, hierarchical.summary_rows(idata, spec, subjects, "bench")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("nuts", "svi", "agreement"))
    parser.add_argument("--data", default=None, help="dataset (default: kool2016 for nuts, gillan2016 otherwise)")
    parser.add_argument("--model", default="daw2011", choices=sorted(daw_models.SPECS))
    parser.add_argument("--people", type=int, help="the first N people only (default: all; 200 for agreement)")
    args = parser.parse_args()
    args.data = args.data or ("kool2016" if args.what == "nuts" else "gillan2016")
    args.people = args.people or (200 if args.what == "agreement" else None)
    spec = daw_models.SPECS[args.model]
    subjects, records = loaded(args)
    print(f"{args.data}: {len(subjects)} people x {records['action'].shape[-1]} trials, {spec.name}")
    if args.what == "nuts":
        nuts(spec, subjects, records)
    elif args.what == "svi":
        _, table = svi(spec, subjects, records)
        print(table[table["level"] == "group"][["parameter", "mean", "sd"]].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    else:
        _, by_nuts = nuts(spec, subjects, records)
        _, by_svi = svi(spec, subjects, records)
        group = by_nuts[by_nuts["level"] == "group"].merge(by_svi[by_svi["level"] == "group"], on="parameter", suffixes=("_nuts", "_svi"))
        group["difference_in_sds"] = (group["mean_svi"] - group["mean_nuts"]) / group["sd_nuts"]
        print(group[["parameter", "mean_nuts", "sd_nuts", "mean_svi", "sd_svi", "difference_in_sds"]].to_string(
            index=False, float_format=lambda x: f"{x:.3f}"))
        print(f"largest |difference| {group['difference_in_sds'].abs().max():.2f} NUTS posterior SDs")


if __name__ == "__main__":
    main()
