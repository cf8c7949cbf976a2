"""Operators of the NovaCron runbooks."""

from __future__ import annotations
