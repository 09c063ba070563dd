"""ai budget: tokens the providers reported per project and day (chat input and output, the
question's embedding), and when the team was told the AI stopped for the day

Revision ID: ai_budget
Revises: privacy
Create Date: 2026-12-03 14:02:41.368912
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pocketping.store.types

revision: str = 'ai_budget'
down_revision: str | None = 'privacy'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('ai_usage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('input_tokens', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('output_tokens', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('embedding_tokens', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('limit_told_at', pocketping.store.types.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ai_usage', schema=None) as batch_op:
        batch_op.drop_column('limit_told_at')
        batch_op.drop_column('embedding_tokens')
        batch_op.drop_column('output_tokens')
        batch_op.drop_column('input_tokens')
