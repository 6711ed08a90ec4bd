"""Public human two-step datasets: fetched from their sources, checked, and loaded in one line.

    from twostep import datasets
    datasets.fetch("all")                     # the same as: two-step data fetch all
    kool = datasets.load("kool2016")          # HumanData; kool.records["action"] is [person, session, trial]
    mine = datasets.load("my_study.csv")      # a per-trial table of anyone's data (trial_table.py, docs/your-data.md)
    fits = datasets.load_kool2016_fits()      # the authors' fits of 12 models, per person

Four datasets of people doing Daw et al. 2011's two-step task (70/30 transitions, four drifting
reward probabilities), from three public GitHub repositories, each pinned at one commit.
`dataset_manifest.json` names, for each dataset, the repository, the commit, the papers and every
file's path with its SHA-256:

- "kool2016": Kool, Cushman & Gershman 2016 (wkool/tradeoffs): 206 adults online, 125 trials each;
  the authors kept 197.
- "decker2016": Decker, Otto, Daw & Hartley 2016: 80 people aged 8 to 25 in the lab, 200 trials.
- "potter2017": Potter, Bryce & Hartley 2017: 74 people aged 8 to 25 in the lab, 150 trials.
  Both as published with Nussenbaum et al. 2020 (hartleylabnyu/online_two_step_replication).
- "gillan2016": Gillan, Kosinski, Whelan, Phelps & Daw 2016: two online studies with psychiatric
  questionnaires, 200 trials; 1,961 people analysed (ingrdmrtn/gecco_mh, folder data_g_2019).

And three of Kool et al.'s own tasks (`ARBITRATION_DATASETS`, docs/arbitration.md), whose records add
"state1", "stake" and "points" (below):

- "kool2016-novel": Kool, Cushman & Gershman 2016's novel paradigm (wkool/tradeoffs): 199 adults
  online, 125 trials; the authors kept 184.
- "kool2017-novel-stakes", "kool2017-daw-stakes": Kool, Gershman & Cushman 2017 (wkool/arbitration):
  the novel paradigm and Daw et al.'s, each with a stake of 1 or 5 per trial; 101 and 100 adults
  online, 200 trials; the authors kept 98 and 100.

No repository has a license: the project never ships these files. `fetch` downloads them from
GitHub (or copies them from a local mirror of the repositories), checks every SHA-256, writes
them to `data_dir()` as `<dataset>/<file name>` (gillan2016 keeps its two folders of per-person
files) and prints the papers to cite. A dataset's files are gathered in a temporary folder beside
its own and moved into place only once every one of them has its SHA-256: a failed fetch leaves
the dataset's folder as it was (or absent).

`load` returns `HumanData`, whose records are numpy arrays [person, session, trial] (one session per
person here: the session axis has size 1; a person with fewer trials is padded with missed trials),
in the project's conventions (`two_step_env`: S2 = 1, S3 = 2; `STAY_CELLS`):

    action        int    first-stage action: 0 leads commonly to S2, 1 commonly to S3; -1 if missed
    state         int    second-stage state reached, S2 = 1 or S3 = 2; -1 if the first stage was missed
    common        bool   the transition was the common one (False where there was none)
    reward        float  1 or 0; NaN on missed trials
    choice2       int    second-stage option 0/1; -1 if missed
    probs         float  [..., 4] the reward probabilities at that trial of (S2 option 0, S2 option 1,
                         S3 option 0, S3 option 1); NaN where the file has none
    missed        bool   the trial cannot be used: a choice was missed, the outcome is not recorded, or padding
    rt1, rt2      float  reaction times of the two choices in seconds; NaN where missed or not recorded
    side1, side2  int    screen side of the chosen option, 0 left / 1 right; -1 where missed or not recorded
    left1, left2  int    the option shown on the left (the action at stage 1, the option at stage 2);
                         -1 where not recorded or not shown
    state1        int    Kool et al.'s tasks: the first-stage state, 0/1 (always 0 in Daw et al.'s paradigm)
    stake         float  Kool et al.'s tasks: the trial's stake, 1 or 5 (Kool et al. 2017; 1 in 2016)
    points        float  the novel paradigm: [..., 2] both second-stage states' points that trial

On a trial where only the second choice was missed, action, state, common, rt1 and side1 are still
given; select usable trials with `missed`, as the authors do (they drop such trials entirely).
"""

import csv
import hashlib
import json
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import scipy.io

from twostep.configs import ARBITRATION_DATASETS, DATASETS, S2  # the manifest's datasets, in its order (a test checks)

MANIFEST = json.loads(Path(__file__).with_name("dataset_manifest.json").read_text())
RECORD_FILL = {  # every record, with its value on a padded trial
    "action": -1, "state": -1, "common": False, "reward": np.nan, "choice2": -1, "probs": np.nan,
    "missed": True, "rt1": np.nan, "rt2": np.nan, "side1": -1, "side2": -1, "left1": -1, "left2": -1,
}
ARBITRATION_RECORD_FILL = {**RECORD_FILL, "state1": -1, "stake": np.nan, "points": np.nan}  # Kool's own tasks add these
KOOL_MAX_MISSED = 25  # groupanalysis.m keeps people with fewer missed trials than this
KOOL2017_MAX_MISSED = 40  # Kool et al. 2017's groupanalysis.m (of 200 trials)
KOOL2017_STAKES = (1, 5)
MODEL_NAMES = {0: "stakes", 1: "hybrid", 2: "model-based", 3: "model-free"}  # results.mat opts.model (0: Kool et al. 2017's)


class DatasetError(ValueError):
    """A dataset file is missing, corrupt, or not what the manifest or the loader expects (one line)."""


def data_dir():
    """Where datasets live by default: $TWO_STEP_DATA if set, else ~/.cache/two-step/data."""
    return Path(os.environ.get("TWO_STEP_DATA") or Path.home() / ".cache" / "two-step" / "data").expanduser()


def download_url(dataset, path):
    """The raw.githubusercontent.com address of a file of `dataset` at its pinned commit."""
    source = MANIFEST[dataset]
    return f"https://raw.githubusercontent.com/{source['repository']}/{source['commit']}/{urllib.parse.quote(path)}"


# ---- Fetch: download (or copy from a mirror), check SHA-256, move into place when all are right ----


def fetch(dataset, to=None, mirror=None, log=print):
    """Fetch `dataset` (one of `DATASETS`, `ARBITRATION_DATASETS` or "all") into `to`/<dataset>/.

    `to` defaults to `data_dir()`. Files come from GitHub at the pinned commit or, with `mirror`,
    from a folder holding one subfolder per source repository (the manifest's `mirror_folder`:
    `mirror/kool2016/data/daw paradigm/...`, `mirror/nussenbaum2020/analysis_code_and_data/...`).
    A file already present with the right SHA-256 is kept; every other is checked and written to a
    temporary folder `to`/.<dataset>.<pid>.partial/, whose files are moved into `to`/<dataset>/ (the
    whole folder renamed, if there was none) only once every file of the dataset has its SHA-256. A
    missing source file or a wrong SHA-256 raises DatasetError naming the file and what was expected,
    and leaves `to`/<dataset>/ as it was (or absent: `to` too, if this call created it). Returns `to`.
    """
    root = Path(to) if to is not None else data_dir()
    new = next((folder for folder in (*reversed(root.absolute().parents), root.absolute()) if not folder.exists()), None)
    try:
        for name in _dataset_names(dataset):
            _fetch_dataset(name, root, mirror, log)
    except BaseException:  # the folders this call made for nothing go too
        if new is not None and new.is_dir() and not any(path.is_file() for path in new.rglob("*")):
            shutil.rmtree(new, ignore_errors=True)
        raise
    return root


def _fetch_dataset(name, root, mirror, log):
    """`fetch` of one dataset into root/<name>/: its missing or damaged files, gathered and checked in a
    temporary folder beside it, then moved in."""
    source = MANIFEST[name]
    folder = root / name
    origin = f"copying what is missing from {Path(mirror) / source['mirror_folder']}" if mirror else "downloading what is missing"
    log(f"{name}: {len(source['files'])} files of github.com/{source['repository']} at commit "
        f"{source['commit']}; {origin} into {folder}")
    for paper in source["papers"]:
        log(f"  cite: {paper}")
    log(f"  license: {source['license']}")
    staging = root / f".{name}.{os.getpid()}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        written = []
        for path, sha256 in source["files"].items():
            local = _local_path(source, path)
            target = folder / local
            if target.is_file() and _sha256(target.read_bytes()) == sha256:
                continue
            content = _read_mirror(mirror, name, path) if mirror else _download(name, path)
            if _sha256(content) != sha256:
                where = Path(mirror) / source["mirror_folder"] / path if mirror else download_url(name, path)
                raise DatasetError(f"{where}: SHA-256 {_sha256(content)} does not match the expected {sha256} "
                                   f"of {source['repository']}@{source['commit'][:7]}:{path}")
            (staging / local).parent.mkdir(parents=True, exist_ok=True)
            (staging / local).write_bytes(content)
            written.append(local)
        if not folder.exists():
            os.replace(staging, folder)  # the whole dataset at once
        else:  # a repair: each file replaced by its checked copy at once
            for local in written:
                (folder / local).parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / local, folder / local)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(f"  {len(written)} files written, {len(source['files']) - len(written)} already present and checked")


def _local_path(source, path):
    """Where a source file goes under its dataset's folder: its path below the manifest's `base`
    folder if there is one (gillan2016 has two folders of per-person files), else its name."""
    return PurePosixPath(path).relative_to(source["base"]) if "base" in source else PurePosixPath(path).name


def _dataset_names(dataset):
    if dataset == "all":
        return tuple(MANIFEST)
    if dataset not in MANIFEST:
        raise DatasetError(f"unknown dataset {dataset!r}: expected one of {', '.join(MANIFEST)} or 'all'")
    return (dataset,)


def _sha256(content):
    return hashlib.sha256(content).hexdigest()


def _read_mirror(mirror, dataset, path):
    source = MANIFEST[dataset]
    file = Path(mirror) / source["mirror_folder"] / path
    if not file.is_file():
        raise DatasetError(f"{file}: missing; expected {source['repository']}@{source['commit'][:7]}:{path} "
                           f"(SHA-256 {source['files'][path]})")
    return file.read_bytes()


def _download(dataset, path):
    url = download_url(dataset, path)
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read()
    except (urllib.error.URLError, OSError) as error:
        raise DatasetError(f"{url}: download failed ({error}); without a network, copy the files from a local "
                           f"mirror: two-step data fetch {dataset} --from DIR") from error


# ---- Load: per-person records in the project's conventions ----


@dataclass(frozen=True)
class HumanData:
    """One dataset's people: records [person, session, trial] (see the module docstring) and who they are.

    `subject`, `age` (years; NaN if not recorded) and `included` (kept by the authors) are [person].
    `excluded` maps every person the authors left out to the reason, whether or not `load` returned
    them (`include_excluded`). `authors` holds per-person numbers the authors computed, [person, ...],
    NaN where they computed none (kool2016: "stayprobs", in STAY_CELLS order). `scores` holds
    per-person questionnaire scores and covariates [person] (gillan2016), NaN where there are none.
    """

    dataset: str
    records: dict
    subject: np.ndarray
    age: np.ndarray
    included: np.ndarray
    excluded: dict = field(default_factory=dict)
    authors: dict = field(default_factory=dict)
    scores: dict = field(default_factory=dict)

    def select(self, people):
        """The same data restricted to `people` (a boolean mask or indices over the person axis)."""
        return HumanData(self.dataset, {name: values[people] for name, values in self.records.items()},
                         self.subject[people], self.age[people], self.included[people], self.excluded,
                         {name: values[people] for name, values in self.authors.items()},
                         {name: values[people] for name, values in self.scores.items()})


def load(dataset, root=None, include_excluded=False):
    """Load `dataset` from `root`/<dataset>/ (default `data_dir()`); the people the authors excluded only if asked.

    `dataset` may also be the path of a per-trial table or an hBayesDM file (`trial_table.read_table`;
    `root` and `include_excluded` do not apply), so that whatever takes a dataset's name takes a file."""
    loaders = {"kool2016": load_kool2016, "decker2016": load_decker2016, "potter2017": load_potter2017,
               "gillan2016": load_gillan2016, "kool2016-novel": load_kool2016_novel,
               "kool2017-novel-stakes": lambda *args: load_kool2017("kool2017-novel-stakes", *args),
               "kool2017-daw-stakes": lambda *args: load_kool2017("kool2017-daw-stakes", *args)}
    if dataset in loaders:
        return loaders[dataset](root, include_excluded)
    if Path(dataset).is_file():
        from twostep import trial_table  # it builds on this module's records

        return trial_table.read_table(dataset)
    raise DatasetError(f"unknown dataset {str(dataset)!r}: expected one of {', '.join(loaders)}, or the path of an existing "
                       "per-trial table (docs/your-data.md)")


def dataset_name(dataset):
    """What a dataset is called in output files and tables: its name, or a table file's stem."""
    return dataset if dataset in MANIFEST else Path(dataset).stem


def load_kool2016(root=None, include_excluded=False):
    """Kool, Cushman & Gershman 2016, from groupdata.mat (the authors' per-person trials) and subinfo.mat (ages).

    206 people x 125 trials (practice removed); by default the 197 the authors kept (groupdata.i,
    positions in groupdata.subdata: fewer than 25 missed trials, groupanalysis.m). `subject` is the
    1-based position in groupdata.subdata, as a string; `age` comes from subinfo.mat (same order).
    Codes: choice1, choice2, state2 are 1/2 (-1 missed); over all 206 people choice1 1 led to
    state2 1 on 69.8% of trials and choice1 2 to state2 2 on 70.2%, and the file's `common` agrees
    with "action 0 & common -> S2" on every trial (checked on load). rt1, rt2 are in ms (-1 missed);
    records give seconds. probs = (ps1a1, ps1a2, ps2a1, ps2a2): the file's rewards fit these as
    P(win | state2, choice2) of that same trial better than any other order or the next trial's.
    side1 = 0 if choice1 == stim_1_left else 1 (the authors' own reading, MB_MF_daw_rllik.m), and
    left1 = stim_1_left - 1; likewise at stage 2 (stim_2_left coded as choice2). The authors'
    response stickiness favours, at trial t, the action now shown on the side pressed at the last
    usable trial p: `left1[t] if side1[p] == 0 else 1 - left1[t]`, with p the last earlier trial
    whose `missed` is False (their likelihood skips missed trials entirely). authors["stayprobs"]
    is groupdata.stayprobs: per person, over consecutive pairs of trials with neither missed, in
    STAY_CELLS order (as groupanalysis.m computes them; its header comment lists another order).
    """
    folder, file, groupdata, subdata, kept = _kool_groupdata("kool2016", root)
    people = [_kool_person(person, file, f"groupdata.subdata({i + 1}).") for i, person in enumerate(subdata)]
    if any((person.pop("authors_missed") != person["missed"]).any() for person in people):
        raise DatasetError(f"{file}: a trial with a time-out (rt1 or rt2 -1) records both choices; expected -1 there")
    stayprobs = np.asarray(_field(groupdata, "stayprobs", file, "groupdata."), dtype=float)
    if stayprobs.shape != (len(kept), 4):
        raise DatasetError(f"{file}: field 'groupdata.stayprobs' has shape {stayprobs.shape}, expected ({len(kept)}, 4)")
    authors_stayprobs = np.full((len(people), 4), np.nan)
    authors_stayprobs[kept] = stayprobs
    data = _kool_data("kool2016", folder, people, kept, KOOL_MAX_MISSED, RECORD_FILL, {"stayprobs": authors_stayprobs})
    return data if include_excluded else data.select(kept)


def _kool_groupdata(dataset, root):
    """Kool et al.'s groupdata.mat of `dataset`: (its folder, the file, groupdata, groupdata.subdata, the
    0-based positions in it of the people the authors kept, groupdata.i)."""
    folder = _dataset_folder(dataset, root)
    file = folder / "groupdata.mat"
    groupdata = _field(_loadmat(file), "groupdata", file)
    subdata = np.atleast_1d(_field(groupdata, "subdata", file, "groupdata."))
    kept = _positions(_field(groupdata, "i", file, "groupdata."), len(subdata), file, "groupdata.i")
    return folder, file, groupdata, subdata, kept


def _kool_data(dataset, folder, people, kept, max_missed, fills, authors):
    """HumanData of everybody in groupdata.subdata (`people`: records [trial] each), `subject` their
    1-based position, ages from subinfo.mat, the authors keeping `kept` (fewer than `max_missed` missed)."""
    included = np.zeros(len(people), bool)
    included[kept] = True
    records = _stack(people, fills)
    subjects = np.array([str(i + 1) for i in range(len(people))])
    missed = records["missed"].sum(axis=(1, 2))
    excluded = {str(subjects[i]): f"{missed[i]} of {len(people[i]['action'])} trials missed; the authors keep people with "
                f"fewer than {max_missed} (groupanalysis.m)" for i in np.flatnonzero(~included)}
    return HumanData(dataset, records, subjects, _kool_ages(folder / "subinfo.mat", len(people)), included, excluded, authors)


def _kool_person(person, file, prefix):
    """One struct of groupdata.subdata as records [trial]."""
    choice1 = _trial_field(person, "choice1", None, file, prefix)
    n = len(choice1)
    action = _coded(choice1, (1, 2), file, prefix + "choice1")
    reached = _coded(_trial_field(person, "state2", n, file, prefix), (1, 2), file, prefix + "state2")
    state = np.where(reached >= 0, reached + S2, -1)
    choice2 = _coded(_trial_field(person, "choice2", n, file, prefix), (1, 2), file, prefix + "choice2")
    rt1, rt2 = (_trial_field(person, name, n, file, prefix) for name in ("rt1", "rt2"))
    authors_missed = (action < 0) | (state < 0) | (choice2 < 0)  # what MB_MF_daw_rllik.m and MB_MF_rllik.m skip
    missed = authors_missed | (rt1 == -1) | (rt2 == -1)  # a time-out: Kool et al. 2017's files still record a choice2
    common = _trial_field(person, "common", n, file, prefix) == 1
    transition = (action >= 0) & (state >= 0)
    disagrees = transition & (common != (state == action + S2))
    if disagrees.any():
        raise DatasetError(f"{file}: field '{prefix}common' disagrees with choice1 and state2 "
                           f"(action 0 & common -> S2) at trial {np.argmax(disagrees) + 1}")
    left1 = _coded(_trial_field(person, "stim_1_left", n, file, prefix), (1, 2), file, prefix + "stim_1_left")
    left2 = _coded(_trial_field(person, "stim_2_left", n, file, prefix), (1, 2), file, prefix + "stim_2_left")
    return {
        "action": action,
        "state": state,
        "common": common & transition,
        "reward": _reward(_trial_field(person, "win", n, file, prefix), authors_missed, file, prefix + "win"),
        "choice2": choice2,
        "probs": np.stack([_trial_field(person, name, n, file, prefix) for name in ("ps1a1", "ps1a2", "ps2a1", "ps2a2")], -1),
        "missed": missed,
        "rt1": np.where((action >= 0) & (rt1 >= 0), rt1 / 1000, np.nan),
        "rt2": np.where((choice2 >= 0) & (rt2 >= 0), rt2 / 1000, np.nan),
        "side1": np.where(action >= 0, action != left1, -1),
        "side2": np.where(choice2 >= 0, choice2 != left2, -1),
        "left1": left1,
        "left2": np.where(state >= 0, left2, -1),
        "authors_missed": authors_missed,
    }


def _kool_ages(file, n_people):
    subinfo = np.asarray(_field(_loadmat(file), "subinfo", file), dtype=object)
    if subinfo.ndim != 2 or subinfo.shape[0] != n_people or subinfo.shape[1] < 2:
        raise DatasetError(f"{file}: field 'subinfo' has shape {subinfo.shape}, expected {n_people} rows (one per person) "
                           "with the age in column 2")
    return np.array([_parsed(age, float, file, f"field 'subinfo', row {i + 1}, column 2") for i, age in enumerate(subinfo[:, 1])])


def load_kool2016_fits(root=None):
    """The authors' MAP fits (mfit, one start per person; results.mat) of 12 models to the 197 people they kept.

    A tuple of 12 dicts in the file's order: "model" (1 hybrid, 2 model-based only: w = 1, 3 model-free
    only: w = 0), "model_name", "st" and "respst" (bool: choice and response stickiness in the model),
    "params", "lower", "upper" (the free parameters in the order of x, as set_opts.m names them, and
    their bounds), "subject" (the people, in the order of load("kool2016")), and per person "x"
    [person, K], "loglik", "logpost", "bic", "aic" [person] and "H" [person, K, K] (mfit's Hessian).
    """
    return load_kool_fits("kool2016", root)


def _kool_fit(fit, kept, file, prefix):
    params = np.atleast_1d(_field(fit, "param", file, prefix))
    x = np.asarray(_field(fit, "x", file, prefix), dtype=float).reshape(len(kept), len(params))
    per_person = {name: np.asarray(_field(fit, name, file, prefix), dtype=float).reshape(len(kept))
                  for name in ("logpost", "bic", "aic")}
    loglik = np.asarray(_field(fit, "loglik", file, prefix), dtype=float).ravel()
    from_aic = len(params) - per_person["aic"] / 2  # aic = 2 K - 2 loglik
    if len(loglik) < len(kept) and np.allclose(loglik, from_aic[:len(loglik)], rtol=0, atol=1e-9):
        loglik = from_aic  # Kool et al. 2017's files keep the first 10 people's loglik; their aic and bic hold everybody's
    per_person["loglik"] = loglik.reshape(len(kept))
    if "opts" in getattr(fit, "_fieldnames", ()):
        opts = _field(fit, "opts", file, prefix)
        model = _parsed(_field(opts, "model", file, prefix + "opts."), int, file, f"field '{prefix}opts.model'", "a model number")
        if model not in MODEL_NAMES:
            raise DatasetError(f"{file}: field '{prefix}opts.model' holds {model}, expected a model number 1, 2 or 3")
        st, respst = (bool(_field(opts, name, file, prefix + "opts.")) for name in ("st", "respst"))
    else:  # Kool et al. 2017's one model: both stickiness terms, w by stake
        model, st, respst = 0, True, True
    return {
        "model": model,
        "model_name": MODEL_NAMES[model],
        "st": st,
        "respst": respst,
        "params": tuple(str(_field(p, "name", file, prefix + "param.")) for p in params),
        "lower": np.array([_parsed(_field(p, "lb", file, prefix + "param."), float, file, f"field '{prefix}param.lb'") for p in params]),
        "upper": np.array([_parsed(_field(p, "ub", file, prefix + "param."), float, file, f"field '{prefix}param.ub'") for p in params]),
        "subject": np.array([str(i + 1) for i in kept]),
        "x": x,
        **per_person,
        "H": np.stack([np.asarray(h, dtype=float).reshape(len(params), len(params))
                       for h in np.atleast_1d(_field(fit, "H", file, prefix))]),
    }


# ---- Kool et al.'s own tasks: the novel paradigm (2016) and stakes (2017) ----


def load_kool2016_novel(root=None, include_excluded=False):
    """Kool, Cushman & Gershman 2016's novel paradigm, from groupdata.mat and subinfo.mat (ages).

    199 people x 125 trials; by default the 184 the authors kept (groupdata.i: fewer than 25 missed
    trials). Each trial starts in first-stage state `state1` (1/2 in the file, 0/1 in the records),
    whose two options (choice1 1-2 in state 1, 3-4 in state 2) each lead to one second-stage state
    (state2 1/2), always the same: the records' action is the option within its state (0 leads to
    S2, 1 to S3; checked on every trial). The second stage has one option (choice2 0, rt2 the key
    press that collects the points). reward is the points won (-4 to 5); points [trial, 2] both
    states' points that trial (`rews`); stake 1. A trial is missed where rt1 or rt2 is -1 (as
    MB_MF_novel_rllik.m skips them). side1 = 0 if choice1 == stim_left else 1, left1 the option
    (within its state) shown on the left.
    """
    return _load_kool_paradigm("kool2016-novel", root, include_excluded, KOOL_MAX_MISSED)


def load_kool2017(dataset, root=None, include_excluded=False):
    """Kool, Gershman & Cushman 2017: "kool2017-novel-stakes" (the novel paradigm with points 0-9,
    101 people, the authors kept 98) or "kool2017-daw-stakes" (Daw et al.'s, 100 people, all kept),
    200 trials, from groupdata.mat and subinfo.mat (ages). Each trial's stake (1 or 5, cued before
    the first choice) is in `stake`; otherwise as `load_kool2016_novel` and `load_kool2016` (the
    authors keep people with fewer than 40 missed trials). A trial is missed where rt1 or rt2 is
    -1 (a time-out: no points paid, the file's own `missed`). In Daw's paradigm the file still
    records a choice2 and a win on 529 trials whose second stage timed out, and the authors'
    MB_MF_rllik.m, which skips a trial only where choice1 or choice2 is -1, fits them: records keep
    that choice2 and win (the win unpaid), and authors["likelihood_missed"] [person, 1, trial]
    marks the trials the authors' likelihood skips, for every dataset of Kool et al.'s tasks."""
    return _load_kool_paradigm(dataset, root, include_excluded, KOOL2017_MAX_MISSED)


def _load_kool_paradigm(dataset, root, include_excluded, max_missed):
    folder, file, _, subdata, kept = _kool_groupdata(dataset, root)
    novel = "novel" in dataset
    people, authors_missed = [], []
    for i, person in enumerate(subdata):
        prefix = f"groupdata.subdata({i + 1})."
        records = _novel_person(person, file, prefix) if novel else _kool_person(person, file, prefix)
        n = len(records["action"])
        records["stake"] = _stakes(person, n, file, prefix) if dataset.startswith("kool2017") else np.ones(n)
        records.setdefault("state1", np.zeros(n, int))  # Daw et al.'s task has one first-stage state
        records.setdefault("points", np.full((n, 2), np.nan))
        authors_missed.append(records.pop("authors_missed", records["missed"]))
        people.append(records)
    skipped = _stack([{"action": m, "missed": m} for m in authors_missed], {"action": -1, "missed": True})["missed"]
    data = _kool_data(dataset, folder, people, kept, max_missed, ARBITRATION_RECORD_FILL, {"likelihood_missed": skipped})
    return data if include_excluded else data.select(kept)


def _novel_person(person, file, prefix):
    """One struct of the novel paradigm's groupdata.subdata as records [trial]."""
    state1 = _coded(_trial_field(person, "state1", None, file, prefix), (1, 2), file, prefix + "state1")
    n = len(state1)
    rt1, rt2 = (_trial_field(person, name, n, file, prefix) for name in ("rt1", "rt2"))
    reached = _coded(_trial_field(person, "state2", n, file, prefix), (1, 2), file, prefix + "state2")
    option = _trial_field(person, "choice1", n, file, prefix) - 1 - 2 * state1
    missed = (rt1 == -1) | (rt2 == -1) | (state1 < 0) | (reached < 0)
    wrong = ~missed & ~np.isin(option, (0, 1))
    if wrong.any():
        raise DatasetError(f"{file}: field '{prefix}choice1' holds an option of the other first-stage state at trial "
                           f"{np.argmax(wrong) + 1}: expected 1-2 in state1 1, 3-4 in state1 2")
    action = np.where(missed, -1, option).astype(int)
    state = np.where(missed, -1, reached + S2)
    elsewhere = (action >= 0) & (state != action + S2)
    if elsewhere.any():
        raise DatasetError(f"{file}: field '{prefix}state2' is not the state option {action[elsewhere][0] + 1} leads to at trial "
                           f"{np.argmax(elsewhere) + 1} (option 1 of each first-stage state leads to state2 1, option 2 to 2)")
    left1 = _trial_field(person, "stim_left", n, file, prefix) - 1 - 2 * state1
    points = np.asarray(_field(person, "rews", file, prefix), dtype=float).reshape(n, 2)
    return {
        "state1": state1,
        "action": action,
        "state": state,
        "common": action >= 0,
        "reward": np.where(missed, np.nan, _trial_field(person, "points", n, file, prefix)),
        "choice2": np.where(missed, -1, 0),
        "probs": np.full((n, 4), np.nan),
        "points": points,
        "missed": missed,
        "rt1": np.where(rt1 >= 0, rt1 / 1000, np.nan),
        "rt2": np.where(rt2 >= 0, rt2 / 1000, np.nan),
        "side1": np.where(action >= 0, action != left1, -1),
        "side2": np.full(n, -1),
        "left1": np.where(np.isin(left1, (0, 1)), left1, -1),
        "left2": np.full(n, -1),
    }


def _stakes(person, n, file, prefix):
    stake = _trial_field(person, "stake", n, file, prefix)
    if not np.isin(stake, KOOL2017_STAKES).all():
        raise DatasetError(f"{file}: field '{prefix}stake' holds {stake[~np.isin(stake, KOOL2017_STAKES)][0]:g}, "
                           f"expected one of {KOOL2017_STAKES}")
    return stake.astype(float)


def load_kool_fits(dataset, root=None):
    """The authors' MAP fits (mfit; results.mat) of `dataset`'s models to the people they kept,
    as `load_kool2016_fits` gives them: "kool2016" and "kool2016-novel" 12 models, Kool et al.
    2017's datasets their one model (standard/results.mat: beta, alpha, lambda, w_lo, w_hi and
    both stickiness; "model" 0, "model_name" "stakes")."""
    folder, *_, kept = _kool_groupdata(dataset, root)
    file = folder / ("standard/results.mat" if dataset.startswith("kool2017") else "results.mat")
    results = np.atleast_1d(_field(_loadmat(file), "results", file))
    return tuple(_kool_fit(fit, kept, file, f"results({m + 1}).") for m, fit in enumerate(results))


def load_decker2016(root=None, include_excluded=False):
    """Decker, Otto, Daw & Hartley 2016: 80 people, one .mat file each (200 trials; 1895_onsets.mat has 152).

    The authors excluded nobody: their model-fitting driver (mbmf_driver.m) fits every file (from
    trial 10 on, a modelling choice: the records keep every trial) and decker_ages.csv lists all 80.
    1895_onsets.mat stops at trial 152, which has both choices but no outcome (money NaN): it counts
    as missed here, so our likelihood drops the trial, where the authors' (mbmf_lik.m) counts its
    two choices (the unknown outcome only changes values after the last choice); their
    log-likelihood of this person has two more choice terms than ours.
    Codes: choice1, choice2 1/2 and state 2/3, 0 (or NaN in the four oldest files) when missed;
    choice1 1 led to state 2 on 69.8% of trials and choice1 2 to state 3 on 70.9% (the task code
    draws state = 2 + xor(rand > 0.7, choice1 - 1); the driver's model uses the same mapping).
    `common` is derived from that mapping. money 1/0; rts1, rts2 in seconds (0 when missed).
    payoff [2, 2, 201] is P(money | state - 1, choice2, trial): probs[t] = payoff[:, :, t] flattened,
    (state 2 option 1, state 2 option 2, state 3 option 1, state 3 option 2); rewards fit this
    better than the transposed order or the next trial's. The four files 1834, 1895, 1946 and
    1984_onsets.mat, from an older task version, hold only choice1, choice2, state, money and name:
    their rt and probs are NaN. The files' pos1/pos2 are not the screen sides: choices are
    independent of them (as if the options were drawn at fixed places), so side and left are -1.
    `subject` is the file name without .mat; `age` comes from the ages CSV, matched as the driver
    does (the last four digits of the file's `name`). `include_excluded` changes nothing here.
    """
    return _load_hartley("decker2016", root)


def load_potter2017(root=None, include_excluded=False):
    """Potter, Bryce & Hartley 2017: 74 people, one .mat file each (150 trials); the same task code as decker2016.

    The authors excluded nobody (mbmf_driver.m fits every file; potter_ages.csv lists all 74).
    choice1 1 led to state 2 on 69.2% of trials and choice1 2 to state 3 on 69.8%. Every file has
    rts1, rts2 and payoff; otherwise as `load_decker2016`.
    """
    return _load_hartley("potter2017", root)


def _load_hartley(dataset, root):
    """A dataset of the Hartley lab's repository: one .mat file per person, ages in a CSV, no exclusions."""
    folder = _dataset_folder(dataset, root)
    names = [PurePosixPath(path).name for path in MANIFEST[dataset]["files"]]
    ages = _read_ages(folder / next(name for name in names if name.endswith("_ages.csv")))
    people, subjects, age = [], [], []
    for name in (name for name in names if name.endswith(".mat")):
        file = folder / name
        mat = _loadmat(file)
        people.append(_hartley_person(mat, file))
        subjects.append(name.removesuffix(".mat"))
        key = ("000" + str(_field(mat, "name", file)))[-4:]  # mbmf_driver.m: the last four characters
        age.append(ages.get(_parsed(key, int, file, "field 'name' (its last 4 characters)"), np.nan) if key.isdigit() else np.nan)
    return HumanData(dataset, _stack(people), np.array(subjects), np.array(age), np.ones(len(people), bool))


def _hartley_person(mat, file):
    """One person's .mat file as records [trial]."""
    choice1 = _trial_field(mat, "choice1", None, file)
    n = len(choice1)
    action = _coded(choice1, (1, 2), file, "choice1")
    reached = _coded(_trial_field(mat, "state", n, file), (2, 3), file, "state")
    state = np.where(reached >= 0, reached + S2, -1)
    choice2 = _coded(_trial_field(mat, "choice2", n, file), (1, 2), file, "choice2")
    money = _trial_field(mat, "money", n, file)
    missed = (action < 0) | (state < 0) | (choice2 < 0) | np.isnan(money)  # NaN: no outcome recorded
    rt1, rt2, probs = np.full(n, np.nan), np.full(n, np.nan), np.full((n, 4), np.nan)
    if "rts1" in mat:  # the later task version: every one of these fields, or the file is damaged
        rt1 = np.where(action >= 0, _trial_field(mat, "rts1", n, file), np.nan)
        rt2 = np.where(choice2 >= 0, _trial_field(mat, "rts2", n, file), np.nan)
        payoff = np.asarray(_field(mat, "payoff", file), dtype=float)
        if payoff.ndim != 3 or payoff.shape[:2] != (2, 2) or payoff.shape[2] < n:
            raise DatasetError(f"{file}: field 'payoff' has shape {payoff.shape}, expected (2, 2, at least {n})")
        probs = payoff[:, :, :n].reshape(4, n).T
    unrecorded = np.full(n, -1)
    return {
        "action": action,
        "state": state,
        "common": (action >= 0) & (state == action + S2),
        "reward": _reward(money, missed, file, "money"),
        "choice2": choice2,
        "probs": probs,
        "missed": missed,
        "rt1": rt1,
        "rt2": rt2,
        "side1": unrecorded,
        "side2": unrecorded,
        "left1": unrecorded,
        "left2": unrecorded,
    }


def _read_ages(file):
    """{subject_id: age} from an ages CSV (columns subject_id, age, ...)."""
    if not file.is_file():
        raise DatasetError(f"{file}: missing; run datasets.fetch (two-step data fetch)")
    rows = _csv_rows(file, "utf-8-sig")
    for column in ("subject_id", "age"):
        if not rows or column not in rows[0][1]:
            raise DatasetError(f"{file}: column '{column}' is missing")
    return {_parsed(row["subject_id"], int, file, f"line {line}, column 'subject_id'"):
            _parsed(row["age"], float, file, f"line {line}, column 'age'") for line, row in rows}


def _csv_rows(file, encoding="utf-8"):
    """[(line number, {column: text})] of a CSV file with a header line."""
    with open(file, newline="", encoding=encoding) as handle:
        reader = csv.DictReader(handle)
        return [(reader.line_num, row) for row in reader]


GILLAN_TRIALS = 200
GILLAN_COLUMNS = ("trial", "drift_1", "drift_2", "drift_3", "drift_4", "stage_1_response", "stage_1_selected_stimulus",
                  "stage_1_rt", "transition", "stage_2_response", "stage_2_selected_stimulus", "stage_2_state",
                  "stage_2_rt", "reward", "redundant")
GILLAN_SCORES = {  # self-report file -> {column: name in HumanData.scores}
    "self_report_study1.csv": {"age": "age", "iq": "iq", "gender": "gender", "sds_total": "sds", "stai_total": "stai",
                               "oci_total": "oci"},
    "self_report_study2.csv": {"age": "age", "iq": "iq", "gender": "gender", "lsas_total": "lsas", "bis_total": "bis",
                               "sds_total": "sds", "scz_total": "scz", "aes_total": "aes", "stai_total": "stai",
                               "eat_total": "eat", "audit_total": "audit", "oci_total": "oci", "Factor1": "Factor1",
                               "Factor2": "Factor2", "Factor3": "Factor3"},
}


def load_gillan2016(root=None, include_excluded=False):
    """Gillan, Kosinski, Whelan, Phelps & Daw 2016: two online studies, 200 trials each, one CSV per person.

    Study 1 (`twostep_data_study1_individual_csv/`, 649 files) and study 2 (`..._study2_...`, 1,712);
    the authors analysed the people with a self-report row (548 and 1,413): the others are excluded
    ("no self-report"). `scores` per person: "study" (1 or 2), "age", "iq", "gender" (coded -1/1 as
    in the files) and the questionnaire totals of their study ("sds", "stai", "oci" in both; study 2
    also "lsas", "bis", "scz", "aes", "eat", "audit" and the factor scores "Factor1"
    anxious-depression, "Factor2" compulsive behaviour and intrusive thought, "Factor3" social
    withdrawal), NaN where the study has none; `age` too. `subject` is the file's stem (some study-1
    ids are all digits: kept as text).

    A file is instruction rows, then the task's 200 rows of 15 fields (`GILLAN_COLUMNS`): the task
    rows are found by their shape, trials 1 to 200 in order, or the file is refused. One file
    (study 2, 3570Y55XZPJQZPOYLZCOL50WZE6GYI) has trial 1 fused onto the end of the previous line
    without its trial number: a line just before trial 2 ending in 14 fields of a task row is read
    as trial 1. Every person saw the same walk (drift_1..4 = S2 stimulus 1, S2 stimulus 2, S3
    stimulus 1, S3 stimulus 2, `probs`); stimulus 1 leads commonly to state 2 (checked on load:
    action 0 & common -> S2). A missed first stage: the response, transition, state and reward read
    -1 (the selected-stimulus column still reads 2 and is not the choice): action, state -1. A missed
    second stage: its response and reward read -1, the transition and state are real: action and
    state kept, choice2 -1, `missed`. RTs are in ms in the files (seconds here); the stimuli do not
    change sides (stimulus 1 left), so side = left1/left2 mapping is fixed: left1 = left2 = 0.
    """
    folder = _dataset_folder("gillan2016", root)
    people, subjects, scores, included, excluded = [], [], [], [], {}
    for study, report in ((1, "self_report_study1.csv"), (2, "self_report_study2.csv")):
        rows = _read_self_report(folder / report)
        for file in sorted((folder / f"twostep_data_study{study}_individual_csv").glob("*.csv")):
            kept = file.stem in rows
            if not kept:
                excluded[file.stem] = f"study {study}: no self-report (not analysed by the authors)"
                if not include_excluded:
                    continue
            people.append(_gillan_person(file))
            subjects.append(file.stem)
            included.append(kept)
            scores.append({"study": study, **{name: rows.get(file.stem, {}).get(column, np.nan)
                                              for column, name in GILLAN_SCORES[report].items()}})
    if not people:
        raise DatasetError(f"{folder}: no task files; run datasets.fetch('gillan2016') (two-step data fetch gillan2016)")
    names = dict.fromkeys(name for names in GILLAN_SCORES.values() for name in names.values())
    table = {name: np.array([person.get(name, np.nan) for person in scores], float) for name in ("study", *names)}
    return HumanData("gillan2016", _stack(people), np.array(subjects), table["age"], np.array(included), excluded,
                     scores=table)


def _read_self_report(file):
    """{subject: {column: float}} from a self-report CSV (its subject column `subj.x` or `subj`)."""
    if not file.is_file():
        raise DatasetError(f"{file}: missing; run datasets.fetch('gillan2016') (two-step data fetch gillan2016)")
    rows = _csv_rows(file)
    key = next((k for k in ("subj.x", "subj") if rows and k in rows[0][1]), None)
    if not rows:
        return {}
    if key is None:
        raise DatasetError(f"{file}: no subject column ('subj.x' or 'subj')")
    columns = GILLAN_SCORES[file.name]
    missing = [c for c in columns if c not in rows[0][1]]
    if missing:
        raise DatasetError(f"{file}: columns {missing} are missing")
    return {row[key]: {c: np.nan if row[c] in ("", "NA") else
                       _parsed(row[c], float, file, f"line {line}, column '{c}'", "a number, or empty or NA for none")
                       for c in columns} for line, row in rows}


def _gillan_task_rows(file):
    """The 200 task rows of a Gillan file as lists of 15 strings, trial 1 to 200 (see `load_gillan2016`), and
    their line numbers."""
    with open(file, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        lines = [(reader.line_num, row) for row in reader]
    trials = [(i, row) for i, (_, row) in enumerate(lines) if len(row) == len(GILLAN_COLUMNS) and row[0].isdigit()]
    if trials and trials[0][1][0] == "2" and trials[0][0] > 0 and len(lines[trials[0][0] - 1][1]) > len(GILLAN_COLUMNS) - 1:
        fused = lines[trials[0][0] - 1][1][-(len(GILLAN_COLUMNS) - 1):]
        if _is_number(fused[0]):  # drift_1 of a task row, not an instruction row's field
            trials.insert(0, (trials[0][0] - 1, ["1", *fused]))
    numbers = [_parsed(row[0], int, file, f"line {lines[i][0]}, column 'trial'") for i, row in trials]
    if numbers != list(range(1, GILLAN_TRIALS + 1)):
        found = f"trials {numbers[0]}..{numbers[-1]} ({len(numbers)} rows)" if numbers else "no task rows"
        raise DatasetError(f"{file}: expected task rows for trials 1..{GILLAN_TRIALS} in order, found {found}; "
                           f"rerun two-step data fetch gillan2016 to repair a damaged file")
    return [row for _, row in trials], [lines[i][0] for i, _ in trials]


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _gillan_person(file):
    """One person's task file as records [trial]."""
    rows, lines = _gillan_task_rows(file)
    column = {name: np.array([row[i] for row in rows]) for i, name in enumerate(GILLAN_COLUMNS)}

    def number(name):
        try:
            return column[name].astype(float)  # at once; `_parsed` names the first value that is not a number
        except ValueError:
            for line, text in zip(lines, column[name]):
                _parsed(text, float, file, f"line {line}, column '{name}'")
            raise

    responded1, responded2 = column["stage_1_response"] != "-1", column["stage_2_response"] != "-1"
    for name, responded, allowed in (("stage_1_response", responded1, ("left", "right")),
                                     ("stage_2_response", responded2, ("left", "right")),
                                     ("transition", responded1, ("true", "false"))):
        bad = responded & ~np.isin(column[name], allowed)
        if bad.any():
            raise DatasetError(f"{file}: column '{name}' holds {column[name][bad][0]!r} at trial {np.argmax(bad) + 1}, "
                               f"expected one of {allowed} or -1 (missed)")
    action = np.where(responded1, _coded(number("stage_1_selected_stimulus"), (1, 2), file, "stage_1_selected_stimulus"), -1)
    state = np.where(responded1, _coded(number("stage_2_state"), (2, 3), file, "stage_2_state") + S2, -1)
    choice2 = np.where(responded1 & responded2, _coded(number("stage_2_selected_stimulus"), (1, 2), file,
                                                       "stage_2_selected_stimulus"), -1)
    common = responded1 & (column["transition"] == "true")
    disagrees = responded1 & (common != (state == action + S2))
    if disagrees.any():
        raise DatasetError(f"{file}: the transition column disagrees with stimulus 1 -> state 2 being common "
                           f"at trial {np.argmax(disagrees) + 1}")
    missed = ~responded1 | ~responded2
    side1, side2 = (np.where(r, (column[name] == "right").astype(int), -1)
                    for r, name in ((responded1, "stage_1_response"), (responded1 & responded2, "stage_2_response")))
    for side, choice, name in ((side1, action, "stage_1_response"), (side2, choice2, "stage_2_response")):
        if (side != choice).any():
            raise DatasetError(f"{file}: column '{name}' disagrees with stimulus 1 on the left at trial "
                               f"{np.argmax(side != choice) + 1}")
    on_screen = np.zeros(GILLAN_TRIALS, int)
    return {
        "action": action,
        "state": state,
        "common": common,
        "reward": _reward(number("reward"), missed, file, "reward"),
        "choice2": choice2,
        "probs": np.column_stack([number(f"drift_{k}") for k in range(1, 5)]),
        "missed": missed,
        "rt1": np.where(responded1, number("stage_1_rt") / 1000, np.nan),
        "rt2": np.where(responded1 & responded2, number("stage_2_rt") / 1000, np.nan),
        "side1": side1,
        "side2": side2,
        "left1": on_screen,
        "left2": on_screen,
    }


# ---- Shared checks: one line naming the file and the field ----


def _parsed(value, kind, file, where, accepted=None):
    """`kind(value)` (int or float) of a value read from `file`, else a DatasetError on one line naming the
    file, where the value is in it (`where`: "line 12, column 'age'" of a CSV file, or a MATLAB field),
    the value and what is accepted (`accepted`, by default an integer or a number)."""
    try:
        return kind(value)
    except (TypeError, ValueError, OverflowError):
        shown = ("nothing (the line has too few fields)" if value is None else repr(str(value)) if isinstance(value, str)
                 else " ".join(str(value).split()))  # a MATLAB value: on one line
        accepted = accepted or ("an integer" if kind is int else "a number")
        dataset = next((folder.name for folder in Path(file).parents if folder.name in MANIFEST), "")
        raise DatasetError(f"{file}: {where} holds {shown}, expected {accepted}; rerun two-step data fetch {dataset} "
                           "to repair a damaged file") from None


def _dataset_folder(dataset, root):
    folder = Path(root if root is not None else data_dir()) / dataset
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder; run datasets.fetch({dataset!r}) (two-step data fetch {dataset})")
    return folder


def _loadmat(file):
    """A MATLAB v5 file as a dict of squeezed arrays and structs (doubles as float), or a DatasetError."""
    if not file.is_file():
        raise DatasetError(f"{file}: missing; run datasets.fetch (two-step data fetch)")
    try:
        return scipy.io.loadmat(file, squeeze_me=True, struct_as_record=False, mat_dtype=True)
    except Exception as error:  # scipy raises many types on a truncated or corrupt file
        message = " ".join(str(error).split())
        raise DatasetError(f"{file}: not a readable MATLAB file ({type(error).__name__}: {message}); "
                           f"rerun two-step data fetch {file.parent.name} to repair it") from error


def _field(container, name, file, prefix=""):
    """container[name] (a loadmat dict) or container.name (a MATLAB struct), or a DatasetError."""
    present = name in container if isinstance(container, dict) else name in getattr(container, "_fieldnames", ())
    if not present:
        raise DatasetError(f"{file}: field '{prefix}{name}' is missing")
    return container[name] if isinstance(container, dict) else getattr(container, name)


def _trial_field(container, name, n, file, prefix=""):
    """A per-trial field as a float vector, of length n if n is given."""
    values = np.atleast_1d(np.asarray(_field(container, name, file, prefix), dtype=float))
    if values.ndim != 1 or (n is not None and len(values) != n):
        expected = f"({n},)" if n is not None else "a vector"
        raise DatasetError(f"{file}: field '{prefix}{name}' has shape {values.shape}, expected {expected}: one value per trial")
    return values


def _coded(values, codes, file, name):
    """MATLAB codes (e.g. (1, 2)) as indices 0, 1; missed-trial codes (-1, 0, NaN) as -1; anything else fails."""
    index = np.full(len(values), -1)
    for i, code in enumerate(codes):
        index[values == code] = i
    unknown = (index < 0) & ~np.isnan(values) & ~np.isin(values, (-1, 0))
    if unknown.any():
        raise DatasetError(f"{file}: field '{name}' holds {values[unknown][0]:g} at trial {np.argmax(unknown) + 1}, "
                           f"expected one of {codes} or a missed-trial code (-1, 0)")
    return index


def _reward(values, missed, file, name):
    """0/1 rewards as floats, NaN on missed trials; another value on a usable trial fails."""
    if not np.isin(values[~missed], (0, 1)).all():
        raise DatasetError(f"{file}: field '{name}' holds a value other than 0 or 1 on a trial with both choices made")
    return np.where(missed, np.nan, values)


def _positions(one_based, n_people, file, name):
    """1-based positions (MATLAB) as 0-based indices, checked to lie in range."""
    positions = np.atleast_1d(np.asarray(one_based, dtype=float))
    if not (np.all(positions == np.round(positions)) and np.all((positions >= 1) & (positions <= n_people))):
        raise DatasetError(f"{file}: field '{name}' holds a value that is not a position in 1..{n_people}")
    return positions.astype(int) - 1


def _stack(people, fills=RECORD_FILL):
    """Per-person records [trial] (probs [trial, 4]) as arrays [person, session=1, trial], padded as missed trials."""
    n_trials = max(len(person["action"]) for person in people)
    records = {}
    for name, fill in fills.items():
        rows = []
        for person in people:
            values = np.asarray(person[name])
            padding = np.full((n_trials - len(values),) + values.shape[1:], fill, dtype=values.dtype)
            rows.append(np.concatenate([values, padding]))
        records[name] = np.stack(rows)[:, None]
    return records
