#!/usr/bin/env python3
"""Start a runbook DAG through Airflow's REST API v2 and gate a CI pipeline on its outcome.

A CI job runs this after it has pushed an image: the runbook (``deployment``, ``canary``, ...) does the work
in Airflow, and the job passes or fails with it and keeps the run's JUnit report as its test results. Only
the standard library is used, so a CI runner needs no ``pip install``.

Example::

    python3 ci/trigger_runbook.py --dag deployment \\
        --conf image=registry.novacron.io/novacron/api:1.5.0 --conf change_ticket=CHG-1234 \\
        --run-id "ci-$CI_PIPELINE_ID" --junit-out runbook-junit.xml --report-out runbook-report.md

Credentials come from the environment: ``AIRFLOW_TOKEN`` (a JWT, used as is) or ``AIRFLOW_USERNAME`` and
``AIRFLOW_PASSWORD`` (exchanged at ``POST /auth/token``). Neither the password nor a token is ever printed.

``--run-id`` makes a CI retry safe: when a run with that id exists, the script attaches to it instead of
starting a second one, so a retried job never deploys twice (and a retry after a failed run reports that
failure again: a new deployment needs a new run id).

Exit codes:
    0  the run succeeded
    1  the run failed (its outcome: failed, rolled-back, rejected, missed-target)
    2  usage, authentication or trigger error (bad param, unknown or paused DAG): nothing was started
    3  timeout: the run is still going and was not cancelled; the message says where to look at it
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

EXIT_SUCCESS, EXIT_RUN_FAILED, EXIT_USAGE, EXIT_TIMEOUT = 0, 1, 2, 3
FINAL_STATES = {"success", "failed"}
GOOD_OUTCOMES = {"success", "dry-run"}
REPORT_WAIT_SECONDS = 60.0
"""``run_report``, the run's last task, writes the reports; give it this long after the run settles."""
REQUEST_TIMEOUT = 30.0


class Stop(Exception):
    """End the script with an exit code and a message for the CI log."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def quote(segment: str) -> str:
    """Quote a dag id or run id as one URL path segment (run ids carry ``:`` and ``+``)."""
    return urllib.parse.quote(segment, safe="")


def detail(body: Any) -> str:
    """Airflow's error text: ``detail`` as a string (400) or a list of field errors (422)."""
    found = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(found, list):
        parts = []
        for item in found:
            where = ".".join(str(p) for p in item.get("loc", [])) if isinstance(item, dict) else ""
            message = item.get("msg", item) if isinstance(item, dict) else item
            parts.append(f"{where}: {message}" if where else str(message))
        return "; ".join(parts)
    return str(found)


class Airflow:
    """A bearer-token client for Airflow's API server that knows its secrets, to keep them out of logs."""

    def __init__(self, base_url: str, token: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.username = username
        self.password = password

    def redact(self, text: str) -> str:
        for secret in (self.password, self.token):
            if secret:
                text = text.replace(secret, "***")
        return text

    def request(self, method: str, path: str, body: Any = None, *, relogin: bool = True) -> tuple[int, Any]:
        """Send one request; return the status and the JSON (or text) answer. Network errors raise OSError."""
        req = urllib.request.Request(f"{self.base_url}{path}", method=method)
        req.add_header("Accept", "application/json, text/plain, */*")
        if body is not None:
            req.data = json.dumps(body).encode()
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT) as response:
                status, raw = response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read().decode(errors="replace")
        if status == 401 and relogin and self.password and path != "/auth/token":
            self.login()  # an expired token during a long run: get a fresh one and retry once
            return self.request(method, path, body, relogin=False)
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def login(self) -> None:
        """Exchange the username and password for a JWT (simple auth manager and FAB answer the same)."""
        self.token = ""
        status, body = self.request(
            "POST", "/auth/token", {"username": self.username, "password": self.password}, relogin=False
        )
        if status in (401, 403):
            raise Stop(EXIT_USAGE, f"login as {self.username!r} refused by Airflow (HTTP {status})")
        if status not in (200, 201) or not isinstance(body, dict) or "access_token" not in body:
            raise Stop(EXIT_USAGE, f"login failed: HTTP {status} {self.redact(detail(body))}")
        self.token = str(body["access_token"])


def refuse(status: int, body: Any, what: str) -> Stop:
    """Turn an answer that means nothing can be started (auth, unknown DAG, bad request) into exit 2."""
    if status in (401, 403):
        hint = "check AIRFLOW_TOKEN or AIRFLOW_USERNAME/AIRFLOW_PASSWORD and the user's DAG-run permission"
        return Stop(EXIT_USAGE, f"{what}: not authorised (HTTP {status}); {hint}")
    return Stop(EXIT_USAGE, f"{what}: HTTP {status}: {detail(body)}")


def check_dag(api: Airflow, dag_id: str, unpause: bool) -> dict[str, Any]:
    """Fail early on an unknown or paused DAG (a run of a paused DAG stays queued forever); return params."""
    status, dag = api.request("GET", f"/api/v2/dags/{quote(dag_id)}/details")
    if status == 404:
        raise Stop(EXIT_USAGE, f"DAG {dag_id!r} not found in Airflow (not deployed, or it has import errors)")
    if status != 200:
        raise refuse(status, dag, f"reading DAG {dag_id!r}")
    if dag.get("is_paused"):
        if not unpause:
            raise Stop(EXIT_USAGE, f"DAG {dag_id!r} is paused: a run would stay queued; pass --unpause")
        status, body = api.request("PATCH", f"/api/v2/dags/{quote(dag_id)}", {"is_paused": False})
        if status != 200:
            raise refuse(status, body, f"unpausing DAG {dag_id!r}")
        print(f"unpaused DAG {dag_id}")
    return dict(dag.get("params") or {})


def parse_value(raw: str, declared: Any) -> Any:
    """Read a ``--conf`` value as text for a string param, else as JSON when it parses (numbers, lists)."""
    schema = declared.get("schema", {}) if isinstance(declared, dict) else {}
    kinds = schema.get("type")
    kinds = {kinds} if isinstance(kinds, str) else set(kinds or [])
    if kinds and kinds <= {"string", "null"}:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def build_conf(conf_json: str | None, pairs: list[str], params: dict[str, Any]) -> dict[str, Any]:
    """Merge ``--conf-json`` and then the ``--conf KEY=VALUE`` pairs (a pair wins over the JSON)."""
    try:
        conf = json.loads(conf_json) if conf_json else {}
    except ValueError as exc:
        raise Stop(EXIT_USAGE, f"--conf-json is not valid JSON: {exc}") from exc
    if not isinstance(conf, dict):
        raise Stop(EXIT_USAGE, "--conf-json must be a JSON object")
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise Stop(EXIT_USAGE, f"--conf expects KEY=VALUE, got {pair!r}")
        conf[key] = parse_value(raw, params.get(key))
    return conf


def start_or_attach(api: Airflow, dag_id: str, conf: dict[str, Any], run_id: str | None) -> str:
    """Trigger a run, or attach to the run that already has ``run_id`` (a CI retry must not run twice)."""
    runs = f"/api/v2/dags/{quote(dag_id)}/dagRuns"
    if run_id:
        status, run = api.request("GET", f"{runs}/{quote(run_id)}")
        if status == 200:
            print(f"attaching to existing run {run_id} (state {run.get('state')}); not starting another")
            if conf and run.get("conf") != conf:
                print(
                    "  note: its conf differs from the one given here; the run keeps its own", file=sys.stderr
                )
            return run_id
    body: dict[str, Any] = {"logical_date": None, "conf": conf}
    if run_id:
        body["dag_run_id"] = run_id
    status, run = api.request("POST", runs, body)
    if status == 409 and run_id:
        print(f"run {run_id} was just created by another caller; attaching to it")
        return run_id
    if status not in (200, 201):
        raise refuse(status, run, f"Airflow refused to start {dag_id}")
    print(f"started {dag_id} run {run['dag_run_id']}")
    return str(run["dag_run_id"])


def task_states(api: Airflow, dag_id: str, run_id: str) -> str:
    """One line of ``task=state`` in the order the tasks started (not yet started ones last)."""
    status, body = api.request(
        "GET", f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances?limit=1000"
    )
    if status != 200 or not isinstance(body, dict):
        return ""
    tis = sorted(body.get("task_instances", []), key=lambda t: (t.get("start_date") or "~", t["task_id"]))
    names = [t["task_id"] + (f"[{t['map_index']}]" if t.get("map_index", -1) >= 0 else "") for t in tis]
    return " ".join(f"{name}={t.get('state') or 'none'}" for name, t in zip(names, tis, strict=True))


def poll_once(api: Airflow, dag_id: str, run_id: str) -> tuple[str, str] | None:
    """Return the run's and its tasks' states; None while Airflow is unreachable or answers 5xx."""
    try:
        status, run = api.request("GET", f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}")
        if status in (401, 403, 404):
            raise refuse(status, run, f"reading run {run_id}")
        if status != 200 or not isinstance(run, dict):
            return None
        return str(run.get("state")), task_states(api, dag_id, run_id)
    except OSError as exc:  # a restarting API server must not fail a deploy that is going well
        print(f"Airflow not reachable ({exc}); still waiting", file=sys.stderr)
        return None


def wait_for_run(api: Airflow, dag_id: str, run_id: str, timeout: float, poll: float) -> str:
    """Poll until the run is success or failed, printing each change; past ``timeout`` exit 3."""
    started = time.monotonic()
    deadline = started + timeout
    last = None
    while True:
        seen = poll_once(api, dag_id, run_id)
        if seen is not None and seen != last:
            print(f"[{time.monotonic() - started:5.0f}s] {seen[0]:<8} {seen[1]}")
            last = seen
        if seen is not None and seen[0] in FINAL_STATES:
            return seen[0]
        if time.monotonic() >= deadline:
            raise Stop(EXIT_TIMEOUT, timeout_message(api, dag_id, run_id, timeout))
        time.sleep(max(0.0, min(poll, deadline - time.monotonic())))


def timeout_message(api: Airflow, dag_id: str, run_id: str, timeout: float) -> str:
    return (
        f"timeout: {dag_id} run {run_id} not finished after {timeout:.0f}s; it was NOT cancelled.\n"
        f"  UI:   {api.base_url}/dags/{quote(dag_id)}/runs/{quote(run_id)}\n"
        f"  API:  GET {api.base_url}/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}\n"
        f"  wait again: rerun this command with --run-id '{run_id}'"
    )


def fetch_report(api: Airflow, dag_id: str, run_id: str, filename: str, deadline: float) -> str | None:
    """One report file, retried until ``deadline`` while it is not written yet (404) or Airflow is away."""
    path = f"/novacron/reports/{quote(dag_id)}/{quote(run_id)}/{filename}"
    while True:
        try:
            status, body = api.request("GET", path)
        except OSError:
            status, body = 0, None
        if status == 200:
            return body if isinstance(body, str) else json.dumps(body)
        if status not in (0, 404) and status < 500:
            print(f"cannot fetch {filename}: HTTP {status}: {detail(body)}", file=sys.stderr)
            return None
        if time.monotonic() >= deadline:
            print(f"{filename} not available after {REPORT_WAIT_SECONDS:.0f}s", file=sys.stderr)
            return None
        time.sleep(3)


def write_file(target: str, content: str, filename: str) -> None:
    try:
        with open(target, "w", encoding="utf-8") as out:
            out.write(content)
    except OSError as exc:  # the run's verdict still decides the exit code
        print(f"cannot write {filename} to {target}: {exc}", file=sys.stderr)
    else:
        print(f"wrote {filename} to {target}")


def collect_reports(api: Airflow, args: argparse.Namespace, run_id: str) -> dict[str, Any]:
    """Write the requested report files; return report.json (empty when the run left none)."""
    deadline = time.monotonic() + REPORT_WAIT_SECONDS
    text = fetch_report(api, args.dag, run_id, "report.json", deadline)
    report = json.loads(text) if text else {}
    for filename, target in (("junit.xml", args.junit_out), ("report.md", args.report_out)):
        if target:
            content = fetch_report(api, args.dag, run_id, filename, deadline)
            if content is not None:
                write_file(target, content, filename)
    return dict(report) if isinstance(report, dict) else {}


def verdict(state: str, report: dict[str, Any], dag_id: str, run_id: str) -> int:
    """Exit 0 only for a successful run whose report (when there is one) says success or dry-run."""
    outcome = report.get("outcome")
    failed = [s for s in report.get("steps", []) if s.get("state") == "failed"]  # not upstream_failed
    ok = state == "success" and (outcome is None or outcome in GOOD_OUTCOMES)
    print(f"{dag_id} run {run_id}: state {state}, outcome {outcome or 'unknown (no report.json)'}")
    for step in failed:
        error = (step.get("evidence") or {}).get("error")
        print(f"  failed step {step['task_id']}" + (f": {error}" if error else ""))
    return EXIT_SUCCESS if ok else EXIT_RUN_FAILED


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.partition("\n")[0],
        epilog=__doc__[__doc__.index("Credentials come") :].replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--airflow-url", default=os.environ.get("AIRFLOW_URL"), help="default: env AIRFLOW_URL")
    add("--dag", required=True, help="DAG id of the runbook, e.g. deployment or canary")
    add(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a run param (repeatable); VALUE is JSON unless the param is a string",
    )
    add("--conf-json", metavar="JSON", help="run params as a JSON object (--conf pairs override it)")
    add("--timeout", type=float, default=3600, help="seconds to wait for the run (default 3600)")
    add("--poll", type=float, default=10, help="seconds between status checks (default 10)")
    add("--junit-out", metavar="PATH", help="write the run's JUnit report here")
    add("--report-out", metavar="PATH", help="write the run's Markdown report here")
    add("--unpause", action="store_true", help="unpause the DAG first if it is paused")
    add("--run-id", help="run id; if a run with this id exists, attach to it instead of starting one")
    args = parser.parse_args(argv)
    try:
        build_conf(
            args.conf_json, args.conf, {}
        )  # syntax only; values are typed once the DAG's params are known
    except Stop as exc:
        parser.error(str(exc))
    for path in filter(None, (args.junit_out, args.report_out)):  # refuse before the run, not after it
        if os.path.isdir(path) or not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            parser.error(f"cannot write a report to {path!r} (a folder, or its folder does not exist)")
    if not args.airflow_url:
        parser.error("--airflow-url or env AIRFLOW_URL is required")
    if urllib.parse.urlsplit(args.airflow_url).scheme not in {"http", "https"}:
        parser.error(f"--airflow-url must be an http(s) URL, got {args.airflow_url!r}")
    if not os.environ.get("AIRFLOW_TOKEN") and not (
        os.environ.get("AIRFLOW_USERNAME") and os.environ.get("AIRFLOW_PASSWORD")
    ):
        parser.error("set AIRFLOW_TOKEN, or AIRFLOW_USERNAME and AIRFLOW_PASSWORD")
    return args


def run(args: argparse.Namespace, api: Airflow) -> int:
    if not api.token:
        api.login()
    params = check_dag(api, args.dag, args.unpause)
    conf = build_conf(args.conf_json, args.conf, params)
    run_id = start_or_attach(api, args.dag, conf, args.run_id)
    state = wait_for_run(api, args.dag, run_id, args.timeout, args.poll)
    return verdict(state, collect_reports(api, args, run_id), args.dag, run_id)


def main(argv: list[str] | None = None) -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # CI logs show progress live
    args = parse_args(argv)
    env = os.environ
    api = Airflow(
        args.airflow_url,
        env.get("AIRFLOW_TOKEN", ""),
        env.get("AIRFLOW_USERNAME", ""),
        env.get("AIRFLOW_PASSWORD", ""),
    )
    try:
        return run(args, api)
    except Stop as stop:
        print(api.redact(str(stop)), file=sys.stderr)
        return stop.code
    except OSError as exc:
        print(api.redact(f"cannot reach Airflow at {api.base_url}: {exc}"), file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
