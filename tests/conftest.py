import os
import sys
import tempfile
from pathlib import Path

# Test modules live in folders by area (tests/models/<name>/, tests/data/, ...); their shared helpers
# (common_model_tests, tiny_models, hub_server, ...) sit here, importable from any of them.
sys.path.insert(0, str(Path(__file__).resolve().parent))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
# The examples report to trackio when it is installed: keep the tests' runs out of the user's trackio folder.
os.environ.setdefault("TRACKIO_DIR", tempfile.mkdtemp(prefix="momentzoo-tests-trackio-"))

import pytest  # noqa: E402
import torch  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]


def real_data_root() -> Path:
    return Path(os.environ.get("MOMENTZOO_REAL_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The shared real-data folder; tests using it are marked `real_data` and skip when it is absent."""
    root = real_data_root()
    if not root.is_dir():
        pytest.skip(f"real data folder {root} not found (set MOMENTZOO_REAL_DATA)")
    return root


# pytest-xdist runs one worker per core: one intra-op thread each avoids oversubscribing the CPU,
# which made tiny models 10x slower on the 2-core CI machine.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


def pytest_collection_modifyitems(config, items):
    root = real_data_root()
    if root.is_dir():
        return
    skip = pytest.mark.skip(reason=f"real data folder {root} not found")
    for item in items:
        if "real_data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def hub_server():
    """A local Hub (tests/hub_server.py) for the push and pull tests of one module."""
    from hub_server import HubServer

    with HubServer() as server:
        yield server


@pytest.fixture
def online(monkeypatch, hub_server):
    """This process talks to the local Hub: not offline, no Xet, default endpoint = the server."""
    import transformers.utils.hub
    from hub_server import use_hub

    # transformers keeps one HfApi (made with the endpoint of its first call): a fresh one for this server
    monkeypatch.setattr(transformers.utils.hub, "_hf_api", None)
    return use_hub(monkeypatch, hub_server)
