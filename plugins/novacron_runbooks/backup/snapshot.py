"""What the database held at a backup's point, so a test restore can be compared with it honestly.

Comparing a restored copy with the primary *now* would flag every row written since the backup. Instead the
backup runbook records, in the backup's own pgBackRest annotation, the schema fingerprint and the row counts
of the tables nobody wrote while the backup ran:

- before the backup starts and after it stops, each table gets a *fingerprint*: its row count and a checksum
  of its rows' ``(ctid, xmin)``. Any insert, update or delete changes one or the other, without blocking
  writers (no lock beyond ``ACCESS SHARE``);
- a table whose fingerprint is the same before and after was not written during the backup, so its count at
  the backup's end point (where a ``--type=immediate`` restore stops) is exactly the count recorded;
- a table written during the backup is listed as such and not compared (its count at the backup's end point
  is unknown without replaying WAL to a recorded moment).

The schema fingerprint covers every user table's columns, types and NOT NULL flags (from ``pg_attribute``,
so it does not depend on the reader's privileges).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

USER_TABLES = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp%%'
ORDER BY 1, 2
"""
COLUMNS = """
SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%%'
ORDER BY 1, 2, a.attnum
"""
ANNOTATION_PREFIX = "rows."
WRITTEN_KEY = "written"
SCHEMA_KEY = "schema"


@dataclass(frozen=True)
class TableState:
    """Row count and a checksum of the rows' physical identity and creating transaction."""

    rows: int
    checksum: int


@dataclass
class DatabaseState:
    """Schema fingerprint, table list and per-table state of one database at one moment."""

    schema: str
    columns: list[tuple[str, str, str, str, bool]]
    tables: dict[str, TableState] = field(default_factory=dict)


def schema_fingerprint(columns: list[tuple[str, str, str, str, bool]]) -> str:
    text = "\n".join("|".join(str(part) for part in column) for column in columns)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_state(conn: psycopg.Connection[Any], with_checksums: bool = True) -> DatabaseState:
    """Read the schema and every user table's row count (and checksum) in one snapshot."""
    from psycopg import sql

    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        columns = [
            (str(r[0]), str(r[1]), str(r[2]), str(r[3]), bool(r[4])) for r in conn.execute(COLUMNS).fetchall()
        ]
        state = DatabaseState(schema_fingerprint(columns), columns)
        for schema, table in conn.execute(USER_TABLES).fetchall():
            name = sql.Identifier(str(schema), str(table))
            query = (
                sql.SQL(
                    "SELECT count(*), coalesce(sum(hashtext(ctid::text || ':' || xmin::text)), 0) FROM {}"
                )
                if with_checksums
                else sql.SQL("SELECT count(*), 0 FROM {}")
            )
            row = conn.execute(query.format(name)).fetchone()
            assert row is not None
            state.tables[f"{schema}.{table}"] = TableState(int(row[0]), int(row[1]))
    return state


def annotation(before: DatabaseState, after: DatabaseState) -> dict[str, str]:
    """Build the annotation: schema, counts of tables untouched during the backup, the others' names."""
    quiet = {name: state for name, state in after.tables.items() if before.tables.get(name) == state}
    written = sorted(set(after.tables) - set(quiet))
    notes = {SCHEMA_KEY: after.schema if before.schema == after.schema else "changed-during-backup"}
    notes.update({ANNOTATION_PREFIX + name: str(state.rows) for name, state in sorted(quiet.items())})
    notes[WRITTEN_KEY] = ",".join(written) or "-"
    return notes


@dataclass(frozen=True)
class Expected:
    """What a backup's annotation says the restored copy must hold."""

    schema: str
    rows: dict[str, int]
    written: list[str]


def expected_from(notes: dict[str, str] | None) -> Expected | None:
    """Parse a backup's annotation; ``None`` when the backup was not taken by the backup runbook."""
    if not notes or SCHEMA_KEY not in notes:
        return None
    rows = {
        key.removeprefix(ANNOTATION_PREFIX): int(value)
        for key, value in notes.items()
        if key.startswith(ANNOTATION_PREFIX)
    }
    written = [name for name in notes.get(WRITTEN_KEY, "-").split(",") if name and name != "-"]
    return Expected(notes[SCHEMA_KEY], rows, written)


@dataclass
class Comparison:
    """Differences between a restored copy and what its backup recorded."""

    schema_matches: bool
    compared: dict[str, tuple[int, int]]
    mismatched: dict[str, tuple[int, int]]
    missing_tables: list[str]
    not_compared: list[str]

    @property
    def ok(self) -> bool:
        return self.schema_matches and not self.mismatched and not self.missing_tables


def compare(expected: Expected, restored: DatabaseState) -> Comparison:
    compared: dict[str, tuple[int, int]] = {}
    mismatched: dict[str, tuple[int, int]] = {}
    missing: list[str] = []
    for name, rows in sorted(expected.rows.items()):
        state = restored.tables.get(name)
        if state is None:
            missing.append(name)
            continue
        compared[name] = (rows, state.rows)
        if state.rows != rows:
            mismatched[name] = (rows, state.rows)
    return Comparison(expected.schema == restored.schema, compared, mismatched, missing, expected.written)


def state_to_json(state: DatabaseState) -> dict[str, Any]:
    """XCom form of a state (the columns are not needed once fingerprinted)."""
    return {
        "schema": state.schema,
        "tables": {name: [t.rows, t.checksum] for name, t in state.tables.items()},
    }


def state_from_json(raw: dict[str, Any]) -> DatabaseState:
    tables = {name: TableState(int(v[0]), int(v[1])) for name, v in raw["tables"].items()}
    return DatabaseState(str(raw["schema"]), [], tables)
