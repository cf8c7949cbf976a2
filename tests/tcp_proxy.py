"""A loopback TCP proxy in a thread that a test can slow down or cut: a real server made "slow" or "down"."""

from __future__ import annotations

import socket
import threading
import time

from sandbox.aio import free_port


class TcpProxy:
    """Forward 127.0.0.1:<port> to a target; ``delay`` holds each new connection, ``cut()`` refuses them.

    ``slow_answers(seconds, count)`` holds the next ``count`` answers: the first bytes the server sends after
    each request reach the client ``seconds`` late, on open connections too (a server up but slow).
    """

    def __init__(self, target_port: int, delay: float = 0.0) -> None:
        self.target_port = target_port
        self.delay = delay
        self.answer_delay = 0.0
        self.answers_to_slow = 0
        self.slowed_answers = 0
        self._answers = threading.Lock()
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._open: list[socket.socket] = []
        self.accepted = 0

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cut()

    def cut(self) -> None:
        """Refuse new connections and drop open ones, as when the server goes down."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()
        for sock in list(self._open):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def cut_after(self, connections: int, grace: float = 1.0) -> None:
        """Cut once ``connections`` have been accepted and ``grace`` seconds have passed (in a thread)."""

        def watch() -> None:
            while self.accepted < connections and not self._stop.is_set():
                time.sleep(0.05)
            time.sleep(grace)
            self.cut()

        threading.Thread(target=watch, daemon=True).start()

    def slow_answers(self, seconds: float, count: int) -> None:
        """Hold each of the next ``count`` answers for ``seconds`` before the client sees its first byte."""
        with self._answers:
            self.answer_delay, self.answers_to_slow, self.slowed_answers = seconds, count, 0

    def _hold_answer(self) -> None:
        with self._answers:
            if self.answers_to_slow <= 0:
                return
            self.answers_to_slow -= 1
            self.slowed_answers += 1
            delay = self.answer_delay
        time.sleep(delay)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self._open.append(client)
            threading.Thread(target=self._pipe_pair, args=(client,), daemon=True).start()

    def _pipe_pair(self, client: socket.socket) -> None:
        if self.delay:
            time.sleep(self.delay)
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
        except OSError:
            client.close()
            return
        # the 5 s was for connecting: a slow answer or an idle keep-alive is no error
        upstream.settimeout(None)
        self._open.append(upstream)
        asked = threading.Event()  # a request went up and its answer has not started yet
        threading.Thread(target=self._pipe, args=(client, upstream, asked, False), daemon=True).start()
        threading.Thread(target=self._pipe, args=(upstream, client, asked, True), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, asked: threading.Event, answers: bool) -> None:
        try:
            while chunk := src.recv(65536):
                if not answers:
                    asked.set()
                elif asked.is_set():
                    asked.clear()
                    self._hold_answer()
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
