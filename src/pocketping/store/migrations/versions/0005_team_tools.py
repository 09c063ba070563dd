"""team tools: the blind search index, assignment, waiting time, saved replies, ratings, first response

Revision ID: team_tools
Revises: 0004
Create Date: 2026-12-02 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import pocketping.store.types

revision: str = 'team_tools'
down_revision: str | None = "email"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('search_terms',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('session_id', sa.String(length=40), nullable=False),
    sa.Column('message_id', sa.String(length=40), nullable=True),
    sa.Column('term', sa.String(length=24), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_search_terms_message_id_messages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_search_terms_session_id_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_terms')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_bin',
    mysql_engine='InnoDB'
    )
    op.create_table('saved_replies',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('project_id', sa.String(length=40), nullable=False),
    sa.Column('shortcut', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=False),
    sa.Column('created_at', pocketping.store.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', pocketping.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_saved_replies_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_replies')),
    sa.UniqueConstraint('project_id', 'shortcut', name=op.f('uq_saved_replies_project_id_shortcut')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_bin',
    mysql_engine='InnoDB'
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assignee_id', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('waiting_since', pocketping.store.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('rating_score', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rating_scale', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('rating_comment', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('rated_at', pocketping.store.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('first_response_at', pocketping.store.types.UTCDateTime(), nullable=True))

    with op.batch_alter_table('search_terms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_terms_message_id'), ['message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_terms_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_terms_term_session_id'), ['term', 'session_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('search_terms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_terms_term_session_id'))
        batch_op.drop_index(batch_op.f('ix_search_terms_session_id'))
        batch_op.drop_index(batch_op.f('ix_search_terms_message_id'))

    op.drop_table('search_terms')
    op.drop_table('saved_replies')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_column('first_response_at')
        batch_op.drop_column('rated_at')
        batch_op.drop_column('rating_comment')
        batch_op.drop_column('rating_scale')
        batch_op.drop_column('rating_score')
        batch_op.drop_column('waiting_since')
        batch_op.drop_column('assignee_id')
