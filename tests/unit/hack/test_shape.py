"""hack/shape.py, the size check of `make lint`: what it counts and when it fails."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _shape() -> ModuleType:
    spec = importlib.util.spec_from_file_location("shape", ROOT / "hack" / "shape.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["shape"] = module
    spec.loader.exec_module(module)
    return module


shape = _shape()


def _function(name: str, lines: int) -> str:
    """A function of exactly `lines` lines, `def` line included."""
    return f"def {name}() -> None:\n" + "    pass\n" * (lines - 1)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_counts_functions_methods_and_nested_ones(tmp_path: Path) -> None:
    text = (
        _function("ok", 60)
        + _function("long", 61)
        + "class C:\n"
        + "    def m(self) -> None:\n"
        + "        def inner() -> None:\n"
        + "            pass\n" * 61
    )
    root = _tree(tmp_path, {"a.py": text})
    found = dict(shape.offenders(root, 400, 60))
    assert set(found) == {"pkg.a.long", "pkg.a.C.m", "pkg.a.C.m.inner"}
    assert "is 61 lines" in found["pkg.a.long"]


def test_counts_module_lines_and_names_packages(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"__init__.py": "x = 1\n" * 401, "b.py": "x = 1\n" * 400})
    assert dict(shape.offenders(root, 400, 60)).keys() == {"pkg"}


def test_fails_on_an_offender_and_on_a_stale_allowlist_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _tree(tmp_path, {"a.py": _function("long", 61) + _function("short", 3)})
    monkeypatch.setattr(shape, "ALLOWED", {})
    assert shape.main([str(root)]) == 1
    assert "pkg.a.long is 61 lines (max 60)" in capsys.readouterr().out
    monkeypatch.setattr(shape, "ALLOWED", {"pkg.a.long": "why"})
    assert shape.main([str(root)]) == 0
    monkeypatch.setattr(shape, "ALLOWED", {"pkg.a.long": "why", "pkg.a.short": "stale"})
    assert shape.main([str(root)]) == 1
    assert "pkg.a.short is within its limit" in capsys.readouterr().out
