"""Restoring data: the recoverability window, point-in-time restores, and comparing a copy with live."""
