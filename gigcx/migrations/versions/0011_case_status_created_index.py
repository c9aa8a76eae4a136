"""support_case: index (status, created_at) for the queue of waiting cases

The dispatch sweep (every 2 s in every process) looks for cases still matching, oldest first.
No index starts with the status, so it read the whole case table: ~9 ms at 20,000 past cases on
SQLite, growing with the history, inside a write transaction.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 13:20:00
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0011'
down_revision: Union[str, None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index('ix_case_status_created', 'support_case', ['status', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_case_status_created', table_name='support_case')
