"""Seed database ``novacron`` with the NovaCron-like schema and a data set of a chosen size.

The SQL lives in ``include/sandbox/`` (schema.sql, seed.sql); this module only decides whether to run it.
Seeding is idempotent: a database already seeded at the requested size is left as it is, so a warm start
costs nothing, while asking for another size rebuilds the tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.layout import REPO_ROOT
from sandbox.postgres import APP_ROLE, DB_NAME, writable

if TYPE_CHECKING:
    from sandbox.layout import Layout

SQL_DIR = REPO_ROOT / "include" / "sandbox"
SIZES = {"small": 2_000, "medium": 50_000, "large": 500_000}
DEFAULT_SIZE = "small"
_APP_TABLES = "audit_log, migrations, vms, hosts"


def seeded_vms(layout: Layout) -> int | None:
    """Return the number of VMs the database was seeded with, or ``None`` when it never was."""
    with writable(layout).connect(DB_NAME, user=APP_ROLE) as conn:
        if conn.execute("SELECT to_regclass('sandbox.seed_state')").fetchone() == (None,):
            return None
        row = conn.execute("SELECT vms FROM sandbox.seed_state").fetchone()
    return int(str(row[0])) if row else None


def seed(layout: Layout, vms: int) -> str:
    """Apply the schema and, unless seeded with ``vms`` VMs already, regenerate the data atomically."""
    schema = (SQL_DIR / "schema.sql").read_text()
    seed_fn = (SQL_DIR / "seed.sql").read_text()
    with writable(layout).connect(DB_NAME, user=APP_ROLE) as conn:
        conn.execute(schema)
        conn.execute(seed_fn)
        row = conn.execute("SELECT vms FROM sandbox.seed_state").fetchone()
        if row is not None and int(str(row[0])) == vms:
            return f"already seeded with {vms} vms"
        with conn.transaction():
            conn.execute(f"DROP TABLE IF EXISTS {_APP_TABLES} CASCADE")
            conn.execute(schema)
            conn.execute("SELECT sandbox.seed(%s)", (vms,))
        conn.execute(f"ANALYZE {_APP_TABLES}")
        counts = conn.execute("SELECT hosts, migrations, audit_rows FROM sandbox.seed_state").fetchone()
    assert counts is not None
    return f"seeded {vms} vms, {counts[0]} hosts, {counts[1]} migrations, {counts[2]} audit rows"
