"""payouts: random payout uid, attempts and attention, reversals, funding, platform fee

A payout's Stripe idempotency key, transfer_group and metadata carry a random uid instead of
its autoincrement id (a restored database reuses ids). Payouts made before get a uid too; their
transfers keep the old tags, which the operator settles by hand if one is still in transit.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 00:40:00
"""
import uuid
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = '0010'
down_revision: Union[str, None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table('brand', schema=None) as batch_op:
        batch_op.add_column(sa.Column('platform_fee_cents', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('payoutbatch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paid_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('paid_reference', S(length=200), nullable=True))
    with op.batch_alter_table('payout', schema=None) as batch_op:
        batch_op.add_column(sa.Column('uid', S(length=36), nullable=True))
        batch_op.add_column(sa.Column('attempt', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('attention', S(length=500), nullable=True))
        batch_op.alter_column('status', existing_type=S(length=16), type_=S(length=32),
                              existing_nullable=False)
    conn = op.get_bind()
    for (pid,) in conn.execute(sa.text("SELECT id FROM payout")).fetchall():
        conn.execute(sa.text("UPDATE payout SET uid = :u WHERE id = :i"), {"u": str(uuid.uuid4()), "i": pid})
    with op.batch_alter_table('payout', schema=None) as batch_op:
        batch_op.alter_column('uid', existing_type=S(length=36), nullable=False)
        batch_op.create_unique_constraint('uq_payout_uid', ['uid'])
        batch_op.create_index(batch_op.f('ix_payout_status'), ['status'], unique=False)

    op.create_table(
        'payoutreversal',
        sa.Column('id', S(length=100), nullable=False),
        sa.Column('payout_id', sa.Integer(), nullable=False),
        sa.Column('expert_id', sa.Integer(), nullable=False),
        sa.Column('amount_cents', sa.Integer(), nullable=False),
        sa.Column('currency', S(length=3), nullable=False),
        sa.Column('decision', S(length=16), nullable=True),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['expert_id'], ['expert.id']),
        sa.ForeignKeyConstraint(['payout_id'], ['payout.id']),
        sa.PrimaryKeyConstraint('id'))
    with op.batch_alter_table('payoutreversal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payoutreversal_expert_id'), ['expert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payoutreversal_payout_id'), ['payout_id'], unique=False)

    op.create_table(
        'funding',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('brand_id', sa.Integer(), nullable=False),
        sa.Column('reference', S(length=64), nullable=False),
        sa.Column('payment_intent_id', S(length=100), nullable=True),
        sa.Column('amount_cents', sa.Integer(), nullable=False),
        sa.Column('currency', S(length=3), nullable=False),
        sa.Column('payment_method', S(length=200), nullable=True),
        sa.Column('status', S(length=40), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['brand_id'], ['brand.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('brand_id', 'reference'))
    with op.batch_alter_table('funding', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_funding_brand_id'), ['brand_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_funding_payment_intent_id'), ['payment_intent_id'], unique=False)


def downgrade() -> None:
    op.drop_table('funding')
    op.drop_table('payoutreversal')
    with op.batch_alter_table('payout', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payout_status'))
        batch_op.drop_constraint('uq_payout_uid', type_='unique')
        batch_op.alter_column('status', existing_type=S(length=32), type_=S(length=16),
                              existing_nullable=False)
        batch_op.drop_column('attention')
        batch_op.drop_column('attempt')
        batch_op.drop_column('uid')
    with op.batch_alter_table('payoutbatch', schema=None) as batch_op:
        batch_op.drop_column('paid_reference')
        batch_op.drop_column('paid_at')
    with op.batch_alter_table('brand', schema=None) as batch_op:
        batch_op.drop_column('platform_fee_cents')
