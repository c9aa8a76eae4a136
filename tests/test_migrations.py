"""The migrations build exactly the schema the models declare (on SQLite and PostgreSQL)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import gigcx.models  # noqa: F401  (registers every table)
from gigcx import db


def _drift(database_url: str) -> list[Any]:
    db.upgrade(database_url)
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": False,
                                                             "compare_server_default": False})
            diffs = compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()
    # the migrations' own bookkeeping table is not a model
    return [d for d in diffs if not (d[0] == "remove_table" and d[1].name == "alembic_version")]


def test_migrations_match_the_models(database_url: str) -> None:
    assert _drift(database_url) == []


def test_the_case_revision_column_exists_for_rows_written_before_it(database_url: str) -> None:
    """0005 adds `rev` to existing cases: rows from before read as revision 1."""
    db.upgrade(database_url, "0004")
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            brand = conn.execute(sa.text(
                "INSERT INTO brand (slug, name, created_at, offer_timeout_s, max_offers, escalate_after_s, "
                "confirm_window_s, review_window_s, currency, offer_fanout, min_topic_confidence, bonus_rules, "
                "allowed_origins) VALUES ('b', 'B', CURRENT_TIMESTAMP, 60, 3, 900, 86400, 259200, 'usd', 1, "
                "0.35, '{}', '[]') RETURNING id")).scalar_one()
            customer = conn.execute(sa.text(
                "INSERT INTO customer (brand_id, token_hash, created_at) VALUES (:b, 't', CURRENT_TIMESTAMP) "
                "RETURNING id"), {"b": brand}).scalar_one()
            conn.execute(sa.text(
                "INSERT INTO support_case (brand_id, customer_id, client_id, question, language, status, "
                "offer_round, last_seq, deflected, routing, suggestions, created_at, reward_cents) "
                "VALUES (:b, :c, 'q', 'where is my card', 'en', 'matching', 0, 1, false, '{}', '[]', "
                "CURRENT_TIMESTAMP, 0)"), {"b": brand, "c": customer})
        db.upgrade(database_url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT rev FROM support_case")).scalar_one() == 1
    finally:
        engine.dispose()


def test_topic_ratings_are_filled_from_the_ratings_before_them(database_url: str) -> None:
    """0013 totals each topic's ratings as the mean rating counted them (escalated cases and
    cases without an expert left out)."""
    from datetime import UTC, datetime

    from alembic import command
    from sqlmodel import Session

    from gigcx.models import Brand, Case, Customer, Expert, Rating

    db.upgrade(database_url)
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with Session(engine) as s:
            brand, expert = Brand(slug="b", name="B"), Expert(email="e@example.com", display_name="E", password_hash="x")
            s.add_all([brand, expert])
            s.flush()
            customer = Customer(brand_id=brand.id, token_hash="t")  # type: ignore[arg-type]
            s.add(customer)
            s.flush()
            when = datetime(2026, 1, 1, tzinfo=UTC)
            for n, (topic, ex, escalated, csat) in enumerate((("cards", True, False, 5), ("cards", True, False, 2),
                                                              ("cards", True, True, 1), ("cards", False, False, 1),
                                                              ("loans", True, False, 4), (None, True, False, 3))):
                case = Case(brand_id=brand.id, customer_id=customer.id, client_id=f"q{n}", question="q",  # type: ignore[arg-type]
                            status="closed", topic=topic, expert_id=expert.id if ex else None,
                            escalated_at=when if escalated else None)
                s.add(case)
                s.flush()
                s.add(Rating(case_id=case.id, expert_id=expert.id if ex else None, csat=csat))  # type: ignore[arg-type]
            s.commit()
        command.downgrade(db.alembic_config(database_url), "0012")
        db.upgrade(database_url)
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT topic, csat_sum, ratings FROM topic_ratings ORDER BY topic")).all()
        assert [tuple(r) for r in rows] == [("cards", 7, 2), ("loans", 4, 1)]
    finally:
        engine.dispose()


def test_the_tests_databases_are_at_head_like_a_migrated_one(settings: Any, tmp_path: Path) -> None:
    """The other tests' databases are copies of one migrated schema (tests/conftest.py), not
    each migrated: a copy must be what the migrations build, and at their head."""
    from alembic.script import ScriptDirectory

    from tests.conftest import TEMPLATE, fresh_database

    (tmp_path / "copy").mkdir()
    with fresh_database(tmp_path / "copy") as url:  # `settings` made the template; this is a copy
        TEMPLATE.fill(url)
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
        finally:
            engine.dispose()
        assert version == [ScriptDirectory.from_config(db.alembic_config(url)).get_current_head()]
        assert _drift(url) == []
