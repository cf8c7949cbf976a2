"""``python -m sandbox.k8s --port P --state-dir D [--seed FILE] [--ready-delay S]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from sandbox.k8s.seed import DEFAULT_SEED
from sandbox.k8s.server import serve


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, log to stderr, serve until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.k8s", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument(
        "--seed", type=Path, default=DEFAULT_SEED, help="manifests loaded when no state exists"
    )
    parser.add_argument(
        "--ready-delay", type=float, default=0.5, help="seconds before a started pod is ready"
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(args.port, args.state_dir, args.seed, args.ready_delay))


if __name__ == "__main__":
    main()
