"""Running `alertplane` in-process for the CLI tests: the manifests they write, the result
they get."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from alertplane.cli import main

Run = Callable[..., tuple[int, str, str]]


def write(path: Path, *docs: object) -> str:
    path.write_text(yaml.safe_dump_all(list(docs), sort_keys=False))
    return str(path)


def in_process(capsys: pytest.CaptureFixture[str]) -> Run:
    """`alertplane ARGV...` run in this process: (exit code, stdout, stderr); a traceback
    in either stream fails the test (no user ever sees one)."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    return run
