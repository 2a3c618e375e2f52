"""The one error tree of alertplane.

Invalid *input* is reported as `Problem` values (a field path and a hint), never raised:
a run collects every problem of every object so the user fixes them in one go.
Exceptions are for I/O and for the external tools failing in ways input cannot explain.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    # `file:line:column` of the field in its manifest file, as compilers print it (editors
    # jump there); "" when unknown (a JSON body, a stored object). validate/positions.py.
    where: str = field(default="", compare=False)

    def text(self) -> str:
        body = self.message if not self.hint else f"{self.message}; {self.hint}"
        return f"{self.path}: {body}" if self.path else body

    def __str__(self) -> str:
        if self.obj is not None:
            return f"{self.obj}: {self.text()}"
        if self.source is not None:
            return f"{self.source}: {self.text()}"
        return self.text()

    def located(self) -> str:
        """The line `alertplane validate` prints: `file:line:column: ` (where the field is,
        when known), then the problem."""
        # (a problem of no object already names its source: the document)
        return f"{self.where}: {self}" if self.where and self.obj is not None else str(self)

    def at(self, obj: ObjectRef | None = None, source: Source | None = None) -> Problem:
        return Problem(
            path=self.path,
            message=self.message,
            hint=self.hint,
            obj=obj if obj is not None else self.obj,
            source=source if source is not None else self.source,
            extra=self.extra,
            where=self.where,
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


class ToolTimeout(ToolError):
    """A tool ran past its time limit: for a batch, the input may explain it (one object's
    rule test can hold promtool), so callers that can pin it on an input catch this."""


class OutputRejected(AlertplaneError):
    """Rendered output failed the real tool's check: a bug in rendering, never written."""

    def __init__(self, message: str, details: str) -> None:
        super().__init__(message, "this is a bug in alertplane; please report it with the details")
        self.details = details


class Refused(AlertplaneError):
    """A request the domain refuses (what every door answers the same way).

    `detail` says what was refused, `problems` why, field by field. The doors map each
    class to their own answer: the REST API through one table of HTTP status codes
    (api/errors.py `STATUS`), the console and the CLI through the same messages. `Refused`
    never carries transport details (headers, exit codes); `current_generation` is what a
    stale write needs to tell its client (an ETag, in HTTP)."""

    def __init__(
        self,
        detail: str,
        problems: Sequence[Problem] = (),
        current_generation: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems = list(problems)
        self.current_generation = current_generation


class Unauthenticated(Refused):
    """No credentials, or credentials nobody issued."""

    def __init__(self, detail: str = "missing or invalid bearer token") -> None:
        super().__init__(detail)


class Forbidden(Refused):
    """The caller is known but may not do this."""


class NotFound(Refused):
    """The object or customer does not exist (or is not the caller's to see)."""


class Conflict(Refused):
    """The write collides with what exists (a name taken, a concurrent create)."""


class PreconditionFailed(Refused):
    """The caller expected another generation of the object: nothing was written."""


class Invalid(Refused):
    """The input is wrong: every problem names the field and what to do."""

    def __init__(self, problems: Sequence[Problem], detail: str = "") -> None:
        n = len(problems)
        super().__init__(detail or f"{n} problem{'s' if n != 1 else ''}", problems)


class TooLarge(Refused):
    """The input is larger than alertplane accepts."""


class Unavailable(Refused):
    """A system alertplane needs is down or not ready; retry later."""


class UpstreamFailed(Refused):
    """A system alertplane asked (Kubernetes API server, Alertmanager) answered badly."""
