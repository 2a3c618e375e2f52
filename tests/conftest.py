"""Shared fixtures. Suites that need a real binary fail loudly when it is missing."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from alertplane.stack.processes import Postgres

if TYPE_CHECKING:
    from tests.api_k8s_env import Env

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/ from the current renderer (review the diff like code)",
    )


@pytest.fixture(scope="session", autouse=True)
def _real_tools() -> None:
    # No silent skips: the suite is only meaningful with the real promtool and amtool.
    missing = [t for t in ("promtool", "amtool") if shutil.which(t) is None]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not found: run `make deps` (Debian prometheus, "
            "prometheus-alertmanager)",
            pytrace=False,
        )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One real PostgreSQL server per test process; tests get fresh databases from it."""
    with Postgres() as pg:
        yield pg


_db_names = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind the store supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'alertplane.db'}"
    pg: Postgres = request.getfixturevalue("postgres")
    return pg.create_database(f"t{next(_db_names)}")


@pytest.fixture(scope="session")
def kube_api(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """The API in Kubernetes mode on a real cluster with the operator (tests/api_k8s_env.py),
    once per test process: starting a cluster costs seconds, the API and console tests share
    it."""
    from tests.api_k8s_env import kube_api_env  # kopf and the cluster tools load only here

    with kube_api_env(postgres, tmp_path_factory.mktemp("api-k8s"), "api_k8s") as env:
        yield env
