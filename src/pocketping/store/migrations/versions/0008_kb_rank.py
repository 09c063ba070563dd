"""kb rank: an embedding vector per knowledge-base chunk (hybrid retrieval)

Revision ID: kb_rank
Revises: kb_crawl
Create Date: 2026-12-02 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = 'kb_rank'
down_revision: str | None = "kb_crawl"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('kb_chunks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('embedding', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mysql', 'mariadb'),
                                      nullable=True))
        batch_op.add_column(sa.Column('embedding_model', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('kb_chunks', schema=None) as batch_op:
        batch_op.drop_column('embedding_model')
        batch_op.drop_column('embedding')
