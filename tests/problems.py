"""What `alertplane validate` prints for documents built in a test, one line per problem."""

from __future__ import annotations

from typing import Any

import yaml

from alertplane.core import evaluate
from alertplane.manifests import load_text
from alertplane.render.platform import PlatformConfig


def lines(*docs: Any, tools: bool = False, platform: PlatformConfig | None = None) -> list[str]:
    """The documents as one multi-document file `t.yaml`, in this order."""
    loaded = load_text(yaml.safe_dump_all(list(docs), sort_keys=False), "t.yaml")
    outcome = evaluate(loaded.documents, platform, tools=tools, earlier=loaded.problems)
    return [str(p) for p in outcome.problems]
