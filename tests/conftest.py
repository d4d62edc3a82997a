"""Shared fixtures. Real datasets are read from the shared data folder (never copied into the repo):
$BERTGAN_TEST_DATA, else ../shared/data beside the checkout. Under CI=true a missing file fails the test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings

# Property tests (tests/test_properties.py): a few seconds in CI; `--hypothesis-profile thorough` for 20× more.
for _name, _n in (("default", 40), ("thorough", 800)):
    settings.register_profile(_name, max_examples=_n, deadline=None,
                              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile("default")

ROOT = Path(__file__).resolve().parents[1]


def _data_root() -> Path:
    env = os.environ.get("BERTGAN_TEST_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return _data_root()


def shared_path(rel: str) -> Path:
    """A file or folder of the shared data, or skip the test (fail it under CI=true) if it is missing."""
    path = _data_root() / rel
    if not path.exists():
        msg = f"shared dataset file missing: {path}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture
def shared_file():
    """shared_file("mnist/t10k-labels-idx1-ubyte.gz") → the path, or skip (fail under CI=true) if missing."""
    return shared_path


@pytest.fixture(autouse=True)
def _fixed_threads():
    # Bit-exact comparisons need the same thread count in every run of a test.
    n = torch.get_num_threads()
    torch.set_num_threads(min(n, 2))
    yield
    torch.set_num_threads(n)



@pytest.fixture(scope="module")
def private_cache(tmp_path_factory):
    """``pytestmark = pytest.mark.usefixtures("private_cache")``: the download cache (evaluation classifiers,
    Inception features) private to the module — its classifiers are trained once, never in the user's cache.
    Module-scoped, so module-scoped fixtures that train or evaluate see it too."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def small_judge(private_cache):
    """private_cache, with the MNIST / Fashion-MNIST evaluation classifier trained on 2,000 images × 3 epochs
    (seconds) instead of 60,000 × 2 epochs."""
    import bertgan.gan.evaluate as evaluate

    real = evaluate.train_classifier
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(evaluate, "train_classifier",
                   lambda dataset, data_dir=None, **kw: real(dataset, data_dir,
                                                            **{**kw, "epochs": 3, "max_images": 2000}))
        yield
