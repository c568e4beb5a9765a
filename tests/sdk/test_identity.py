"""Sign in to a running kiln with the real Azure identity clients.

Started by tests/sdk/run.sh, which provides:
  KILN_URL  https base URL of the server (the authority, and the SDKs' base_url)
  KILN_CA   the server's self-signed certificate
  KILN_SP   the JSON `kiln sp create` printed (appId, password, tenant, objectId)

What is exercised is what a pipeline does with a service principal: azure-identity's
ClientSecretCredential gets a token from kiln's token endpoint (OIDC discovery included),
and the management SDKs call kiln with it. MSAL's instance discovery is exercised with MSAL
itself, pointed at kiln's endpoint: azure-identity can only turn instance discovery off
(disable_instance_discovery=True), since MSAL otherwise asks login.microsoftonline.com
about every authority it does not know. Plain asserts, stop at the first failure; the last
line is "N passed, M failed".
"""

import base64
import json
import os
import sys
import uuid

KILN_URL = os.environ["KILN_URL"].rstrip("/")
KILN_CA = os.environ["KILN_CA"]
SP = json.loads(os.environ["KILN_SP"])
# azure-identity and MSAL send their requests through azure-core / requests, which
# trust this bundle; the management clients get connection_verify as well.
os.environ["REQUESTS_CA_BUNDLE"] = KILN_CA
os.environ["SSL_CERT_FILE"] = KILN_CA

import msal  # noqa: E402
from azure.core.exceptions import ClientAuthenticationError  # noqa: E402
from azure.identity import ClientSecretCredential  # noqa: E402

from sdk_common import Ctx, ResourceManagementClient, SubscriptionClient, client_kwargs, run, step  # noqa: E402

ARM_SCOPE = "https://management.azure.com/.default"
RG = "identity-rg"

ctx = Ctx()
# base_url and connection_verify only: this test does not turn on KILN_SDK_DEBUG logging.
CLIENT_KWARGS = client_kwargs(KILN_URL, KILN_CA, debug=False)


def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def credential(secret):
    return ClientSecretCredential(
        SP["tenant"],
        SP["appId"],
        secret,
        authority=KILN_URL,
        disable_instance_discovery=True,
        connection_verify=KILN_CA,
    )


@step("ClientSecretCredential.get_token from kiln's token endpoint")
def get_token():
    ctx.cred = credential(SP["password"])
    token = ctx.cred.get_token(ARM_SCOPE)
    c = claims(token.token)
    assert c["oid"] == SP["objectId"], c
    assert c["appid"] == SP["appId"], c
    assert c["idtyp"] == "app", c
    assert c["iss"] == f"{KILN_URL}/{SP['tenant']}/v2.0", c
    print(f"    token for {c['oid']}, expires_on {token.expires_on}")


@step("SubscriptionClient.subscriptions.list with that credential")
def list_subscriptions():
    client = SubscriptionClient(ctx.cred, **CLIENT_KWARGS)
    subs = [s for s in client.subscriptions.list()]
    assert subs, "no subscription"
    assert all(s.tenant_id == SP["tenant"] for s in subs), subs
    ctx.sub = subs[0].subscription_id
    uuid.UUID(ctx.sub)


@step("ResourceManagementClient creates a resource group as the service principal")
def create_rg():
    rm = ResourceManagementClient(ctx.cred, ctx.sub, **CLIENT_KWARGS)
    rg = rm.resource_groups.create_or_update(RG, {"location": "eastus"})
    assert rg.name == RG, rg
    raw = rm.resource_groups.get(RG, cls=lambda resp, model, headers: resp.http_response.json())
    assert raw["systemData"]["createdByType"] == "Application", raw
    rm.resource_groups.begin_delete(RG).result()


@step("a wrong secret raises ClientAuthenticationError with Entra's AADSTS7000215")
def wrong_secret():
    try:
        credential("not-the-secret").get_token(ARM_SCOPE)
    except ClientAuthenticationError as err:
        assert "AADSTS7000215" in str(err), err
        return
    raise AssertionError("a wrong secret got a token")


@step("MSAL with instance discovery pointed at kiln (/common/discovery/instance)")
def msal_instance_discovery():
    app = msal.ConfidentialClientApplication(
        SP["appId"],
        client_credential=SP["password"],
        authority=f"{KILN_URL}/{SP['tenant']}",
        instance_discovery=f"{KILN_URL}/common/discovery/instance",
    )
    result = app.acquire_token_for_client(scopes=[ARM_SCOPE])
    assert "access_token" in result, result
    assert claims(result["access_token"])["oid"] == SP["objectId"]


def main():
    return run(f"Azure identity test against {KILN_URL}")


if __name__ == "__main__":
    sys.exit(main())
