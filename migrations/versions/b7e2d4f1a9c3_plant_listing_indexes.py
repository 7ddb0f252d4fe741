"""indexes for the fleet table's filters and sorts

Revision ID: b7e2d4f1a9c3
Revises: a1c93e5d2f40
Create Date: 2026-11-26 08:10:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "b7e2d4f1a9c3"
down_revision = "a1c93e5d2f40"
branch_labels = None
depends_on = None

COLUMNS = ("kind", "max_capacity", "status", "marginal_cost")


def upgrade():
    with op.batch_alter_table("plant", schema=None) as batch_op:
        for column in COLUMNS:
            batch_op.create_index(batch_op.f(f"ix_plant_{column}"), [column], unique=False)


def downgrade():
    with op.batch_alter_table("plant", schema=None) as batch_op:
        for column in COLUMNS:
            batch_op.drop_index(batch_op.f(f"ix_plant_{column}"))
