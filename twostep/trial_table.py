"""Anyone's two-step data: a per-trial table (or hBayesDM's two-step text format) read into the
project's records, written back out, and checked. The table and its coding: docs/your-data.md.

    from twostep import datasets, trial_table
    mine = datasets.load("my_study.csv")                     # the same as trial_table.read_table(...)
    trial_table.write_table(datasets.load("potter2017"), "potter2017.csv")   # two-step data export
    print("\\n".join(trial_table.check_lines(mine)))          # two-step data check my_study.csv

One row per trial, comma- or tab-separated (by the file's extension: .csv commas, .tsv or .tab
tabs; any other: tabs if the header line has one, else commas), a header line naming the columns
(case and underscores ignored, as hBayesDM does). `TABLE_COLUMNS`:

    subject      the person (text); a person's rows in the order of their trials
    trial        optional: 1, 2, ... strictly increasing within a person; a number skipped is a
                 trial with nothing recorded (a missed trial)
    choice1      first-stage choice 0/1 (1/2 is refused): choice 0 leads commonly to state2 0
    state2       second-stage state reached 0/1: 0 = the state choice 0 leads to commonly (the
                 project's S2), 1 = the other (S3); a transition is common when state2 == choice1
    choice2      second-stage option 0/1 in the state reached
    reward       the outcome, a number (0/1 for the models' and the stay probabilities' sake)
    rt1, rt2     optional: reaction times in seconds
    side1, side2 optional: screen side of the chosen option, 0 left / 1 right
    left1, left2 optional: the option shown on the left (the choice at stage 1, the option at stage 2)
    prob_state0_choice0, prob_state0_choice1, prob_state1_choice0, prob_state1_choice1
                 optional: the four reward probabilities at that trial (`probs`)

The code columns (choice1, state2, choice2, side1, side2, left1, left2) read -1 or an empty cell
(or NA) where missed or not recorded; the number columns an empty cell (or NA, NaN). A trial is
missed when choice1, state2 or choice2 is missing or the reward is empty (not recorded); a missed
trial's reward is not used (read as none). Every other column is a per-person covariate: constant
within a person (empty cells aside), read into `HumanData.scores` (numbers as floats, NaN where
empty; text as text), `age` also into `HumanData.age`. Loading gives the records `datasets.load`
gives for a built-in dataset (same keys and dtypes; people with fewer trials padded with missed
trials), so every function taking a built-in dataset takes a table.

hBayesDM's two-step format (tab-separated, columns `subjID`, `level1_choice` 1/2, `level2_choice`
1-4, `reward`; 1-2 are the options of the state level1_choice 1 reaches commonly, 3-4 of the
other; NA where missed, rows hBayesDM drops) is read as it is: level1_choice 1/2 is choice1 0/1,
level2_choice 1-4 is state2 0,0,1,1 and choice2 0,1,0,1. Other columns as in the table.

Bad input is a `datasets.DatasetError` of one line naming the file, the line, the column, the value
and what is accepted; no row is dropped.
"""

import csv
import math
from pathlib import Path

import numpy as np

from twostep.configs import S2
from twostep.datasets import RECORD_FILL, DatasetError, HumanData

PROB_COLUMNS = ("prob_state0_choice0", "prob_state0_choice1", "prob_state1_choice0", "prob_state1_choice1")
TABLE_COLUMNS = ("subject", "trial", "choice1", "state2", "choice2", "reward", "rt1", "rt2", "side1", "side2", "left1", "left2",
                 *PROB_COLUMNS)
REQUIRED = ("subject", "choice1", "state2", "choice2", "reward")
HBAYESDM_COLUMNS = ("subjID", "level1_choice", "level2_choice", "reward")
NONE_TEXTS = ("", "NA", "N/A", "NaN", "nan")  # an empty cell
TAB_SUFFIXES = (".tsv", ".tab")
ZERO_ONE = {0: 0, 1: 1, -1: -1}  # a code column of the table: value -> code, -1 missed
TRANSITION_RATE = 0.7  # the common transition's probability in Daw et al. 2011's task and the datasets
FAR_STANDARD_ERRORS = 4  # a transition rate further than this many binomial standard errors from 0.7 is warned of
SHOWN_PEOPLE = 5  # people named in a warning


def column_key(name):
    """A header cell as it is matched: lower case, no underscores or surrounding spaces (as hBayesDM matches)."""
    return name.strip().lower().replace("_", "")


def delimiter_of(file, header_line):
    """',' or '\\t': by the extension (.csv commas, .tsv/.tab tabs), else tabs if the header line has one."""
    suffix = Path(file).suffix.lower()
    if suffix == ".csv":
        return ","
    if suffix in TAB_SUFFIXES or "\t" in header_line:
        return "\t"
    return ","


# ---- Reading ----


def read_table(path):
    """A per-trial table or an hBayesDM file as `HumanData` named after the file's stem (see the module docstring)."""
    file = Path(path)
    header, columns, lines = _read_columns(file)
    keys = [column_key(name) for name in header]
    table_format = format_of(file, keys, header)
    cells = Cells(file, lines, dict(zip(keys, columns)), dict(zip(keys, header)))
    subjects, person = _people(cells, "subject" if table_format == "table" else "subjID")
    core = _table_core(cells) if table_format == "table" else _hbayesdm_core(cells)
    trial = _positions(cells, person)
    rows = _trial_records(cells, core)
    records = {}
    for name, fill in RECORD_FILL.items():
        records[name] = np.full((len(subjects), trial.max() + 1) + rows[name].shape[1:], fill)
        records[name][person, trial] = rows[name]
        records[name] = records[name][:, None]
    used = {column_key(name) for name in (*(REQUIRED if table_format == "table" else HBAYESDM_COLUMNS), *TABLE_COLUMNS)}
    cells.numbers("age", "an age in years or an empty cell")  # a number, if there is such a column
    scores = {cells.names[key]: _covariate(cells, key, person, len(subjects)) for key in keys if key not in used}
    age = scores[cells.names["age"]] if cells.has("age") else np.full(len(subjects), np.nan)
    return HumanData(file.stem, records, subjects, age, np.ones(len(subjects), bool), scores=scores)


def _people(cells, column):
    """(the people's names in the order they first appear, every row's position among them)."""
    subjects = np.char.strip(cells.by_key[column_key(column)])
    if (subjects == "").any():
        raise cells.bad(column, subjects == "", "the person's name")
    names, first_rows, person = np.unique(subjects, return_index=True, return_inverse=True)
    order = np.argsort(first_rows)
    rank = np.empty(len(order), int)
    rank[order] = np.arange(len(order))
    return names[order], rank[person.ravel()]


def format_of(file, keys, header):
    """'table' if the header has the table's required columns, else 'hbayesdm' if hBayesDM's, else a DatasetError."""
    formats = {"table": REQUIRED, "hbayesdm": HBAYESDM_COLUMNS}
    missing = {name: [c for c in required if column_key(c) not in keys] for name, required in formats.items()}
    for name, lacking in missing.items():
        if not lacking:
            return name
    raise DatasetError(f"{file}: line 1 (the header) lacks the columns {missing['table']} of a per-trial table (docs/your-data.md) "
                       f"and {missing['hbayesdm']} of hBayesDM's two-step format; it has {list(header)}")


def _read_columns(file):
    """(header, one numpy array of texts per column, the line number of every row) of a table file; empty lines skipped."""
    if not file.is_file():
        raise DatasetError(f"{file}: no such file")
    with open(file, newline="", encoding="utf-8-sig") as handle:
        delimiter = delimiter_of(file, handle.readline())
        handle.seek(0)
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, None)
        if not header:
            raise DatasetError(f"{file}: empty, expected a header line naming the columns (docs/your-data.md)")
        rows, lines = [], []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                shown = "comma" if delimiter == "," else "tab"
                raise DatasetError(f"{file}: line {reader.line_num} has {len(row)} {shown}-separated fields, expected "
                                   f"{len(header)} as the header has")
            rows.append(row)
            lines.append(reader.line_num)
    if not rows:
        raise DatasetError(f"{file}: no rows after the header line, expected one row per trial")
    keys = [column_key(name) for name in header]
    twice = next((name for i, name in enumerate(header) if keys[i] in keys[:i]), None)
    if twice is not None:
        raise DatasetError(f"{file}: line 1 (the header) names the column {twice!r} twice (case and underscores ignored)")
    texts = np.array(rows, dtype=str).reshape(len(rows), len(header))
    return header, list(texts.T), np.array(lines)


class Cells:
    """A table file's columns, read with their line numbers, so that a bad value is named where it is."""

    def __init__(self, file, lines, by_key, names):
        self.file, self.lines, self.by_key, self.names = file, lines, by_key, names

    def has(self, name):
        return column_key(name) in self.by_key

    def bad(self, name, mask, accepted):
        """The DatasetError naming the first row of `mask` in column `name`."""
        row = np.argmax(mask)
        key = column_key(name)
        return DatasetError(f"{self.file}: line {self.lines[row]}, column '{self.names[key]}' holds "
                            f"{str(self.by_key[key][row])!r}, expected {accepted}")

    def numbers(self, name, accepted="a number or an empty cell"):
        """The column's floats, NaN where empty (`NONE_TEXTS`); NaN for every row if there is no such column."""
        if not self.has(name):
            return np.full(len(self.lines), np.nan)
        texts = np.char.strip(self.by_key[column_key(name)])
        empty = np.isin(texts, NONE_TEXTS)
        values = np.full(len(texts), np.nan)
        try:
            values[~empty] = texts[~empty].astype(float)
        except ValueError:  # which one: each on its own
            values[~empty] = [_float_or_nan(text) for text in texts[~empty]]
        wrong = ~empty & ~np.isfinite(values)
        if wrong.any():
            raise self.bad(name, wrong, accepted)
        return values

    def codes(self, name, codes, accepted):
        """The column's values mapped by `codes` ({value: code}), -1 where empty or absent; another value fails."""
        values = self.numbers(name, accepted)
        known = np.isnan(values) | np.isin(values, list(codes))
        if not known.all():
            raise self.bad(name, ~known, accepted)
        coded = np.full(len(values), -1)
        for value, code in codes.items():
            coded[values == value] = code
        return coded


def _float_or_nan(text):
    try:
        return float(text)
    except ValueError:
        return math.nan


def _table_core(cells):
    """(action, state, choice2, reward) per row of the table's columns."""
    accepted = "0 or 1, or -1 or an empty cell where missed"
    action, state2, choice2 = (cells.codes(name, ZERO_ONE, accepted) for name in ("choice1", "state2", "choice2"))
    return action, np.where(state2 >= 0, state2 + S2, -1), choice2, cells.numbers("reward")


def _hbayesdm_core(cells):
    """(action, state, choice2, reward) per row of hBayesDM's columns."""
    action = cells.codes("level1_choice", {1: 0, 2: 1}, "1 or 2, or NA where missed")
    level2 = cells.codes("level2_choice", {1: 0, 2: 1, 3: 2, 4: 3}, "1, 2, 3 or 4, or NA where missed")
    return action, np.where(level2 >= 0, S2 + level2 // 2, -1), np.where(level2 >= 0, level2 % 2, -1), cells.numbers("reward")


def _positions(cells, person):
    """Every row's trial position (0-based) within its person: `trial` - 1 if given, else its place in the person's rows."""
    order = np.argsort(person, kind="stable")
    if not cells.has("trial"):
        counts = np.bincount(person)
        position = np.empty(len(person), int)
        position[order] = np.arange(len(person)) - np.repeat(np.cumsum(counts) - counts, counts)
        return position
    accepted = "a trial number 1, 2, ... (increasing within a person)"
    trial = cells.numbers("trial", accepted)
    wrong = np.isnan(trial) | (trial < 1) | (trial != np.round(trial))
    if wrong.any():
        raise cells.bad("trial", wrong, accepted)
    same_person = np.zeros(len(person), bool)
    same_person[order[1:]] = person[order[1:]] == person[order[:-1]]
    not_after = np.zeros(len(person), bool)
    not_after[order[1:]] = trial[order[1:]] <= trial[order[:-1]]
    decreasing = same_person & not_after
    if decreasing.any():
        raise cells.bad("trial", decreasing, "a trial number above the person's previous row's (trials in order, each once)")
    return trial.astype(int) - 1


def _trial_records(cells, core):
    """The records of every row (`RECORD_FILL`'s keys), [row] or [row, 4]."""
    action, state, choice2, reward = core
    missed = (action < 0) | (state < 0) | (choice2 < 0) | np.isnan(reward)
    accepted = "0 or 1, or -1 or an empty cell where not recorded"
    probs = np.column_stack([cells.numbers(name, "a probability in [0, 1] or an empty cell") for name in PROB_COLUMNS])
    outside = (probs < 0) | (probs > 1)
    if outside.any():
        row, column = np.argwhere(outside)[0]
        raise cells.bad(PROB_COLUMNS[column], np.arange(len(probs)) == row, "a probability in [0, 1] or an empty cell")
    return {
        "action": action,
        "state": state,
        "common": (action >= 0) & (state == action + S2),
        "reward": np.where(missed, np.nan, reward),
        "choice2": choice2,
        "probs": probs,
        "missed": missed,
        "rt1": cells.numbers("rt1", "a time in seconds or an empty cell"),
        "rt2": cells.numbers("rt2", "a time in seconds or an empty cell"),
        **{name: cells.codes(name, ZERO_ONE, accepted) for name in ("side1", "side2", "left1", "left2")},
    }


def _covariate(cells, key, person, n_people):
    """A per-person column: [person] floats (NaN where empty) if every value is a number, else texts ('' where empty);
    a value differing from the person's earlier one fails."""
    texts = np.char.strip(cells.by_key[key])
    given = np.flatnonzero(~np.isin(texts, NONE_TEXTS))
    value = np.full(n_people, "", dtype=texts.dtype)
    present, first = np.unique(person[given], return_index=True)  # each person's first value
    value[present] = texts[given][first]
    differs = np.zeros(len(texts), bool)
    differs[given] = texts[given] != value[person[given]]
    if differs.any():
        row = np.argmax(differs)
        raise cells.bad(cells.names[key], differs, f"{value[person[row]]!r} as on the person's other rows "
                        "(a column not of the table's is a per-person covariate, constant within a person)")
    numbers = np.array([_float_or_nan(text) for text in value[value != ""]])
    if np.isfinite(numbers).all():
        floats = np.full(n_people, np.nan)
        floats[value != ""] = numbers
        return floats
    return value


# ---- Writing ----


def recorded_lengths(records):
    """Each person's trials up to their last one with anything recorded (at least 1): what a table writes of them."""
    if records["action"].shape[1] != 1:
        raise ValueError(f"records with {records['action'].shape[1]} sessions per person: a table holds one session per person")
    some = np.zeros(records["action"].shape, bool)
    for name, fill in RECORD_FILL.items():
        differs = _differs_from_fill(records[name], fill)
        some |= differs.any(-1) if differs.ndim > some.ndim else differs
    some = some[:, 0]
    return np.where(some.any(-1), some.shape[-1] - np.argmax(some[:, ::-1], -1), 1)


def _differs_from_fill(values, fill):
    """Where a record holds something other than its padding value (NaN equal to NaN)."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        return ~((values == fill) | (np.isnan(values) & bool(np.isnan(fill))))
    return values != fill


def table_frame(data, table_format="table"):
    """A pandas DataFrame of `data` (`HumanData`) in `table_format`: 'table' (`TABLE_COLUMNS`, then the per-person
    covariates: `age` where known and every score) or 'hbayesdm' (`HBAYESDM_COLUMNS`). Each person's trials up to
    their last with anything recorded (`recorded_lengths`): the trials after it are padding."""
    import pandas as pd

    lengths = recorded_lengths(data.records)
    person = np.repeat(np.arange(len(lengths)), lengths)
    trial = np.concatenate([np.arange(n) for n in lengths]) if len(lengths) else np.zeros(0, int)
    row = {name: values[person, 0, trial] for name, values in data.records.items()}
    action, state, choice2 = row["action"], row["state"], row["choice2"]
    if table_format == "hbayesdm":
        second = (state >= 0) & (choice2 >= 0)
        return pd.DataFrame({
            "subjID": data.subject[person],
            "level1_choice": np.where(action >= 0, action + 1, None),  # None: written NA
            "level2_choice": np.where(second, 2 * (state - S2) + choice2 + 1, None),
            "reward": row["reward"],
        })
    frame = pd.DataFrame({
        "subject": data.subject[person], "trial": trial + 1, "choice1": action, "state2": np.where(state >= 0, state - S2, -1),
        "choice2": choice2, "reward": row["reward"], "rt1": row["rt1"], "rt2": row["rt2"], "side1": row["side1"],
        "side2": row["side2"], "left1": row["left1"], "left2": row["left2"],
        **{name: row["probs"][:, k] for k, name in enumerate(PROB_COLUMNS)},
    })
    covariates = {"age": data.age} if np.isfinite(np.asarray(data.age, float)).any() else {}
    covariates.update(data.scores)
    for name, values in covariates.items():
        frame[name] = np.asarray(values)[person]
    return frame


def write_table(data, path, table_format="table"):
    """Write `data` to `path` as a per-trial table (commas, or tabs for .tsv/.tab/.txt) or hBayesDM's file (tabs, NA
    where missed: hBayesDM drops those rows). Returns the number of rows."""
    frame = table_frame(data, table_format)
    tabs = table_format == "hbayesdm" or Path(path).suffix.lower() in (*TAB_SUFFIXES, ".txt")
    frame.to_csv(path, sep="\t" if tabs else ",", index=False, na_rep="NA" if table_format == "hbayesdm" else "")
    return len(frame)


def agent_data(records, seeds, name="agent"):
    """The records [seed, episode, trial] of `a2c_lstm.evaluate` on the drifting task as `HumanData`, one person per
    seed and episode (subject '<seed>-<episode>', episodes from 1; scores "seed" and "episode"), for `write_table`."""
    if "choice2" not in records:
        raise ValueError("a per-trial table needs the second-stage choice, which only the drifting task (Daw et al. 2011) "
                         "records: save this task's records as .npz")
    if "stake" in records:
        raise ValueError("a per-trial table has no column for the stakes of Kool et al.'s tasks: save this task's records as .npz")
    n_seeds, n_episodes, n_trials = np.shape(records["action"])
    seed, episode = (np.repeat(seeds, n_episodes), np.tile(np.arange(1, n_episodes + 1), n_seeds))
    flat = {name: np.asarray(records[name]).reshape(n_seeds * n_episodes, 1, n_trials, *np.shape(records[name])[3:])
            for name in ("action", "state", "common", "reward", "choice2", "probs")}
    made = {name: flat[name].astype(np.asarray(fill).dtype) for name, fill in RECORD_FILL.items() if name in flat}
    made["probs"] = flat["probs"].astype(float)
    recorded = {name: np.full(flat["action"].shape, fill) for name, fill in RECORD_FILL.items() if name not in flat}
    records = {**made, **recorded, "missed": np.zeros(flat["action"].shape, bool)}
    return HumanData(name, {key: records[key] for key in RECORD_FILL}, np.array([f"{s}-{e}" for s, e in zip(seed, episode)]),
                     np.full(len(seed), np.nan), np.ones(len(seed), bool), scores={"seed": seed.astype(float), "episode": episode.astype(float)})


# ---- Checking ----


def transition_counts(records):
    """(common transitions, trials with a transition) per person."""
    action, state = records["action"][:, 0], records["state"][:, 0]
    transition = (action >= 0) & (state >= 0)
    return (records["common"][:, 0] & transition).sum(-1), transition.sum(-1)


def far_from_expected(common, trials):
    """Where a transition rate is further than `FAR_STANDARD_ERRORS` binomial standard errors of `TRANSITION_RATE`
    from it, given its number of trials (none: not far)."""
    common, trials = np.asarray(common, float), np.asarray(trials, float)
    error = np.sqrt(TRANSITION_RATE * (1 - TRANSITION_RATE) / np.maximum(trials, 1))
    return (trials > 0) & (np.abs(common / np.maximum(trials, 1) - TRANSITION_RATE) > FAR_STANDARD_ERRORS * error)


def _named(subjects, mask):
    names = [str(s) for s in np.asarray(subjects)[mask]]
    return ", ".join(names[:SHOWN_PEOPLE]) + (f" and {len(names) - SHOWN_PEOPLE} more" if len(names) > SHOWN_PEOPLE else "")


def check_lines(data):
    """What `two-step data check` prints of `data`: a summary (people, trials, missed trials, the common-transition rate,
    the stay probabilities), then one line per warning, each starting 'warning: '."""
    from two_step_env import STAY_CELLS, stay_probabilities

    records, subjects = data.records, data.subject
    lengths = recorded_lengths(records)
    within = np.arange(records["action"].shape[-1]) < lengths[:, None]
    missed = (records["missed"][:, 0] & within).sum()
    common, trials = transition_counts(records)
    rate = common.sum() / max(trials.sum(), 1)
    error = math.sqrt(TRANSITION_RATE * (1 - TRANSITION_RATE) / max(trials.sum(), 1))
    probs, counts = stay_probabilities(records["action"], records["common"], records["reward"], records["missed"])
    lines = [
        f"{data.dataset}: {len(subjects)} people, {lengths.sum()} trials ({lengths.min()} to {lengths.max()} per person), "
        f"{missed} missed ({missed / max(lengths.sum(), 1):.1%})",
        f"common transitions: {rate:.3f} of {trials.sum()} trials with a transition (expected {TRANSITION_RATE}; "
        f"{FAR_STANDARD_ERRORS} binomial standard errors: {FAR_STANDARD_ERRORS * error:.3f})",
        "stay probabilities, mean over people: " + "; ".join(
            f"{cell} {np.nanmean(probs[:, k]) if (counts[:, k] > 0).any() else math.nan:.3f}" for k, cell in enumerate(STAY_CELLS)),
    ]
    return lines + [f"warning: {text}" for text in check_warnings(data)]


def check_warnings(data):
    """One line per thing that looks wrong in `data` (see `check_lines`)."""
    records, subjects = data.records, data.subject
    common, trials = transition_counts(records)
    found = []
    if far_from_expected(common.sum(), trials.sum()):
        found.append(f"the common-transition rate {common.sum() / trials.sum():.3f} is more than {FAR_STANDARD_ERRORS} binomial "
                     f"standard errors from {TRANSITION_RATE}: is state2 coded as the state choice 0 (level1_choice 1) leads to "
                     "commonly being 0 (1-2)? (docs/your-data.md)")
    far = far_from_expected(common, trials)
    if far.any():
        found.append(f"{far.sum()} people have a common-transition rate more than {FAR_STANDARD_ERRORS} binomial standard errors "
                     f"(of their own trials) from {TRANSITION_RATE}: {_named(subjects, far)}")
    action = records["action"][:, 0]
    chose = action >= 0
    same = chose.any(-1) & ((action == 0) | ~chose).all(-1) | chose.any(-1) & ((action == 1) | ~chose).all(-1)
    if same.any():
        found.append(f"{same.sum()} people make the same first-stage choice on every trial: {_named(subjects, same)}")
    nothing = ~(~records["missed"][:, 0]).any(-1)
    if nothing.any():
        found.append(f"{nothing.sum()} people have no trial with both choices and a reward: {_named(subjects, nothing)}")
    reward = records["reward"][:, 0]
    other = ~records["missed"][:, 0] & ~np.isin(reward, (0, 1))
    if other.any():
        found.append(f"{other.sum()} trials of {other.any(-1).sum()} people have a reward other than 0 or 1 ({_named(subjects, other.any(-1))}): "
                     "the stay probabilities count a reward > 0 as rewarded, the Bayesian learner (daw_agents) assumes "
                     "Bernoulli 0/1 rewards, and the published models' priors and parameters are for 0/1 rewards")
    return found
