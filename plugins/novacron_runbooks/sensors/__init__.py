"""Sensors of the NovaCron runbooks (outside the DAG bundle, as the triggerer requires)."""

from __future__ import annotations
