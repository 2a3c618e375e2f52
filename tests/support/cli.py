"""Running `alertplane` in-process for the CLI tests: the manifests they write, the result
they get."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

Run = Callable[..., tuple[int, str, str]]


def write(path: Path, *docs: object) -> str:
    path.write_text(yaml.safe_dump_all(list(docs), sort_keys=False))
    return str(path)
