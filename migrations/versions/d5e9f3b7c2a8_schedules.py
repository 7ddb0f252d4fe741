"""schedules: the jobs and each plant's part in a done one

Revision ID: d5e9f3b7c2a8
Revises: c4d8e2a6b1f7
Create Date: 2026-11-26 12:20:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d5e9f3b7c2a8"
down_revision = "c4d8e2a6b1f7"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolution_minutes", sa.Integer(), nullable=False),
        sa.Column("demand", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=120), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("progress", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("plant_count", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')",
            name=op.f("ck_schedule_schedule_status_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_schedule_created_at"), "schedule", ["created_at"])
    op.create_index(op.f("ix_schedule_status"), "schedule", ["status"])
    op.create_table(
        "schedule_plant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("plant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("output", sa.JSON(), nullable=False),
        sa.Column("soc", sa.JSON(), nullable=True),
        sa.Column("startups", sa.Integer(), nullable=False),
        sa.Column("energy_kwh", sa.Float(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("availability_source", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedule.id"],
            name=op.f("fk_schedule_plant_schedule_id_schedule"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_plant")),
        sa.UniqueConstraint("schedule_id", "plant_id", name=op.f("uq_schedule_plant_schedule_id")),
    )
    op.create_index("ix_schedule_plant_schedule_kind", "schedule_plant", ["schedule_id", "kind"])


def downgrade():
    op.drop_index("ix_schedule_plant_schedule_kind", table_name="schedule_plant")
    op.drop_table("schedule_plant")
    op.drop_index(op.f("ix_schedule_status"), table_name="schedule")
    op.drop_index(op.f("ix_schedule_created_at"), table_name="schedule")
    op.drop_table("schedule")
