"""trust: known customers, where people connect from, flagged cases, decisions, quality scores

Brands sign their customers' ids (identity secret), the app records the address and user agent
of every connection, holds suspicious rewards for review (trustflag) with an audit trail
(trustdecision), and keeps each expert's quality per topic (expertquality). Cases say who
confirmed them (resolved_by), programs the expert's own user id on the brand's site.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 00:40:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = '0006'
down_revision: Union[str, None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('clientseen',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('ip', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_agent', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('first_seen', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_seen', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('role', 'subject_id', 'ip', 'user_agent')
    )
    op.create_index('ix_clientseen_ip', 'clientseen', ['ip'], unique=False)
    op.create_table('expertquality',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('expert_id', sa.Integer(), nullable=False),
    sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('ratings', sa.Float(), nullable=False),
    sa.Column('reviews', sa.Integer(), nullable=False),
    sa.Column('ring', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brand.id'], ),
    sa.ForeignKeyConstraint(['expert_id'], ['expert.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('brand_id', 'expert_id', 'topic')
    )
    op.create_index(op.f('ix_expertquality_brand_id'), 'expertquality', ['brand_id'], unique=False)
    op.create_index(op.f('ix_expertquality_expert_id'), 'expertquality', ['expert_id'], unique=False)
    op.create_table('trustdecision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brand.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['support_case.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_trustdecision_brand_id'), 'trustdecision', ['brand_id'], unique=False)
    op.create_index(op.f('ix_trustdecision_case_id'), 'trustdecision', ['case_id'], unique=False)
    op.create_table('trustflag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('expert_id', sa.Integer(), nullable=False),
    sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('signals', sa.JSON(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('hold_state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('sampled', sa.Boolean(), nullable=False),
    sa.Column('qa_verdict', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['brand_id'], ['brand.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['support_case.id'], ),
    sa.ForeignKeyConstraint(['expert_id'], ['expert.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id')
    )
    op.create_index('ix_trustflag_brand_hold', 'trustflag', ['brand_id', 'hold_state'], unique=False)
    op.create_index('ix_trustflag_brand_sampled', 'trustflag', ['brand_id', 'sampled'], unique=False)
    op.create_index(op.f('ix_trustflag_expert_id'), 'trustflag', ['expert_id'], unique=False)
    with op.batch_alter_table('brand', schema=None) as batch_op:
        batch_op.add_column(sa.Column('identity_secret', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('trust_settings', sa.JSON(), nullable=False, server_default='{}'))
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.create_unique_constraint('uq_customer_brand_external_id', ['brand_id', 'external_id'])
    with op.batch_alter_table('expertprogram', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_user_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
    with op.batch_alter_table('support_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolved_by', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('support_case', schema=None) as batch_op:
        batch_op.drop_column('resolved_by')
    with op.batch_alter_table('expertprogram', schema=None) as batch_op:
        batch_op.drop_column('external_user_id')
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_constraint('uq_customer_brand_external_id', type_='unique')
        batch_op.drop_column('external_id')
    with op.batch_alter_table('brand', schema=None) as batch_op:
        batch_op.drop_column('trust_settings')
        batch_op.drop_column('identity_secret')
    for table in ('trustflag', 'trustdecision', 'expertquality', 'clientseen'):
        op.drop_table(table)
