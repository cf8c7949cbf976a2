"""Small helpers the sandbox's asyncio servers share."""

from __future__ import annotations

import asyncio
import signal
import socket


def stop_on_signals(stop: asyncio.Event) -> None:
    """Set ``stop`` on SIGTERM/SIGINT (off the main thread, as in tests, ``stop`` alone ends the server)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (RuntimeError, ValueError):
            pass


def free_port() -> int:
    """Return a loopback port that is free right now (for tests that start servers of their own)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
