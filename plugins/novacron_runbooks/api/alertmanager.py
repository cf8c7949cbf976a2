"""``POST /novacron/alertmanager/webhook``: Alertmanager's webhook receiver, inside Airflow's API server.

Alertmanager authenticates with ``Authorization: Bearer <token>``; the token is read, at every request, from
the file ``NOVACRON_ALERTMANAGER_TOKEN_FILE`` names, the same file Alertmanager's ``credentials_file`` reads,
so the secret is never in an environment variable or a process list and a rotation needs no restart. The
order of checks is the order of trust: no or wrong token → 401, not a webhook v4 payload → 400 naming the
field, and only then does anything start. The answer lists what happened to every alert (see ``bridge``);
it is a 503 when an alert's runbook has no DAG served yet, so Alertmanager delivers the notification again
(the alerts it did start are deduplicated on the next delivery by their run ids).
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from novacron_runbooks.bridge import dispatch
from novacron_runbooks.bridge.payload import PayloadError, parse_notification
from novacron_runbooks.bridge.policy import PolicyError
from novacron_runbooks.bridge.runs import group_hash

TOKEN_FILE_ENV = "NOVACRON_ALERTMANAGER_TOKEN_FILE"
MAX_BODY = 1024 * 1024

router = APIRouter(prefix="/alertmanager", tags=["alertmanager bridge"])
log = logging.getLogger(__name__)


def _expected_token() -> bytes:
    path = os.environ.get(TOKEN_FILE_ENV)
    if not path:
        raise HTTPException(503, f"alertmanager bridge not configured: {TOKEN_FILE_ENV} is not set")
    try:
        token = Path(path).read_text().strip()
    except OSError as exc:
        raise HTTPException(503, f"alertmanager bridge token file unreadable: {exc.strerror}") from None
    if len(token) < 16:
        raise HTTPException(503, "alertmanager bridge token file holds no token of at least 16 characters")
    return token.encode()


def authenticate(request: Request) -> None:
    """Compare the bearer token in constant time; 401 without a match (the value is never logged)."""
    expected = _expected_token()
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), expected):
        log.warning("alertmanager bridge: refused a request from %s without the bridge token", request.client)
        raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})


@router.post("/webhook")
async def webhook(request: Request) -> JSONResponse:
    """Receive one Alertmanager notification and start, deduplicate or annotate runbook runs."""
    received = time.monotonic()
    authenticate(request)
    if int(request.headers.get("content-length") or 0) > MAX_BODY:
        raise HTTPException(413, f"notification larger than {MAX_BODY} bytes")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, f"notification larger than {MAX_BODY} bytes")
    try:
        notification = parse_notification(body)
    except PayloadError as exc:
        log.warning("alertmanager bridge: malformed notification: %s", exc)
        raise HTTPException(400, f"not an Alertmanager webhook v4 payload: {exc}") from None
    try:
        outcomes = await run_in_threadpool(dispatch.handle, notification, received)
    except PolicyError as exc:
        log.error("alertmanager bridge: policy refused: %s", exc)
        raise HTTPException(503, f"alertmanager bridge policy: {exc}") from None
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    answer = {
        "group": group_hash(notification.groupKey),
        "status": notification.status,
        "counts": counts,
        "alerts": [outcome.as_dict() for outcome in outcomes],
    }
    retry = dispatch.UNAVAILABLE in counts
    return JSONResponse(answer, status_code=503 if retry else 200)
