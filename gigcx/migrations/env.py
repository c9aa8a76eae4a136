"""Alembic environment: migrates the URL it is given, serialising concurrent upgrades."""
from alembic import context
from sqlalchemy import create_engine, pool, text
from sqlmodel import SQLModel

import gigcx.models  # noqa: F401  (registers every table on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    """Run migrations in a transaction; on PostgreSQL under an advisory lock."""
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None  # gigcx.db sets it before migrating
    connectable = create_engine(url, poolclass=pool.NullPool)
    with connectable.connect() as connection:
        if connection.dialect.name == "postgresql":
            # Several `gigcx serve` processes may start together: one migrates, others wait.
            connection.execute(text("SELECT pg_advisory_lock(774411)"))
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(774411)"))
                connection.commit()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `gigcx db upgrade`")
run_migrations_online()
