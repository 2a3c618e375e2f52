"""What `alertplane validate` prints for documents built in a test, one line per problem."""

from __future__ import annotations

import re
from typing import Any

import yaml

from alertplane.core import evaluate
from alertplane.manifests import load_text
from alertplane.render.platform import PlatformConfig


class _NoAliases(yaml.SafeDumper):
    """PyYAML writes an object used twice as an anchor and aliases, which alertplane
    refuses (manifests.py); a test's documents may share one dict (a secret reference)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def lines(*docs: Any, tools: bool = False, platform: PlatformConfig | None = None) -> list[str]:
    """The documents as one multi-document file `t.yaml`, in this order."""
    loaded = load_text(yaml.dump_all(list(docs), Dumper=_NoAliases, sort_keys=False), "t.yaml")
    outcome = evaluate(loaded.documents, platform, tools=tools, earlier=loaded.problems)
    return [str(p) for p in outcome.problems]


_PLACED = re.compile(r"^\S+?:\d+:\d+: (?=Customer)", re.MULTILINE)


def unplaced(text: str) -> str:
    """`alertplane validate`'s output without the `file:line:column: ` each object's
    problem starts with (validate/positions.py; tested there), for tests about the rest."""
    return _PLACED.sub("", text)
