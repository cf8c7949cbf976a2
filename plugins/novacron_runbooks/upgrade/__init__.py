"""The upgrade runbook: supported upgrades, preflight, rehearsal on scratch, the upgrade and its rollback."""
