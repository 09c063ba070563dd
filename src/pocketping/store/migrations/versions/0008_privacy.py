"""privacy: session metadata, address and country, knowledge-base titles and headings are stored
encrypted (wider columns); the visitor's consent answer per session

The rows already stored are encrypted (and the knowledge-base terms hashed) by
``pocketping.store.sealing.seal_plaintext``, run after the migrations at start-up: a migration
has no keyring.

Revision ID: privacy
Revises: kb_crawl
Create Date: 2026-12-02 22:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pocketping.store.types

revision: str = 'privacy'
down_revision: str | None = "erasure"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

def upgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.alter_column('ip', existing_type=sa.String(length=64), type_=sa.Text(), existing_nullable=True)
        batch_op.alter_column('country', existing_type=sa.String(length=8), type_=sa.Text(), existing_nullable=True)
        batch_op.add_column(sa.Column('consent', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('consent_at', pocketping.store.types.UTCDateTime(), nullable=True))
    with op.batch_alter_table('kb_sources', schema=None) as batch_op:
        batch_op.alter_column('title', existing_type=sa.String(length=300), type_=sa.Text(), existing_nullable=False)
    with op.batch_alter_table('kb_chunks', schema=None) as batch_op:
        batch_op.alter_column('heading', existing_type=sa.String(length=500), type_=sa.Text(),
                              existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('kb_chunks', schema=None) as batch_op:
        batch_op.alter_column('heading', existing_type=sa.Text(), type_=sa.String(length=500),
                              existing_nullable=False)
    with op.batch_alter_table('kb_sources', schema=None) as batch_op:
        batch_op.alter_column('title', existing_type=sa.Text(), type_=sa.String(length=300), existing_nullable=False)
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_column('consent_at')
        batch_op.drop_column('consent')
        batch_op.alter_column('country', existing_type=sa.Text(), type_=sa.String(length=8), existing_nullable=True)
        batch_op.alter_column('ip', existing_type=sa.Text(), type_=sa.String(length=64), existing_nullable=True)
