"""One transaction boundary: only gigcx/uow.py commits or rolls back (docs/architecture.md)."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

import gigcx
from gigcx import uow as uow_module
from gigcx.models import Brand

ROOT = Path(gigcx.__file__).parent
BOUNDARY = ROOT / "uow.py"


def _calls(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("commit", "rollback")):
            found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}: .{node.func.attr}()")
    return found


def test_only_the_unit_of_work_commits_or_rolls_back() -> None:
    stray = [hit for path in sorted(ROOT.rglob("*.py"))
             if path != BOUNDARY and "migrations" not in path.relative_to(ROOT).parts
             for hit in _calls(path)]
    assert stray == [], "commit/rollback outside gigcx/uow.py:\n" + "\n".join(stray)


def test_the_scan_sees_commits() -> None:
    assert _calls(BOUNDARY), "the scan found no commit in the unit of work itself"


def test_a_stray_commit_fails(app: Any) -> None:
    """The runtime guard (installed by conftest): a commit issued from the app's code fails."""
    from gigcx.db import session_scope

    stray = compile("session.commit()", str(ROOT / "services" / "stray.py"), "exec")
    with app.app_context(), session_scope() as session:
        session.add(Brand(slug="stray", name="Stray"))
        with pytest.raises(uow_module.StrayCommit):
            exec(stray, {"session": session})  # noqa: S102 - a commit as if made in gigcx/services


def test_commit_then_emit_and_rollback_drops(app: Any, monkeypatch: Any) -> None:
    from gigcx.events import Outbox

    sent: list[str] = []
    monkeypatch.setattr(Outbox, "flush", lambda self: sent.extend(e for e, *_ in self.items))
    with app.app_context():
        with uow_module.unit_of_work() as uow:
            uow.session.add(Brand(slug="kept", name="Kept"))
            uow.outbox.add("case", {}, "/brand", "brand:1")
            assert sent == []
        assert sent == ["case"]
        with pytest.raises(ZeroDivisionError), uow_module.unit_of_work() as uow:
            uow.session.add(Brand(slug="gone", name="Gone"))
            uow.outbox.add("lost", {}, "/brand", "brand:1")
            1 / 0  # noqa: B018
        assert sent == ["case"]
        with uow_module.unit_of_work() as uow:
            slugs = set(uow.session.exec(select(Brand.slug)).all())
        assert "kept" in slugs and "gone" not in slugs


def test_transact_core_commits_then_emits_and_rollback_drops(app: Any, monkeypatch: Any) -> None:
    """The Core-connection unit of work (chat messages) keeps the same contract."""
    import sqlalchemy as sa

    from gigcx.events import Outbox
    from gigcx.models.base import table_of

    brands = table_of(Brand)

    def _row(slug: str) -> dict[str, Any]:  # the model's defaults, for a Core insert
        return {k: v for k, v in Brand(slug=slug, name=slug).model_dump().items() if k != "id"}

    sent: list[str] = []
    seen_at_emit: list[set[str]] = []

    def flush(self: Outbox) -> None:
        from gigcx.db import session_scope

        with session_scope() as check:  # what another connection sees when the events go out
            seen_at_emit.append(set(check.exec(select(Brand.slug)).all()))
        sent.extend(e for e, *_ in self.items)

    monkeypatch.setattr(Outbox, "flush", flush)
    with app.app_context():
        def work(conn: Any, outbox: Outbox) -> str:
            conn.execute(sa.insert(brands).values(_row("core-kept")))
            outbox.add("case", {}, "/brand", "brand:1")
            assert sent == []
            return "done"

        assert uow_module.transact_core(work) == "done"
        assert sent == ["case"] and "core-kept" in seen_at_emit[0]  # committed before the emit

        def fails(conn: Any, outbox: Outbox) -> None:
            conn.execute(sa.insert(brands).values(_row("core-gone")))
            outbox.add("lost", {}, "/brand", "brand:1")
            1 / 0  # noqa: B018

        with pytest.raises(ZeroDivisionError):
            uow_module.transact_core(fails)
        assert sent == ["case"]
        with uow_module.unit_of_work() as uow:
            slugs = set(uow.session.exec(select(Brand.slug)).all())
        assert "core-kept" in slugs and "core-gone" not in slugs
