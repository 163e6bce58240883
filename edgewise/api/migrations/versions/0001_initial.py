"""The first schema: tokens, feedback, audit, bench runs, samples.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False))
    op.create_index("ix_api_tokens_token_sha256", "api_tokens", ["token_sha256"], unique=True)
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("namespace", sa.String(63), nullable=False),
        sa.Column("scaler", sa.String(253), nullable=False),
        sa.Column("decision", sa.String(64), nullable=False),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("decision_json", sa.Text, nullable=False),
        sa.Column("author", sa.String(253), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False))
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("actor", sa.String(253), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(320), nullable=False),
        sa.Column("before_json", sa.Text, nullable=False),
        sa.Column("after_json", sa.Text, nullable=False),
        sa.Column("at", sa.String(32), nullable=False))
    op.create_table(
        "bench_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("scenario", sa.String(100), nullable=False),
        sa.Column("results_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False))
    op.create_table(
        "samples",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("app", sa.String(63), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("at_epoch", sa.Integer, nullable=False),
        sa.Column("value", sa.Float, nullable=False))
    op.create_index("ix_samples_app", "samples", ["app"])
    op.create_index("ix_samples_app_name_at", "samples", ["app", "name", "at_epoch"])


def downgrade() -> None:
    for table in ("samples", "bench_runs", "audit", "feedback", "api_tokens"):
        op.drop_table(table)
