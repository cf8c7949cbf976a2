"""Backups: pgBackRest backups, verification, retention, metrics and test restores."""
