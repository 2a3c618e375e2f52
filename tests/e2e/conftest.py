"""The e2e tier's fixtures: helm, built once (tests/support/chart_env.py) and run per test
process. The API servers are in tests/conftest.py (shared with the adversarial tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import chart_env
from tests.support.helm import Helm


@pytest.fixture(scope="session")
def helm_bin() -> Path:
    try:
        return chart_env.helm_bin()
    except chart_env.HelmError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def helm_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return chart_env.helm_env(tmp_path_factory.mktemp("helm-home"))


@pytest.fixture(scope="session")
def helm(
    helm_bin: Path, helm_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Helm:
    return Helm(helm_bin, helm_env, tmp_path_factory.mktemp("helm-values"))
