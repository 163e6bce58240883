"""Event plans (`edgewise plan` output) with their acknowledgement, placement plans.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_plans",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("app", sa.String(63), nullable=False),
        sa.Column("plan_json", sa.Text, nullable=False),
        sa.Column("plan_csv", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("acknowledged_by", sa.String(253), nullable=True),
        sa.Column("acknowledged_at", sa.String(32), nullable=True),
        sa.Column("acknowledged_scaler", sa.String(320), nullable=True))
    op.create_table(
        "placements",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("doc_json", sa.Text, nullable=False),
        sa.Column("locations_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False))


def downgrade() -> None:
    op.drop_table("placements")
    op.drop_table("event_plans")
