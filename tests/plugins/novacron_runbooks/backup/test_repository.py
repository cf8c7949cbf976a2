"""Reading pgBackRest's verify output fail-closed, the retention plan, and the backup-point comparison."""

from __future__ import annotations

from novacron_runbooks.backup.repository import BackupSet, parse_verify, retention_plan, verified
from novacron_runbooks.backup.snapshot import DatabaseState, TableState, annotation, compare, expected_from

FULL = "20261127-113029F"
INCR = "20261127-113029F_20261127-113041I"
# pgBackRest 2.45 `verify --output=text --verbose` after a file of the incremental was overwritten (exit 0)
VERIFY_INVALID = f"""stanza: novacron
status: error
  archiveId: 15-1, total WAL checked: 6, total valid WAL: 6
    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
  backup: {FULL}, status: valid, total files checked: 1298, total valid files: 1298
    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
  backup: {INCR}, status: invalid, total files checked: 1298, total valid files: 1297
    missing: 0, checksum invalid: 1, size invalid: 0, other: 0
"""


def backup_set(label: str, kind: str, references: tuple[str, ...] = ()) -> BackupSet:
    return BackupSet(label, kind, 0, 2, 10, 5, "A", "B", references)


def test_an_invalid_backup_is_not_verified_although_verify_exited_zero():
    result = parse_verify(VERIFY_INVALID)
    assert result.status == "error"
    assert result.backups == {FULL: "valid", INCR: "invalid"}
    assert verified(result, backup_set(FULL, "full")) == (
        True,
        f"{FULL} and its 0 reference(s) valid, WAL archive clean",
    )
    assert verified(result, backup_set(INCR, "incr", (FULL,)))[0] is False


def test_a_backup_whose_reference_is_invalid_or_unchecked_is_not_verified():
    text = VERIFY_INVALID.replace(f"backup: {FULL}, status: valid", f"backup: {FULL}, status: invalid")
    text = text.replace(f"backup: {INCR}, status: invalid", f"backup: {INCR}, status: valid")
    ok, why = verified(parse_verify(text), backup_set(INCR, "incr", (FULL,)))
    assert not ok and why == f"backup {FULL}: invalid"
    ok, why = verified(parse_verify(""), backup_set(FULL, "full"))
    assert not ok and "not checked by verify" in why


def test_missing_wal_fails_verification():
    text = VERIFY_INVALID.replace(INCR + ", status: invalid", INCR + ", status: valid").replace(
        "    missing: 0, checksum invalid: 0, size invalid: 0, other: 0\n  backup: " + FULL,
        "    missing: 2, checksum invalid: 0, size invalid: 0, other: 0\n  backup: " + FULL,
        1,
    )
    ok, why = verified(parse_verify(text), backup_set(FULL, "full"))
    assert not ok and "WAL archive problems" in why


def test_retention_expires_the_oldest_fulls_with_what_depends_on_them():
    sets = [
        backup_set("20261120-000000F", "full"),
        backup_set("20261120-000000F_20261120-010000I", "incr"),
        backup_set("20261121-000000F", "full"),
        backup_set("20261122-000000F", "full"),
        backup_set("20261122-000000F_20261122-010000D", "diff"),
    ]
    assert retention_plan(sets, 2) == ["20261120-000000F", "20261120-000000F_20261120-010000I"]
    assert retention_plan(sets, 7) == []


def test_only_tables_untouched_during_the_backup_are_compared():
    before = DatabaseState("s1", [], {"public.vms": TableState(10, 7), "public.audit_log": TableState(5, 1)})
    after = DatabaseState("s1", [], {"public.vms": TableState(10, 7), "public.audit_log": TableState(6, 9)})
    notes = annotation(before, after)
    assert notes == {"schema": "s1", "rows.public.vms": "10", "written": "public.audit_log"}
    expected = expected_from(notes)
    assert expected is not None and expected.written == ["public.audit_log"]
    restored = DatabaseState(
        "s1", [], {"public.vms": TableState(10, 0), "public.audit_log": TableState(7, 0)}
    )
    assert compare(expected, restored).ok
    short = DatabaseState("s1", [], {"public.vms": TableState(9, 0)})
    result = compare(expected, short)
    assert not result.ok and result.mismatched == {"public.vms": (10, 9)}
    assert not compare(expected, DatabaseState("s2", [], restored.tables)).ok
    assert expected_from({"runbook-run": "backup/x"}) is None
