"""kb crawl: a crawled site's pages point at their site; validators for conditional re-fetches

Revision ID: kb_crawl
Revises: team_tools
Create Date: 2026-12-02 19:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'kb_crawl'
down_revision: str | None = "edits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('kb_sources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('etag', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('last_modified', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('crawl', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_kb_sources_parent_id'), ['parent_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('kb_sources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kb_sources_parent_id'))
        batch_op.drop_column('crawl')
        batch_op.drop_column('last_modified')
        batch_op.drop_column('etag')
        batch_op.drop_column('parent_id')
