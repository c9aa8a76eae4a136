"""Case payloads name the brand by a slug cached per database (slugs never change)."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from gigcx.events import brand_slug
from gigcx.models import Brand


def _database(path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{path}")
    SQLModel.metadata.create_all(engine)
    return engine


def test_slug_cache_is_per_database_and_skips_unknown_ids(tmp_path: Path) -> None:
    one, two = _database(tmp_path / "one.sqlite3"), _database(tmp_path / "two.sqlite3")
    with Session(one) as s:
        s.add(Brand(slug="acme", name="Acme"))
        s.commit()
    with Session(two) as s:
        assert brand_slug(s, 1) is None  # unknown here: not remembered as missing
        s.add(Brand(slug="globex", name="Globex"))
        s.commit()
    with Session(one) as a, Session(two) as b:
        assert (brand_slug(a, 1), brand_slug(b, 1)) == ("acme", "globex")  # same id, two databases
        assert (brand_slug(a, 1), brand_slug(b, 1)) == ("acme", "globex")  # from the cache
    one.dispose()
    two.dispose()
