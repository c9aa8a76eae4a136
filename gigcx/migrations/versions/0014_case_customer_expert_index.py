"""support_case: index (customer_id, expert_id, status, resolved_at) for the repeat-pair check

Each resolution counts the customer's recent resolved cases with the same expert (a fraud
signal). SQLite, with no statistics, answered it through (expert_id, status): every resolved
case of the expert, read row by row. For an expert with 6,133 resolved cases that was 10.5 ms
per confirmation, growing with the expert's history; through this index it reads only the
customer's cases with that expert.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 18:15:00
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0014'
down_revision: Union[str, None] = '0013'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index('ix_case_customer_expert', 'support_case', ['customer_id', 'expert_id', 'status', 'resolved_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_case_customer_expert', table_name='support_case')
