"""erasure: a record of each erasure and of its outcome per platform (and for the files)

Revision ID: erasure
Revises: kb_crawl
Create Date: 2026-12-02 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pocketping.store.types

revision: str = 'erasure'
down_revision: str | None = "kb_rank"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('erasures',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('project_id', sa.String(length=40), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('sessions', sa.Integer(), nullable=False),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.Column('created_at', pocketping.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_erasures_project_id_projects'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erasures')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_bin',
    mysql_engine='InnoDB'
    )
    op.create_index(op.f('ix_erasures_project_id'), 'erasures', ['project_id'], unique=False)
    op.create_table('erasure_steps',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('erasure_id', sa.String(length=40), nullable=False),
    sa.Column('target', sa.String(length=16), nullable=False),
    sa.Column('target_id', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('outcome', pocketping.store.types.JSONText(), nullable=True),
    sa.Column('updated_at', pocketping.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['erasure_id'], ['erasures.id'], name=op.f('fk_erasure_steps_erasure_id_erasures'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erasure_steps')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_bin',
    mysql_engine='InnoDB'
    )
    op.create_index(op.f('ix_erasure_steps_erasure_id'), 'erasure_steps', ['erasure_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_erasure_steps_erasure_id'), table_name='erasure_steps')
    op.drop_table('erasure_steps')
    op.drop_index(op.f('ix_erasures_project_id'), table_name='erasures')
    op.drop_table('erasures')
