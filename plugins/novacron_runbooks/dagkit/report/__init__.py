"""The run report every runbook ends with: Markdown for people, JUnit XML for CI callers."""

from __future__ import annotations
