"""support_case: index (expert_id, id) for an expert's newest cases

Routing reads each candidate expert's newest answered cases (response speed). With only the
expert_id index, PostgreSQL read and sorted every past case of the expert to find the newest 50
(SQLite's expert_id index already ends with the row id).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 13:35:00
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0012'
down_revision: Union[str, None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index('ix_case_expert_recent', 'support_case', ['expert_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_case_expert_recent', table_name='support_case')
