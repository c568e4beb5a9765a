"""Role assignments and definitions through azure-mgmt-authorization against kiln.

Started by tests/sdk/run.sh, which provides:
  KILN_URL    https base URL of the server
  KILN_TOKEN  the bootstrap administrator's token (the subscription's Owner)
  KILN_CA     the server's self-signed certificate
  KILN_SP     the JSON `kiln sp create` printed (objectId is the principal)

It leaves the service principal a Contributor on the subscription, which the
identity test (test_identity.py, run next) acts under.
"""

import json
import os
import sys
import uuid

from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters

from sdk_common import Ctx, ResourceManagementClient, StaticTokenCredential, client_kwargs, gone, run, step

KILN_URL = os.environ["KILN_URL"].rstrip("/")
KILN_TOKEN = os.environ["KILN_TOKEN"]
KILN_CA = os.environ["KILN_CA"]
SP = json.loads(os.environ["KILN_SP"])
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


ctx = Ctx()
# base_url and connection_verify only: this test does not turn on KILN_SDK_DEBUG logging.
CLIENT_KWARGS = client_kwargs(KILN_URL, KILN_CA, debug=False)


def subscription_id():
    import urllib.request
    import ssl

    req = urllib.request.Request(
        f"{KILN_URL}/subscriptions?api-version=2022-12-01",
        headers={"Authorization": f"Bearer {KILN_TOKEN}"},
    )
    with urllib.request.urlopen(req, context=ssl.create_default_context(cafile=KILN_CA)) as resp:
        return json.load(resp)["value"][0]["subscriptionId"]


@step("AuthorizationManagementClient against kiln")
def client():
    ctx.sub = subscription_id()
    ctx.scope = f"/subscriptions/{ctx.sub}"
    ctx.auth = AuthorizationManagementClient(StaticTokenCredential(KILN_TOKEN), ctx.sub, **CLIENT_KWARGS)


@step("role_definitions.list(filter=\"roleName eq 'Contributor'\") finds the built-in role")
def find_contributor():
    found = list(ctx.auth.role_definitions.list(ctx.scope, filter="roleName eq 'Contributor'"))
    assert len(found) == 1, found
    assert found[0].name == CONTRIBUTOR, found[0]
    assert found[0].role_type == "BuiltInRole", found[0]
    assert "Microsoft.Authorization/*/Write" in found[0].permissions[0].not_actions
    ctx.contributor = found[0].id


@step("role_assignments.create: the service principal becomes a Contributor")
def create_assignment():
    name = str(uuid.uuid4())
    created = ctx.auth.role_assignments.create(
        ctx.scope,
        name,
        RoleAssignmentCreateParameters(
            role_definition_id=ctx.contributor,
            principal_id=SP["objectId"],
            principal_type="ServicePrincipal",
        ),
    )
    assert created.name == name, created
    assert created.scope == ctx.scope, created
    assert created.principal_id == SP["objectId"], created
    ctx.assignment = created


@step("the same role for the same principal under another name: RoleAssignmentExists")
def duplicate():
    try:
        ctx.auth.role_assignments.create(
            ctx.scope,
            str(uuid.uuid4()),
            RoleAssignmentCreateParameters(role_definition_id=ctx.contributor, principal_id=SP["objectId"]),
        )
    except HttpResponseError as err:
        assert err.status_code == 409 and err.error.code == "RoleAssignmentExists", err
        return
    raise AssertionError("a duplicate assignment was created")


@step("role_assignments.list_for_scope(atScope()) and list_for_subscription(principalId eq …)")
def lists():
    at_scope = [a.name for a in ctx.auth.role_assignments.list_for_scope(ctx.scope, filter="atScope()")]
    assert ctx.assignment.name in at_scope, at_scope
    mine = list(
        ctx.auth.role_assignments.list_for_subscription(filter=f"principalId eq '{SP['objectId']}'")
    )
    assert [a.name for a in mine] == [ctx.assignment.name], mine
    got = ctx.auth.role_assignments.get_by_id(ctx.assignment.id)
    assert got.role_definition_id.endswith(CONTRIBUTOR), got


@step("role_assignments.create and delete a Reader assignment at a resource group scope")
def create_and_delete():
    rm = ResourceManagementClient(StaticTokenCredential(KILN_TOKEN), ctx.sub, **CLIENT_KWARGS)
    rm.resource_groups.create_or_update("authz-sdk-rg", {"location": "eastus"})
    scope = f"{ctx.scope}/resourceGroups/authz-sdk-rg"
    name = str(uuid.uuid4())
    principal = str(uuid.uuid4())
    ctx.auth.role_assignments.create(
        scope,
        name,
        RoleAssignmentCreateParameters(
            role_definition_id=f"{ctx.scope}/providers/Microsoft.Authorization/roleDefinitions/{READER}",
            principal_id=principal,
        ),
    )
    deleted = ctx.auth.role_assignments.delete(scope, name)
    assert deleted is not None and deleted.name == name, deleted
    assert gone(lambda: ctx.auth.role_assignments.get(scope, name)), "the deleted assignment is still there"
    rm.resource_groups.begin_delete("authz-sdk-rg").result()


def main():
    return run(f"Azure authorization SDK test against {KILN_URL}")


if __name__ == "__main__":
    sys.exit(main())
