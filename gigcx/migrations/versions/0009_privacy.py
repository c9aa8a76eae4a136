"""privacy: reusable answers, a brand's answer reuse and retention settings, redaction marks

Suggestions used to show other customers' questions and unscrubbed answers; they now come from
`reusableanswer`, scrubbed of personal data when the customer confirms the case resolved.
`brand.retention_days` bounds how long conversations keep their text; `support_case.redacted_at`
and `customer.anonymised_at` record what retention or an erasure request removed.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 00:30:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = '0009'
down_revision: Union[str, None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('brand', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answer_reuse', sqlmodel.sql.sqltypes.AutoString(length=16),
                                      nullable=False, server_default='auto'))
        batch_op.add_column(sa.Column('retention_days', sa.Integer(), nullable=True))
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('anonymised_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table('support_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('redacted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.create_table(
        'reusableanswer',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('brand_id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('question', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column('answer', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column('scrubbed', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.ForeignKeyConstraint(['brand_id'], ['brand.id']),
        sa.ForeignKeyConstraint(['case_id'], ['support_case.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('case_id'),
    )
    op.create_index('ix_reusableanswer_brand_status', 'reusableanswer', ['brand_id', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_reusableanswer_brand_status', table_name='reusableanswer')
    op.drop_table('reusableanswer')
    with op.batch_alter_table('support_case', schema=None) as batch_op:
        batch_op.drop_column('redacted_at')
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_column('anonymised_at')
    with op.batch_alter_table('brand', schema=None) as batch_op:
        batch_op.drop_column('retention_days')
        batch_op.drop_column('answer_reuse')
