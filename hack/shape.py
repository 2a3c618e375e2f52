"""The size check of `make lint`: no module over 400 lines, no function over 60 lines.

Small modules and short functions are the project's standard (CONTRIBUTING); this keeps
them from growing back. A function's length is its `def` line to its last line (decorators
and nested functions included), a module's its line count.

Hand-written (about 100 lines, standard library `ast` only) because no linter we use does
exactly this: ruff's PLR0915 counts statements, not lines, and has no module length; pylint
(C0302 too-many-lines) plus flake8-max-function-length would add two linters and keep their
exceptions as `noqa` comments spread through the files, where this keeps one allowlist with a
reason for each entry. An allowlist entry that no longer exceeds its limit fails the check
too, so the list only shrinks.

    python3 hack/shape.py [--max-module N] [--max-function N] [ROOT ...]
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

# Router and argument-parser factories (a function that only registers routes or
# subcommands reads best as one list of them) may be longer; none is today.
FACTORIES: dict[str, str] = {}

# Known offenders, each with who removes it. The lead deletes an entry when that work is
# merged; a stale entry (the code is within its limit, or gone) fails the check.
ALLOWED = {
    **FACTORIES,
    "alertplane.store.migrations.versions.0001_initial_schema.upgrade": (
        "a shipped migration: splitting it risks changing what it creates"
    ),
}


def module_name(root: Path, path: Path) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")


def functions(tree: ast.AST, prefix: str) -> Iterator[tuple[str, int, int]]:
    """(qualified name, first line, length) of every function, methods and nested ones too."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = f"{prefix}.{node.name}"
            if not isinstance(node, ast.ClassDef):
                yield name, node.lineno, (node.end_lineno or node.lineno) - node.lineno + 1
            yield from functions(node, name)
        else:
            yield from functions(node, prefix)


def offenders(root: Path, max_module: int, max_function: int) -> Iterator[tuple[str, str]]:
    """(name, what) for each module or function over its limit under `root`."""
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        module = module_name(root, path)
        if lines > max_module:
            yield module, f"{path}: module of {lines} lines (max {max_module})"
        for name, line, length in functions(ast.parse(text, str(path)), module):
            if length > max_function:
                yield name, f"{path}:{line}: {name} is {length} lines (max {max_function})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("roots", nargs="*", type=Path, default=[Path("operator")])
    ap.add_argument("--max-module", type=int, default=MAX_MODULE_LINES)
    ap.add_argument("--max-function", type=int, default=MAX_FUNCTION_LINES)
    args = ap.parse_args(argv)
    found = {
        name: what
        for root in args.roots
        for name, what in offenders(root, args.max_module, args.max_function)
    }
    failed = False
    for name, what in found.items():
        if name not in ALLOWED:
            print(what)
            failed = True
    for name in sorted(set(ALLOWED) - set(found)):
        print(f"hack/shape.py: {name} is within its limit (or gone): delete its ALLOWED entry")
        failed = True
    if not failed:
        print(f"shape: ok ({len(found)} allowed offenders, listed in hack/shape.py)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
