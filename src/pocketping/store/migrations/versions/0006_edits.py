"""edits: the earlier versions of an edited message (encrypted JSON)

Revision ID: edits
Revises: team_tools
Create Date: 2026-12-02 19:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = 'edits'
down_revision: str | None = "team_tools"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('history', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb')
                                      .with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('history')
