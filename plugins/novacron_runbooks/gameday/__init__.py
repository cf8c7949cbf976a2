"""The quarterly chaos game day: faults injected, the alert and incident runbook observed, outcomes scored."""
