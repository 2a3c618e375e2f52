"""The one error tree of alertplane.

Invalid *input* is reported as `Problem` values (a field path and a hint), never raised:
a run collects every problem of every object so the user fixes them in one go.
Exceptions are for I/O and for the external tools failing in ways input cannot explain.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True, slots=True)  # one per object: no __dict__
class ObjectRef:
    """Identifies an object the way kubectl does: kind plus namespace/name."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Source:
    """Where a manifest came from, for problems that have no object to name yet."""

    file: str
    document: int = 0  # 1-based index in a multi-document stream; 0 = unknown
    line: int = 0  # 1-based; 0 = unknown
    # Position of the file in the order it was read, so problems of files that yielded no
    # object (broken YAML) still print in turn. Not part of identity.
    order: int = field(default=0, compare=False)

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}"
        if self.document:
            where += f" (document {self.document})"
        return where


@dataclass(frozen=True)
class Problem:
    """One reason an object (or a manifest) is rejected.

    `path` is the dotted field path inside the object (`spec.route.match.severity[1]`),
    `message` says what is wrong, `hint` says what to do about it.
    """

    path: str
    message: str
    hint: str = ""
    obj: ObjectRef | None = None
    source: Source | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def text(self) -> str:
        body = self.message if not self.hint else f"{self.message}; {self.hint}"
        return f"{self.path}: {body}" if self.path else body

    def __str__(self) -> str:
        if self.obj is not None:
            return f"{self.obj}: {self.text()}"
        if self.source is not None:
            return f"{self.source}: {self.text()}"
        return self.text()

    def at(self, obj: ObjectRef | None = None, source: Source | None = None) -> Problem:
        return Problem(
            path=self.path,
            message=self.message,
            hint=self.hint,
            obj=obj if obj is not None else self.obj,
            source=source if source is not None else self.source,
            extra=self.extra,
        )


class AlertplaneError(Exception):
    """Base of every exception alertplane raises on purpose."""

    hint: str = ""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint

    def __str__(self) -> str:
        msg = super().__str__()
        return f"{msg}; {self.hint}" if self.hint else msg


class UsageError(AlertplaneError):
    """The command line or a configuration file is wrong (CLI exit code 2)."""


class ToolError(AlertplaneError):
    """promtool/amtool is missing or failed in a way no input explains."""


class OutputRejected(AlertplaneError):
    """Rendered output failed the real tool's check: a bug in rendering, never written."""

    def __init__(self, message: str, details: str) -> None:
        super().__init__(message, "this is a bug in alertplane; please report it with the details")
        self.details = details
