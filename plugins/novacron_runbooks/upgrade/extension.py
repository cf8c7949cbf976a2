"""A PostgreSQL extension's version, its update path, the update itself and the way back.

The same functions act on the scratch copy (the rehearsal) and on the primary (the upgrade), so what was
rehearsed is what runs. Names and versions reach SQL only as ``psycopg.sql`` identifiers and literals, after
``validate_params`` checked them against the supported-upgrades table.

Why the way back is "drop and create at the old version": PostgreSQL's contrib extensions ship update scripts
forward only, so ``ALTER EXTENSION ... UPDATE TO <older>`` has no path. Dropping is only safe when nothing
outside the extension depends on it (an index using its operator class, a column of its type): then the drop
loses no data. Otherwise the only way back is the backup taken before the upgrade.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

DEPENDENTS = """
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = %(name)s),
members AS (
    SELECT classid, objid FROM pg_depend
    WHERE refclassid = 'pg_extension'::regclass AND refobjid = (SELECT oid FROM ext) AND deptype = 'e'
),
parts AS (
    SELECT classid, objid FROM pg_depend
    WHERE deptype IN ('a', 'i') AND (refclassid, refobjid) IN (SELECT classid, objid FROM members)
)
SELECT DISTINCT pg_describe_object(d.classid, d.objid, d.objsubid)
FROM pg_depend d
WHERE d.deptype = 'n'
  AND ((d.refclassid, d.refobjid) IN (SELECT classid, objid FROM members)
       OR (d.refclassid = 'pg_extension'::regclass AND d.refobjid = (SELECT oid FROM ext)))
  AND (d.classid, d.objid) NOT IN (SELECT classid, objid FROM members)
  AND (d.classid, d.objid) NOT IN (SELECT classid, objid FROM parts)
ORDER BY 1
"""
"""Objects outside the extension that depend on it or on one of its members (an index using its operator
class, a column of its type): what a DROP would take along. The extension's own parts (operator family
entries, a view's rewrite rule) depend on its members automatically and are not counted."""


@dataclass(frozen=True)
class ExtensionState:
    """What one database says about an extension."""

    name: str
    installed: str | None
    schema: str | None
    default: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def state(conn: psycopg.Connection[Any], name: str) -> ExtensionState:
    row = conn.execute(
        "SELECT e.extversion, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = %s",
        (name,),
    ).fetchone()
    available = conn.execute(
        "SELECT default_version FROM pg_available_extensions WHERE name = %s", (name,)
    ).fetchone()
    return ExtensionState(
        name,
        str(row[0]) if row else None,
        str(row[1]) if row else None,
        str(available[0]) if available else None,
    )


def update_path(conn: psycopg.Connection[Any], name: str, source: str, target: str) -> str | None:
    """Return the chain of update scripts from ``source`` to ``target`` (``1.8--1.9--1.10``), or ``None``."""
    row = conn.execute(
        "SELECT path FROM pg_extension_update_paths(%s) WHERE source = %s AND target = %s",
        (name, source, target),
    ).fetchone()
    return str(row[0]) if row and row[0] is not None else None


def dependents(conn: psycopg.Connection[Any], name: str) -> list[str]:
    return [str(row[0]) for row in conn.execute(DEPENDENTS, {"name": name}).fetchall()]


def update(conn: psycopg.Connection[Any], name: str, target: str) -> bool:
    """``ALTER EXTENSION name UPDATE TO target``; ``False`` when it already runs ``target`` (idempotent)."""
    from psycopg import sql

    if state(conn, name).installed == target:
        return False
    conn.execute(sql.SQL("ALTER EXTENSION {} UPDATE TO {}").format(sql.Identifier(name), sql.Literal(target)))
    return True


def recreate(conn: psycopg.Connection[Any], name: str, version: str, schema: str) -> None:
    """Drop the extension and create it at ``version`` in one transaction; refuse if anything needs it."""
    from psycopg import sql

    found = dependents(conn, name)
    if found:
        raise RuntimeError(
            f"{name}: {len(found)} object(s) depend on it ({', '.join(found[:5])}); not dropped"
        )
    with conn.transaction():
        conn.execute(sql.SQL("DROP EXTENSION {}").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL("CREATE EXTENSION {} WITH SCHEMA {} VERSION {}").format(
                sql.Identifier(name), sql.Identifier(schema), sql.Literal(version)
            )
        )


def down_step(name: str, version: str, schema: str, down: str, backup: str) -> str:
    """Describe the rollback for the plan, the approval and the report."""
    restore = f"restore backup {backup} (restore runbook, target production)"
    if down == "recreate":
        return (
            f"DROP EXTENSION {name}; CREATE EXTENSION {name} WITH SCHEMA {schema} VERSION '{version}' "
            f"(only while nothing outside it depends on it), else {restore}"
        )
    return restore
