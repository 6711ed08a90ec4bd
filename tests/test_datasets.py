"""Public human datasets (twostep.datasets): fetch and its checks, damaged files, the loaders' conventions,
and the authors' own numbers recomputed from the loaded records.

The tests that need the data copy them from the folder named by TWO_STEP_DATA_MIRROR (one subfolder
per source repository: kool2016/, nussenbaum2020/). Without it they are skipped, unless
TWO_STEP_REQUIRE_DATA=1 (as in CI), which makes them fail.
"""

import hashlib
import io
import os
import shutil
import urllib.parse

import numpy as np
import pytest
import scipy.io

from twostep import datasets
from twostep.configs import S2
from twostep.datasets import DatasetError

KOOL_GROUP_STAYPROBS = (0.746, 0.701, 0.628, 0.684)  # groupdata.stayprobs group means, in STAY_CELLS order
HARTLEY = [("decker2016", 80, 200), ("potter2017", 74, 150)]  # people, trials
DECKER_WITHOUT_PAYOFF = ("1834_onsets", "1895_onsets", "1946_onsets", "1984_onsets")


def quiet(message):
    pass


@pytest.fixture(scope="module")
def kool(data_root):
    return datasets.load("kool2016", data_root)


def one_line_naming(error, *words):
    message = str(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def damaged_copy(data_root, tmp_path, dataset):
    """A copy of one fetched dataset, to damage."""
    shutil.copytree(data_root / dataset, tmp_path / dataset)
    return tmp_path / dataset


# ---- Without data: the manifest, addresses and defaults ----


def test_manifest_pins_each_source_and_names_every_file_once():
    for name, source in datasets.MANIFEST.items():
        assert len(source["commit"]) == 40 and source["papers"] and "no license" in source["license"]
        names = [datasets._local_path(source, path) for path in source["files"]]
        assert len(set(names)) == len(names), f"{name}: two files would share one place in the dataset's folder"
        assert all(len(sha) == 64 and int(sha, 16) >= 0 for sha in source["files"].values())
    assert [len(source["files"]) for source in datasets.MANIFEST.values()] == [9, 83, 77, 2366, 9, 15, 13]
    assert tuple(datasets.MANIFEST) == datasets.DATASETS + datasets.ARBITRATION_DATASETS  # the command line's names, in order


def test_download_url_pins_the_commit_and_quotes_spaces():
    url = datasets.download_url("kool2016", "data/daw paradigm/groupdata.mat")
    assert url == ("https://raw.githubusercontent.com/wkool/tradeoffs/6f849e13a8fe32c0b62ad768d3578068b93ee69e/"
                   "data/daw%20paradigm/groupdata.mat")


def test_data_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TWO_STEP_DATA", str(tmp_path))
    assert datasets.data_dir() == tmp_path
    monkeypatch.delenv("TWO_STEP_DATA")
    assert datasets.data_dir().parts[-3:] == (".cache", "two-step", "data")


def test_unknown_names_and_unfetched_datasets_fail_on_one_line(tmp_path):
    with pytest.raises(DatasetError) as error:
        datasets.fetch("daw2011", to=tmp_path)
    one_line_naming(error, "daw2011", "kool2016", "all")
    with pytest.raises(DatasetError) as error:
        datasets.load("kool2016", tmp_path)
    one_line_naming(error, str(tmp_path / "kool2016"), "fetch")


# ---- Fetch ----


def test_fetch_checks_every_file_and_says_where_from_and_what_to_cite(mirror, tmp_path):
    messages = []
    datasets.fetch("all", to=tmp_path, mirror=mirror, log=messages.append)
    for name, source in datasets.MANIFEST.items():
        for path, sha256 in source["files"].items():
            assert hashlib.sha256((tmp_path / name / datasets._local_path(source, path)).read_bytes()).hexdigest() == sha256
    text = "\n".join(messages)
    assert "github.com/wkool/tradeoffs" in text and "github.com/hartleylabnyu/online_two_step_replication" in text
    assert "github.com/ingrdmrtn/gecco_mh" in text and "doi.org/10.7554/eLife.11305" in text
    assert text.count("cite: ") == 9 and text.count("no license") == 7 and "doi.org/10.1371/journal.pcbi.1005090" in text
    assert "github.com/wkool/arbitration" in text and "doi.org/10.1177/0956797617708288" in text
    assert "copying what is missing from" in text and "downloaded" not in text
    assert (tmp_path / "gillan2016" / "twostep_data_study2_individual_csv" / "3570Y55XZPJQZPOYLZCOL50WZE6GYI.csv").is_file()
    assert not list(tmp_path.rglob("*.partial"))


def test_fetch_again_keeps_what_is_there_and_replaces_a_damaged_copy(mirror, data_root, tmp_path):
    shutil.copytree(data_root, tmp_path, dirs_exist_ok=True)
    before = {file: file.stat().st_mtime_ns for file in tmp_path.rglob("*")}
    messages = []
    datasets.fetch("all", to=tmp_path, mirror=mirror, log=messages.append)
    assert {file: file.stat().st_mtime_ns for file in tmp_path.rglob("*")} == before
    assert sum("0 files written" in message for message in messages) == len(datasets.MANIFEST)
    groupdata = tmp_path / "kool2016" / "groupdata.mat"
    original = groupdata.read_bytes()
    groupdata.write_bytes(original[:1000])
    datasets.fetch("kool2016", to=tmp_path, mirror=mirror, log=quiet)
    assert groupdata.read_bytes() == original


def test_a_wrong_checksum_fails_on_one_line_and_writes_nothing(mirror, tmp_path):
    shutil.copytree(os.path.join(mirror, "kool2016"), tmp_path / "mirror" / "kool2016")
    results = tmp_path / "mirror" / "kool2016" / "data" / "daw paradigm" / "results.mat"
    content = bytearray(results.read_bytes())
    content[len(content) // 2] ^= 0xFF
    results.write_bytes(bytes(content))
    with pytest.raises(DatasetError) as error:
        datasets.fetch("kool2016", to=tmp_path / "data" / "new", mirror=tmp_path / "mirror", log=quiet)
    one_line_naming(error, str(results), datasets.MANIFEST["kool2016"]["files"]["data/daw paradigm/results.mat"])
    assert not (tmp_path / "data").exists()  # no dataset folder with the files checked before results.mat, no empty folders


def test_a_repair_that_fails_a_checksum_changes_nothing(data_root, mirror, tmp_path, monkeypatch):
    """Files are moved into a dataset's folder only once every one has its SHA-256: a refused fetch
    repairs nothing and leaves no temporary folder."""
    folder = damaged_copy(data_root, tmp_path, "kool2016")
    (folder / "groupdata.mat").write_bytes(b"damaged")
    (folder / "set_opts.m").unlink()
    before = {file.name: file.read_bytes() for file in folder.iterdir()}
    last = list(datasets.MANIFEST["kool2016"]["files"])[-1]
    monkeypatch.setitem(datasets.MANIFEST["kool2016"]["files"], last, "0" * 64)
    with pytest.raises(DatasetError) as error:
        datasets.fetch("kool2016", to=tmp_path, mirror=mirror, log=quiet)
    one_line_naming(error, last, "0" * 64, "does not match")
    assert {file.name: file.read_bytes() for file in folder.iterdir()} == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["kool2016"]


def test_a_missing_source_file_fails_on_one_line(mirror, tmp_path):
    shutil.copytree(os.path.join(mirror, "kool2016"), tmp_path / "mirror" / "kool2016")
    (tmp_path / "mirror" / "kool2016" / "data" / "daw paradigm" / "set_opts.m").unlink()
    with pytest.raises(DatasetError) as error:
        datasets.fetch("kool2016", to=tmp_path / "data", mirror=tmp_path / "mirror", log=quiet)
    one_line_naming(error, "set_opts.m", "missing", datasets.MANIFEST["kool2016"]["files"]["data/daw paradigm/set_opts.m"])


def test_download_asks_github_for_each_file_at_the_pinned_commit(mirror, tmp_path, monkeypatch):
    """The download path, served from the mirror: every address is raw.githubusercontent.com at the commit."""
    asked = []

    def urlopen(url, timeout):
        asked.append(url)
        for source in datasets.MANIFEST.values():
            prefix = f"https://raw.githubusercontent.com/{source['repository']}/{source['commit']}/"
            if url.startswith(prefix):
                path = urllib.parse.unquote(url.removeprefix(prefix))
                with open(os.path.join(mirror, source["mirror_folder"], path), "rb") as file:
                    return io.BytesIO(file.read())
        raise AssertionError(f"unexpected address {url}")

    monkeypatch.setattr(datasets.urllib.request, "urlopen", urlopen)
    datasets.fetch("kool2016", to=tmp_path, log=quiet)
    assert len(asked) == 9 and all(" " not in url and "/daw%20paradigm/" in url for url in asked)
    assert datasets.load("kool2016", tmp_path).records["action"].shape == (197, 1, 125)


# ---- Damaged files fail at load, on one line naming the file and the field ----


def test_a_truncated_mat_file_fails(data_root, tmp_path):
    for dataset, name in [("kool2016", "groupdata.mat"), ("decker2016", "_0830_735404600_onsets.mat")]:
        file = damaged_copy(data_root, tmp_path, dataset) / name
        file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
        with pytest.raises(DatasetError) as error:
            datasets.load(dataset, tmp_path)
        one_line_naming(error, str(file), "not a readable MATLAB file", f"rerun two-step data fetch {dataset}")


def test_a_mat_file_lacking_a_field_fails(data_root, tmp_path):
    file = damaged_copy(data_root, tmp_path, "decker2016") / "_0830_735404600_onsets.mat"
    content = {key: value for key, value in scipy.io.loadmat(file).items() if not key.startswith("__")}
    scipy.io.savemat(file, {key: value for key, value in content.items() if key != "state"})
    with pytest.raises(DatasetError) as error:
        datasets.load("decker2016", tmp_path)
    one_line_naming(error, str(file), "'state'")
    scipy.io.savemat(file, {key: value for key, value in content.items() if key != "payoff"})  # cut before its last field
    with pytest.raises(DatasetError) as error:
        datasets.load("decker2016", tmp_path)
    one_line_naming(error, str(file), "'payoff'")


def test_a_person_lacking_a_field_in_groupdata_fails(data_root, tmp_path):
    file = damaged_copy(data_root, tmp_path, "kool2016") / "groupdata.mat"
    groupdata = scipy.io.loadmat(file)["groupdata"]
    subdata = groupdata["subdata"][0, 0]
    fields = [name for name in subdata.dtype.names if name != "choice2"]
    damaged = np.empty(subdata.shape, dtype=[(name, object) for name in fields])
    for name in fields:
        damaged[name] = subdata[name]
    groupdata["subdata"][0, 0] = damaged
    scipy.io.savemat(file, {"groupdata": groupdata})
    with pytest.raises(DatasetError) as error:
        datasets.load("kool2016", tmp_path)
    one_line_naming(error, str(file), "'groupdata.subdata(1).choice2'")


def test_a_garbled_value_in_a_csv_file_names_the_file_line_column_and_value(data_root, tmp_path):
    ages = damaged_copy(data_root, tmp_path, "decker2016") / "decker_ages.csv"
    lines = ages.read_text().splitlines()
    subject, _, rest = lines[2].split(",", 2)
    ages.write_text("\n".join([*lines[:2], f"{subject},22#3,{rest}", *lines[3:]]) + "\n")
    with pytest.raises(DatasetError) as error:
        datasets.load("decker2016", tmp_path)
    one_line_naming(error, f"{ages}: line 3, column 'age' holds '22#3', expected a number", "two-step data fetch decker2016")
    ages.write_text("\n".join([*lines[:3], "6o1," + lines[3].split(",", 1)[1], *lines[4:]]) + "\n")
    with pytest.raises(DatasetError) as error:
        datasets.load("decker2016", tmp_path)
    one_line_naming(error, f"{ages}: line 4, column 'subject_id' holds '6o1', expected an integer")


def test_a_missing_file_fails(data_root, tmp_path):
    folder = damaged_copy(data_root, tmp_path, "potter2017")
    (folder / "_01456_736090663_onsets.mat").unlink()
    with pytest.raises(DatasetError) as error:
        datasets.load("potter2017", tmp_path)
    one_line_naming(error, "_01456_736090663_onsets.mat", "missing", "fetch")


# ---- Kool, Cushman & Gershman 2016 ----


def test_kool2016_people_trials_and_exclusions(data_root, kool):
    assert kool.records["action"].shape == (197, 1, 125) and kool.records["probs"].shape == (197, 1, 125, 4)
    everyone = datasets.load("kool2016", data_root, include_excluded=True)
    assert everyone.records["action"].shape == (206, 1, 125) and everyone.included.sum() == 197
    dropped = ["18", "25", "70", "121", "123", "126", "160", "171", "173"]
    assert list(everyone.subject[~everyone.included]) == sorted(kool.excluded, key=int) == dropped
    assert all(int(reason.split()[0]) >= 25 for reason in kool.excluded.values())
    assert kool.included.all() and np.isfinite(kool.age).all() and (kool.age >= 18).all()
    np.testing.assert_array_equal(everyone.select(everyone.included).records["reward"], kool.records["reward"])


def test_kool2016_records_follow_the_project_conventions(kool):
    r = kool.records
    used = ~r["missed"]
    assert set(np.unique(r["action"][used])) == {0, 1} and set(np.unique(r["state"][used])) == {1, 2}
    transition = r["action"] >= 0
    np.testing.assert_array_equal(r["common"][transition], (r["state"] == r["action"] + 1)[transition])
    assert 0.69 < r["common"][transition].mean() < 0.71
    assert set(np.unique(r["reward"][used])) == {0.0, 1.0} and np.isnan(r["reward"][~used]).all()
    assert set(np.unique(r["choice2"][used])) == {0, 1} and (r["choice2"][~used] == -1).all()
    assert np.all((r["probs"] >= 0.25) & (r["probs"] <= 0.75))
    assert np.nanmax(r["rt1"]) < 3 and np.nanmax(r["rt2"]) < 4 and np.isfinite(r["rt1"][used]).all()
    for side in ("side1", "side2", "left1"):
        assert set(np.unique(r[side][used])) == {0, 1}
    np.testing.assert_array_equal(r["side1"][used], (r["action"] != r["left1"])[used])


def test_kool2016_stay_probabilities_are_the_authors(kool):
    """groupanalysis.m: per person, pairs of consecutive trials with neither missed; then the mean over people."""
    import two_step_env

    r = kool.records
    per_person = []
    for person in range(len(kool.subject)):
        action, common, reward, missed = (r[name][person, 0] for name in ("action", "common", "reward", "missed"))
        later = np.flatnonzero(~missed[1:] & ~missed[:-1]) + 1
        pairs = np.stack([later - 1, later], axis=-1)  # one two-trial episode per usable pair
        probs, _ = two_step_env.stay_probabilities(action[pairs], common[pairs], reward[pairs])
        per_person.append(probs)
    per_person = np.array(per_person)
    np.testing.assert_allclose(per_person, kool.authors["stayprobs"], rtol=0, atol=1e-12)
    assert tuple(np.round(per_person.mean(axis=0), 3)) == KOOL_GROUP_STAYPROBS


def test_kool2016_sides_reproduce_the_authors_response_stickiness(kool):
    """MB_MF_daw_rllik.m's R, ported line by line, equals the documented rule on left1 and side1."""
    r = kool.records
    authors, rule = [], []
    for person in range(len(kool.subject)):
        action, left1, side1, missed = (r[name][person, 0].tolist() for name in ("action", "left1", "side1", "missed"))
        authors_r, last_side = [0, 0], None
        for t in range(len(action)):
            if missed[t]:
                continue
            if left1[t] == 1:  # stim_1_left == 2: R = flipud(R)
                authors_r = authors_r[::-1]
            favoured = None if last_side is None else (left1[t] if last_side == 0 else 1 - left1[t])
            authors.append(authors_r)
            rule.append([int(favoured == 0), int(favoured == 1)])
            authors_r = [1, 0] if action[t] == left1[t] else [0, 1]
            last_side = side1[t]
    assert authors == rule and len(rule) == (~r["missed"]).sum()


def test_kool2016_fits_are_the_twelve_models(kool, data_root):
    fits = datasets.load_kool2016_fits(data_root)
    assert len(fits) == 12
    assert {(fit["model"], fit["st"], fit["respst"]) for fit in fits} == {
        (model, st, respst) for model in (1, 2, 3) for st in (False, True) for respst in (False, True)}
    for fit in fits:
        k = 3 + (fit["model"] == 1) + fit["st"] + fit["respst"]
        assert len(fit["params"]) == k and fit["x"].shape == (197, k) and fit["H"].shape == (197, k, k)
        assert fit["params"][:3] == ("inverse temperature", "learning rate", "eligibility trace decay")
        assert np.all((fit["x"] >= fit["lower"]) & (fit["x"] <= fit["upper"]))
        assert np.all(fit["loglik"] < 0) and np.all(fit["logpost"] < fit["loglik"])  # the priors here have densities below 1
        np.testing.assert_array_equal(fit["subject"], kool.subject)


# ---- Kool et al.'s own tasks: the novel paradigm (2016) and stakes (2017) ----

KOOL_TASKS = [  # dataset, people, kept, trials, rewards, stakes
    ("kool2016-novel", 199, 184, 125, set(range(-4, 6)), {1.0}),
    ("kool2017-novel-stakes", 101, 98, 200, set(range(0, 10)), {1.0, 5.0}),
    ("kool2017-daw-stakes", 100, 100, 200, {0.0, 1.0}, {1.0, 5.0}),
]


@pytest.mark.parametrize("dataset, people, kept, trials, rewards, stakes", KOOL_TASKS)
def test_kool_tasks_people_trials_and_the_authors_scores(data_root, dataset, people, kept, trials, rewards, stakes):
    """The loaded trials against the file's own bookkeeping: its `missed` (a time-out at either
    stage), each person's final score (points x stake summed over the trials not missed) and, for the
    people kept, the authors' reward rate; the novel paradigm's options lead to their own planet, whose
    points of the trial are the reward."""
    data = datasets.load(dataset, data_root, include_excluded=True)
    r = data.records
    assert r["action"].shape == (people, 1, trials) and data.included.sum() == kept and len(data.excluded) == people - kept
    groupdata = scipy.io.loadmat(data_root / dataset / "groupdata.mat", squeeze_me=True, struct_as_record=False)["groupdata"]
    used = ~r["missed"]
    for i, person in enumerate(groupdata.subdata):
        np.testing.assert_array_equal(r["missed"][i, 0], np.asarray(person.missed, bool))
        assert np.sum((r["reward"] * r["stake"])[i, 0][used[i, 0]]) == person.score[-1]
    assert set(np.unique(r["reward"][used])) <= rewards and set(np.unique(r["stake"][used])) == stakes
    assert set(np.unique(r["action"][used])) == {0, 1} and np.isfinite(data.age).all()
    if "novel" in dataset:
        assert (r["state"][used] == r["action"][used] + S2).all() and set(np.unique(r["state1"][used])) == {0, 1}
        planet_points = np.take_along_axis(r["points"], (r["state"] - S2).clip(0)[..., None], -1)[..., 0]
        np.testing.assert_array_equal(r["reward"][used], planet_points[used])
        paid = np.nan_to_num(r["reward"][:, 0]).mean(axis=-1) if dataset.startswith("kool2017") else np.nanmean(r["reward"][:, 0], -1)
        np.testing.assert_allclose(paid[data.included], groupdata.rewardrate, rtol=0, atol=1e-12)  # mean(points)
    else:
        assert 0.68 < r["common"][used].mean() < 0.72 and (r["state1"][used] == 0).all()
        skipped = data.authors["likelihood_missed"]
        assert (skipped <= r["missed"]).all() and (r["missed"] & ~skipped).sum() == 529  # second stage timed out, choice2 kept


def test_kool2017_fits_keep_every_persons_loglik(data_root):
    """Kool et al. 2017's results.mat keeps the log-likelihood of its first 10 people; their AIC and
    BIC (200 trials) give everybody's, and agree with each other and with those 10."""
    for dataset, people in (("kool2017-novel-stakes", 98), ("kool2017-daw-stakes", 100)):
        (fit,) = datasets.load_kool_fits(dataset, data_root)
        assert fit["x"].shape == (people, 7) and fit["loglik"].shape == (people,) and fit["model_name"] == "stakes"
        np.testing.assert_allclose(fit["loglik"], (7 * np.log(200) - fit["bic"]) / 2, rtol=0, atol=1e-9)
        assert np.all(fit["logpost"] < fit["loglik"])


# ---- Decker et al. 2016 and Potter et al. 2017 ----


@pytest.mark.parametrize("dataset, people, trials", HARTLEY)
def test_hartley_lab_people_trials_and_conventions(data_root, dataset, people, trials):
    data = datasets.load(dataset, data_root)
    r = data.records
    assert r["action"].shape == (people, 1, trials) and data.included.all() and data.excluded == {}
    assert np.isfinite(data.age).all() and 8 <= data.age.min() and data.age.max() < 26
    used = ~r["missed"]
    assert set(np.unique(r["action"][used])) == {0, 1} and set(np.unique(r["state"][used])) == {1, 2}
    assert 0.68 < r["common"][r["action"] >= 0].mean() < 0.72
    assert set(np.unique(r["reward"][used])) == {0.0, 1.0} and np.isnan(r["reward"][~used]).all()
    assert (r["side1"] == -1).all() and (r["left1"] == -1).all()
    without_payoff = data.subject[np.isnan(r["probs"]).all(axis=(1, 2, 3))]
    assert list(without_payoff) == (sorted(DECKER_WITHOUT_PAYOFF) if dataset == "decker2016" else [])
    has_payoff = ~np.isin(data.subject, DECKER_WITHOUT_PAYOFF)
    assert np.isfinite(r["probs"][has_payoff]).all() and np.isfinite(r["rt1"][has_payoff][used[has_payoff]]).all()


def test_decker2016_pads_the_short_session_with_missed_trials(data_root):
    data = datasets.load("decker2016", data_root)
    short = data.subject.tolist().index("1895_onsets")
    assert data.records["missed"][short, 0, 151:].all() and not data.records["missed"][short, 0, :151].all()
    assert (data.records["action"][short, 0, 152:] == -1).all() and np.isnan(data.records["reward"][short, 0, 152:]).all()


# ---- Gillan et al. 2016 ----

GILLAN_FUSED = "3570Y55XZPJQZPOYLZCOL50WZE6GYI"  # study 2: trial 1 fused onto the previous line


@pytest.fixture(scope="module")
def gillan(data_root):
    return datasets.load("gillan2016", data_root, include_excluded=True)


def test_gillan2016_people_studies_and_scores(gillan):
    """548 + 1,413 people with a self-report (the papers' samples), 400 without, excluded; one walk for all."""
    study = gillan.scores["study"]
    assert gillan.records["action"].shape == (2361, 1, 200)
    assert (study == 1).sum() == 649 and (study == 2).sum() == 1712
    assert gillan.included[study == 1].sum() == 548 and gillan.included[study == 2].sum() == 1413
    assert len(gillan.excluded) == 400 and all("no self-report" in reason for reason in gillan.excluded.values())
    analysed = gillan.select(gillan.included)
    assert analysed.records["missed"].sum(axis=(1, 2)).max() <= 20
    assert np.array_equal(analysed.records["probs"], np.broadcast_to(analysed.records["probs"][:1], analysed.records["probs"].shape))
    two = analysed.scores["study"] == 2
    for name in ("Factor1", "Factor2", "Factor3"):
        assert np.isnan(analysed.scores[name][~two]).all() and not np.isnan(analysed.scores[name][two]).any()
        np.testing.assert_allclose(analysed.scores[name][two].mean(), 0, atol=1e-6)  # z-scored over study 2
    for name in ("age", "iq", "gender", "oci", "stai", "sds"):
        assert not np.isnan(analysed.scores[name]).any()
    assert set(np.unique(analysed.scores["gender"])) == {-1.0, 1.0}
    np.testing.assert_array_equal(analysed.age, analysed.scores["age"])
    digits = [s for s in analysed.subject[~two] if s.isdigit()]
    assert digits, "study 1 has all-digit ids: kept as text and matched to their self-report rows"


def test_gillan2016_records_follow_the_project_conventions(gillan):
    r = {k: v[gillan.included] for k, v in gillan.records.items()}
    made = r["action"] >= 0
    assert np.array_equal(r["common"][made], r["state"][made] == r["action"][made] + 1)
    assert np.isnan(r["reward"][r["missed"]]).all() and np.isin(r["reward"][~r["missed"]], (0, 1)).all()
    second_only = made & (r["choice2"] < 0)
    assert second_only.any() and (r["missed"][second_only]).all() and np.isin(r["state"][second_only], (1, 2)).all()
    assert np.nanmax(r["rt1"]) < 10 and np.nanmedian(r["rt1"]) > 0.2  # seconds
    assert np.array_equal(r["side1"][made], r["action"][made])  # stimulus 1 is always on the left


def test_gillan2016_reads_the_trial_fused_onto_the_previous_line(gillan, data_root):
    """Its trial-1 row lost its number and sits at the end of an 'Equity,Equity,3' line: trial 1
    is read there (a missed first stage, whose selected-stimulus column reads 2)."""
    person = list(gillan.subject).index(GILLAN_FUSED)
    text = (data_root / "gillan2016" / "twostep_data_study2_individual_csv" / f"{GILLAN_FUSED}.csv").read_text()
    assert "\nEquity,Equity,31,0.742621470936," in text
    assert gillan.records["action"][person, 0, 0] == -1 and gillan.records["missed"][person, 0, 0]
    np.testing.assert_array_equal(gillan.records["probs"][person, 0, 0], gillan.records["probs"][0, 0, 0])
    assert (gillan.records["action"][person, 0, 1:] >= 0).sum() > 150


GILLAN_TRIAL = "{t},0.5,0.5,0.5,0.5,{r1},{s1},600,{tr},{r2},{s2},{state},700,{reward},1"


def gillan_file(rows=None, head="AgeDropdown,57\n10555972,INSTRUCT,twostep_instruct_9,44895\n"):
    """A task file: instruction rows, then 200 trials (a made, common, rewarded choice of stimulus 1
    each, unless `rows` {trial: row text} says otherwise)."""
    rows = rows or {}
    made = dict(r1="left", s1=1, tr="true", r2="right", s2=2, state=2, reward=1)
    return head + "".join(rows.get(t, GILLAN_TRIAL.format(t=t, **made)) + "\n" for t in range(1, 201))


def gillan_folder(tmp_path, files):
    """A gillan2016 folder with `files` {(study, id): text} and a self-report row for each."""
    folder = tmp_path / "gillan2016"
    for study in (1, 2):
        (folder / f"twostep_data_study{study}_individual_csv").mkdir(parents=True)
        columns = datasets.GILLAN_SCORES[f"self_report_study{study}.csv"]
        ids = [i for s, i in files if s == study]
        lines = [",".join(['""', '"subj.x"' if study == 1 else '"subj"', *(f'"{c}"' for c in columns)])]
        lines += [",".join([f'"{n}"', f'"{i}"', *("1" for _ in columns)]) for n, i in enumerate(ids, 1)]
        (folder / f"self_report_study{study}.csv").write_text("\n".join(lines) + "\n")
    for (study, name), text in files.items():
        (folder / f"twostep_data_study{study}_individual_csv" / f"{name}.csv").write_text(text)
    return tmp_path


def test_gillan2016_each_quirk_of_the_files_is_read(tmp_path):
    missed_first = GILLAN_TRIAL.format(t=3, r1=-1, s1=2, tr=-1, r2=-1, s2=2, state=-1, reward=-1)
    missed_second = GILLAN_TRIAL.format(t=4, r1="right", s1=2, tr="false", r2=-1, s2=2, state=2, reward=-1)
    loops = "x,1\n\ninstructionLoop\na,INSTRUCT,twostep_instruct_0,1\n\ninstructionLoop\n\ninstructionLoop\n"
    fused = gillan_file().replace("twostep_instruct_9,44895\n1,", "twostep_instruct_9,44895\nEquity,Equity,3")
    root = gillan_folder(tmp_path, {(1, "00123"): gillan_file({3: missed_first, 4: missed_second}),
                                    (2, "LOOPS"): gillan_file(head=loops), (2, "FUSED"): fused})
    data = datasets.load("gillan2016", root)
    assert list(data.subject) == ["00123", "FUSED", "LOOPS"] and data.records["action"].shape == (3, 1, 200)
    r = {k: v[0, 0] for k, v in data.records.items()}
    assert (r["action"][2], r["state"][2], r["choice2"][2], r["missed"][2]) == (-1, -1, -1, True)  # not stimulus 2
    assert (r["action"][3], r["state"][3], r["common"][3], r["choice2"][3], r["missed"][3]) == (1, 1, False, -1, True)
    assert np.isnan(r["reward"][3]) and r["side1"][3] == 1 and r["side2"][3] == -1
    assert (r["action"][0], r["state"][0], r["choice2"][0], r["reward"][0], r["rt1"][0]) == (0, 1, 1, 1.0, 0.6)
    assert (data.records["action"][1:, 0] == 0).all()  # the fused trial 1 and the file with its loops


@pytest.mark.parametrize("damage, words", [
    (lambda text: text.rsplit("200,", 1)[0], ["trials 1..199 (199 rows)", "expected task rows for trials 1..200",
                                              "rerun two-step data fetch gillan2016"]),
    (lambda text: text.replace("\n7,0.5,0.5,0.5,0.5,left,1,600,true", "\n7,0.5,0.5,0.5,0.5,left,1,600,false"),
     ["transition column disagrees", "trial 7"]),
    (lambda text: text.replace("\n9,0.5,0.5,0.5,0.5,left", "\n9,0.5,0.5,0.5,0.5,up"), ["'stage_1_response'", "'up'", "trial 9"]),
    (lambda text: text.replace("\n5,0.5,0.5,0.5,0.5,left,1,600,true,right,2,2,700,1", "\n5,0.5,0.5,0.5,0.5,left,1,600,true,right,2,2,700,7"),
     ["'reward'"]),
])
def test_a_damaged_gillan2016_file_fails_on_one_line(tmp_path, damage, words):
    root = gillan_folder(tmp_path, {(1, "A"): damage(gillan_file())})
    with pytest.raises(DatasetError) as error:
        datasets.load("gillan2016", root)
    one_line_naming(error, "A.csv", *words)


def test_a_garbled_number_in_gillan2016_files_names_the_line_column_and_value(tmp_path):
    garbled = gillan_file().replace("\n5,0.5,0.5,0.5,0.5,left,1,600,", "\n5,0.5,0.5,0.5,0.5,left,1,6o0,")  # trial 5: line 7
    root = gillan_folder(tmp_path, {(1, "A"): garbled, (2, "B"): gillan_file()})
    with pytest.raises(DatasetError) as error:
        datasets.load("gillan2016", root)
    one_line_naming(error, "A.csv: line 7, column 'stage_1_rt' holds '6o0', expected a number", "two-step data fetch gillan2016")
    (root / "gillan2016" / "twostep_data_study1_individual_csv" / "A.csv").write_text(gillan_file())
    report = root / "gillan2016" / "self_report_study2.csv"
    header, row = report.read_text().splitlines()
    report.write_text(f"{header}\n{row.replace(',1,', ',22#3,', 1)}\n")
    column = header.split(",")[row.split(",").index("1")].strip('"')
    with pytest.raises(DatasetError) as error:
        datasets.load("gillan2016", root)
    one_line_naming(error, f"{report}: line 2, column '{column}' holds '22#3', expected a number, or empty or NA for none")
