"""Deployment gates: measurements of a change, judged against its baseline."""
