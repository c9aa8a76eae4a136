"""support_case: rev, a counter bumped on every change a `case` event announces

Acks and events carry snapshots of a case, and they can reach a client out of order (an ask's
ack, built before the offer went out, can arrive after the accept's `case` event). With `rev`
a client keeps the newest snapshot instead of the last one to arrive.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 09:30:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('support_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rev', sa.Integer(), nullable=False, server_default='1'))


def downgrade() -> None:
    with op.batch_alter_table('support_case', schema=None) as batch_op:
        batch_op.drop_column('rev')
