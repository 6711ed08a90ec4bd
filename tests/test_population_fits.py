"""A whole dataset's fits on Ray (`two-step fit`): the table's layout, and a stopped run keeps its finished people."""

import os

import numpy as np
import pandas as pd
import pytest

from twostep import cli, daw_models, population_fits

pytestmark = pytest.mark.slow  # Ray and many fits


def test_model_names_take_groups_and_name_an_unknown_one():
    assert population_fits.model_names("kool2016") == tuple(s.name for s in daw_models.KOOL2016)
    assert population_fits.model_names("daw2011,nussenbaum2020,daw2011") == ("daw2011", "daw2011-mf", "daw2011-mb", "nussenbaum2020")
    with pytest.raises(ValueError, match="unknown model 'kool'"):
        population_fits.model_names("kool")


@pytest.fixture
def ray_afterwards():
    yield
    import ray

    ray.shutdown()


def test_fit_command_writes_the_table_and_a_rerun_refits_only_what_is_missing(data_root, tmp_path, capsys, ray_afterwards):
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
        assert rows[["subject", "model", "loglik", "logpost", "bic", "log_evidence"]].notna().all().all()
        assert (rows["logpost"] <= 0).all()
        np.testing.assert_allclose(rows["bic"], len(names) * np.log(150) - 2 * rows["loglik"])  # Potter: 150 trials each
    chunk = population_fits.chunk_file(out, "potter2017", "daw2011", 1)
    os.remove(chunk)
    first = os.path.getmtime(population_fits.chunk_file(out, "potter2017", "daw2011-mf", 0))
    capsys.readouterr()
    cli.main(argv)
    assert "5 of 6 chunks already fitted" in capsys.readouterr().out
    assert os.path.isfile(chunk) and os.path.getmtime(population_fits.chunk_file(out, "potter2017", "daw2011-mf", 0)) == first
    pd.testing.assert_frame_equal(pd.read_csv(os.path.join(out, "potter2017_fits.csv")), table)
