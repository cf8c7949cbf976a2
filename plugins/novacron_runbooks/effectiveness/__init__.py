"""Runbook effectiveness: runs, success rate and time to resolve per runbook over a window of run history."""
