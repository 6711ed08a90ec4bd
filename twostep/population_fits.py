"""A whole dataset's model fits on Ray: every person x model, resumable, one table.

    two-step fit --data kool2016 --models kool2016 --out results/humans [--address auto]
    two-step fit --data my_study.csv --models daw2011 --out results/mine   # a per-trial table (docs/your-data.md)
    two-step fit --data kool2017-daw-stakes --models kool2017 --authors-trials --out results/humans   # as the authors fitted

Each Ray task fits one model to a chunk of people at once (`daw_models.fit`: the likelihood is
batched over people and parameter vectors), and leaves
`<out>/<dataset>_fits/<model>_<first>-<last>_<key>.csv` (positions of its people), the key a digest of everything that made it: the
data (every record of its people), the people, the model, `restarts` and `seed`. A rerun reuses a
chunk only when its key matches, so a stopped run keeps every finished person, and a rerun with
other settings, chunk size or data refits rather than mixing old rows in (and says how many files
it ignored). `dataset` is a built-in dataset's name or a table file's path (`datasets.load`), `<dataset>` in
the file names its name or the file's stem (`datasets.dataset_name`). `<out>/<dataset>_fits.csv` (written atomically, from this run's chunks only) has one
row per person and model: `subject` (Kool: the 1-based position in groupdata.subdata;
Decker/Potter: the .mat file name), `model`, `authors_model` (Kool's datasets: the position in the
authors' results.mat, `AUTHORS_MODELS`; else empty), every parameter of the family (empty where a model lacks it),
`loglik`, `logpost`, `trials` (that the likelihood used), `bic`, `log_evidence`,
`evidence_method` and `status` (`daw_models.fit`). Embedded Ray on this machine by default, a
cluster with `address` (as `sweep`).
"""

import dataclasses
import hashlib
import json
import os

from twostep import daw_models, run_layout

AUTHORS_MODELS = {  # a dataset's models in the order of the authors' results.mat (the table's authors_model)
    "kool2016": daw_models.KOOL2016, "kool2016-novel": daw_models.KOOL2016_NOVEL,
    "kool2017-novel-stakes": daw_models.KOOL2017[:1], "kool2017-daw-stakes": daw_models.KOOL2017[1:],
}
MODEL_GROUPS = {  # names accepted by --models besides the specs' own
    "kool2016": tuple(spec.name for spec in daw_models.KOOL2016),
    "kool2016-novel": tuple(spec.name for spec in daw_models.KOOL2016_NOVEL),
    "kool2017": tuple(spec.name for spec in daw_models.KOOL2017),
    "daw2011": ("daw2011", "daw2011-mf", "daw2011-mb"),
    "hbayesdm": tuple(spec.name for spec in daw_models.HBAYESDM),
}
COLUMNS = ("subject", "model", "authors_model", *daw_models.NAMES, "loglik", "logpost", "trials", "bic", "log_evidence",
           "evidence_method", "status")
RESULTS = ("loglik", "logpost", "trials", "bic", "log_evidence", "evidence_method", "status")  # `daw_models.fit`'s, per person


def model_names(text):
    """'kool2016' or 'daw2011,nussenbaum2020' -> spec names; ValueError naming an unknown one."""
    names = []
    for part in (p.strip() for p in text.split(",")):
        if part in MODEL_GROUPS:
            names.extend(MODEL_GROUPS[part])
        elif part in daw_models.SPECS:
            names.append(part)
        else:
            raise ValueError(f"unknown model {part!r}: expected one of {', '.join(dict.fromkeys([*MODEL_GROUPS, *daw_models.SPECS]))}")
    return tuple(dict.fromkeys(names))


def people_digests(data):
    """One digest per person of the loaded dataset: their subject name and every record array."""
    import numpy as np

    digests = []
    for i, subject in enumerate(data.subject):
        person = hashlib.sha256(str(subject).encode())
        for key in sorted(data.records):
            person.update(key.encode() + np.ascontiguousarray(data.records[key][i]).tobytes())
        digests.append(person.hexdigest())
    return digests


def chunk_key(digests, model, restarts, seed):
    """The digest naming a chunk: its people's data, the model and the fit's settings."""
    settings = json.dumps({"people": list(digests), "model": model, "restarts": restarts, "seed": seed})
    return hashlib.sha256(settings.encode()).hexdigest()[:12]


def spec_names(text):
    """'daw2011' or 'daw2011,nussenbaum2020' -> the specs so named, no group expanded (daw2011 is the
    seven-parameter model alone); ValueError naming an unknown one."""
    names = [part.strip() for part in text.split(",")]
    for name in names:
        if name not in daw_models.SPECS:
            raise ValueError(f"unknown model {name!r}: expected one of {', '.join(daw_models.SPECS)} (groups do not apply here)")
    return tuple(dict.fromkeys(names))


def chunk_file(out, dataset, model, people, key):
    """`<out>/<dataset>_fits/<model>_<first>-<last>_<key>.csv`, people by their positions in the dataset."""
    return os.path.join(out, f"{dataset}_fits", f"{model}_{people[0]:04d}-{people[-1]:04d}_{key}.csv")


def fit_chunk(dataset, root, model, people, restarts, seed, path, authors_trials, *nested):
    """Fit `model` to the people at positions `people` of the loaded dataset (`loaded`), starting also from
    `nested` ((model name, params [len(people), n]) of models nested in it, `daw_models.nested_starts`);
    write their rows to `path` (atomically). Returns (model, params) for the models it nests in."""
    spec = daw_models.SPECS[model]
    rows, result = fit_people(dataset, root, spec, people, restarts, seed, daw_models.nested_starts(spec, dict(nested)), authors_trials)
    run_layout.write_atomically(path, lambda partial: rows.to_csv(partial, index=False))
    return model, result["params"]


def loaded(dataset, root, authors_trials=False):
    """The dataset (`datasets.load`); with `authors_trials`, its trials as the authors' likelihood
    counts them (authors["likelihood_missed"]: Kool et al.'s tasks), to compare fits with theirs."""
    from twostep import datasets

    data = datasets.load(dataset, root)
    if not authors_trials:
        return data
    if "likelihood_missed" not in data.authors:
        raise ValueError(f"{dataset}: the loader keeps no other trials for the authors' likelihood; --authors-trials applies to "
                         "Kool et al.'s own tasks (kool2016-novel, kool2017-novel-stakes, kool2017-daw-stakes)")
    return dataclasses.replace(data, records=dict(data.records, missed=data.authors["likelihood_missed"]))


def fit_people(dataset, root, spec, people, restarts, seed, starts=None, authors_trials=False):
    """`daw_models.fit` of `spec` (whatever its priors) to the people at positions `people` of the
    loaded dataset (`loaded`), also started from `starts` [len(people), m, n]: (its table rows, the result)."""
    chosen = loaded(dataset, root, authors_trials).select(list(people))
    result = daw_models.fit(spec, chosen.records, restarts=restarts, seed=seed, starts=starts)
    return fit_rows(dataset, list(chosen.subject), spec, result), result


def fit_rows(dataset, subjects, spec, result):
    """The table's rows (`COLUMNS`) of one model's `daw_models.fit` result for `subjects`."""
    import pandas as pd

    authors = [s.name for s in AUTHORS_MODELS.get(str(dataset), ())]
    rows = pd.DataFrame({"subject": subjects, "model": spec.name,
                         "authors_model": authors.index(spec.name) + 1 if spec.name in authors else None})
    for i, name in enumerate(spec.names):
        rows[name] = result["params"][:, i]
    for key in RESULTS:
        rows[key] = result[key]
    return rows.reindex(columns=COLUMNS)


def fitted_params(path, model, subjects):
    """(model, params [people, n]) from a chunk file already written, which must hold `subjects`."""
    import pandas as pd

    rows = pd.read_csv(path, dtype={"subject": str})
    if rows["subject"].tolist() != [str(s) for s in subjects]:
        raise ValueError(f"{path}: holds subjects {rows['subject'].tolist()[:3]}..., not this chunk's {list(subjects)[:3]}...: remove it")
    return model, rows[list(daw_models.SPECS[model].names)].to_numpy()


def run_fits(dataset, models, out, root=None, restarts=16, chunk_size=50, seed=0, progress=True, say=print, overwrite=False,
             authors_trials=False):
    """Fit every (model, chunk of people) not yet written as a Ray task (Ray must be connected), the
    smallest models first and each started also from the fits of the models nested in it, as
    `daw_models.fit_nested` does (a task waits for theirs); then write `<out>/<dataset>_fits.csv` (`merged_table`) from every
    chunk file. Returns the table."""
    import pandas as pd
    import ray
    from twostep import datasets
    from twostep.progress import progress_bar

    data = loaded(dataset, root, authors_trials)
    name = datasets.dataset_name(dataset) + "-authors-trials" * authors_trials
    digests, n_people = people_digests(data), len(data.subject)
    os.makedirs(os.path.join(out, f"{name}_fits"), exist_ok=True)
    chunks = [tuple(range(start, min(start + chunk_size, n_people))) for start in range(0, n_people, chunk_size)]
    order = sorted(models, key=lambda name: len(daw_models.SPECS[name].free))
    paths = {(model, k): chunk_file(out, name, model, people, chunk_key([digests[p] for p in people], model, restarts, seed))
             for model in order for k, people in enumerate(chunks)}
    work = [(model, k, people) for model in order for k, people in enumerate(chunks)]
    todo = run_layout.files_to_write(paths, os.path.join(out, f"{name}_fits"), "chunks already fitted", say)
    remote = ray.remote(num_cpus=1)(fit_chunk)
    results, pending = {}, {}  # (model, chunk) -> (model, params) or the Ray reference to it
    for model, k, people in work:
        path = paths[model, k]
        if (model, k) not in todo:
            results[model, k] = fitted_params(path, model, [data.subject[p] for p in people])
            continue
        spec = daw_models.SPECS[model]
        nested = [results[other, k] for other in order if (other, k) in results and daw_models.nested(daw_models.SPECS[other], spec)]
        results[model, k] = reference = remote.remote(dataset, root, model, people, restarts, seed, path, authors_trials, *nested)
        pending[reference] = len(people)
    done_people = sum(len(people) for model, k, people in work if (model, k) not in todo)
    with progress_bar(len(models) * n_people, initial=done_people, unit="fit", desc=f"fit {name}", enabled=progress) as bar:
        while pending:
            finished, _ = ray.wait(list(pending), num_returns=1)
            ray.get(finished[0])  # a failed task stops the run; the others' finished chunks stay, to resume
            bar.update(pending.pop(finished[0]))
    table = pd.concat([pd.read_csv(paths[model, k]) for model in models for k in range(len(chunks))], ignore_index=True)
    return write_merged(os.path.join(out, f"{name}_fits.csv"), table, overwrite)


def write_merged(path, new, overwrite=False):
    """Write `new` rows over the table at `path` (`merged_table`; `new` alone if there is none),
    atomically; returns the table written."""
    import pandas as pd

    table = merged_table(pd.read_csv(path), new, path, overwrite) if os.path.isfile(path) else new
    run_layout.write_atomically(path, lambda partial: table.to_csv(partial, index=False))
    return table


class WorseTable(ValueError):
    """A run would replace a table's fits with worse ones (or other people's) without `overwrite`."""


def merged_table(existing, new, path, overwrite=False):
    """The table to write over `existing` (at `path`): its rows of models this run did not fit, then
    this run's. Without `overwrite`, a run whose models' fits are worse than the existing ones
    (a lower log posterior for some person, by more than 1e-6) or whose people differ from theirs
    raises WorseTable: a shipped table is not replaced silently by, say, a run with fewer restarts."""
    import pandas as pd

    existing = existing.astype({"subject": str})
    new = new.astype({"subject": str})
    both = set(existing["model"]) & set(new["model"])
    same = existing[existing["model"].isin(both)]
    if len(same) and not overwrite:
        joined = same.merge(new[new["model"].isin(both)], on=["subject", "model"], how="outer", suffixes=("_existing", "_new"),
                            indicator=True)
        if (joined["_merge"] != "both").any():
            raise WorseTable(f"{path} holds fits of other people for these models ({(joined['_merge'] != 'both').sum()} "
                             f"person-model pairs differ): not replaced; pass --overwrite (overwrite=True) or choose another --out")
        loss = joined["logpost_existing"] - joined["logpost_new"]
        if (loss > 1e-6).any():
            raise WorseTable(f"{path} holds better fits: this run's log posterior is lower for {(loss > 1e-6).sum()} of "
                             f"{len(loss)} person-model pairs (by up to {loss.max():.3g}); not replaced (this run's fits stay in "
                             f"the chunk files); pass --overwrite (overwrite=True) or choose another --out")
    kept = existing[~existing["model"].isin(new["model"].unique())]
    return pd.concat([kept, new], ignore_index=True).reindex(columns=COLUMNS)


def prior_at(history, names, position, start):
    """The prior (mean, SD of each parameter's z, in the order of `names`) after the EM iteration at
    `position` of `history` (-1 the last; before the first, `start`)."""
    iterations = sorted(history["iteration"].unique()) if len(history) else []
    if position < -len(iterations):
        return start
    rows = history[history["iteration"] == iterations[position]].set_index("parameter").loc[list(names)]
    return rows["mean"].to_numpy(), rows["sd"].to_numpy()


def run_empirical_bayes(dataset, model, out, root=None, restarts=2, chunk_size=50, seed=0, iterations=20, tolerance=1e-3,
                        progress=True, say=print):
    """`empirical_bayes`' EM for `model` over every person of `dataset`, each E-step a Ray task per
    chunk of people (Ray must be connected), each person started from their previous MAP and
    `restarts` random points. Every iteration's prior is written to
    `<out>/<dataset>_eb/<model>_prior.csv` (mean and SD of each parameter's z; a rerun resumes
    after the last one, each person started from their fits there); every E-step's fits (under
    the prior that step used) to `<out>/<dataset>_fits_eb.csv` (`COLUMNS`, merged per model as
    `merged_table`), before the prior they give. Stops when no mean or SD moves more than
    `tolerance` (a rerun after that, or after `iterations`, does nothing). Returns (fits table, prior table)."""
    import numpy as np
    import pandas as pd
    import ray

    from twostep import datasets, empirical_bayes
    from twostep.progress import progress_bar

    spec = daw_models.SPECS[model]
    subjects = [str(s) for s in datasets.load(dataset, root).subject]
    name = datasets.dataset_name(dataset)
    n_people, path = len(subjects), os.path.join(out, f"{name}_fits_eb.csv")
    folder = os.path.join(out, f"{name}_eb")
    os.makedirs(folder, exist_ok=True)
    prior_path = os.path.join(folder, f"{model}_prior.csv")
    history = pd.read_csv(prior_path) if os.path.isfile(prior_path) else pd.DataFrame()
    initial = np.zeros(len(spec.names)), np.full(len(spec.names), empirical_bayes.START_SD)
    mean, sd = prior_at(history, spec.names, -1, initial)
    done = len(history) // len(spec.names)
    if done:
        moved = max(np.abs(a - b).max() for a, b in zip((mean, sd), prior_at(history, spec.names, -2, initial)))
        if moved < tolerance or done >= iterations:
            say(f"{done} EM iterations already under {prior_path}, the last moving the prior by {moved:.2g}: done")
            return pd.read_csv(path), history
        say(f"{done} EM iterations already under {prior_path}: resuming")
    chunks = [list(range(start, min(start + chunk_size, n_people))) for start in range(0, n_people, chunk_size)]
    remote = ray.remote(num_cpus=1)(fit_people)
    params = None
    if len(history) and os.path.isfile(path):  # resuming: start from the last fits written, person by person
        written = pd.read_csv(path, dtype={"subject": str})
        written = written[written["model"] == model].set_index("subject")
        if set(subjects) <= set(written.index):
            params = written.loc[subjects, list(spec.names)].to_numpy()
    bar = progress_bar(iterations, initial=done, unit="iteration", desc=f"EM {model}", enabled=progress, every=1)
    for iteration in range(done, iterations):
        under = empirical_bayes.with_prior(spec, mean, sd)
        starts = [None if params is None else params[chunk][:, None] for chunk in chunks]
        parts = ray.get([remote.remote(dataset, root, under, chunk, restarts, seed + iteration, s)
                          for chunk, s in zip(chunks, starts)])
        rows = pd.concat([part[0] for part in parts], ignore_index=True)
        params, hessian = (np.concatenate([part[1][key] for part in parts]) for key in ("params", "hessian"))
        write_merged(path, rows, overwrite=True)  # this E-step's fits, written before the prior that follows from them
        new_mean, new_sd = empirical_bayes.m_step(*empirical_bayes.posterior_z(spec, params, hessian))
        moved = max(np.abs(new_mean - mean).max(), np.abs(new_sd - sd).max())
        history = pd.concat([history, pd.DataFrame({"iteration": iteration, "parameter": spec.names, "mean": new_mean, "sd": new_sd,
                                                    "summed_logpost": rows["logpost"].sum()})], ignore_index=True)
        run_layout.write_atomically(prior_path, lambda partial: history.to_csv(partial, index=False))
        mean, sd = new_mean, new_sd
        bar.set_postfix(moved=f"{moved:.2g}")
        bar.update(1)
        if moved < tolerance:
            break
    bar.close()
    return pd.read_csv(path), history
