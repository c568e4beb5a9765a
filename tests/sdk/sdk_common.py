"""What the SDK tests in tests/sdk/ share: a static credential, client kwargs,
ARM helpers and the tiny step runner.

The tests run as `python tests/sdk/test_x.py`, so this file (their sibling) is
importable as `sdk_common`. Each test registers its steps with @step(title) and
ends with `sys.exit(run(header))`; the output is

    <header>
    [n/N] title
        ok                      (or "    FAILED: title" and the traceback)
    ...
    X passed, Y failed

and the exit code 1 if a step failed, else 0. tests/sdk/run.sh and CI read both.
"""

import logging
import os
import sys
import time
import traceback

from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

try:  # azure-core >= 1.31; the ARM auth policy prefers it when present.
    from azure.core.credentials import AccessTokenInfo
except ImportError:  # pragma: no cover - older azure-core
    AccessTokenInfo = None

# azure-mgmt-resource >= 25 moved SubscriptionClient to
# azure-mgmt-resource-subscriptions and made azure.mgmt.resource a bare
# namespace; older releases export both clients from azure.mgmt.resource.
try:
    from azure.mgmt.resource.resources import ResourceManagementClient
except ImportError:  # pragma: no cover - azure-mgmt-resource < 25
    from azure.mgmt.resource import ResourceManagementClient
try:
    from azure.mgmt.resource.subscriptions import SubscriptionClient
except ImportError:  # pragma: no cover
    try:
        from azure.mgmt.resource import SubscriptionClient
    except ImportError:
        SubscriptionClient = None

# azure-core falls back to polling every 30 s when a response carries no
# Retry-After; kiln sends Retry-After: 1, so an LRO that takes this long
# means the header (or the status monitor) is missing.
LRO_LIMIT_S = 25


class StaticTokenCredential:
    """A TokenCredential that always hands out kiln's token.

    The SDKs only ever ask a credential for a token (get_token_info when the
    class has it, else get_token); nothing is sent to Entra ID.
    """

    def __init__(self, token):
        self._token = token

    def get_token(self, *scopes, **kwargs):
        return AccessToken(self._token, int(time.time()) + 3600)

    if AccessTokenInfo is not None:

        def get_token_info(self, *scopes, **kwargs):
            return AccessTokenInfo(self._token, int(time.time()) + 3600)


def client_kwargs(url, ca, debug=True):
    """Keyword arguments for a management client that talks to kiln.

    Every client talks to kiln instead of management.azure.com and trusts its
    self-signed certificate; https is required by the SDKs' bearer-token policy.
    With debug (the default) and KILN_SDK_DEBUG set, every HTTP request and
    response is logged to stderr.
    """
    kwargs = {"base_url": url, "connection_verify": ca}
    if debug and os.environ.get("KILN_SDK_DEBUG"):
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
        kwargs["logging_enable"] = True
    return kwargs


def same_id(a, b):
    # ARM ids compare case-insensitively (resourceGroups vs resourcegroups...).
    return a is not None and b is not None and a.lower() == b.lower()


def timed_lro(what, poller):
    start = time.monotonic()
    result = poller.result()
    took = time.monotonic() - start
    print(f"    {what}: done in {took:.1f} s")
    assert took < LRO_LIMIT_S, f"{what} took {took:.1f} s: is Retry-After missing?"
    return result


def expect_error(what, fn, status, code=None):
    """fn() must fail with an ARM error of this status (and code); returns the error."""
    try:
        fn()
    except HttpResponseError as err:
        got = err.error.code if err.error is not None else None
        print(f"    {what}: HTTP {err.status_code} {got}: {err.error.message if err.error else err.message}")
        assert err.status_code in ((status,) if isinstance(status, int) else status), (err.status_code, str(err))
        if code is not None:
            assert got == code, (got, str(err))
        assert err.error is not None and err.error.message, f"no ARM error message: {err}"
        return err
    raise AssertionError(f"{what}: no error")


def gone(fn):
    """True when fn() raises ResourceNotFoundError (a GET of something deleted)."""
    try:
        fn()
    except ResourceNotFoundError:
        return True
    return False


def open_group(ctx, group, location):
    """The first subscription the token sees (ctx.sub), a ResourceManagementClient on it
    (ctx.rm) and `group` created there, with ctx.cred and ctx.client_kwargs."""
    subs = [s.subscription_id for s in SubscriptionClient(ctx.cred, **ctx.client_kwargs).subscriptions.list()]
    assert subs, "GET /subscriptions returned no subscription"
    ctx.sub = subs[0]
    ctx.rm = ResourceManagementClient(ctx.cred, ctx.sub, **ctx.client_kwargs)
    rg = ctx.rm.resource_groups.create_or_update(group, {"location": location})
    assert rg.name == group, rg


# --- tiny step runner ---------------------------------------------------------

STEPS = []


def step(title):
    def register(fn):
        STEPS.append((title, fn))
        return fn

    return register


class Ctx:
    """State handed from step to step (clients, ids, keys)."""


def run(header, steps=None, stop_at_failure=True):
    """Run the registered steps in order and return the exit code.

    Prints the header, "[n/N] title" before each step, "ok" or "FAILED" with
    the traceback after it, and "X passed, Y failed" last. Steps depend on
    each other, so by default the run stops at the first failure; with
    stop_at_failure=False it goes on with the next step.
    """
    steps = STEPS if steps is None else steps
    print(header)
    passed = failed = 0
    for n, (title, fn) in enumerate(steps, 1):
        print(f"[{n}/{len(steps)}] {title}", flush=True)
        try:
            fn()
        except Exception:  # any failure: report it (and stop, later steps depend on this one)
            failed += 1
            print(f"    FAILED: {title}")
            traceback.print_exc(file=sys.stdout)
            if stop_at_failure:
                break
            continue
        passed += 1
        print("    ok", flush=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
