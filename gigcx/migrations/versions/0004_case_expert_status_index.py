"""support_case: index (expert_id, status) for experts' current load

Every ask counts each available expert's active cases. With only the expert_id index that
count reads all of an expert's past cases, so asks got slower as resolved cases piled up.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 17:45:00
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index('ix_case_expert_status', 'support_case', ['expert_id', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_case_expert_status', table_name='support_case')
