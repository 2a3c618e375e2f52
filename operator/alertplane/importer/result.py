"""What an import yields: manifests (with the customer and group each came from), and the
items refused or only partly carried over, each with where it came from and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Item:
    """A refused or partly carried-over input item: where, and why."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True)
class Output:
    customer: str
    group: str  # the rule group (or `receivers`): --out writes one file per group
    manifest: dict[str, Any]


@dataclass
class Result:
    outputs: list[Output] = field(default_factory=list)
    refused: list[Item] = field(default_factory=list)
    notes: list[Item] = field(default_factory=list)

    @property
    def manifests(self) -> list[dict[str, Any]]:
        return [o.manifest for o in self.outputs]
