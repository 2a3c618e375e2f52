"""Is the package installed for this checkout? `make install` asks before running pip.

Exit 0 when every requirement of pyproject.toml (the dependencies and the extras named on
the command line) is met by an installed distribution, the `alertplane` command is on PATH
and `import alertplane` finds this checkout's `operator/` (through an editable install or
PYTHONPATH). Otherwise print what is missing and exit 1, and `make install` runs pip.

Why not run pip every time: `pip install -e .` re-resolves and rebuilds the editable wheel
even when nothing changed (seconds to tens of seconds), and `make run`/`make test` must not
reinstall what is present. Standard library only (plus the `packaging` that pip vendors), so
it runs before anything is installed.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import sys
import tomllib
from pathlib import Path

try:
    from packaging.requirements import Requirement
except ImportError:  # pragma: no cover - pip always carries a copy
    from pip._vendor.packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def missing(extras: list[str]) -> list[str]:
    """One line per requirement that is absent or at a version pyproject.toml excludes."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = list(project["dependencies"])
    for extra in extras:
        wanted += project["optional-dependencies"][extra]
    found = []
    for line in wanted:
        req = Requirement(line)
        try:
            version = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{req.name}: not installed")
            continue
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            found.append(f"{req.name}: {version} installed, {req.specifier} wanted")
    spec = importlib.util.find_spec("alertplane")
    here = (ROOT / "operator" / "alertplane").resolve()
    origin = Path(spec.origin).resolve().parent if spec and spec.origin else None
    if origin != here:
        found.append(f"alertplane: imports from {origin}, not {here}")
    if shutil.which("alertplane") is None:
        found.append("alertplane: no `alertplane` command on PATH")
    return found


def main() -> int:
    lines = missing(sys.argv[1:])
    if lines:  # one line, so a fresh clone's `make run` does not open with a page of these
        more = f" and {len(lines) - 3} more" if len(lines) > 3 else ""
        print(f"pip install -e needed: {'; '.join(lines[:3])}{more}", file=sys.stderr)
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
