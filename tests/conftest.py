"""Shared fixtures and the test tiers. Suites that need a real binary fail loudly when it is
missing.

Tiers follow the folders (CONTRIBUTING.md, "Tests"): tests/unit (in-process),
tests/golden (rendered output byte for byte), tests/integration (real promtool/amtool,
Prometheus, Alertmanager, PostgreSQL, a served API, a browser), tests/e2e (a real
kube-apiserver), tests/adversarial (attacks and limits through every door). Each test gets
its tier's marker from its folder, so `-m "not e2e"` selects without listing files.

The expensive servers are started once per test process where isolation allows: PostgreSQL
(`postgres`; tests get fresh databases from it), the API in Kubernetes mode (`kube_api`),
the API server with the committed CRDs (`crd_kube`), the operator's webhook (`hooked`). A
module whose operators own the sink namespace gets a fresh API server (`cluster`).
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.paths import ROOT
from tests.support.processes import Postgres

if TYPE_CHECKING:
    from tests.support.api_k8s_env import Env
    from tests.support.k8s_env import KubeEnv
    from tests.support.operator_env import Cluster

TIERS = ("unit", "golden", "integration", "e2e", "adversarial")
_TESTS = ROOT / "tests"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/ from the current renderer (review the diff like code)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with its tier: the first folder under tests/."""
    for item in items:
        parts = Path(item.path).resolve().relative_to(_TESTS).parts
        if parts and parts[0] in TIERS:
            item.add_marker(getattr(pytest.mark, parts[0]))


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
    """The API in Kubernetes mode on a real cluster with the operator
    (tests/support/api_k8s_env.py), once per test process: starting a cluster costs seconds,
    the API and console tests share it."""
    from tests.support.api_k8s_env import kube_api_env  # kopf and the cluster tools load here

    with kube_api_env(postgres, tmp_path_factory.mktemp("api-k8s"), "api_k8s") as env:
        yield env


@pytest.fixture(scope="session")
def crd_kube() -> Iterator[KubeEnv]:
    """A real API server with the committed CRDs and the namespaces the schema tests use,
    once per test process. Its users create objects only in tests/e2e/test_crds.py; the
    adversarial schema tests only dry-run."""
    from tests.support.crds import crd_server

    with crd_server() as env:
        yield env


@pytest.fixture(scope="session")
def hooked(
    postgres: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Cluster, str]]:
    """The chart's operator serving its admission webhook for one namespace
    (tests/support/webhook.py), once per test process: (cluster, its mirror's database)."""
    from tests.support.webhook import hooked_cluster

    with hooked_cluster(postgres, tmp_path_factory.mktemp("webhook")) as found:
        yield found


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A fresh API server with alertplane's and prometheus-operator's CRDs and the sink
    namespace `monitoring`, per module: each module's operators own what is in the sink
    namespace (golden comparisons list all of it), so modules cannot share one."""
    from tests.support.operator_env import started_cluster

    with started_cluster("monitoring") as c:
        yield c
