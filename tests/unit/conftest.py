"""The unit tier runs in-process: no subprocess, so no real binary (promtool, amtool,
PostgreSQL, ...). A test that needs one belongs in tests/integration/; this guard says so
instead of letting the fast tier slowly grow slow."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        raise AssertionError(
            f"a unit test started {args!r}: tests that run a program belong in tests/integration/"
        )

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    yield
