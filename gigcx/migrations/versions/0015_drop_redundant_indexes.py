"""Drop three single-column indexes that other indexes of their tables already lead with

* `ix_message_case_id`: `(case_id, seq)` (unique) answers every lookup by case;
* `ix_support_case_customer_id`: `(customer_id, client_id)` (unique) and `ix_case_customer_expert`;
* `ix_support_case_expert_id`: `ix_case_expert_status` and `ix_case_expert_recent`.

Each was written on every insert (every chat message, every ask) or change of its column (every
accept) and never needed for a read: one B-tree fewer per stored message, two per ask, one per
accept (docs/benchmarks.md, "Redundant indexes").

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 23:20:00
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0015'
down_revision: Union[str, None] = '0014'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.drop_index('ix_message_case_id', table_name='message')
    op.drop_index('ix_support_case_customer_id', table_name='support_case')
    op.drop_index('ix_support_case_expert_id', table_name='support_case')


def downgrade() -> None:
    op.create_index('ix_support_case_expert_id', 'support_case', ['expert_id'], unique=False)
    op.create_index('ix_support_case_customer_id', 'support_case', ['customer_id'], unique=False)
    op.create_index('ix_message_case_id', 'message', ['case_id'], unique=False)
