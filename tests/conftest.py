import os
import sys

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def mirror():
    """The folder named by TWO_STEP_DATA_MIRROR, holding the human datasets' source repositories
    (kool2016/, nussenbaum2020/). Tests that need the data are skipped without it, unless
    TWO_STEP_REQUIRE_DATA=1 (as in CI), which makes them fail."""
    folder = os.environ.get("TWO_STEP_DATA_MIRROR")
    if folder:
        return folder
    reason = "TWO_STEP_DATA_MIRROR is unset: point it at a folder holding the source repositories (kool2016/, nussenbaum2020/)"
    if os.environ.get("TWO_STEP_REQUIRE_DATA") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def data_root(mirror, tmp_path_factory):
    """Every dataset fetched from the mirror into a folder of the session's."""
    from twostep import datasets

    return datasets.fetch("all", to=tmp_path_factory.mktemp("data"), mirror=mirror, log=lambda message: None)
