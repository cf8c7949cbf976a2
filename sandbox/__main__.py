"""Entry point of ``python -m sandbox``; the commands live in :mod:`sandbox.cli`."""

from __future__ import annotations

from sandbox.cli import main

raise SystemExit(main())
