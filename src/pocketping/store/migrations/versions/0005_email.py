"""mail to visitors (what was mailed, unsubscribes, transcripts, reply tokens) and to operators

Revision ID: email
Revises: 0004
Create Date: 2026-12-02 18:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pocketping.store.types

revision: str = 'email'
down_revision: str | None = "attachments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('mail_recipients',
    sa.Column('session_id', sa.String(length=40), nullable=False),
    sa.Column('project_id', sa.String(length=40), nullable=False),
    sa.Column('mailed_seq', sa.Integer(), nullable=False),
    sa.Column('unsubscribed_at', pocketping.store.types.UTCDateTime(), nullable=True),
    sa.Column('transcript_wanted', sa.Boolean(), nullable=False),
    sa.Column('reply_token_hash', sa.String(length=64), nullable=True),
    sa.Column('consent_at', pocketping.store.types.UTCDateTime(), nullable=True),
    sa.Column('consent_text', sa.Text(), nullable=True),
    sa.Column('created_at', pocketping.store.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', pocketping.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_mail_recipients_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_mail_recipients_session_id_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', name=op.f('pk_mail_recipients')),
    sa.UniqueConstraint('reply_token_hash', name=op.f('uq_mail_recipients_reply_token_hash')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_bin',
    mysql_engine='InnoDB'
    )
    op.create_index(op.f('ix_mail_recipients_project_id'), 'mail_recipients', ['project_id'], unique=False)
    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('notify_after', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.drop_column('notify_after')
        batch_op.drop_column('notify')
    op.drop_index(op.f('ix_mail_recipients_project_id'), table_name='mail_recipients')
    op.drop_table('mail_recipients')
