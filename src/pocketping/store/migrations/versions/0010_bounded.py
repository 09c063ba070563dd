"""bounded: the inbox list's last message seq and unread count kept on the session row; an
index ordering a project's sessions by activity for keyset pages

Revision ID: bounded
Revises: ai_budget
Create Date: 2026-12-03 14:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'bounded'
down_revision: str | None = "ai_budget"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_message_seq', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('operator_unread', sa.Integer(), nullable=False, server_default='0'))
    # Filled from the messages once; from here on each message and read receipt keeps them.
    op.execute("UPDATE sessions SET last_message_seq = COALESCE((SELECT MAX(m.seq) FROM messages m "
               "WHERE m.session_id = sessions.id AND m.kind = 'message'), 0), "
               "operator_unread = (SELECT COUNT(*) FROM messages m WHERE m.session_id = sessions.id "
               "AND m.kind = 'message' AND m.sender = 'visitor' AND m.seq > sessions.operator_read_seq)")
    op.create_index('ix_sessions_project_activity', 'sessions',
                    ['project_id', sa.text('last_activity DESC'), sa.text('id DESC')], unique=False)


def downgrade() -> None:
    op.drop_index('ix_sessions_project_activity', table_name='sessions')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_column('operator_unread')
        batch_op.drop_column('last_message_seq')
