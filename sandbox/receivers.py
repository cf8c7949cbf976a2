"""Local Slack and PagerDuty receivers that record every message they accept.

Runbooks notify people through the real client libraries (slack_sdk's ``WebClient`` with a ``base_url``,
the ``pagerduty`` package's ``EventsApiV2Client`` with a ``base_url``, Slack incoming webhooks). Serving the
same request and response shapes lets the same code run in the sandbox, and the JSONL record lets tests and
the demo show exactly what was sent.

``python -m sandbox.receivers --port P --state-dir D [--tls-port T]``

The ``pagerduty`` client refuses any base URL that is not ``https://``; ``--tls-port`` also serves the same
endpoints over TLS with a self-signed certificate kept at ``<state-dir>/tls/cert.pem``, which a client trusts
through ``SSL_CERT_FILE`` (or ``verify=``).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import ssl
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.aio import stop_on_signals

log = logging.getLogger("sandbox.receivers")
MESSAGES_FILE = "messages.jsonl"
_HEADERS = ("Content-Type", "User-Agent", "X-Slack-Retry-Num")
PD_SEVERITIES = ("critical", "error", "warning", "info")
PD_INVALID = {"status": "invalid event", "message": "Event object is invalid"}
AUTH_TEST = {"ok": True, "url": "https://novacron.slack.com/", "team": "NovaCron", "user": "runbooks"}
AUTH_TEST |= {"team_id": "T0NOVACRON", "user_id": "U0RUNBOOKS", "bot_id": "B0RUNBOOKS"}


class Inbox:
    """Accepted messages, in memory and appended to ``messages.jsonl`` (kept across restarts)."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / MESSAGES_FILE
        self.messages: list[dict[str, Any]] = []
        if self.path.exists():
            lines = self.path.read_text().splitlines()
            self.messages = [json.loads(line) for line in lines if line.strip()]
        self._last_ts = 0.0

    def next_ts(self) -> str:
        """Return a unique Slack message timestamp (``seconds.micros``), strictly increasing."""
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        return f"{self._last_ts:.6f}"

    def add(self, kind: str, request: web.Request, body: Any) -> dict[str, Any]:
        """Record one accepted message."""
        headers = {name: request.headers[name] for name in _HEADERS if name in request.headers}
        auth = request.headers.get("Authorization", "")
        if auth:
            headers["Authorization"] = auth.split(" ", 1)[0] + " ***"  # never store the credential itself
        entry = {"id": len(self.messages) + 1, "kind": kind, "received_at": datetime.now(UTC).isoformat()}
        entry |= {"path": request.path, "headers": headers, "body": body}
        self.messages.append(entry)
        with self.path.open("a") as fh:
            fh.write(json.dumps(entry) + "\n")
        log.info("%s message on %s", kind, request.path)
        return entry

    def clear(self) -> int:
        """Forget every message; return how many there were."""
        count = len(self.messages)
        self.messages = []
        self.path.write_text("")
        return count


def _since(value: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def _slack_args(request: web.Request) -> dict[str, Any]:
    """Read Web API arguments from JSON, a form, or the query string, as Slack accepts all three."""
    args: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            args.update(body)
    elif request.can_read_body:
        form = await request.post()
        for key, value in form.items():
            text = str(value)
            if key in ("blocks", "attachments", "metadata") and text[:1] in "[{":
                args[key] = json.loads(text)
            else:
                args[key] = text
    return args


def _slack_token(request: web.Request, args: dict[str, Any]) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer ") and auth[7:].strip():
        return auth[7:].strip()
    return args.pop("token", None) or None


def _slack_error(method: str, args: dict[str, Any]) -> str | None:
    """Return the error code Slack would answer with, if any."""
    if method not in ("chat.postMessage", "chat.update"):
        return "unknown_method"
    if not args.get("channel"):
        return "channel_not_found"
    if not any(args.get(k) for k in ("text", "blocks", "attachments")):
        return "no_text"
    return "message_not_found" if method == "chat.update" and not args.get("ts") else None


def make_app(inbox: Inbox) -> web.Application:
    """Build the receivers' aiohttp application."""

    async def slack_method(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _slack_args(request)
        if not _slack_token(request, args):
            return web.json_response({"ok": False, "error": "not_authed"})
        if method == "auth.test":
            return web.json_response(AUTH_TEST)
        error = _slack_error(method, args)
        if error:
            return web.json_response({"ok": False, "error": error})
        ts = args["ts"] if method == "chat.update" else inbox.next_ts()
        message = {
            "type": "message",
            "user": "U0RUNBOOKS",
            "bot_id": "B0RUNBOOKS",
            "ts": ts,
            **{k: args[k] for k in ("text", "blocks", "attachments", "thread_ts") if args.get(k)},
        }
        inbox.add("slack", request, {"method": method, **args})
        reply = {"ok": True, "channel": args["channel"], "ts": ts, "message": message}
        if method == "chat.update":
            reply["text"] = args.get("text", "")
        return web.json_response(reply)

    async def slack_webhook(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(body, dict) or not any(body.get(k) for k in ("text", "blocks", "attachments")):
            return web.Response(status=400, text="no_text")
        inbox.add("slack_webhook", request, body)
        return web.Response(text="ok")

    async def pd_event(request: web.Request) -> web.Response:
        body, errors = await _pd_body(request, change=False)
        if errors:
            return web.json_response(PD_INVALID | {"errors": errors}, status=400)
        dedup = body.get("dedup_key") or uuid.uuid4().hex
        inbox.add("pagerduty", request, body | {"dedup_key": dedup})
        reply = {"status": "success", "message": "Event processed", "dedup_key": dedup}
        return web.json_response(reply, status=202)

    async def pd_change(request: web.Request) -> web.Response:
        body, errors = await _pd_body(request, change=True)
        if errors:
            return web.json_response(PD_INVALID | {"errors": errors}, status=400)
        inbox.add("pagerduty_change", request, body)
        return web.json_response({"status": "success", "message": "Change event processed"}, status=202)

    async def list_messages(request: web.Request) -> web.Response:
        found = inbox.messages
        if request.query.get("kind"):
            found = [m for m in found if m["kind"] == request.query["kind"]]
        if request.query.get("since"):
            try:
                since = _since(request.query["since"])
            except ValueError:
                return web.json_response({"error": "since must be ISO-8601 or epoch seconds"}, status=400)
            found = [m for m in found if datetime.fromisoformat(m["received_at"]) >= since]
        return web.json_response({"count": len(found), "messages": found})

    async def clear_messages(request: web.Request) -> web.Response:
        return web.json_response({"deleted": inbox.clear()})

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.add_routes(
        [
            web.post("/api/{method}", slack_method),
            web.post("/services/{team}/{bot}/{secret}", slack_webhook),
            web.post("/v2/enqueue", pd_event),
            web.post("/v2/change/enqueue", pd_change),
            web.get("/_messages", list_messages),
            web.delete("/_messages", clear_messages),
            web.get("/healthz", healthz),
        ]
    )
    return app


async def _pd_body(request: web.Request, change: bool) -> tuple[dict[str, Any], list[str]]:
    """Parse an Events API body and list what makes it invalid, as the Events API v2 checks it."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return {}, ["request body must be a JSON object"]
    key, action = body.get("routing_key"), body.get("event_action")
    errors = [] if isinstance(key, str) and key.strip() else ["'routing_key' is missing or blank"]
    payload = body.get("payload") if isinstance(body.get("payload"), dict) else {}
    if change or action == "trigger":
        required = ("summary",) if change else ("summary", "source", "severity")
        errors += [f"'payload.{f}' is missing or blank" for f in required if not payload.get(f)]
        if not change and payload.get("severity") and payload["severity"] not in PD_SEVERITIES:
            errors.append(f"'payload.severity' must be one of {', '.join(PD_SEVERITIES)}")
    elif action not in ("acknowledge", "resolve"):
        errors.append("'event_action' is missing or invalid (trigger, acknowledge or resolve)")
    elif not body.get("dedup_key"):
        errors.append(f"'dedup_key' is required for event_action {action}")
    return body, errors


def tls_context(state_dir: Path) -> ssl.SSLContext:
    """Load (or first create) a self-signed certificate for 127.0.0.1/localhost that is its own CA."""
    cert_path, key_path = state_dir / "tls" / "cert.pem", state_dir / "tls" / "key.pem"
    if not cert_path.exists():
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "novacron-sandbox-receivers")])
        now = datetime.now(UTC)
        san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        builder = builder.serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
        builder = builder.not_valid_after(now + timedelta(days=3650))
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        cert = builder.sign(key, hashes.SHA256())
        cert_path.parent.mkdir(parents=True, exist_ok=True)
        key_path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
        key_path.chmod(0o600)
        cert_path.write_bytes(cert.public_bytes(Encoding.PEM))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


async def serve(port: int, state_dir: Path, tls_port: int = 0, stop: asyncio.Event | None = None) -> None:
    """Serve on 127.0.0.1 until SIGTERM/SIGINT (or ``stop``)."""
    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    runner = web.AppRunner(make_app(Inbox(state_dir)), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    if tls_port:
        await web.TCPSite(runner, "127.0.0.1", tls_port, ssl_context=tls_context(state_dir)).start()
    log.info("receivers on http://127.0.0.1:%d, messages in %s", port, state_dir / MESSAGES_FILE)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, log to stderr, serve until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.receivers", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--tls-port", type=int, help="also serve over TLS (self-signed) on this port")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(args.port, args.state_dir, args.tls_port or 0))


if __name__ == "__main__":
    main()
