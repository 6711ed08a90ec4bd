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
    """Every dataset fetched from the mirror into a folder of this test run's."""
    from twostep import datasets

    return datasets.fetch("all", to=tmp_path_factory.mktemp("data"), mirror=mirror, log=lambda message: None)


@pytest.fixture(scope="session")
def ray_for_the_session():
    """Shut down at the end of the session the embedded Ray instance that `ray_instance` started."""
    yield
    import ray

    ray.shutdown()


@pytest.fixture
def ray_instance(ray_for_the_session):
    """An embedded Ray instance limited to 2 CPUs, started by the first test that needs it and kept
    for the others (the project's commands find it running and use it; a test that shuts it down
    leaves the next to start another). With pytest-xdist these tests share one worker
    (`pytest_collection_modifyitems`), so no two instances start at once on a small machine."""
    from twostep import sweep

    return sweep.connect(cpus=2)


# With pytest-xdist (-n 2): tests that share an expensive module fixture or a Ray instance run in one worker,
# and the longest work goes first, so that neither worker waits alone at the end.
GROUPS = {  # group: (what puts a test in it, its place in the order)
    "ray": (lambda item: "ray_instance" in item.fixturenames or item.get_closest_marker("ray") is not None, 0),
    "reliability": (lambda item: "uninterrupted" in item.fixturenames, 1),  # four training runs shared by 16 tests
}
NOTEBOOKS_PLACE = 2  # each a kernel and a run of a notebook: long, independent, after the groups
REST_PLACE = 3


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    places = {}
    for item in items:
        places[item.nodeid] = NOTEBOOKS_PLACE if item.path.name == "test_notebooks.py" else REST_PLACE
        for name, (member, place) in GROUPS.items():
            if member(item):
                item.add_marker(pytest.mark.xdist_group(name))
                places[item.nodeid] = place
                break
    items.sort(key=lambda item: places[item.nodeid])  # stable: within a place, the files' order
