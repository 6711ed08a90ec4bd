"""A whole dataset's fits on Ray (`two-step fit`): the table's layout, a stopped run keeps its
finished people, and a chunk is reused only by a run with its people, data and settings."""

import os

import numpy as np
import pandas as pd
import pytest

from twostep import cli, datasets, daw_models, population_fits

pytestmark = pytest.mark.slow  # Ray and many fits


def test_model_names_take_groups_and_name_an_unknown_one():
    assert population_fits.model_names("kool2016") == tuple(s.name for s in daw_models.KOOL2016)
    assert population_fits.model_names("daw2011,nussenbaum2020,daw2011") == ("daw2011", "daw2011-mf", "daw2011-mb", "nussenbaum2020")
    with pytest.raises(ValueError, match="unknown model 'kool2061'") as error:
        population_fits.model_names("kool2061")
    assert population_fits.spec_names("daw2011") == ("daw2011",)  # --empirical-bayes: a model, not the group
    with pytest.raises(ValueError, match=r"unknown model 'kool2016': .*\(groups do not apply here\)"):
        population_fits.spec_names("kool2016")
    named = str(error.value).split("expected one of ")[1].split(", ")
    assert len(named) == len(set(named)) and {"kool2016", "daw2011", "nussenbaum2020"} <= set(named)


def test_fit_command_writes_the_table_and_a_rerun_refits_only_what_is_missing(data_root, tmp_path, capsys, ray_instance):
    """The group daw2011: daw2011 starts also from the fits of daw2011-mf and daw2011-mb (its w = 0
    and w = 1 cases); their priors are flat, so its likelihood ends at least as high, person by person."""
    out = str(tmp_path)
    argv = ["fit", "--data", "potter2017", "--models", "daw2011", "--out", out, "--root", str(data_root),
            "--restarts", "1", "--chunk-size", "40", "--cpus", "2"]
    cli.main(argv)
    table = pd.read_csv(os.path.join(out, "potter2017_fits.csv"))
    assert list(table.columns) == list(population_fits.COLUMNS)
    assert len(table) == 74 * 3 and list(table["model"].unique()) == ["daw2011", "daw2011-mf", "daw2011-mb"]
    loglik = table.pivot(index="subject", columns="model", values="loglik")
    assert (loglik["daw2011"] >= loglik[["daw2011-mf", "daw2011-mb"]].max(axis=1) - 1e-9).all()
    assert table["authors_model"].isna().all()
    for model, rows in table.groupby("model"):
        names = daw_models.SPECS[model].names
        others = [name for name in daw_models.NAMES if name not in names]
        assert rows[list(names)].notna().all().all() and rows[others].isna().all().all()
        assert rows[["subject", "model", "loglik", "logpost", "bic", "log_evidence", "evidence_method", "status"]].notna().all().all()
        assert (rows["logpost"] <= 0).all()
        np.testing.assert_allclose(rows["bic"], len(names) * np.log(rows["trials"]) - 2 * rows["loglik"])
    potter = datasets.load("potter2017", data_root)
    np.testing.assert_array_equal(table.groupby("subject")["trials"].first()[potter.subject], (~potter.records["missed"]).sum(axis=(1, 2)))
    chunks = sorted(os.listdir(os.path.join(out, "potter2017_fits")))
    assert len(chunks) == 6 and all(name.startswith(("daw2011_", "daw2011-mf_", "daw2011-mb_")) for name in chunks)
    chunk = os.path.join(out, "potter2017_fits", next(name for name in chunks if name.startswith("daw2011_0040-0073_")))
    os.remove(chunk)
    first = os.path.getmtime(os.path.join(out, "potter2017_fits", next(name for name in chunks if name.startswith("daw2011-mf_0000-0039_"))))
    capsys.readouterr()
    cli.main(argv)
    assert "5 of 6 chunks already fitted" in capsys.readouterr().out
    assert os.path.isfile(chunk) and sorted(os.listdir(os.path.join(out, "potter2017_fits"))) == chunks
    assert os.path.getmtime(os.path.join(out, "potter2017_fits", next(name for name in chunks if name.startswith("daw2011-mf_0000-0039_")))) == first
    pd.testing.assert_frame_equal(pd.read_csv(os.path.join(out, "potter2017_fits.csv")), table)
    better = table.copy()
    better.loc[5, "logpost"] += 1.0  # as if the table on disk came from a run with more restarts
    better.to_csv(os.path.join(out, "potter2017_fits.csv"), index=False)
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    assert stopped.value.code == 1 and "holds better fits: this run's log posterior is lower for 1 of 222" in capsys.readouterr().err
    pd.testing.assert_frame_equal(pd.read_csv(os.path.join(out, "potter2017_fits.csv")), better)
    cli.main([*argv, "--overwrite"])
    pd.testing.assert_frame_equal(pd.read_csv(os.path.join(out, "potter2017_fits.csv")), table)


def test_a_table_is_merged_and_never_replaced_by_worse_fits_unless_asked():
    def rows(model, logposts, subjects=("a", "b")):
        return pd.DataFrame({"subject": list(subjects), "model": model, "logpost": logposts}).reindex(columns=population_fits.COLUMNS)

    existing = pd.concat([rows("daw2011", [-10.0, -20.0]), rows("nussenbaum2020", [-11.0, -21.0])], ignore_index=True)
    merged = population_fits.merged_table(existing, rows("daw2011", [-10.0, -19.0]), "t.csv")  # as good or better: replaced
    assert merged[["model", "logpost"]].values.tolist() == [["nussenbaum2020", -11.0], ["nussenbaum2020", -21.0],
                                                           ["daw2011", -10.0], ["daw2011", -19.0]]  # the other model kept
    with pytest.raises(population_fits.WorseTable, match=r"t.csv holds better fits: .* lower for 1 of 2 person-model pairs \(by up to 0.5\)"):
        population_fits.merged_table(existing, rows("daw2011", [-10.5, -19.0]), "t.csv")
    with pytest.raises(population_fits.WorseTable, match="fits of other people for these models"):
        population_fits.merged_table(existing, rows("daw2011", [-10.0, -20.0], ("a", "c")), "t.csv")
    added = population_fits.merged_table(existing, pd.concat([rows("daw2011", [-10.0, -20.0]), rows("daw2011-mb", [-12.0, -22.0])]), "t.csv")
    assert sorted(added["model"].unique()) == ["daw2011", "daw2011-mb", "nussenbaum2020"]  # a model the table lacks is added
    forced = population_fits.merged_table(existing, rows("daw2011", [-10.5, -19.0]), "t.csv", overwrite=True)
    assert forced[forced["model"] == "daw2011"]["logpost"].tolist() == [-10.5, -19.0]


def chunk_names(digests, chunk_size, model="daw2011-mb", restarts=1, seed=0):
    chunks = [digests[start : start + chunk_size] for start in range(0, len(digests), chunk_size)]
    return [population_fits.chunk_key(people, model, restarts, seed) for people in chunks]


def test_a_chunk_key_changes_with_its_people_data_model_and_settings(data_root):
    potter = datasets.load("potter2017", data_root)
    digests = population_fits.people_digests(potter)
    assert len(set(digests)) == 74 and population_fits.people_digests(potter) == digests
    base = chunk_names(digests, 30)
    assert chunk_names(digests, 30) == base
    assert chunk_names(digests, 60)[1] == base[2] and not set(chunk_names(digests, 60)[:1]) & set(base)  # the same people: 60-73
    assert not set(chunk_names(digests, 20)[:3]) & set(base)
    assert not set(chunk_names(digests, 30, restarts=2)) & set(base)
    assert not set(chunk_names(digests, 30, seed=1)) & set(base)
    assert not set(chunk_names(digests, 30, model="daw2011-mf")) & set(base)
    potter.records["reward"][40, 0, 5] = 1 - potter.records["reward"][40, 0, 5]  # another data folder: one outcome differs
    changed = population_fits.people_digests(potter)
    assert [a != b for a, b in zip(changed, digests)] == [i == 40 for i in range(74)]
    assert [a != b for a, b in zip(chunk_names(changed, 30), base)] == [False, True, False]


def test_a_rerun_with_another_chunk_size_fits_everyone_once_and_the_same(data_root, tmp_path, capsys, ray_instance):
    """--chunk-size 30 then 60 once gave 60 rows for 74 people (20: 88 rows, 14 twice); and a person's
    fit once depended on who else was in the chunk (their starts did), so the rerun's table was worse
    for some and refused. Now every chunking gives every person the same fit, to the last bit."""
    argv = ["fit", "--data", "potter2017", "--models", "daw2011-mb", "--out", str(tmp_path), "--root", str(data_root),
            "--restarts", "1", "--cpus", "2"]
    people = datasets.load("potter2017", data_root).subject
    said, tables = [], []
    for size in ("30", "60", "20", "30"):
        cli.main([*argv, "--chunk-size", size])  # no --overwrite: the table would refuse worse fits
        tables.append(pd.read_csv(os.path.join(tmp_path, "potter2017_fits.csv"), dtype={"subject": str}).set_index("subject"))
        assert sorted(tables[-1].index) == sorted(people)  # every person once
        said.append(capsys.readouterr().out)
    for table in tables[1:]:
        pd.testing.assert_frame_equal(table.loc[tables[0].index], tables[0], check_exact=True)
    assert "1 of 2 chunks already fitted" in said[1] and "2 files under" in said[1]  # 60 after 30: people 60-73 kept
    assert "ignored" in said[1] and "already fitted" not in said[0]
    assert "1 of 4 chunks already fitted" in said[2] and "3 of 3 chunks already fitted" in said[3]
    cli.main([*argv, "--chunk-size", "30", "--restarts", "2", "--overwrite"])  # other starts: may be worse for some
    assert "chunks already fitted" not in capsys.readouterr().out


def test_empirical_bayes_on_ray_writes_every_iteration_and_resumes(data_root, tmp_path, capsys, ray_instance):
    """Potter's 74 people, daw2011-mb: 2 EM iterations, then a rerun asking 3 keeps the first two
    and does the third only; the table holds everyone once under the model."""
    argv = ["fit", "--data", "potter2017", "--models", "daw2011-mb", "--empirical-bayes", "--out", str(tmp_path),
            "--root", str(data_root), "--restarts", "1", "--chunk-size", "40", "--cpus", "2"]
    cli.main([*argv, "--iterations", "2"])
    prior = pd.read_csv(os.path.join(tmp_path, "potter2017_eb", "daw2011-mb_prior.csv"))
    assert sorted(prior["iteration"].unique()) == [0, 1] and list(prior["parameter"][:4]) == list(daw_models.SPECS["daw2011-mb"].names)
    table = pd.read_csv(os.path.join(tmp_path, "potter2017_fits_eb.csv"))
    assert len(table) == 74 and table["subject"].is_unique and (table["model"] == "daw2011-mb").all()
    capsys.readouterr()
    cli.main([*argv, "--iterations", "3"])
    assert "2 EM iterations already under" in capsys.readouterr().out
    again = pd.read_csv(os.path.join(tmp_path, "potter2017_eb", "daw2011-mb_prior.csv"))
    pd.testing.assert_frame_equal(again[again["iteration"] < 2], prior)
    assert sorted(again["iteration"].unique()) == [0, 1, 2]
    fits = os.path.join(tmp_path, "potter2017_fits_eb.csv")
    written = open(fits).read()
    cli.main([*argv, "--iterations", "3"])  # all three done: nothing to do
    assert "3 EM iterations already under" in capsys.readouterr().out and open(fits).read() == written
    said = []  # a last move below the tolerance is convergence: a rerun allowed more iterations does none
    population_fits.run_empirical_bayes("potter2017", "daw2011-mb", str(tmp_path), str(data_root), iterations=5, tolerance=1e9,
                                        progress=False, say=said.append)
    assert said[0].endswith(": done") and open(fits).read() == written
    pd.testing.assert_frame_equal(pd.read_csv(os.path.join(tmp_path, "potter2017_eb", "daw2011-mb_prior.csv")), again)
