"""Shared column helpers: aware-UTC timestamps and JSON columns that work on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Table
from sqlmodel import Column, Field, SQLModel


def utcnow() -> datetime:
    """Current time as an aware UTC datetime (SQLModel stores and returns aware UTC)."""
    return datetime.now(UTC)


def table_of(model: type[SQLModel]) -> Table:
    """A table model's Core table, for the hot paths' prebuilt statements (SQLModel's types do not
    declare `__table__`)."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def json_field(default_factory: Any = list) -> Any:
    """A JSON column (JSON on SQLite, JSON on PostgreSQL) with a default."""
    return Field(default_factory=default_factory, sa_column=Column(JSON, nullable=False))


def iso(dt: datetime | None) -> str | None:
    """Render a datetime as ISO 8601 UTC with a Z."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
