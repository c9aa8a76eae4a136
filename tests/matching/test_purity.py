"""matching/ must stay a pure library: no web, DB or app imports."""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = {"flask", "sqlmodel", "sqlalchemy", "socketio", "flask_socketio", "gigcx", "payouts"}
PKG = Path(__file__).resolve().parents[2] / "matching"


def test_no_forbidden_imports() -> None:
    offenders = []
    files = sorted(PKG.rglob("*.py"))
    assert files
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert not offenders, offenders


def test_modules_are_short() -> None:
    for path in PKG.rglob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) < 400, path.name
