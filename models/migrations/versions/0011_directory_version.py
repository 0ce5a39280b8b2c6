"""directory_version: a stamp the roster's tables change, so each process knows its cache is old

Revision ID: 0011_directory_version
Revises: 0010_web

Every process keeps the roster's places, units, roles and handlers in memory (models/directory.py)
and reads this one row once per transaction to know whether they are still the database's. The
row has two stamps: `places` (place, unit) and `people` (person, person_role, coverage). Triggers
give a stamp a new random value on any write to its tables, in the writer's own transaction, so
every writer counts — the roster import, binding codes, the web, a hand-made fix in psql — and a
rollback takes the new stamp back with the change. A person's WeChat binding (wechat_openid,
wecom_userid, bound_at) is not cached, so binding and unbinding leave the stamp alone.

The row is written with an upsert: a database whose tables were emptied (tests TRUNCATE them)
gets it back on the first write. On PostgreSQL a statement-level trigger stamps once per
transaction (a transaction-local setting remembers it), so an import of 200,000 rows does not
update the row 200,000 times. A later migration that rebuilds one of these tables on SQLite
(batch_alter_table's copy) drops its triggers and must call `create_triggers` again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_directory_version"
down_revision: str | None = "0010_web"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Which stamp each table's writes change; person only for the columns the directory keeps.
STAMPED = {
    "place": ("places", None),
    "unit": ("places", None),
    "person": ("people", "name, phone, title, place_id, unit_id, supervisor_id, active"),
    "person_role": ("people", None),
    "coverage": ("people", None),
}
SQLITE_NEW_STAMP = "lower(hex(randomblob(8)))"


def _sqlite_triggers(table: str, stamp: str, columns: str | None) -> list[str]:
    # Names from STAMPED only, nothing from outside.
    stamped = f"ON CONFLICT (id) DO UPDATE SET {stamp} = excluded.{stamp};"
    values = f"VALUES (1, {SQLITE_NEW_STAMP}, {SQLITE_NEW_STAMP}) "
    upsert = "INSERT INTO directory_version (id, places, people) " + values + stamped  # noqa: S608
    statements = []
    for action in ("INSERT", "UPDATE", "DELETE"):
        what = f"UPDATE OF {columns}" if action == "UPDATE" and columns else action
        statements.append(
            f"CREATE TRIGGER directory_{table}_{action.lower()} AFTER {what} ON {table} "
            f"FOR EACH ROW BEGIN {upsert} END"
        )
    return statements


PG_FUNCTION = """
CREATE OR REPLACE FUNCTION directory_stamp() RETURNS trigger AS $$
DECLARE
    setting text := 'grievance.directory_' || TG_ARGV[0];
BEGIN
    IF coalesce(current_setting(setting, true), '') <> 'stamped' THEN
        INSERT INTO directory_version (id, places, people)
        VALUES (1, md5(random()::text || clock_timestamp()::text),
                md5(random()::text || clock_timestamp()::text))
        ON CONFLICT (id) DO UPDATE SET
            places = CASE WHEN TG_ARGV[0] = 'places' THEN excluded.places
                          ELSE directory_version.places END,
            people = CASE WHEN TG_ARGV[0] = 'people' THEN excluded.people
                          ELSE directory_version.people END;
        PERFORM set_config(setting, 'stamped', true);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""


def _pg_triggers(table: str, stamp: str, columns: str | None) -> list[str]:
    statements = []
    for action in ("INSERT", "UPDATE", "DELETE", "TRUNCATE"):
        what = f"UPDATE OF {columns}" if action == "UPDATE" and columns else action
        statements.append(
            f"CREATE TRIGGER directory_{table}_{action.lower()} AFTER {what} ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION directory_stamp('{stamp}')"
        )
    return statements


def create_triggers() -> None:
    """The triggers that stamp directory_version on every write to the roster's tables."""
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(PG_FUNCTION)
    for table, (stamp, columns) in STAMPED.items():
        make = _pg_triggers if postgres else _sqlite_triggers
        for statement in make(table, stamp, columns):
            op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "directory_version",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("places", sa.String(length=32), nullable=False),
        sa.Column("people", sa.String(length=32), nullable=False),
    )
    op.execute("INSERT INTO directory_version (id, places, people) VALUES (1, 'start', 'start')")
    create_triggers()


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in STAMPED:
        for action in ("insert", "update", "delete", *(("truncate",) if postgres else ())):
            suffix = " ON " + table if postgres else ""
            op.execute(f"DROP TRIGGER IF EXISTS directory_{table}_{action}{suffix}")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS directory_stamp()")
    op.drop_table("directory_version")
