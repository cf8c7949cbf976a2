"""Compare a side-by-side copy (restored to before the damage) with the live database, and repair from it.

What a person needs to decide between "repair rows" and "cut over": per table the row counts on both sides,
and, for tables with a single-column primary key, which rows the copy holds that live lost (deleted) or holds
differently (changed), plus rows live gained since (kept by a repair: they may be legitimate writes).

Rows are compared by key and by ``md5`` of their text form, with both sessions pinned to the same output
settings (time zone, date style, float digits) so that equal rows print equally. Each side's keys and hashes
are read into memory: on a large database, narrow the comparison with the runbook's ``tables``. Identifiers
are always composed with :mod:`psycopg.sql`; table names come from the catalog, never from text.

:func:`repair` writes the copy's version of every lost or changed row back into live, in one transaction,
touching only those tables, parents before children (foreign keys), as ``INSERT ... ON CONFLICT DO UPDATE``:
running it twice changes nothing the second time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

SESSION = ("SET TimeZone = 'UTC'", "SET DateStyle = 'ISO, YMD'", "SET extra_float_digits = 3")
TABLES = """
SELECT n.nspname, c.relname, c.oid,
       coalesce((SELECT array_agg(a.attname ORDER BY k.ord)
                   FROM pg_index i CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                  WHERE i.indrelid = c.oid AND i.indisprimary), '{}') AS key
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%%'
ORDER BY 1, 2
"""
PARENTS = """
SELECT pn.nspname || '.' || p.relname
FROM pg_constraint f JOIN pg_class p ON p.oid = f.confrelid JOIN pg_namespace pn ON pn.oid = p.relnamespace
WHERE f.contype = 'f' AND f.conrelid = %s AND f.confrelid <> f.conrelid
"""
COLUMNS = """
SELECT a.attname FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
ORDER BY a.attnum
"""
SAMPLE = 5
LOCK_TIMEOUT = "SET LOCAL lock_timeout = '10s'"


@dataclass(frozen=True)
class Table:
    """A user table, its primary key columns (empty: none) and the tables its foreign keys point to."""

    schema: str
    name: str
    key: tuple[str, ...]
    parents: tuple[str, ...] = ()

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def identifier(self) -> sql.Identifier:
        from psycopg import sql

        return sql.Identifier(self.schema, self.name)


@dataclass
class TableDiff:
    """How one table differs between live and the copy."""

    table: str
    live_rows: int
    copy_rows: int
    lost: list[Any] = field(default_factory=list)
    """Keys the copy has and live does not (deleted since)."""
    changed: list[Any] = field(default_factory=list)
    """Keys both have with different contents."""
    added: list[Any] = field(default_factory=list)
    """Keys only live has (written since: kept by a repair)."""
    sample: list[dict[str, Any]] = field(default_factory=list)
    keyed: bool = True

    @property
    def differs(self) -> bool:
        return bool(self.lost or self.changed or self.added) or self.live_rows != self.copy_rows

    @property
    def repairable(self) -> bool:
        return self.keyed and bool(self.lost or self.changed)

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "live_rows": self.live_rows,
            "copy_rows": self.copy_rows,
            "lost": self.lost,
            "changed": self.changed,
            "added": self.added,
            "sample": self.sample,
            "keyed": self.keyed,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> TableDiff:
        return cls(**raw)


def _session(conn: psycopg.Connection[Any]) -> None:
    for statement in SESSION:
        conn.execute(statement)


def user_tables(conn: psycopg.Connection[Any]) -> dict[str, Table]:
    """Every user table by ``schema.name``, with its single-column or composite key and its FK parents."""
    found: dict[str, Table] = {}
    for schema, name, oid, key in conn.execute(TABLES).fetchall():
        parents = tuple(str(row[0]) for row in conn.execute(PARENTS, (oid,)).fetchall())
        table = Table(str(schema), str(name), tuple(str(k) for k in key), parents)
        found[table.qualified] = table
    return found


def resolve(tables: dict[str, Table], wanted: list[str]) -> list[Table]:
    """Map names (``schema.table`` or ``table`` in ``public``) to tables; unknown names raise ``KeyError``."""
    chosen = []
    for name in wanted:
        qualified = name if "." in name else f"public.{name}"
        if qualified not in tables:
            raise KeyError(name)
        chosen.append(tables[qualified])
    return chosen


def _count(conn: psycopg.Connection[Any], table: Table) -> int:
    from psycopg import sql

    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table.identifier())).fetchone()
    return int(row[0]) if row else 0


def _hashes(conn: psycopg.Connection[Any], table: Table) -> dict[Any, str]:
    from psycopg import sql

    key = sql.Identifier(table.key[0])
    query = sql.SQL("SELECT t.{key}, md5(t::text) FROM {table} AS t").format(
        key=key, table=table.identifier()
    )
    return {row[0]: str(row[1]) for row in conn.execute(query).fetchall()}


def _rows(conn: psycopg.Connection[Any], table: Table, keys: list[Any]) -> dict[Any, dict[str, Any]]:
    from psycopg import sql

    key = sql.Identifier(table.key[0])
    query = sql.SQL("SELECT t.{key}, row_to_json(t) FROM {table} AS t WHERE t.{key} = ANY(%s)").format(
        key=key, table=table.identifier()
    )
    return {row[0]: row[1] for row in conn.execute(query, (keys,)).fetchall()}


def diff_table(live: psycopg.Connection[Any], copy: psycopg.Connection[Any], table: Table) -> TableDiff:
    """Compare one table: counts always, rows by key when it has a single-column primary key."""
    _session(live)
    _session(copy)
    found = TableDiff(table.qualified, _count(live, table), _count(copy, table), keyed=len(table.key) == 1)
    if not found.keyed:
        return found
    now, then = _hashes(live, table), _hashes(copy, table)
    found.lost = sorted(k for k in then if k not in now)
    found.changed = sorted(k for k in then if k in now and now[k] != then[k])
    found.added = sorted(k for k in now if k not in then)
    shown = (found.lost + found.changed)[:SAMPLE]
    if shown:
        before, after = _rows(copy, table, shown), _rows(live, table, shown)
        found.sample = [{"key": k, "copy": before.get(k), "live": after.get(k)} for k in shown]
    return found


def compare(
    live: psycopg.Connection[Any], copy: psycopg.Connection[Any], tables: list[Table]
) -> list[TableDiff]:
    return [diff_table(live, copy, table) for table in tables]


def repair_order(tables: list[Table]) -> list[Table]:
    """Parents before children, so a restored child row finds its restored parent."""
    names = {t.qualified for t in tables}
    ordered: list[Table] = []
    pending = list(tables)
    while pending:
        ready = [t for t in pending if not (set(t.parents) & names - {o.qualified for o in ordered})]
        if not ready:  # a cycle: keep the given order; the transaction fails whole if a key is unmet
            ready = pending[:1]
        ordered.extend(ready)
        pending = [t for t in pending if t not in ready]
    return ordered


def _upsert(live: psycopg.Connection[Any], table: Table, columns: list[str], rows: list[Any]) -> int:
    from psycopg import sql

    cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    updates = sql.SQL(", ").join(
        sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in columns if c not in table.key
    )
    query = sql.SQL(
        "INSERT INTO {table} ({cols}) OVERRIDING SYSTEM VALUE "
        "SELECT {cols} FROM json_populate_recordset(NULL::{table}, %s::json) "
        "ON CONFLICT ({key}) DO UPDATE SET {updates}"
    ).format(table=table.identifier(), cols=cols, key=sql.Identifier(table.key[0]), updates=updates)
    return live.execute(query, (json.dumps(rows),)).rowcount


def repair(
    live: psycopg.Connection[Any], copy: psycopg.Connection[Any], tables: list[Table], diffs: list[TableDiff]
) -> dict[str, int]:
    """Write the copy's lost and changed rows back into live in one transaction; return rows per table."""
    wanted = {d.table: d for d in diffs if d.repairable}
    chosen = repair_order([t for t in tables if t.qualified in wanted])
    written: dict[str, int] = {}
    _session(copy)
    with live.transaction():
        live.execute(LOCK_TIMEOUT)
        for table in chosen:
            keys = wanted[table.qualified].lost + wanted[table.qualified].changed
            rows = list(_rows(copy, table, keys).values())
            found = live.execute(COLUMNS, (table.schema, table.name)).fetchall()
            columns = [str(r[0]) for r in found]  # generated columns are computed, never written
            written[table.qualified] = _upsert(live, table, columns, rows)
    return written


def summary_markdown(diffs: list[TableDiff]) -> str:
    """Render the approval body's table: counts, lost/changed/added per table and a few rows as they were."""
    lines = ["| table | live rows | copy rows | lost | changed | added since |", "|---|---|---|---|---|---|"]
    for d in diffs:
        how = "" if d.keyed else " (no single-column key: counts only)"
        lines.append(
            f"| {d.table}{how} | {d.live_rows} | {d.copy_rows} "
            f"| {len(d.lost)} | {len(d.changed)} | {len(d.added)} |"
        )
    for d in diffs:
        for row in d.sample:
            lines.append(f"\n`{d.table}` key {row['key']}: copy `{json.dumps(row['copy'])[:300]}`")
            lines.append(f"live `{json.dumps(row['live'])[:300]}`")
    return "\n".join(lines)
