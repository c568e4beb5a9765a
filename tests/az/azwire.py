"""Shared helpers of the az tests: run az with --debug, parse the HTTP exchanges it
logs, record them in the wire log (markdown), and steps that keep going after a failure.

Started through tests/az/run.sh, which provides:
  KILN_AZ            the az executable of the venv
  KILN_URL           https base URL of the server
  KILN_CA            the server's self-signed certificate
  KILN_SP            the JSON `kiln sp create` printed (appId, password, tenant, objectId)
  KILN_SUB           the bootstrap subscription (the service principal is its Owner)
  KILN_TOKEN         the bootstrap administrator's token (only for preconditions, see `Rest`)
  KILN_AZ_WIRE_FILE  where the wire log goes (run.sh copies it to target/az-wire.md)
"""

import json
import os
import re
import shlex
import subprocess
import sys
import time
import traceback

import requests

KILN_URL = os.environ["KILN_URL"].rstrip("/")
KILN_CA = os.environ["KILN_CA"]
SP = json.loads(os.environ["KILN_SP"])
SUB = os.environ["KILN_SUB"]
AZ = os.environ.get("KILN_AZ", "az")
WIRE_FILE = os.environ.get("KILN_AZ_WIRE_FILE")

# Both loggers az uses for HTTP: the SDK clients (sdk.policies) and `az rest` (util).
_HTTP_LOG = re.compile(r"^(?:DEBUG|INFO): cli\.azure\.cli\.core\.(?:sdk\.policies|util): (.*)$")
# Every request on the wire, including MSAL's token and metadata calls.
_URLLIB3 = re.compile(r'^DEBUG: urllib3\.connectionpool: (https?://\S+) "(\w+) (\S+) HTTP/1\.1" (\d+) (\S+)')
# Request headers worth cataloguing (the rest is noise: ids, user agent, auth).
_KEEP_HEADERS = {"content-type", "if-match", "if-none-match", "accept", "x-ms-error-code", "location",
                 "azure-asyncoperation", "retry-after", "etag"}


def _wire(text):
    if WIRE_FILE:
        with open(WIRE_FILE, "a") as f:
            f.write(text)


def parse_exchanges(stderr):
    """The HTTP exchanges az logged with --debug, in order."""
    exchanges, cur, mode = [], None, None
    for line in stderr.splitlines():
        m = _URLLIB3.match(line)
        if m:
            # MSAL / metadata requests are not logged by the SDK policy: keep their line.
            if cur is None or cur.get("status") is not None or cur.get("method") != m.group(2):
                exchanges.append({"method": m.group(2), "url": m.group(1) + m.group(3),
                                  "status": int(m.group(4)), "raw": True})
            continue
        m = _HTTP_LOG.match(line)
        if not m:
            mode = None if not line.startswith(" ") else mode
            continue
        msg = m.group(1)
        if msg.startswith("Request URL: "):
            cur = {"url": msg[len("Request URL: "):].strip("'"), "req_headers": {}, "resp_headers": {},
                   "status": None}
            exchanges.append(cur)
            mode = None
        elif cur is None:
            continue
        elif msg.startswith("Request method: "):
            cur["method"] = msg[len("Request method: "):].strip("'")
        elif msg == "Request headers:":
            mode = "req_headers"
        elif msg == "Response headers:":
            mode = "resp_headers"
        elif msg == "Request body:":
            mode = "req_body"
        elif msg == "Response content:":
            mode = "resp_body"
        elif msg.startswith("Response status: "):
            cur["status"] = int(msg.split(": ", 1)[1])
            mode = None
        elif mode in ("req_headers", "resp_headers") and msg.startswith("    "):
            k, _, v = msg.strip().partition(": ")
            k, v = k.strip("'"), v.strip("'")
            if k.lower() in _KEEP_HEADERS:
                cur[mode][k] = v
        elif mode in ("req_body", "resp_body"):
            cur[mode] = (cur.get(mode, "") + "\n" + msg) if mode in cur else msg
    # Drop urllib3 duplicates of exchanges the policy logged in full.
    return [e for i, e in enumerate(exchanges) if not (e.get("raw") and any(
        not o.get("raw") and o.get("method") == e["method"] and o["url"].split("?")[0].endswith(
            e["url"].split("://", 1)[-1].split("/", 1)[-1].split("?")[0]) for o in exchanges))]


def _path(url):
    return url.replace(KILN_URL, "", 1) if url.startswith(KILN_URL) else url


def _error_of(body):
    try:
        err = json.loads(body).get("error") or {}
        return f"{err.get('code')}: {err.get('message')}"
    except Exception:  # noqa: BLE001 - not JSON, or no error envelope
        return None


def describe(exchanges, full=False):
    """The exchanges as text: request line, status, error; bodies when `full`."""
    out = []
    for e in exchanges:
        line = f"{e.get('method', '?')} {_path(e['url'])} -> {e.get('status')}"
        if e.get("raw"):
            line += "  (not logged by the SDK policy)"
        err = _error_of(e.get("resp_body", "")) if (e.get("status") or 0) >= 400 else None
        if err:
            line += f"  {err}"
        out.append(line)
        if full:
            if e.get("req_headers"):
                out.append(f"    request headers: {json.dumps(e['req_headers'])}")
            body = e.get("req_body")
            if body and body not in ("This request has no body", "None"):
                out.append(f"    request body: {body[:1500]}")
            if e.get("resp_headers"):
                out.append(f"    response headers: {json.dumps(e['resp_headers'])}")
            if e.get("resp_body") and (e.get("status") or 0) >= 300 or full == "all":
                out.append(f"    response body: {e.get('resp_body', '')[:1500]}")
    return "\n".join(out)


class Result:
    def __init__(self, args, proc, exchanges):
        self.args = args
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.exchanges = exchanges

    @property
    def cmd(self):
        """The command line, with the service principal's secret masked."""
        return "az " + " ".join(shlex.quote(a if a != SP["password"] else "***") for a in self.args)

    @property
    def errors(self):
        """stderr without the --debug noise: what the user sees."""
        keep = [line for line in self.stderr.splitlines()
                if not line.startswith(("DEBUG:", "INFO:", "  ", "Cannot enable color", "WARNING: cli.",
                                        "Traceback", "knack.", "azure.core.exceptions", "VERBOSE:"))
                and not re.match(r"^\s*\^+\s*$", line)]
        return "\n".join(keep).strip()

    @property
    def json(self):
        text = self.stdout.strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError as e:
            raise StepFailed(f"{self.cmd}\n  stdout is not JSON: {text[:500]}") from e

    def report(self):
        return (f"command: {self.cmd}\n  exit code: {self.rc}\n  stderr: {self.errors or '(empty)'}\n"
                f"  HTTP:\n" + "\n".join("    " + l for l in describe(self.exchanges, full=True).splitlines()))


class StepFailed(AssertionError):
    pass


class Runner:
    def __init__(self, title):
        self.title = title
        self.passed, self.failed = [], []
        self.calls = []  # az calls of the step being run
        _wire(f"\n## {title}\n")

    def az(self, *args, ok=True, rc=None):
        """Run az with --debug -o json; fail the step unless it exits 0 (or `rc`)."""
        args = [str(a) for a in args]
        full = args + ["--debug"] + ([] if "-o" in args or "--output" in args else ["-o", "json"])
        proc = subprocess.run([AZ] + full, capture_output=True, text=True, timeout=600)
        res = Result(args, proc, parse_exchanges(proc.stderr))
        self.calls.append(res)
        want = 0 if rc is None else rc
        if ok and res.rc != want:
            raise StepFailed(f"expected exit code {want}\n  " + res.report())
        return res

    def check(self, res, cond, what):
        if not cond:
            raise StepFailed(f"{what}\n  stdout: {res.stdout.strip()[:1500]}\n  " + res.report())

    def step(self, section, name, fn):
        self.calls = []
        label = f"{section}: {name}"
        t0 = time.time()
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported, then the next step runs
            msg = str(e) if isinstance(e, StepFailed) else traceback.format_exc()
            self.failed.append(label)
            print(f"FAIL  {label}\n  {msg}\n", file=sys.stderr, flush=True)
            self._record(label, "FAIL", msg)
            return False
        self.passed.append(label)
        print(f"ok    {label} ({time.time() - t0:.1f}s)", flush=True)
        self._record(label, "ok", None)
        return True

    def _record(self, label, status, msg):
        lines = [f"\n### {status}: {label}\n"]
        for c in self.calls:
            lines.append(f"\n`{c.cmd}` -> exit {c.rc}\n")
            first_error = next((l for l in c.errors.splitlines() if l.startswith("ERROR:")), None)
            if c.rc != 0 and (first_error or c.errors):
                lines.append(f"\nstderr: `{(first_error or c.errors.splitlines()[-1])[:600]}`\n")
            lines.append("\n```\n" + (describe(c.exchanges, full=c.rc != 0) or "(no HTTP)") + "\n```\n")
        if msg and not self.calls:
            lines.append("\n```\n" + msg[:3000] + "\n```\n")
        _wire("".join(lines))

    def summary(self):
        print(f"\n{self.title}: {len(self.passed)} passed, {len(self.failed)} failed", flush=True)
        for f in self.failed:
            print(f"  FAILED {f}", flush=True)
        _wire(f"\n{self.title}: {len(self.passed)} passed, {len(self.failed)} failed\n")
        return 1 if self.failed else 0


class Rest:
    """Direct calls as the bootstrap administrator, only to set up what a step needs when
    the az command that should have made it failed (so later steps still say something)."""

    def __init__(self):
        self.s = requests.Session()
        self.s.verify = KILN_CA
        self.s.headers["Authorization"] = "Bearer " + os.environ["KILN_TOKEN"]

    def call(self, method, path, api, body=None):
        r = self.s.request(method, f"{KILN_URL}{path}", params={"api-version": api}, json=body, timeout=60)
        return r.status_code, (r.json() if r.content else None)

    def ensure(self, path, api, body):
        """PUT unless it exists, then wait until provisioning is terminal."""
        status, got = self.call("GET", path, api)
        if status == 404:
            status, got = self.call("PUT", path, api, body)
            if status >= 300:
                raise RuntimeError(f"PUT {path}?api-version={api} -> {status} {got}")
        for _ in range(120):
            status, got = self.call("GET", path, api)
            state = ((got or {}).get("properties") or {}).get("provisioningState", "Succeeded")
            if status == 200 and state in ("Succeeded", "Failed", "Canceled"):
                return got
            time.sleep(0.5)
        raise RuntimeError(f"{path} did not finish provisioning: {got}")
