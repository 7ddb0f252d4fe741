"""plant fields for schedules: ramps, minimum up/down times, start-up cost, storage,
location

Revision ID: c4d8e2a6b1f7
Revises: b7e2d4f1a9c3
Create Date: 2026-11-26 10:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c4d8e2a6b1f7"
down_revision = "b7e2d4f1a9c3"
branch_labels = None
depends_on = None

NULLABLE = (
    "ramp_up_kw_per_min",
    "ramp_down_kw_per_min",
    "energy_capacity_kwh",
    "soc_kwh",
    "soc_min_kwh",
    "soc_max_kwh",
    "max_charge_kw",
    "charge_efficiency",
    "discharge_efficiency",
    "latitude",
    "longitude",
)
POSITIVE_OR_NULL = (
    "ramp_up_kw_per_min",
    "ramp_down_kw_per_min",
    "energy_capacity_kwh",
    "max_charge_kw",
    "charge_efficiency",
    "discharge_efficiency",
)


def upgrade():
    # The table is rebuilt on SQLite: keep its ids never reused (AUTOINCREMENT).
    with op.batch_alter_table(
        "plant", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        for column in NULLABLE:
            batch_op.add_column(sa.Column(column, sa.Float(), nullable=True))
        for column in ("min_up_minutes", "min_down_minutes"):
            batch_op.add_column(sa.Column(column, sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("startup_cost", sa.Float(), server_default="0", nullable=False)
        )
        for column in POSITIVE_OR_NULL:
            batch_op.create_check_constraint(
                op.f(f"ck_plant_{column}_positive"), f"{column} IS NULL OR {column} > 0"
            )
        batch_op.create_check_constraint(
            op.f("ck_plant_schedule_not_negative"),
            "min_up_minutes >= 0 AND min_down_minutes >= 0 AND startup_cost >= 0",
        )
        batch_op.create_check_constraint(
            op.f("ck_plant_efficiency_at_most_one"),
            "(charge_efficiency IS NULL OR charge_efficiency <= 1) AND "
            "(discharge_efficiency IS NULL OR discharge_efficiency <= 1)",
        )


def downgrade():
    # The table is rebuilt on SQLite: keep its ids never reused (AUTOINCREMENT).
    with op.batch_alter_table(
        "plant", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_constraint(op.f("ck_plant_efficiency_at_most_one"), type_="check")
        batch_op.drop_constraint(op.f("ck_plant_schedule_not_negative"), type_="check")
        for column in POSITIVE_OR_NULL:
            batch_op.drop_constraint(op.f(f"ck_plant_{column}_positive"), type_="check")
        for column in ("startup_cost", "min_down_minutes", "min_up_minutes", *NULLABLE[::-1]):
            batch_op.drop_column(column)
