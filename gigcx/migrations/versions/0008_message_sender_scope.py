"""message: a client_id is unique per sender, not per kind of sender

Resending a message with the same `client_id` returns the stored one. The key was (case, sender
kind, client_id): two staff members (or an expert who took over a released case and the one
before) using the same `client_id` in a case had the second message swallowed, answered with the
first one. The key now includes who sent it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 00:30:00
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0008'
down_revision: Union[str, None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# SQLite keeps the old constraint unnamed: batch mode names it by this convention to drop it
NAMING = {"uq": "uq_%(table_name)s_%(column_0_N_name)s"}


def _old_name() -> str:
    if op.get_bind().dialect.name == "postgresql":
        return "message_case_id_sender_client_id_key"
    return "uq_message_case_id_sender_client_id"


def upgrade() -> None:
    with op.batch_alter_table('message', schema=None, naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint(_old_name(), type_='unique')
        batch_op.create_unique_constraint('uq_message_sender_client', ['case_id', 'sender', 'sender_id', 'client_id'])


def downgrade() -> None:
    with op.batch_alter_table('message', schema=None, naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint('uq_message_sender_client', type_='unique')
        batch_op.create_unique_constraint(_old_name(), ['case_id', 'sender', 'client_id'])
